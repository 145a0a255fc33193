"""Neural-network ops against PyTorch: softmax, log_softmax, layer_norm,
embedding, cross_entropy (values and gradients), and dropout (statistics,
gradient, and determinism under one seed, whatever the thread count)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import attnkit
from conftest import (EXACT, LAYER_NORM, REDUCTION, SOFTMAX, SOFTMAX_GRAD, Tol, check_parity,
                      layouts, make_index_input, make_input, nonscalar_shapes, normal, seeds, small_ints,
                      to_attnkit)

# ---- softmax / log_softmax --------------------------------------------------

SOFTMAXES = {
    "softmax": (attnkit.softmax, torch.softmax),
    "log_softmax": (attnkit.log_softmax, torch.log_softmax),
}


@pytest.mark.parametrize("name", SOFTMAXES)
@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds,
       scale=st.sampled_from([1.0, 30.0, 1000.0]))
def test_softmax(name, shape, data, layout, seed, scale):
    """scale 1000 puts exp far past float32 range: only a max-subtracted
    implementation survives it."""
    ak_op, pt_op = SOFTMAXES[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, lambda r, s: scale * normal(r, s))
    ak_out, _ = check_parity(lambda t: ak_op(t, dim=dim), lambda t: pt_op(t, dim=dim), [x], rng, SOFTMAX,
                             grad_tol=SOFTMAX_GRAD, what=f"{name}(dim={dim}) x{scale}")
    assert np.isfinite(ak_out.numpy()).all(), f"{name}: inf or NaN at scale {scale}"


@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_positional_dim_and_rows_sum_to_one(name, rng):
    ak_op, pt_op = SOFTMAXES[name]
    x = make_input(rng, (4, 7, 3), "transposed")
    ak_out, _ = check_parity(lambda t: ak_op(t, 1), lambda t: pt_op(t, 1), [x], rng, SOFTMAX,
                             grad_tol=SOFTMAX_GRAD, what=name)
    probs = ak_out.numpy() if name == "softmax" else np.exp(ak_out.numpy())
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0, 1e5])
def test_log_softmax_is_exact_far_from_zero(offset):
    """log_softmax([c, c + 1, c - 0.5]) is the same for every c. Computing it
    as x - (max + log(sum)) rounds max + log(sum) to the ulp of c (6e-5 at
    1000); (x - max) - log(sum), as torch does, keeps full precision."""
    data = np.array([[offset, offset + 1.0, offset - 0.5]], dtype=np.float32)
    shifted = np.array([0.0, 1.0, -0.5])
    expected = shifted - np.log(np.exp(shifted).sum())
    got = attnkit.log_softmax(to_attnkit(data), dim=1).numpy()
    np.testing.assert_allclose(got[0], expected, rtol=1e-6, atol=1e-6)


def test_softmax_with_minus_inf_entries(rng):
    """A row partly -inf (a masked attention row) gives exact zeros there."""
    data = normal(rng, (3, 5))
    data[:, 3:] = -math.inf
    x = make_input(rng, data.shape, sampler=lambda _r, _s: data)
    ak_out, _ = check_parity(lambda t: attnkit.softmax(t, -1), lambda t: torch.softmax(t, -1), [x], rng,
                             SOFTMAX, grad_tol=SOFTMAX_GRAD, what="softmax with -inf")
    assert (ak_out.numpy()[:, 3:] == 0.0).all()


@pytest.mark.parametrize("name", SOFTMAXES)
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_large(name, dim, rng):
    """Past the kernels' parallel threshold (2^14 elements), along every dim."""
    ak_op, pt_op = SOFTMAXES[name]
    x = make_input(rng, (64, 40, 48), "transposed", lambda r, s: 4.0 * normal(r, s))
    check_parity(lambda t: ak_op(t, dim), lambda t: pt_op(t, dim), [x], rng, SOFTMAX,
                 grad_tol=SOFTMAX_GRAD, what=f"{name} large")


# ---- layer_norm ---------------------------------------------------------------

@st.composite
def layer_norm_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6))
    n_norm = draw(st.integers(1, min(2, len(shape))))
    return shape, tuple(shape[-n_norm:])


@given(case=layer_norm_case(), affine=st.sampled_from(["none", "weight", "both"]), layout=layouts,
       param_layout=st.sampled_from(["contiguous", "strided"]), eps=st.sampled_from([1e-5, 1e-3]), seed=seeds)
