"""matmul (and the @ operator) against PyTorch: every rank combination of
NumPy's rules, broadcast batch dims, transposed and strided operands, and the
gradients of both operands."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import attnkit
from conftest import MATMUL, assert_close, check_parity, layouts, make_input, seeds, to_attnkit

sizes = st.integers(min_value=1, max_value=7)
batch_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=3)


@st.composite
def operand_shapes(draw):
    """(shape_a, shape_b) covering every rank case of torch.matmul."""
    m, k, n = draw(sizes), draw(sizes), draw(sizes)
    (batch_a, batch_b), _ = draw(batch_pairs)
    kind = draw(st.sampled_from(["dot", "matvec", "vecmat", "mm", "bmm", "vec@batch", "batch@vec",
                                 "batch@mat", "mat@batch"]))
    return {
        "dot": ((k,), (k,)),
        "matvec": ((m, k), (k,)),
        "vecmat": ((k,), (k, n)),
        "mm": ((m, k), (k, n)),
        "bmm": (batch_a + (m, k), batch_b + (k, n)),
        "vec@batch": ((k,), batch_b + (k, n)),
        "batch@vec": (batch_a + (m, k), (k,)),
        "batch@mat": (batch_a + (m, k), (k, n)),
        "mat@batch": ((m, k), batch_b + (k, n)),
    }[kind]


@given(shapes=operand_shapes(), layout_a=layouts, layout_b=layouts, seed=seeds)
def test_matmul(shapes, layout_a, layout_b, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes
    a = make_input(rng, shape_a, layout_a)
    b = make_input(rng, shape_b, layout_b)
    check_parity(attnkit.matmul, torch.matmul, [a, b], rng, MATMUL, what=f"matmul {shape_a} @ {shape_b}")


@given(shapes=operand_shapes(), layout=layouts, seed=seeds)
def test_matmul_operator(shapes, layout, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes
    a = make_input(rng, shape_a, layout)
    b = make_input(rng, shape_b, "contiguous")
    check_parity(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], rng, MATMUL, what="a @ b")


@pytest.mark.parametrize("layout_a, layout_b", [("contiguous", "contiguous"), ("transposed", "transposed"),
                                                ("strided", "transposed"), ("transposed", "strided")])
@pytest.mark.parametrize("m, k, n", [(64, 256, 48), (33, 129, 65), (1, 256, 1), (128, 1, 96)])
def test_matmul_larger_sizes(m, k, n, layout_a, layout_b, rng):
    """Sizes past the kernels' tile sizes, ragged edges, K = 1 and long K, on
    transposed views (read in place, per the header) and strided ones."""
    a = make_input(rng, (m, k), layout_a)
    b = make_input(rng, (k, n), layout_b)
    check_parity(attnkit.matmul, torch.matmul, [a, b], rng, MATMUL, what=f"({m}, {k}) @ ({k}, {n})")


def test_attention_scores_with_transposed_keys(rng):
    """q @ k^T / sqrt(d) with k a transposed view, (B, H, T, D) @ (B, H, D, T)."""
    q = make_input(rng, (2, 3, 16, 8))
    k = make_input(rng, (2, 3, 16, 8))
    check_parity(lambda q_, k_: q_ @ k_.transpose(-2, -1) * (8 ** -0.5),
                 lambda q_, k_: q_ @ k_.transpose(-2, -1) * (8 ** -0.5),
                 [q, k], rng, MATMUL, what="q @ k^T")


def test_matmul_of_a_permuted_batch(rng):
    """A (T, B, D) tensor permuted to (B, T, D): batch stride smaller than row stride."""
    x = make_input(rng, (5, 3, 4))
    w = make_input(rng, (4, 6))
    check_parity(lambda x_, w_: x_.permute(1, 0, 2) @ w_, lambda x_, w_: x_.permute(1, 0, 2) @ w_,
                 [x, w], rng, MATMUL, what="permuted batch @ w")


def test_matmul_with_expanded_batch(rng):
    """A weight broadcast over the batch with stride 0 (expand), gradient summed back."""
    x = make_input(rng, (4, 5, 6))
    w = make_input(rng, (1, 6, 3))
    check_parity(lambda x_, w_: x_ @ w_.expand(4, 6, 3), lambda x_, w_: x_ @ w_.expand(4, 6, 3),
                 [x, w], rng, MATMUL, what="x @ w.expand")


def test_matmul_empty_inner_dim_gives_zeros():
    a = to_attnkit(np.zeros((2, 0), dtype=np.float32))
    b = to_attnkit(np.zeros((0, 3), dtype=np.float32))
    assert_close(attnkit.matmul(a, b), torch.zeros(2, 3), MATMUL, "(2, 0) @ (0, 3)")


def test_matmul_cache_distinguishes_layouts(rng):
    """The primitive cache is keyed by shape and layout: alternating layouts of
    the same shape must not reuse a primitive built for the other layout."""
    a_np, b_np = rng.standard_normal((6, 5), dtype=np.float32), rng.standard_normal((5, 4), dtype=np.float32)
    a, b = to_attnkit(a_np), to_attnkit(b_np)
    b_t = to_attnkit(np.ascontiguousarray(b_np.T)).transpose(0, 1)
    expected = a_np @ b_np
    for _ in range(2):
        np.testing.assert_allclose(attnkit.matmul(a, b).numpy(), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(attnkit.matmul(a, b_t).numpy(), expected, rtol=1e-5, atol=1e-5)
