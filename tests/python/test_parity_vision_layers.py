"""Batch norm, pooling, adaptive pooling and interpolation against PyTorch:
the functional ops (values, indices and gradients over random shapes, layouts
and every option), the modules (BatchNorm2d trained then evaluated step by
step, a torch state_dict loaded unchanged, the printed form), and the errors
(ValueError naming the op wherever torch refuses the call).

Tolerances, each with its reason:
  EXACT             max pooling values and indices, nearest-neighbour
                    resizing: data movement, the same element is picked
  POOL_SUM          averages: both sum in double (adaptive: torch in float)
                    and divide once; up to ~40 terms of O(1)
  BILINEAR          four products and three sums in float per output
  BATCH_NORM(_GRAD) rstd = 1 / sqrt(var + eps) scales every rounding of the
                    channel sums (torch two-pass in double, attnkit one pass
                    in blocked float lanes); the backward adds two more sums
Gradients of data-movement ops are sums of upstream values in an order that
may differ from torch's: REDUCTION.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import attnkit
import attnkit.functional as AF
import attnkit.nn as ak_nn
from conftest import (EXACT, REDUCTION, Tol, check_parity, layouts, make_input, normal, seeds, small_ints,
                      to_attnkit, to_numpy)

POOL_SUM = Tol(1e-5, 1e-6)
BILINEAR = Tol(1e-5, 1e-6)
BILINEAR_GRAD = Tol(1e-5, 1e-5)
BATCH_NORM = Tol(1e-4, 1e-5)
BATCH_NORM_GRAD = Tol(1e-4, 1e-4)

samplers = st.sampled_from([normal, small_ints])  # small_ints: ties, first maximum wins in both


def draw_pair(draw, low, high, name):
    """An int or an (h, w) tuple, as a user would pass it."""
    h = draw(st.integers(low, high), label=f"{name}_h")
    if draw(st.booleans(), label=f"{name}_as_int"):
        return h, (h, h)
    w = draw(st.integers(low, high), label=f"{name}_w")
    return (h, w), (h, w)


def both_refuse(ak_call, pt_call, op):
    """torch refuses the call (any error); attnkit raises ValueError naming the op."""
    with pytest.raises(Exception):
        pt_call()
    with pytest.raises(ValueError, match=op):
        ak_call()


def input_shape(draw, min_side=1, max_side=8):
    batched = draw(st.booleans(), label="batched")
    c = draw(st.integers(1, 3), label="C")
    h, w = draw(st.integers(min_side, max_side), label="H"), draw(st.integers(min_side, max_side), label="W")
    return ((draw(st.integers(1, 3), label="N"),) if batched else ()) + (c, h, w)


# ---- max_pool2d / avg_pool2d ---------------------------------------------------------

@st.composite
def pool_case(draw, dilation=True):
    shape = input_shape(draw)
    kernel, (kh, kw) = draw_pair(draw, 1, 4, "kernel")
    stride = None
    if draw(st.booleans(), label="explicit_stride"):
        stride, _ = draw_pair(draw, 1, 3, "stride")
    padding, _ = draw_pair(draw, 0, min(kh, kw) // 2, "padding")
    args = {"kernel_size": kernel, "stride": stride, "padding": padding,
            "ceil_mode": draw(st.booleans(), label="ceil_mode")}
    if dilation:
        args["dilation"], _ = draw_pair(draw, 1, 2, "dilation")
    return shape, args


@given(case=pool_case(), layout=layouts, sampler=samplers, seed=seeds)
def test_max_pool2d(case, layout, sampler, seed):
    shape, args = case
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, sampler)
    try:
        pt_values, pt_indices = F.max_pool2d(x.pt, **args, return_indices=True)
    except RuntimeError:
        both_refuse(lambda: AF.max_pool2d(x.ak, **args), lambda: F.max_pool2d(x.pt, **args), "max_pool2d")
        return
    ak_values, ak_indices = AF.max_pool2d(x.ak, **args, return_indices=True)
    np.testing.assert_array_equal(to_numpy(ak_indices), pt_indices.numpy(), err_msg=f"max_pool2d{args} indices")
    if ((pt_indices < 0) | (pt_indices >= shape[-2] * shape[-1])).any():
        # A dilated window wholly in the padding: -inf at an index outside the
        # plane in both; torch's backward aborts the process on it, attnkit's
        # passes that window no gradient.
        np.testing.assert_array_equal(to_numpy(ak_values), pt_values.detach().numpy())
        ak_values.backward(attnkit.ones_like(ak_values))
        assert np.isfinite(x.ak_leaf.grad.numpy()).all()
        return
    check_parity(lambda t: AF.max_pool2d(t, **args), lambda t: F.max_pool2d(t, **args), [x], rng, EXACT,
                 grad_tol=REDUCTION, what=f"max_pool2d{args}")


@given(case=pool_case(dilation=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, 1, 3, 7]), layout=layouts, seed=seeds)
def test_avg_pool2d(case, count_include_pad, divisor_override, layout, seed):
    shape, args = case
    args = dict(args, count_include_pad=count_include_pad, divisor_override=divisor_override)
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    try:
        F.avg_pool2d(x.pt, **args)
    except RuntimeError:
        both_refuse(lambda: AF.avg_pool2d(x.ak, **args), lambda: F.avg_pool2d(x.pt, **args), "avg_pool2d")
        return
    check_parity(lambda t: AF.avg_pool2d(t, **args), lambda t: F.avg_pool2d(t, **args), [x], rng, POOL_SUM,
                 what=f"avg_pool2d{args}")


@given(batched=st.booleans(), length=st.integers(1, 12), kernel=st.integers(1, 4),
       stride=st.sampled_from([None, 1, 2, 3]), data=st.data(), dilation=st.integers(1, 2), ceil_mode=st.booleans(),
       count_include_pad=st.booleans(), layout=layouts, seed=seeds)
def test_pool1d(batched, length, kernel, stride, data, dilation, ceil_mode, count_include_pad, layout, seed):
    padding = data.draw(st.integers(0, kernel // 2), label="padding")
    shape = ((2,) if batched else ()) + (3, length)
    rng = np.random.default_rng(seed)
    max_args = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    avg_args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                    count_include_pad=count_include_pad)
    x = make_input(rng, shape, layout)
    try:
        _, pt_indices = F.max_pool1d(x.pt, **max_args, return_indices=True)
    except RuntimeError:
        both_refuse(lambda: AF.max_pool1d(x.ak, **max_args), lambda: F.max_pool1d(x.pt, **max_args), "max_pool1d")
    else:
        _, ak_indices = AF.max_pool1d(x.ak, **max_args, return_indices=True)
        np.testing.assert_array_equal(to_numpy(ak_indices), pt_indices.numpy())
        # A dilated window wholly in the padding aborts torch's backward (see test_max_pool2d).
        if not ((pt_indices < 0) | (pt_indices >= length)).any():
            check_parity(lambda t: AF.max_pool1d(t, **max_args), lambda t: F.max_pool1d(t, **max_args), [x], rng,
                         EXACT, grad_tol=REDUCTION, what=f"max_pool1d{max_args}")
    x = make_input(rng, shape, layout)
    try:
        F.avg_pool1d(x.pt, **avg_args)
    except RuntimeError:
        both_refuse(lambda: AF.avg_pool1d(x.ak, **avg_args), lambda: F.avg_pool1d(x.pt, **avg_args), "avg_pool1d")
        return
    check_parity(lambda t: AF.avg_pool1d(t, **avg_args), lambda t: F.avg_pool1d(t, **avg_args), [x], rng, POOL_SUM,
                 what=f"avg_pool1d{avg_args}")


def test_pool_positional_arguments_and_top_level(rng):
    cases = [
        (lambda t: attnkit.max_pool2d(t, 3, 2, 1, 1, True), lambda t: torch.max_pool2d(t, 3, 2, 1, 1, True),
         (2, 3, 9, 8), EXACT),
        (lambda t: AF.avg_pool2d(t, (3, 2), [2, 1], (1, 0), True, False, None),
         lambda t: F.avg_pool2d(t, (3, 2), [2, 1], (1, 0), True, False, None), (2, 3, 9, 8), POOL_SUM),
        (lambda t: AF.max_pool2d(t, 2, stride=[]), lambda t: F.max_pool2d(t, 2, stride=[]), (2, 3, 9, 8), EXACT),
        (lambda t: attnkit.avg_pool1d(t, 3, 2, 1), lambda t: torch.avg_pool1d(t, 3, 2, 1), (3, 10), POOL_SUM),
        (lambda t: attnkit.max_pool1d(t, 3), lambda t: torch.max_pool1d(t, 3), (3, 10), EXACT),
    ]
    for number, (ak_fn, pt_fn, shape, tol) in enumerate(cases):
        x = make_input(rng, shape, "transposed")
        check_parity(ak_fn, pt_fn, [x], rng, tol, grad_tol=REDUCTION, what=f"positional case {number}")


def test_max_pool_nan_propagates_as_torch():
    """A NaN in a window is its maximum; the index is the last NaN's."""
    data = np.random.default_rng(3).standard_normal((2, 2, 6, 7)).astype(np.float32)
    data[0, 0, 1, 2] = data[0, 0, 1, 3] = data[1, 1, 4, 4] = np.nan
    pt_v, pt_i = F.max_pool2d(torch.from_numpy(data), 3, 2, 1, return_indices=True)
    ak_v, ak_i = AF.max_pool2d(to_attnkit(data), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(to_numpy(ak_v), pt_v.numpy())
    np.testing.assert_array_equal(to_numpy(ak_i), pt_i.numpy())
    pt_v, pt_i = F.adaptive_max_pool2d(torch.from_numpy(data), (3, 1), return_indices=True)
    ak_v, ak_i = AF.adaptive_max_pool2d(to_attnkit(data), (3, 1), return_indices=True)
    np.testing.assert_array_equal(to_numpy(ak_v), pt_v.numpy())
    np.testing.assert_array_equal(to_numpy(ak_i), pt_i.numpy())
    pt_v, pt_i = F.adaptive_max_pool2d(torch.from_numpy(data), 1, return_indices=True)
    ak_v, ak_i = AF.adaptive_max_pool2d(to_attnkit(data), 1, return_indices=True)
    np.testing.assert_array_equal(to_numpy(ak_v), pt_v.numpy())
    np.testing.assert_array_equal(to_numpy(ak_i), pt_i.numpy())


# ---- adaptive pooling ------------------------------------------------------------------

@st.composite
def adaptive_case(draw):
    shape = input_shape(draw, max_side=9)
    kind = draw(st.sampled_from(["int", "pair", "none_h", "none_w", "one"]), label="output_size kind")
    oh, ow = draw(st.integers(1, 10), label="oh"), draw(st.integers(1, 10), label="ow")
    return shape, {"int": oh, "pair": (oh, ow), "none_h": (None, ow), "none_w": (oh, None), "one": 1}[kind]


@given(case=adaptive_case(), layout=layouts, sampler=samplers, seed=seeds)
def test_adaptive_pool2d(case, layout, sampler, seed):
    shape, output_size = case
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, sampler)
    check_parity(lambda t: AF.adaptive_avg_pool2d(t, output_size), lambda t: F.adaptive_avg_pool2d(t, output_size),
                 [x], rng, POOL_SUM, grad_tol=REDUCTION, what=f"adaptive_avg_pool2d({output_size})")
    x = make_input(rng, shape, layout, sampler)
    check_parity(lambda t: AF.adaptive_max_pool2d(t, output_size), lambda t: F.adaptive_max_pool2d(t, output_size),
                 [x], rng, EXACT, grad_tol=REDUCTION, what=f"adaptive_max_pool2d({output_size})")
    _, pt_indices = F.adaptive_max_pool2d(x.pt, output_size, return_indices=True)
    _, ak_indices = AF.adaptive_max_pool2d(x.ak, output_size, return_indices=True)
    np.testing.assert_array_equal(to_numpy(ak_indices), pt_indices.numpy())


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_adaptive_global_pool_squeeze_excitation_size(layout, rng):
    """The (1, 1) fast path on an SE-block-sized map (the parallel path)."""
    x = make_input(rng, (4, 64, 28, 28), layout, lambda r, s: 3.0 + normal(r, s))
    check_parity(lambda t: AF.adaptive_avg_pool2d(t, 1), lambda t: F.adaptive_avg_pool2d(t, 1), [x], rng,
                 Tol(1e-5, 1e-5), what="adaptive_avg_pool2d(1) large")
    x = make_input(rng, (4, 64, 28, 28), layout)
    check_parity(lambda t: AF.adaptive_max_pool2d(t, (1, 1)), lambda t: F.adaptive_max_pool2d(t, (1, 1)), [x], rng,
                 EXACT, grad_tol=REDUCTION, what="adaptive_max_pool2d(1) large")


