"""grid_sample and affine_grid against torch.nn.functional: values, the input
and grid gradients over random shapes and every mode x padding_mode x
align_corners, grids reaching outside [-1, 1], strided inputs, the NaN rules
of attnkit/ops/grid_sample.h, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

import attnkit
from conftest import LAYOUTS, Tol, assert_close, check_parity, make_input, seeds, to_attnkit

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")

# Forward: each output is a sum of 4 (bilinear) or 16 (bicubic) products of
# O(1) values, rounded in another order than torch's (and with FMA): a few ulp.
SAMPLE = Tol(1e-5, 1e-5)
# The grid gradient of a pixel sums, over the channels, neighbour differences
# times the unnormalisation scale (up to W_in / 2), and its pixel coordinate
# is rounded to float32 first (ulp ~ W_in * 6e-8): measured against a float64
# evaluation, torch's own error and attnkit's are both ~3e-6 of the largest
# gradient in the tensor, whatever a single (possibly cancelled) element is.
# So grid (and theta) gradients are compared with atol = GRID_GRAD_SCALE ·
# max|torch's gradient| and rtol 1e-4. When the whole gradient cancels (an
# image constant along a dim, e.g. an expanded layout, where every tap reads
# the same value), its largest element is itself rounding noise; the floor
# then is the size of the terms that cancelled: O(1) values times the
# unnormalisation scale max(H_in, W_in) / 2, summed over C channels (noise
# growing as sqrt(C)).
GRID_GRAD_SCALE = 1e-5


def assert_grid_grad_close(actual, expected, what, image_shape=None):
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    finite = np.isfinite(e)
    scale = float(np.abs(e[finite]).max()) if finite.any() else 0.0
    floor = 1.0
    if image_shape is not None and len(image_shape) == 4:
        floor = max(floor, np.sqrt(image_shape[1]) * max(image_shape[2], image_shape[3]) / 2)
    assert_close(actual, expected, Tol(1e-4, GRID_GRAD_SCALE * max(scale, floor)), what)


def compare(ak_fn, pt_fn, image, grid_like, rng, what):
    """Forward, then the gradients of a random upstream gradient: the image's
    at SAMPLE, the grid's (or theta's) scaled as above."""
    ak_out = ak_fn(image.ak, grid_like.ak)
    pt_out = pt_fn(image.pt, grid_like.pt)
    assert_close(ak_out, pt_out, SAMPLE, f"{what} forward")
    upstream = rng.standard_normal(tuple(pt_out.shape)).astype(np.float32)
    ak_out.backward(to_attnkit(upstream))
    pt_out.backward(torch.from_numpy(upstream))
    if image.requires_grad:
        assert_close(image.ak_leaf.grad, image.pt_leaf.grad, SAMPLE, f"{what} grad input")
    assert_grid_grad_close(grid_like.ak_leaf.grad, grid_like.pt_leaf.grad, f"{what} grad grid", tuple(image.pt.shape))


def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape).astype(np.float32)


def sample_fn(mode, padding_mode, align_corners):
    return (lambda x, g: attnkit.grid_sample(x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
            lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h_in=st.integers(1, 7), w_in=st.integers(1, 9),
       h_out=st.integers(1, 6), w_out=st.integers(1, 19), layout=st.sampled_from(LAYOUTS), seed=seeds)
# An image constant along W and one pixel high: the whole grid gradient cancels (CI, bicubic/border).
@example(n=2, c=4, h_in=1, w_in=9, h_out=1, w_out=9, layout="expanded", seed=9)
def test_grid_sample(mode, padding_mode, align_corners, n, c, h_in, w_in, h_out, w_out, layout, seed):
    """Grid values in [-1.5, 1.5]: about a third of the locations are outside
    the input, so every padding rule matters."""
    rng = np.random.default_rng(seed)
    x = make_input(rng, (n, c, h_in, w_in), layout)
    grid = make_input(rng, (n, h_out, w_out, 2), "contiguous", uniform(-1.5, 1.5))
    ak_fn, pt_fn = sample_fn(mode, padding_mode, align_corners)
    compare(ak_fn, pt_fn, x, grid, rng, f"grid_sample({mode}, {padding_mode}, align_corners={align_corners}) {layout}")


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("channels", [3, 16])
def test_grid_sample_large(mode, channels, rng):
    """Past the kernels' thread threshold, with a non-contiguous grid (a
    transposed view) and a warp that keeps most locations inside."""
    for padding_mode in PADDINGS:
        x = make_input(rng, (2, channels, 40, 48))
        grid = make_input(rng, (2, 36, 44, 2), "transposed", uniform(-1.1, 1.1))
        ak_fn, pt_fn = sample_fn(mode, padding_mode, False)
        compare(ak_fn, pt_fn, x, grid, rng, f"large {mode} {padding_mode}")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_affine_warps(mode, align_corners, rng):
    """Grids of smooth warps (rotation, zoom, shift), as a Spatial Transformer
    makes them: most locations lie inside the input, in runs of neighbours
    (the fast kernel's unmasked path), some cross its edges."""
    for padding_mode in PADDINGS:
        angle, zoom = rng.uniform(-0.4, 0.4), rng.uniform(0.6, 1.3)
        theta = zoom * np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0]])
        theta[:, 2] = rng.uniform(-0.3, 0.3, 2)
        size = [2, 5, 29, 35]
        base = F.affine_grid(torch.from_numpy(np.tile(theta, (2, 1, 1))).float(), size,
                             align_corners=align_corners).numpy()
        x = make_input(rng, (2, 5, 23, 26))
        grid = make_input(rng, base.shape, sampler=lambda _r, _s: base)
        compare(*sample_fn(mode, padding_mode, align_corners), x, grid, rng,
                f"affine {mode} {padding_mode} align_corners={align_corners}")


