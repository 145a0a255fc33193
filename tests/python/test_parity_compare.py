"""Comparisons (bool results, broadcasting, Python operators) and selection by
mask (where, masked_fill: differentiable in the selected values) against
PyTorch."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import attnkit
from conftest import (ELEMENTWISE, EXACT, SOFTMAX, SOFTMAX_GRAD, assert_close, broadcastable_pairs,
                      broadcastable_triples, check_parity, layouts, make_index_input, make_input, normal, seeds,
                      small_ints, to_attnkit)

COMPARE = {
    "eq": (attnkit.eq, torch.eq),
    "ne": (attnkit.ne, torch.ne),
    "lt": (attnkit.lt, torch.lt),
    "le": (attnkit.le, torch.le),
    "gt": (attnkit.gt, torch.gt),
    "ge": (attnkit.ge, torch.ge),
}

OPERATORS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@pytest.mark.parametrize("name", COMPARE)
@given(shapes=broadcastable_pairs, layout_a=layouts, layout_b=layouts, seed=seeds)
def test_compare_broadcast(name, shapes, layout_a, layout_b, seed):
    """Small whole numbers make equal, less and greater all common."""
    ak_op, pt_op = COMPARE[name]
    rng = np.random.default_rng(seed)
    (shape_a, shape_b), _ = shapes
    a = make_input(rng, shape_a, layout_a, small_ints, requires_grad=False)
    b = make_input(rng, shape_b, layout_b, small_ints, requires_grad=False)
    ak_out, _ = check_parity(ak_op, pt_op, [a, b], rng, EXACT, what=name)
    assert ak_out.numpy().dtype == np.bool_


@pytest.mark.parametrize("symbol", OPERATORS)
@given(shapes=broadcastable_pairs, layout=layouts, seed=seeds)
def test_compare_operators(symbol, shapes, layout, seed):
    op = OPERATORS[symbol]
    rng = np.random.default_rng(seed)
    (shape_a, shape_b), _ = shapes
    a = make_input(rng, shape_a, layout, small_ints, requires_grad=False)
    b = make_input(rng, shape_b, "contiguous", small_ints, requires_grad=False)
    check_parity(op, op, [a, b], rng, EXACT, what=f"a {symbol} b")


@pytest.mark.parametrize("symbol", OPERATORS)
@pytest.mark.parametrize("scalar", [0, 1.0, -1.5])
def test_compare_with_scalar_both_sides(symbol, scalar, rng):
    op = OPERATORS[symbol]
    x = make_input(rng, (3, 5), "transposed", small_ints, requires_grad=False)
    check_parity(lambda t: op(t, scalar), lambda t: op(t, scalar), [x], rng, EXACT, what=f"t {symbol} s")
    check_parity(lambda t: op(scalar, t), lambda t: op(scalar, t), [x], rng, EXACT, what=f"s {symbol} t")


@pytest.mark.parametrize("name", COMPARE)
def test_compare_mixed_dtypes(name, rng):
    """int64 against float32 compares the values, as torch does."""
    ints = rng.integers(-2, 3, (4, 3)).astype(np.int64)
    floats = (rng.integers(-4, 5, (3,)) / 2).astype(np.float32)  # halves: some equal, some between
    ak_op, pt_op = COMPARE[name]
    assert_close(ak_op(to_attnkit(ints), to_attnkit(floats)),
                 pt_op(torch.from_numpy(ints), torch.from_numpy(floats)), EXACT, name)


def test_compare_nan_is_unordered():
    data = np.array([np.nan, 1.0, np.nan], dtype=np.float32)
    other = np.array([np.nan, np.nan, 0.0], dtype=np.float32)
    for name, (ak_op, pt_op) in COMPARE.items():
        assert_close(ak_op(to_attnkit(data), to_attnkit(other)),
                     pt_op(torch.from_numpy(data), torch.from_numpy(other)), EXACT, f"{name} with NaN")


def test_compare_result_is_not_differentiable(rng):
    x = make_input(rng, (3,), "contiguous")
    assert not attnkit.gt(x.ak, 0.0).requires_grad


# ---- where / masked_fill ----------------------------------------------------

@given(shapes=broadcastable_triples, layout_a=layouts, layout_b=layouts, seed=seeds)
def test_where_broadcast(shapes, layout_a, layout_b, seed):
    rng = np.random.default_rng(seed)
    (shape_c, shape_a, shape_b), _ = shapes
    condition = make_index_input(rng.integers(0, 2, shape_c).astype(np.bool_))
    a = make_input(rng, shape_a, layout_a)
    b = make_input(rng, shape_b, layout_b)
    check_parity(lambda c, x, y: attnkit.where(c, x, y), lambda c, x, y: torch.where(c, x, y),
                 [condition, a, b], rng, EXACT, what="where")


def test_where_keywords_match_torch(rng):
    condition = rng.integers(0, 2, (2, 3)).astype(np.bool_)
    a, b = normal(rng, (2, 3)), normal(rng, (1, 3))
    out = attnkit.where(condition=to_attnkit(condition), input=to_attnkit(a), other=to_attnkit(b))
    expected = torch.where(torch.from_numpy(condition), torch.from_numpy(a), torch.from_numpy(b))
    assert_close(out, expected, EXACT, "where(condition=, input=, other=)")


def test_where_condition_from_a_comparison(rng):
    """The usual pattern: where(x > 0, x, 0.1 * x) (leaky relu)."""
    x = make_input(rng, (4, 5), "strided")
    check_parity(lambda t: attnkit.where(t > 0.0, t, t * 0.1), lambda t: torch.where(t > 0, t, t * 0.1),
                 [x], rng, ELEMENTWISE, what="leaky relu via where")


@given(shapes=broadcastable_pairs, layout=layouts, seed=seeds,
       value=st.sampled_from([0.0, -1e9, float("-inf"), 3.5]))
def test_masked_fill_broadcast_mask(shapes, layout, value, seed):
    """The mask broadcasts to x's shape (x's shape is the broadcast result)."""
    rng = np.random.default_rng(seed)
    (shape_mask, _), shape_x = shapes
    mask = make_index_input(rng.integers(0, 2, shape_mask).astype(np.bool_))
    x = make_input(rng, shape_x, layout)
    check_parity(lambda t, m: attnkit.masked_fill(t, m, value), lambda t, m: torch.masked_fill(t, m, value),
                 [x, mask], rng, EXACT, what=f"masked_fill({value})")


def test_causal_mask_then_softmax(rng):
    """Attention's causal mask: fill the upper triangle with -inf, softmax rows."""
    t = 6
    mask = np.triu(np.ones((t, t), dtype=np.bool_), k=1)
    scores = make_input(rng, (2, t, t), "transposed")
    check_parity(lambda s, m: attnkit.softmax(attnkit.masked_fill(s, m, float("-inf")), dim=-1),
                 lambda s, m: torch.softmax(torch.masked_fill(s, m, float("-inf")), dim=-1),
                 [scores, make_index_input(mask)], rng, SOFTMAX, grad_tol=SOFTMAX_GRAD, what="causal softmax")