def test_adaptive_zero_output_size_is_empty(rng):
    x = make_input(rng, (2, 3, 4, 4), requires_grad=False)
    assert tuple(AF.adaptive_avg_pool2d(x.ak, 0).shape) == tuple(F.adaptive_avg_pool2d(x.pt, 0).shape)
    assert tuple(AF.adaptive_max_pool2d(x.ak, (0, 2)).shape) == tuple(F.adaptive_max_pool2d(x.pt, (0, 2)).shape)


# ---- interpolate -----------------------------------------------------------------------

SCALES = [0.5, 0.6, 0.75, 1.0, 1.1, 1.5, 1.7, 2.0, 2.05, 2.5, 3.0]  # 1.1 and 2.05: torch's same-size / 2x shortcuts


@st.composite
def interpolate_case(draw):
    spatial = draw(st.sampled_from([1, 2]), label="spatial dims")
    modes = ["nearest", "nearest-exact", "area"] + (["bilinear"] if spatial == 2 else ["linear"])
    mode = draw(st.sampled_from(modes), label="mode")
    sides = tuple(draw(st.integers(1, 7), label="side") for _ in range(spatial))
    shape = (draw(st.integers(1, 2), label="N"), draw(st.integers(1, 3), label="C")) + sides
    args = {"mode": mode}
    if mode in ("bilinear", "linear"):
        args["align_corners"] = draw(st.sampled_from([None, False, True]), label="align_corners")
    if draw(st.booleans(), label="by size"):
        sizes = tuple(draw(st.integers(1, 11), label="out") for _ in range(spatial))
        args["size"] = sizes[0] if draw(st.booleans(), label="size as int") else sizes
    else:
        scale = lambda: draw(st.one_of(st.sampled_from(SCALES), st.floats(0.3, 3.5)), label="scale")  # noqa: E731
        args["scale_factor"] = scale() if draw(st.booleans(), label="scale as number") else tuple(
            scale() for _ in range(spatial))
        args["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]), label="recompute")
    return shape, args


@given(case=interpolate_case(), layout=layouts, seed=seeds)
def test_interpolate(case, layout, seed):
    shape, args = case
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    try:
        F.interpolate(x.pt, **args)
    except RuntimeError:  # an output size of 0
        both_refuse(lambda: AF.interpolate(x.ak, **args), lambda: F.interpolate(x.pt, **args), "interpolate")
        return
    linear = args["mode"] in ("bilinear", "linear")
    tol = BILINEAR if linear else POOL_SUM if args["mode"] == "area" else EXACT
    if 0 in F.interpolate(x.pt, **args).shape:  # "area" to size 0: empty (torch's backward refuses it)
        assert tuple(AF.interpolate(x.ak, **args).shape) == tuple(F.interpolate(x.pt, **args).shape)
        return
    pt_fn = lambda t: F.interpolate(t, **args)  # noqa: E731
    if len(shape) == 3 and args["mode"] == "nearest":
        pt_fn = lambda t: nearest_1d_as_gather(t, args)  # noqa: E731
    check_parity(lambda t: AF.interpolate(t, **args), pt_fn, [x], rng, tol,
                 grad_tol=BILINEAR_GRAD if linear else REDUCTION, what=f"interpolate{args}")


def nearest_1d_as_gather(t, args):
    """torch's 1-d nearest forward as a gather, so that its gradient is the
    forward's: torch's own 1-d backward applies the same-size and 2x
    shortcuts its forward does not (scale_factor 1.1 on L = 2 reads [x0, x0]
    but sends the gradient to [x0, x1])."""
    length = t.shape[-1]
    index = F.interpolate(torch.arange(length, dtype=torch.float32).reshape(1, 1, length), **args)[0, 0].long()
    return t[..., index]


def test_interpolate_1d_nearest_has_no_shortcuts(rng):
    x = make_input(rng, (2, 3, 2))
    check_parity(lambda t: AF.interpolate(t, scale_factor=1.1),
                 lambda t: nearest_1d_as_gather(t, {"scale_factor": 1.1}), [x], rng, EXACT, grad_tol=REDUCTION,
                 what="1-d nearest, same size")
    np.testing.assert_array_equal(to_numpy(AF.interpolate(x.ak, scale_factor=2.05)),
                                  F.interpolate(x.pt, scale_factor=2.05).detach().numpy())


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear"])
@pytest.mark.parametrize("scale", SCALES)
def test_interpolate_index_rules_on_long_rows(mode, scale, rng):
    """Every output index of a long row: the float rounding of the source
    index (and torch's same-size and 2x shortcuts) must agree exactly."""
    x = make_input(rng, (1, 2, 3, 97), "contiguous")
    args = {"scale_factor": (1.0, scale), "mode": mode}
    tol = BILINEAR if mode == "bilinear" else EXACT
    check_parity(lambda t: AF.interpolate(t, **args), lambda t: F.interpolate(t, **args), [x], rng, tol,
                 grad_tol=BILINEAR_GRAD if mode == "bilinear" else REDUCTION, what=f"interpolate{args}")


def test_interpolate_large(rng):
    """Past the parallel threshold: the decoder-style 2x bilinear upsampling."""
    x = make_input(rng, (4, 16, 24, 24), "transposed")
    check_parity(lambda t: AF.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False),
                 lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False), [x], rng,
                 BILINEAR, grad_tol=BILINEAR_GRAD, what="interpolate large")