def test_grid_sample_only_grid_requires_grad(rng):
    """The Spatial Transformer case: the image needs no gradient."""
    x = make_input(rng, (4, 3, 16, 16), requires_grad=False)
    grid = make_input(rng, (4, 12, 20, 2), sampler=uniform(-1.2, 1.2))
    compare(*sample_fn("bilinear", "zeros", False), x, grid, rng, "grid only")


def test_grid_sample_defaults_and_keywords(rng):
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    g = rng.uniform(-1, 1, (1, 3, 4, 2)).astype(np.float32)
    expected = F.grid_sample(torch.from_numpy(x), torch.from_numpy(g), align_corners=False)
    assert_close(attnkit.grid_sample(to_attnkit(x), to_attnkit(g)), expected, SAMPLE, "defaults")
    assert_close(attnkit.functional.grid_sample(input=to_attnkit(x), grid=to_attnkit(g), mode="bilinear",
                                                padding_mode="zeros", align_corners=None), expected, SAMPLE,
                 "keywords")


# ---- non-finite grids -----------------------------------------------------------

NAN = float("nan")
INF = float("inf")
# Per output pixel (x, y): NaN x, NaN y, both, +inf x, -inf y, and ordinary ones.
SPECIAL = [(NAN, 0.1), (0.2, NAN), (NAN, NAN), (INF, 0.3), (-0.4, -INF), (0.3, -0.4), (-0.7, 0.6), (1e20, 0.2)]