def test_layer_norm(case, affine, layout, param_layout, eps, seed):
    shape, normalized_shape = case
    rng = np.random.default_rng(seed)
    inputs = [make_input(rng, shape, layout)]
    if affine in ("weight", "both"):
        inputs.append(make_input(rng, normalized_shape, param_layout))
    if affine == "both":
        inputs.append(make_input(rng, normalized_shape, param_layout))

    def run(lib_layer_norm):
        def fn(x, weight=None, bias=None):
            return lib_layer_norm(x, normalized_shape, weight=weight, bias=bias, eps=eps)
        return fn

    # The backward multiplies by rstd = 1 / sqrt(var + eps), so its rounding
    # error grows with rstd: up to 1 / sqrt(eps) ~ 300 for rows that are
    # constant (an expanded last dim, or a single normalized element).
    rows = inputs[0].pt.detach().numpy().reshape(-1, int(np.prod(normalized_shape)))
    rstd = 1.0 / np.sqrt(rows.var(axis=1).min() + eps)
    grad_tol = Tol(LAYER_NORM.rtol, LAYER_NORM.atol * max(1.0, float(rstd)))
    check_parity(run(attnkit.layer_norm), run(F.layer_norm), inputs, rng, LAYER_NORM, grad_tol=grad_tol,
                 what=f"layer_norm({normalized_shape}, {affine})")


def test_layer_norm_positional_and_int_normalized_shape(rng):
    x, w, b = make_input(rng, (3, 8)), make_input(rng, (8,)), make_input(rng, (8,))
    check_parity(lambda x_, w_, b_: attnkit.layer_norm(x_, (8,), w_, b_),
                 lambda x_, w_, b_: F.layer_norm(x_, (8,), w_, b_), [x, w, b], rng, LAYER_NORM,
                 what="layer_norm positional")
    x = make_input(rng, (3, 8))
    check_parity(lambda x_: attnkit.layer_norm(x_, 8), lambda x_: F.layer_norm(x_, [8]), [x], rng, LAYER_NORM,
                 what="layer_norm(x, 8)")


def test_layer_norm_constant_rows_are_finite(rng):
    """Zero variance: the output is the bias and the gradient stays finite."""
    data = np.repeat(small_ints(rng, (4, 1)), 16, axis=1)
    x = make_input(rng, data.shape, sampler=lambda _r, _s: data)
    w, b = make_input(rng, (16,)), make_input(rng, (16,))
    check_parity(lambda *t: attnkit.layer_norm(t[0], (16,), t[1], t[2]),
                 lambda *t: F.layer_norm(t[0], (16,), t[1], t[2]), [x, w, b], rng, LAYER_NORM,
                 what="layer_norm of constant rows")
    assert np.isfinite(x.ak_leaf.grad.numpy()).all()


def test_layer_norm_gpt2_width(rng):
    """A realistic row length (768) with a far-from-zero mean."""
    x = make_input(rng, (4, 768), "transposed", lambda r, s: 5.0 + 2.0 * normal(r, s))
    w, b = make_input(rng, (768,)), make_input(rng, (768,))
    check_parity(lambda *t: attnkit.layer_norm(t[0], (768,), t[1], t[2]),
                 lambda *t: F.layer_norm(t[0], (768,), t[1], t[2]), [x, w, b], rng, LAYER_NORM,
                 what="layer_norm 768")


@pytest.mark.parametrize("layout", ["contiguous", "strided", "transposed"])
def test_layer_norm_large(layout, rng):
    """Many rows (the parallel path) of GPT-2 width."""
    x = make_input(rng, (256, 768), layout)
    w, b = make_input(rng, (768,), "strided"), make_input(rng, (768,))
    check_parity(lambda *t: attnkit.layer_norm(t[0], (768,), t[1], t[2]),
                 lambda *t: F.layer_norm(t[0], (768,), t[1], t[2]), [x, w, b], rng, LAYER_NORM,
                 what="layer_norm large")


# ---- embedding ----------------------------------------------------------------

@given(index_shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5),
       rows=st.integers(1, 9), dim=st.integers(1, 6), layout=layouts,
       index_dtype=st.sampled_from([np.int64, np.int32]),
       padding=st.sampled_from([None, 0, -1, "random"]), seed=seeds)