# ---- batch_norm (functional) -----------------------------------------------------------

@st.composite
def batch_norm_case(draw):
    rank = draw(st.sampled_from([2, 3, 4]), label="rank")
    n = draw(st.integers(1, 4), label="N")
    c = draw(st.integers(1, 4), label="C")
    rest = tuple(draw(st.integers(1, 5), label="side") for _ in range(rank - 2))
    if n * math.prod(rest) == 1:
        n = 2  # training needs more than one value per channel
    return (n, c) + rest


@given(shape=batch_norm_case(), training=st.booleans(), running=st.booleans(),
       affine=st.sampled_from(["none", "weight", "both"]), momentum=st.sampled_from([0.1, 0.5, 1.0]),
       eps=st.sampled_from([1e-5, 1e-3]), offset=st.sampled_from([0.0, 5.0]), layout=layouts, seed=seeds)
def test_batch_norm(shape, training, running, affine, momentum, eps, offset, layout, seed):
    if not training:
        running = True  # eval normalises with the running statistics
    rng = np.random.default_rng(seed)
    c = shape[1]
    inputs = [make_input(rng, shape, layout, lambda r, s: offset + 2.0 * normal(r, s))]
    if affine in ("weight", "both"):
        inputs.append(make_input(rng, (c,), "contiguous"))
    if affine == "both":
        inputs.append(make_input(rng, (c,), "contiguous"))
    rm0 = rng.standard_normal(c).astype(np.float32)
    rv0 = rng.uniform(0.5, 2.0, c).astype(np.float32)
    stats = {"ak": (to_attnkit(rm0), to_attnkit(rv0)),
             "pt": (torch.from_numpy(rm0.copy()), torch.from_numpy(rv0.copy()))}

    def run(lib, op):
        rm, rv = stats[lib] if running else (None, None)

        def fn(x, weight=None, bias=None):
            return op(x, rm, rv, weight, bias, training=training, momentum=momentum, eps=eps)
        return fn

    # A channel that is constant (an expanded last dim with one spatial
    # column, or N = 1 and no spatial dims) has var = 0: rstd = 1/sqrt(eps)
    # multiplies the rounding of every sum.
    flat = np.moveaxis(to_numpy(inputs[0].pt), 1, 0).reshape(c, -1).astype(np.float64)
    rstd = 1.0 / np.sqrt(flat.var(axis=1).min() + eps) if training else 1.0
    grad_tol = Tol(BATCH_NORM_GRAD.rtol, BATCH_NORM_GRAD.atol * max(1.0, float(rstd)))
    check_parity(run("ak", AF.batch_norm), run("pt", F.batch_norm), inputs, rng, BATCH_NORM, grad_tol=grad_tol,
                 what=f"batch_norm(training={training}, running={running}, affine={affine})")
    for ak_t, pt_t, name in zip(stats["ak"], stats["pt"], ["running_mean", "running_var"]):
        np.testing.assert_allclose(to_numpy(ak_t), pt_t.numpy(), rtol=1e-5, atol=1e-5, err_msg=name)