def special_grid(n):
    return np.tile(np.array(SPECIAL, dtype=np.float32).reshape(1, 1, len(SPECIAL), 2), (n, 1, 1, 1))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_nan_grid_forward_matches_torch(mode, padding_mode, align_corners, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    g = special_grid(2)
    ak_fn, pt_fn = sample_fn(mode, padding_mode, align_corners)
    expected = pt_fn(torch.from_numpy(x), torch.from_numpy(g))
    assert_close(ak_fn(to_attnkit(x), to_attnkit(g)), expected, SAMPLE, f"{mode} {padding_mode} {align_corners}")


def run_backward(fn, x, g, upstream, lib):
    if lib == "torch":
        xt, gt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(g).requires_grad_()
        fn(xt, gt).backward(torch.from_numpy(upstream))
        return xt.grad.numpy(), gt.grad.numpy()
    xa, ga = to_attnkit(x, requires_grad=True), to_attnkit(g, requires_grad=True)
    fn(xa, ga).backward(to_attnkit(upstream))
    return xa.grad.numpy(), ga.grad.numpy()


# Where torch's backward is well defined on NaN / inf grids: everything but
# bilinear with border or reflection padding (next test).
TORCH_SAFE_BACKWARD = [("bilinear", "zeros")] + [(m, p) for m in ("nearest", "bicubic") for p in PADDINGS]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode, padding_mode", TORCH_SAFE_BACKWARD)
def test_nan_grid_backward_matches_torch(mode, padding_mode, align_corners, rng):
    """Bilinear / zeros: NaN and inf locations read nothing, the output and
    the grid gradient are NaN there, the input gets nothing from them.
    Nearest: the location clamps (border, reflection) or reads nothing
    (zeros), no grid gradient. Bicubic: NaN weights on clamped taps."""
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    g = special_grid(2)
    upstream = rng.standard_normal((2, 3, 1, len(SPECIAL))).astype(np.float32)
    ak_fn, pt_fn = sample_fn(mode, padding_mode, align_corners)
    ak_gx, ak_gg = run_backward(ak_fn, x, g, upstream, "attnkit")
    pt_gx, pt_gg = run_backward(pt_fn, x, g, upstream, "torch")
    assert_close(ak_gx, pt_gx, SAMPLE, "grad input")
    assert_grid_grad_close(ak_gg, pt_gg, "grad grid")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_nan_grid_backward_with_clamping_padding(mode, padding_mode, align_corners, rng):
    """torch's own backward reads out of bounds here (it crashes), so it is
    not run on NaN. The documented result: a NaN coordinate samples like the
    grid value -1 and passes no gradient to the grid; torch computes that
    reference on the grid with NaN replaced by -1."""
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    g = special_grid(2)[:, :, :3]  # the NaN pixels only (inf reflects to NaN in torch's backward too)
    g_minus_one = np.where(np.isnan(g), np.float32(-1), g)
    upstream = rng.standard_normal((2, 3, 1, 3)).astype(np.float32)
    ak_fn, pt_fn = sample_fn(mode, padding_mode, align_corners)
    assert_close(ak_fn(to_attnkit(x), to_attnkit(g)), pt_fn(torch.from_numpy(x), torch.from_numpy(g)), SAMPLE,
                 "forward")
    ak_gx, ak_gg = run_backward(ak_fn, x, g, upstream, "attnkit")
    pt_gx, pt_gg = run_backward(pt_fn, x, g_minus_one, upstream, "torch")
    assert_close(ak_gx, pt_gx, SAMPLE, "grad input")
    assert (ak_gg[np.isnan(g)] == 0).all(), "NaN coordinates must pass no gradient"
    keep = ~np.isnan(g)
    assert_grid_grad_close(ak_gg[keep], pt_gg[keep], "grad grid")


# ---- affine_grid ----------------------------------------------------------------


# torch warns that one-pixel sides with align_corners give 0 since 1.3.0 (the
# behaviour both libraries have).
@pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid behavior has changed")
@pytest.mark.parametrize("align_corners", [False, True])
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), seed=seeds)
def test_affine_grid(align_corners, n, c, h, w, seed):
    rng = np.random.default_rng(seed)
    theta = make_input(rng, (n, 2, 3))
    size = [n, c, h, w]
    check_parity(lambda t: attnkit.affine_grid(t, size, align_corners=align_corners),
                 lambda t: F.affine_grid(t, size, align_corners=align_corners), [theta], rng, Tol(1e-6, 1e-6),
                 grad_tol=Tol(1e-5, 1e-5), what=f"affine_grid({size}, align_corners={align_corners})")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_spatial_transformer_chain(padding_mode, align_corners, rng):
    """theta -> affine_grid -> grid_sample, the affine STN: output, and the
    gradients reaching the image and theta."""
    x = make_input(rng, (3, 2, 9, 11))
    base = np.array([[0.9, -0.2, 0.1], [0.25, 1.1, -0.15]], dtype=np.float32)
    theta = make_input(rng, (3, 2, 3), sampler=lambda r, s: base + r.uniform(-0.2, 0.2, s).astype(np.float32))
    size = [3, 2, 7, 8]

    def ak_fn(img, t):
        return attnkit.grid_sample(img, attnkit.affine_grid(t, size, align_corners=align_corners),
                                   padding_mode=padding_mode, align_corners=align_corners)

    def pt_fn(img, t):
        return F.grid_sample(img, F.affine_grid(t, size, align_corners=align_corners),
                             padding_mode=padding_mode, align_corners=align_corners)

    compare(ak_fn, pt_fn, x, theta, rng, f"stn {padding_mode} align_corners={align_corners}")


# ---- bad input ------------------------------------------------------------------

def _x(*shape):
    return attnkit.randn(*shape)


@pytest.mark.parametrize("call, needle", [
    (lambda: attnkit.grid_sample(_x(2, 3, 4), _x(2, 3, 3, 2)), "expected a 4-D input"),
    (lambda: attnkit.grid_sample(_x(1, 2, 3, 4, 5), _x(1, 2, 2, 2, 3)), "5-D (volumetric) inputs are not supported"),
    (lambda: attnkit.grid_sample(_x(2, 3, 4, 5), _x(2, 3, 3, 3)), "(N, H_out, W_out, 2)"),
    (lambda: attnkit.grid_sample(_x(2, 3, 4, 5), _x(3, 3, 3, 2)), "batch size 3"),
    (lambda: attnkit.grid_sample(_x(2, 3, 4, 5), _x(2, 3, 3, 2), mode="area"), "expected mode"),
    (lambda: attnkit.grid_sample(_x(2, 3, 4, 5), _x(2, 3, 3, 2), padding_mode="constant"),
     "expected padding_mode"),
    (lambda: attnkit.grid_sample(attnkit.zeros(2, 3, 4, 5, dtype=attnkit.int64), _x(2, 3, 3, 2)),
     "floating point"),
])
def test_grid_sample_errors(call, needle):
    with pytest.raises(ValueError, match="grid_sample") as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize("call, needle", [
    (lambda: attnkit.affine_grid(_x(2, 3, 3), [2, 1, 4, 4]), "(N, 2, 3)"),
    (lambda: attnkit.affine_grid(_x(2, 2, 3), [3, 1, 4, 4]), "size asks for N = 3"),
    (lambda: attnkit.affine_grid(_x(2, 2, 3), [2, 1, 4, 4, 4]), "only 4-D sizes"),
    (lambda: attnkit.affine_grid(_x(2, 2, 3), [2, 1, 0, 4]), "positive output size"),
])
def test_affine_grid_errors(call, needle):
    with pytest.raises(ValueError, match="affine_grid") as info:
        call()
    assert needle in str(info.value)