def test_embedding(index_shape, rows, dim, layout, index_dtype, padding, seed):
    """Indices repeat (the gradient must sum them); padding rows get none;
    a negative padding_idx counts from the end, as in torch."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, rows, index_shape).astype(index_dtype)
    padding_idx = int(rng.integers(0, rows)) if padding == "random" else padding
    weight = make_input(rng, (rows, dim), layout)
    index = make_index_input(indices)
    ak_out, _ = check_parity(lambda i, w: attnkit.embedding(i, w, padding_idx=padding_idx),
                             lambda i, w: F.embedding(i, w, padding_idx=padding_idx),
                             [index, weight], rng, EXACT, grad_tol=REDUCTION,
                             what=f"embedding(padding_idx={padding_idx})")
    if padding_idx is not None:
        grad = weight.ak_leaf.grad.numpy()
        pad_row = padding_idx % rows
        if layout == "transposed":
            assert (grad[:, pad_row] == 0).all()
        elif layout != "expanded":
            assert (grad[pad_row] == 0).all()


def test_embedding_positional_arguments(rng):
    weight = make_input(rng, (10, 4))
    index = make_index_input(np.array([[1, 2, 1], [9, 0, 1]], dtype=np.int64))
    check_parity(lambda i, w: attnkit.embedding(i, w), lambda i, w: F.embedding(i, w), [index, weight], rng,
                 EXACT, grad_tol=REDUCTION, what="embedding")


def test_embedding_large(rng):
    """> 2^15 looked-up values (parallel copy), many repeats in the gradient."""
    weight = make_input(rng, (1000, 64), "transposed")
    index = make_index_input(rng.integers(0, 1000, (64, 33)).astype(np.int64))
    check_parity(lambda i, w: attnkit.embedding(i, w, padding_idx=3),
                 lambda i, w: F.embedding(i, w, padding_idx=3),
                 [index, weight], rng, EXACT, grad_tol=REDUCTION, what="embedding large")


# ---- cross_entropy --------------------------------------------------------------

@st.composite
def cross_entropy_case(draw):
    classes = draw(st.integers(2, 6))
    kind = draw(st.sampled_from(["(N, C)", "(C)", "(N, C, d1)", "(N, C, d1, d2)"]))
    n, d1, d2 = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return {
        "(N, C)": ((n, classes), (n,)),
        "(C)": ((classes,), ()),
        "(N, C, d1)": ((n, classes, d1), (n, d1)),
        "(N, C, d1, d2)": ((n, classes, d1, d2), (n, d1, d2)),
    }[kind], classes


@given(case=cross_entropy_case(), reduction=st.sampled_from(["mean", "sum", "none"]),
       label_smoothing=st.sampled_from([0.0, 0.1, 0.4]), ignore=st.sampled_from([None, -100, 1]),
       layout=layouts, scale=st.sampled_from([1.0, 100.0]), seed=seeds)
def test_cross_entropy(case, reduction, label_smoothing, ignore, layout, scale, seed):
    """Some targets equal ignore_index (the default -100 or a real class);
    logits scaled by 100 need a stable log-sum-exp."""
    (input_shape, target_shape), classes = case
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, target_shape).astype(np.int64)
    ignore_index = -100 if ignore is None else ignore
    if ignore is not None and target.ndim > 0 and target.size > 1:
        target.reshape(-1)[rng.integers(0, target.size)] = ignore_index  # at least one ignored, not all
    logits = make_input(rng, input_shape, layout, lambda r, s: scale * normal(r, s))
    kwargs = dict(reduction=reduction, label_smoothing=label_smoothing)
    if ignore is not None:
        kwargs["ignore_index"] = ignore_index
    check_parity(lambda x, t: attnkit.cross_entropy(x, t, **kwargs),
                 lambda x, t: F.cross_entropy(x, t, **kwargs),
                 [logits, make_index_input(target)], rng, REDUCTION,
                 what=f"cross_entropy({input_shape}, {kwargs})")


def test_cross_entropy_positional_defaults(rng):
    logits = make_input(rng, (8, 5), "transposed")
    target = make_index_input(rng.integers(0, 5, (8,)).astype(np.int64))
    check_parity(attnkit.cross_entropy, F.cross_entropy, [logits, target], rng, REDUCTION, what="cross_entropy")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_all_ignored_mean_is_nan_like_torch(label_smoothing, rng):
    logits = make_input(rng, (3, 4))
    target = make_index_input(np.full((3,), -100, dtype=np.int64))
    check_parity(lambda x, t: attnkit.cross_entropy(x, t, label_smoothing=label_smoothing),
                 lambda x, t: F.cross_entropy(x, t, label_smoothing=label_smoothing),
                 [logits, target], rng, REDUCTION, what="cross_entropy all ignored")


@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0])
def test_cross_entropy_is_exact_far_from_zero(offset):
    """Two equal logits give log 2 whatever their value (see the log_softmax test)."""
    logits = to_attnkit(np.full((1, 2), offset, dtype=np.float32))
    loss = float(attnkit.cross_entropy(logits, to_attnkit(np.array([0], dtype=np.int64))))
    np.testing.assert_allclose(loss, math.log(2.0), rtol=1e-6)


def test_cross_entropy_gpt2_vocab(rng):
    """A language-model-sized row (50257 classes) in the usual (B*T, V) layout."""
    logits = make_input(rng, (4, 50257), sampler=lambda r, s: 3.0 * normal(r, s))
    target = make_index_input(rng.integers(0, 50257, (4,)).astype(np.int64))
    check_parity(attnkit.cross_entropy, F.cross_entropy, [logits, target], rng, REDUCTION,
                 what="cross_entropy V=50257")


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_large(reduction, rng):
    """(N, C) past the parallel threshold, with ignored targets and smoothing."""
    logits = make_input(rng, (512, 100), "transposed", lambda r, s: 3.0 * normal(r, s))
    target = rng.integers(0, 100, (512,)).astype(np.int64)
    target[::7] = -100
    check_parity(lambda x, t: attnkit.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
                 lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
                 [logits, make_index_input(target)], rng, REDUCTION, what="cross_entropy large")


# ---- dropout ----------------------------------------------------------------------

N_STAT = 200_000  # 5-sigma bounds below are about 1e-3 wide at this size


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = attnkit.ones(N_STAT)
    out = attnkit.dropout(x, p=p, training=True).numpy()
    dropped = out == 0.0
    sigma = math.sqrt(p * (1 - p) / N_STAT)
    assert abs(dropped.mean() - p) < 5 * sigma, f"dropped {dropped.mean():.4f}, expected {p}"
    # Inverted dropout: survivors are scaled so the expectation is unchanged.
    np.testing.assert_allclose(out[~dropped], np.float32(1.0 / (1.0 - p)), rtol=1e-6)
    mean_sigma = math.sqrt(p / (1 - p) / N_STAT)
    assert abs(out.mean() - 1.0) < 5 * mean_sigma
    # Neighbouring elements are independent (Philox hands out 4 words per
    # block; reusing one word per block would correlate them).
    same = (dropped[1:] == dropped[:-1]).mean()
    expected_same = p * p + (1 - p) * (1 - p)
    assert abs(same - expected_same) < 5 * math.sqrt(expected_same * (1 - expected_same) / N_STAT)


def test_dropout_gradient_is_the_forward_mask(rng):
    p = 0.3
    x = make_input(rng, (64, 33), "transposed", lambda r, s: np.abs(normal(r, s)) + 0.5)
    out = attnkit.dropout(x.ak, p=p)
    upstream = normal(rng, (64, 33))
    out.backward(to_attnkit(upstream))
    kept = out.numpy() != 0.0
    expected = np.where(kept, upstream / np.float32(1 - p), 0.0).astype(np.float32)
    np.testing.assert_allclose(x.ak_leaf.grad.numpy(), expected.T, rtol=1e-6, atol=0)
    np.testing.assert_allclose(out.numpy()[kept], x.pt.detach().numpy()[kept] / np.float32(1 - p), rtol=1e-6)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_eval_is_identity(p, rng):
    x = make_input(rng, (5, 6), "strided")
    check_parity(lambda t: attnkit.dropout(t, p=p, training=False), lambda t: F.dropout(t, p=p, training=False),
                 [x], rng, EXACT, what=f"dropout(p={p}, training=False)")


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_extremes_match_torch(p, rng):
    x = make_input(rng, (5, 6), "transposed")
    check_parity(lambda t: attnkit.dropout(t, p), lambda t: F.dropout(t, p), [x], rng, EXACT,
                 what=f"dropout(p={p})")


def test_dropout_default_arguments_are_torch_defaults():
    """dropout(x) means p = 0.5, training = True."""
    out = attnkit.dropout(attnkit.ones(N_STAT)).numpy()
    assert abs((out == 0.0).mean() - 0.5) < 5 * math.sqrt(0.25 / N_STAT)
    assert set(np.unique(out).tolist()) == {0.0, 2.0}


def test_dropout_same_seed_same_mask_and_draws_advance():
    x = attnkit.ones(10_000)
    attnkit.manual_seed(1234)
    first = attnkit.dropout(x, 0.5).numpy()
    second = attnkit.dropout(x, 0.5).numpy()
    attnkit.manual_seed(1234)
    again = attnkit.dropout(x, 0.5).numpy()
    attnkit.manual_seed(4321)
    other_seed = attnkit.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != second).mean() > 0.4, "the second draw repeated the first mask"
    assert (first != other_seed).mean() > 0.4, "another seed gave the same mask"


def test_dropout_mask_independent_of_thread_count():
    """Counter-based generator: one seed gives one mask on any thread count.
    Large enough (> 2^15 elements) that the kernels do go parallel."""
    x = attnkit.ones(1 << 18)
    masks = []
    try:
        for threads in (1, 2, 1):
            attnkit.set_num_threads(threads)
            attnkit.manual_seed(99)
            masks.append(attnkit.dropout(x, 0.25).numpy())
    finally:
        attnkit.set_num_threads(2)
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])