def test_batch_norm_large(rng):
    """Past the parallel threshold, planes longer than a 512-float block, an offset mean."""
    x = make_input(rng, (8, 16, 30, 30), "contiguous", lambda r, s: 10.0 + normal(r, s))
    w, b = make_input(rng, (16,)), make_input(rng, (16,))
    rm_a, rv_a, rm_p, rv_p = to_attnkit(np.zeros(16, np.float32)), to_attnkit(np.ones(16, np.float32)), \
        torch.zeros(16), torch.ones(16)
    check_parity(lambda *t: AF.batch_norm(t[0], rm_a, rv_a, t[1], t[2], True),
                 lambda *t: F.batch_norm(t[0], rm_p, rv_p, t[1], t[2], True), [x, w, b], rng, BATCH_NORM,
                 grad_tol=Tol(1e-4, 1e-3), what="batch_norm large")
    np.testing.assert_allclose(to_numpy(rm_a), rm_p.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(rv_a), rv_p.numpy(), rtol=1e-5, atol=1e-6)


# ---- modules -----------------------------------------------------------------------------

def copy_state(ak_module, pt_module):
    ak_module.load_state_dict({k: v.detach().clone() for k, v in pt_module.state_dict().items()})


@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False)])
def test_batch_norm2d_train_then_eval(momentum, affine, track, rng):
    """Several training steps (outputs, gradients, running statistics and
    num_batches_tracked equal torch's), then eval, then training again."""
    pt = torch.nn.BatchNorm2d(5, momentum=momentum, affine=affine, track_running_stats=track)
    ak = ak_nn.BatchNorm2d(5, momentum=momentum, affine=affine, track_running_stats=track)
    if affine:
        with torch.no_grad():
            pt.weight.uniform_(0.5, 1.5)
            pt.bias.normal_()
        copy_state(ak, pt)
    for step, training in enumerate([True, True, True, False, False, True]):
        pt.train(training)
        ak.train(training)
        x = make_input(rng, (4, 5, 6, 3), "transposed", lambda r, s: step + 2.0 * normal(r, s))
        check_parity(ak, pt, [x], rng, BATCH_NORM, grad_tol=BATCH_NORM_GRAD, what=f"BatchNorm2d step {step}")
        if affine:
            np.testing.assert_allclose(ak.weight.grad.numpy(), pt.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(ak.bias.grad.numpy(), pt.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
            ak.zero_grad()
            pt.zero_grad()
        if track:
            np.testing.assert_allclose(ak.running_mean.numpy(), pt.running_mean.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ak.running_var.numpy(), pt.running_var.numpy(), rtol=1e-5, atol=1e-6)
            assert ak.num_batches_tracked.item() == pt.num_batches_tracked.item()
        else:
            assert ak.running_mean is None and ak.num_batches_tracked is None
    assert set(ak.state_dict()) == set(pt.state_dict())


def test_batch_norm_state_dict_round_trip(rng):
    """A trained torch BatchNorm2d's state_dict (num_batches_tracked included)
    loads unchanged, and attnkit's loads back into torch."""
    pt = torch.nn.BatchNorm2d(6)
    for _ in range(3):
        pt(torch.randn(4, 6, 5, 5) * 3 + 1)
    with torch.no_grad():
        pt.weight.uniform_(0.5, 1.5)
        pt.bias.normal_()
    pt.eval()
    ak = ak_nn.BatchNorm2d(6)
    result = ak.load_state_dict(pt.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    ak.eval()
    assert list(ak.state_dict()) == list(pt.state_dict())
    assert ak.num_batches_tracked.item() == 3 and ak.num_batches_tracked.dtype == attnkit.int64
    x = make_input(rng, (2, 6, 4, 4))
    check_parity(ak, pt, [x], rng, BATCH_NORM, grad_tol=BATCH_NORM_GRAD, what="BatchNorm2d loaded")
    back = torch.nn.BatchNorm2d(6)
    back.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ak.state_dict().items()})
    for key, value in pt.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key


def test_batch_norm1d(rng):
    for shape in [(8, 3), (4, 3, 7)]:
        pt, ak = torch.nn.BatchNorm1d(3), ak_nn.BatchNorm1d(3)
        x = make_input(rng, shape)
        check_parity(ak, pt, [x], rng, BATCH_NORM, grad_tol=BATCH_NORM_GRAD, what=f"BatchNorm1d {shape}")
        np.testing.assert_allclose(ak.running_var.numpy(), pt.running_var.numpy(), rtol=1e-5, atol=1e-6)


def test_pooling_and_upsample_modules(rng):
    x = make_input(rng, (2, 3, 9, 7))
    pairs = [
        (ak_nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), EXACT),
        (ak_nn.AvgPool2d((3, 2), padding=(1, 0), count_include_pad=False),
         torch.nn.AvgPool2d((3, 2), padding=(1, 0), count_include_pad=False), POOL_SUM),
        (ak_nn.AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3)), POOL_SUM),
        (ak_nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2), EXACT),
        (ak_nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2), EXACT),
        (ak_nn.Upsample(size=(5, 11), mode="bilinear", align_corners=True),
         torch.nn.Upsample(size=(5, 11), mode="bilinear", align_corners=True), BILINEAR),
    ]
    for ak, pt, tol in pairs:
        check_parity(ak, pt, [x], rng, tol, grad_tol=BILINEAR_GRAD if tol is BILINEAR else REDUCTION, what=repr(pt))
    ak_v, ak_i = ak_nn.MaxPool2d(2, return_indices=True)(x.ak)
    pt_v, pt_i = torch.nn.MaxPool2d(2, return_indices=True)(x.pt)
    np.testing.assert_array_equal(to_numpy(ak_i), pt_i.numpy())
    ak_v, ak_i = ak_nn.AdaptiveMaxPool2d((2, 3), return_indices=True)(x.ak)
    pt_v, pt_i = torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)(x.pt)
    np.testing.assert_array_equal(to_numpy(ak_i), pt_i.numpy())


MODULE_ARGS = [
    ("BatchNorm2d", (16,), {}),
    ("BatchNorm2d", (3,), {"eps": 1e-3, "momentum": None, "affine": False, "track_running_stats": False}),
    ("BatchNorm2d", (4,), {"momentum": 0.01, "bias": False}),
    ("BatchNorm1d", (8,), {"eps": 0.0001}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "padding": (1, 0), "dilation": 2, "ceil_mode": True}),
    ("AvgPool2d", (3,), {"ceil_mode": True, "count_include_pad": False, "divisor_override": 2}),
    ("AvgPool2d", ((2, 3), (1, 2), 1), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 7),), {}),
    ("AdaptiveMaxPool2d", ((5, 7),), {"return_indices": True}),
    ("Upsample", (), {"scale_factor": 2}),
    ("Upsample", (), {"scale_factor": (1.5, 0.25)}),
    ("Upsample", (), {"size": (3, 4), "mode": "bilinear", "align_corners": True}),
    ("Upsample", (), {"size": 5, "mode": "nearest-exact"}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULE_ARGS)
def test_module_repr_and_attributes(name, args, kwargs):
    ak, pt = getattr(ak_nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ak) == repr(pt)
    for attribute in ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "output_size", "size",
                      "scale_factor", "mode", "num_features", "eps", "momentum", "affine", "track_running_stats",
                      "return_indices", "count_include_pad", "divisor_override", "align_corners"]:
        if hasattr(pt, attribute):
            assert getattr(ak, attribute) == getattr(pt, attribute), attribute


def test_batch_norm_momentum_and_eps_are_settable(rng):
    pt, ak = torch.nn.BatchNorm2d(2), ak_nn.BatchNorm2d(2)
    pt.momentum = ak.momentum = 0.7
    pt.eps = ak.eps = 1e-2
    for _ in range(2):
        x = make_input(rng, (3, 2, 4, 4), requires_grad=False)
        pt(x.pt)
        ak(x.ak)
    np.testing.assert_allclose(ak.running_mean.numpy(), pt.running_mean.numpy(), rtol=1e-5, atol=1e-6)


# ---- errors ------------------------------------------------------------------------------

X4 = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
X3 = X4[0]

ERROR_CASES = [
    # (what, op named in the message, call taking (F, x4, x3, library))
    ("kernel larger than the padded input", "max_pool2d", lambda f, x, x3, lib: f.max_pool2d(x, 7)),
    ("dilated kernel larger than the input", "max_pool2d", lambda f, x, x3, lib: f.max_pool2d(x, 3, dilation=3)),
    ("avg kernel larger than the input", "avg_pool2d", lambda f, x, x3, lib: f.avg_pool2d(x, (6, 2))),
    ("padding over half the kernel", "max_pool2d", lambda f, x, x3, lib: f.max_pool2d(x, 3, padding=2)),
    ("avg padding over half the kernel", "avg_pool2d", lambda f, x, x3, lib: f.avg_pool2d(x, 2, padding=(0, 2))),
    ("zero stride", "max_pool2d", lambda f, x, x3, lib: f.max_pool2d(x, 2, stride=0)),
    ("zero divisor", "avg_pool2d", lambda f, x, x3, lib: f.avg_pool2d(x, 2, divisor_override=0)),
    ("2-D input to a 2-D pool", "max_pool2d", lambda f, x, x3, lib: f.max_pool2d(x3[0], 2)),
    ("1-D pool kernel too large", "max_pool1d", lambda f, x, x3, lib: f.max_pool1d(x3, 9)),
    ("adaptive pool of a 2-D input", "adaptive_avg_pool2d", lambda f, x, x3, lib: f.adaptive_avg_pool2d(x3[0], 2)),
    ("negative adaptive output size", "adaptive_avg_pool2d", lambda f, x, x3, lib: f.adaptive_avg_pool2d(x, -1)),
    ("running stats of the wrong size", "batch_norm",
     lambda f, x, x3, lib: f.batch_norm(x, lib.zeros(4), lib.ones(4), training=True)),
    ("weight of the wrong size", "batch_norm",
     lambda f, x, x3, lib: f.batch_norm(x, lib.zeros(3), lib.ones(3), lib.ones(2))),
    ("eval without running stats", "batch_norm", lambda f, x, x3, lib: f.batch_norm(x, None, None)),
    ("one value per channel in training", "batch_norm",
     lambda f, x, x3, lib: f.batch_norm(x[:1, :, :1, :1], None, None, training=True)),
    ("zero output size", "interpolate", lambda f, x, x3, lib: f.interpolate(x, size=(0, 3))),
    ("scale to nothing", "interpolate", lambda f, x, x3, lib: f.interpolate(x, scale_factor=0.1)),
    ("unknown mode", "interpolate", lambda f, x, x3, lib: f.interpolate(x, size=3, mode="bogus")),
    ("bilinear on a 3-D input", "interpolate", lambda f, x, x3, lib: f.interpolate(x3, size=3, mode="bilinear")),
    ("align_corners with nearest", "interpolate",
     lambda f, x, x3, lib: f.interpolate(x, size=3, mode="nearest", align_corners=False)),
    ("neither size nor scale_factor", "interpolate", lambda f, x, x3, lib: f.interpolate(x)),
    ("both size and scale_factor", "interpolate", lambda f, x, x3, lib: f.interpolate(x, size=3, scale_factor=2.0)),
    ("recompute with a size", "interpolate",
     lambda f, x, x3, lib: f.interpolate(x, size=3, recompute_scale_factor=True)),
    ("size of the wrong length", "interpolate", lambda f, x, x3, lib: f.interpolate(x, size=(3, 3, 3))),
    ("scale_factor of the wrong length", "interpolate",
     lambda f, x, x3, lib: f.interpolate(x, scale_factor=(2.0, 2.0, 2.0))),
]


@pytest.mark.parametrize("what,op,call", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors(what, op, call):
    both_refuse(lambda: call(AF, to_attnkit(X4), to_attnkit(X3), attnkit),
                lambda: call(F, torch.from_numpy(X4), torch.from_numpy(X3), torch), op)


MODULE_ERRORS = [
    ("channels not matching num_features", "BatchNorm2d", lambda nn, x: nn.BatchNorm2d(4)(x)),
    ("3-D input to BatchNorm2d", "BatchNorm2d", lambda nn, x: nn.BatchNorm2d(3)(x[0])),
    ("4-D input to BatchNorm1d", "BatchNorm1d", lambda nn, x: nn.BatchNorm1d(3)(x)),
    ("pool kernel larger than the input", "max_pool2d", lambda nn, x: nn.MaxPool2d(6)(x)),
    ("upsample to nothing", "interpolate", lambda nn, x: nn.Upsample(scale_factor=0.1)(x)),
]


@pytest.mark.parametrize("what,op,call", MODULE_ERRORS, ids=[c[0] for c in MODULE_ERRORS])
def test_module_errors(what, op, call):
    both_refuse(lambda: call(ak_nn, to_attnkit(X4)), lambda: call(torch.nn, torch.from_numpy(X4)), op)
