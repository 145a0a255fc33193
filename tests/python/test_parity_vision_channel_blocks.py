"""The channel-attention blocks against timm's own modules (timm_reference.py):
SqueezeExcite vs SEModule, ECA vs EcaModule, CBAM vs CbamModule,
SelectiveKernel vs SelectiveKernel. timm's state_dict is loaded into ours
(strict), then the forward, the gradients of the input and of every parameter,
and the BatchNorm running statistics are compared in training and eval mode
over a grid of each block's options; the attention maps against the
reference's intermediates (captured with forward hooks); the Python
attributes of the children; bad input. Also attnkit.amax against torch.amax,
ties (whose gradient torch splits evenly) and NaN included.
"""

import numpy as np
import pytest
import torch

import attnkit
import attnkit.nn.vision as V
from conftest import EXACT, Tol, assert_close, make_input, normal, small_ints, to_attnkit, to_numpy
from timm_reference import timm_layer_module

se_ref = timm_layer_module("squeeze_excite")
eca_ref = timm_layer_module("eca")
cbam_ref = timm_layer_module("cbam")
sk_ref = timm_layer_module("selective_kernel")

# Both sides run the same float32 ops (1×1 and k×k convolutions, batch norm,
# sigmoid / softmax) but block the convolution sums differently (oneDNN here,
# torch's own kernels there): outputs of O(1) agree to a few 1e-7. The
# gradients of parameters sum over the batch and the image (up to ~10^3 terms
# here), and training-mode batch norm's backward subtracts two such sums, so
# they get 1e-4 relative / 2e-5 absolute.
FORWARD = Tol(rtol=1e-5, atol=1e-5)
GRAD = Tol(rtol=1e-4, atol=2e-5)
# A gradient that is 0 in exact arithmetic: the noise of summing ~10^2 terms of O(1).
VANISHING = Tol(rtol=0.0, atol=1e-4)
# Running statistics: one mean / unbiased variance per channel, as the forward.
STATS = Tol(rtol=1e-5, atol=1e-6)


# ---- the comparison --------------------------------------------------------------------


def load_reference_state(ak_block, pt_block):
    """timm's state_dict into ours, strictly: the same keys (attnkit's
    Module.state_dict lists every parameter before every buffer, torch module
    by module, so only the sets are compared)."""
    assert set(ak_block.state_dict()) == set(pt_block.state_dict())
    result = ak_block.load_state_dict({k: v.detach().clone() for k, v in pt_block.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def randomise_reference(pt_block, seed):
    """Batch-norm statistics and affine parameters away from 0 / 1, so that eval
    mode is not the identity and a wrong buffer would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in pt_block.named_buffers():
            if name.endswith("running_mean"):
                t.copy_(0.3 * torch.randn(t.shape, generator=g))
            elif name.endswith("running_var"):
                t.copy_(torch.empty(t.shape).uniform_(0.5, 2.0, generator=g))
        for name, p in pt_block.named_parameters():
            if "bn." in name:
                p.copy_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=g) if name.endswith("weight")
                        else 0.2 * torch.randn(p.shape, generator=g))


def check_block(ak_block, pt_block, x: np.ndarray, rng, training: bool, what: str, vanishing=()):
    """Forward, input and parameter gradients, and running statistics of both
    blocks on the same input and upstream gradient. Returns the torch output.
    `vanishing` names parameters whose gradient is 0 up to rounding (a bias
    right before a training-mode BatchNorm, which subtracts it again): both
    sides hold cancellation noise, compared at VANISHING."""
    ak_block.train(training)
    pt_block.train(training)
    ak_x, pt_x = to_attnkit(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    ak_out, pt_out = ak_block(ak_x), pt_block(pt_x)
    assert_close(ak_out, pt_out, FORWARD, f"{what} forward")
    upstream = rng.standard_normal(tuple(pt_out.shape)).astype(np.float32)
    ak_out.backward(to_attnkit(upstream))
    pt_out.backward(torch.from_numpy(upstream))
    assert_close(ak_x.grad, pt_x.grad, GRAD, f"{what} grad of the input")
    ak_params = dict(ak_block.named_parameters())
    for name, p in pt_block.named_parameters():
        assert ak_params[name].grad is not None, f"{what}: {name} got no gradient"
        tol = VANISHING if name in vanishing else GRAD
        assert_close(ak_params[name].grad, p.grad, tol, f"{what} grad of {name}")
    ak_buffers = dict(ak_block.named_buffers())
    for name, b in pt_block.named_buffers():
        if b.dtype == torch.int64:
            assert ak_buffers[name].item() == b.item(), f"{what}: {name}"
        else:
            assert_close(ak_buffers[name], b, STATS, f"{what} {name}")
    ak_block.zero_grad()
    pt_block.zero_grad()
    return pt_out


def capture(module):
    """The output of `module` at its next forward (a timm intermediate)."""
    seen = {}
    module.register_forward_hook(lambda m, args, out: seen.__setitem__("out", out.detach().clone()))
    return seen


def image(rng, shape, kind="normal"):
    if kind == "ints":  # whole numbers: ties for every max
        return small_ints(rng, shape)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "relu":  # mostly zeros: the max over channels ties at 0 at many positions
        return np.maximum(x - 0.5, 0.0).astype(np.float32)
    if kind == "levels":  # samples at levels -1, 0.5, 2, ...: see test_selective_kernel
        return (0.5 * x + (-1.0 + 1.5 * np.arange(shape[0], dtype=np.float32)).reshape(-1, 1, 1, 1)).astype(np.float32)
    return x


def bad_inputs(block, channels, expected_name):
    for shape in [(channels, 4, 4), (2, channels + 1, 4, 4), (2, channels, 0, 4)]:
        with pytest.raises(ValueError, match=expected_name):
            block(attnkit.zeros(*shape))


# ---- SqueezeExcite ---------------------------------------------------------------------

SE_OPTIONS = [
    dict(channels=16),
    dict(channels=64, rd_ratio=0.25, rd_divisor=1),
    dict(channels=24, rd_channels=5, bias=False),
    dict(channels=16, add_maxpool=True),
    dict(channels=32, rd_ratio=1 / 8, use_norm=True),
    dict(channels=8, rd_divisor=4, add_maxpool=True, use_norm=True, bias=False),
]


def timm_se(channels, use_norm=False, **kwargs):
    return se_ref.SEModule(channels, norm_layer=torch.nn.BatchNorm2d if use_norm else None, **kwargs)


@pytest.mark.parametrize("case", range(len(SE_OPTIONS)))
@pytest.mark.parametrize("kind", ["normal", "ints"])
def test_squeeze_excite(case, kind):
    options = SE_OPTIONS[case]
    rng = np.random.default_rng(100 + case)
    torch.manual_seed(case)
    pt, ak = timm_se(**options), V.SqueezeExcite(**options)
    randomise_reference(pt, case)
    load_reference_state(ak, pt)
    assert ak.rd_channels == pt.fc1.out_channels
    assert ak.attention_map is None
    gate = capture(pt.gate)
    for training in (True, False):
        x = image(rng, (3, options["channels"], 5, 7), kind)
        vanishing = ("fc1.bias",) if training and options.get("use_norm") else ()
        check_block(ak, pt, x, rng, training, f"SE {options} {kind} training={training}", vanishing)
        assert_close(ak.attention_map, gate["out"].reshape(3, -1), FORWARD, "SE attention_map")


def test_squeeze_excite_attributes_and_errors():
    se = V.SEModule(64, use_norm=True)
    assert V.SEModule is V.SqueezeExcite
    assert se.fc1.weight.shape == (8, 64, 1, 1) and se.fc2.bias.shape == (64,)
    assert se.bn.running_mean.shape == (8,)
    assert V.SqueezeExcite(64).bn is None
    se.eval()
    bad_inputs(se, 64, "SqueezeExcite")
    for kwargs in [dict(channels=0), dict(channels=8, rd_ratio=0.0), dict(channels=8, rd_channels=-2)]:
        with pytest.raises(ValueError, match="SqueezeExcite"):
            V.SqueezeExcite(**kwargs)


# ---- ECA -------------------------------------------------------------------------------

ECA_OPTIONS = [
    dict(channels=8),                  # k = 3
    dict(channels=256),                # k = 5
    dict(channels=64, gamma=1, beta=1),  # k = 7
    dict(channels=48, gamma=3, beta=2),
    dict(kernel_size=5),               # no channels: the kernel as given, any channel count
]


@pytest.mark.parametrize("case", range(len(ECA_OPTIONS)))
def test_eca(case, rng):
    options = ECA_OPTIONS[case]
    torch.manual_seed(case)
    pt, ak = eca_ref.EcaModule(**options), V.ECA(**options)
    load_reference_state(ak, pt)
    assert ak.kernel_size == pt.conv.kernel_size[0]
    gate = capture(pt.gate)
    channels = options.get("channels", 12)
    for shape in [(2, channels, 4, 6), (1, channels, 3, 3)]:
        check_block(ak, pt, image(rng, shape), rng, True, f"ECA {options} {shape}")
        assert_close(ak.attention_map, gate["out"].reshape(shape[0], -1), FORWARD, "ECA attention_map")


def test_eca_attributes_and_errors():
    eca = V.EcaModule(channels=2048)
    assert V.EcaModule is V.ECA
    assert eca.kernel_size == 7 and eca.conv.weight.shape == (1, 1, 7)
    bad_inputs(eca, 2048, "ECA")
    for kwargs in [dict(kernel_size=4), dict(channels=8, gamma=0.0)]:
        with pytest.raises(ValueError, match="ECA"):
            V.ECA(**kwargs)


# ---- CBAM ------------------------------------------------------------------------------

CBAM_OPTIONS = [
    dict(channels=16),
    dict(channels=32, rd_ratio=0.25, spatial_kernel_size=3),
    dict(channels=8, rd_channels=3, spatial_kernel_size=5, mlp_bias=True),
    dict(channels=24, rd_divisor=8, mlp_bias=True),
]


@pytest.mark.parametrize("case", range(len(CBAM_OPTIONS)))
@pytest.mark.parametrize("kind", ["normal", "relu", "ints"])
def test_cbam(case, kind):
    """'relu' and 'ints' inputs tie the maxima (over channels at 0, over the
    image at the largest integer): the gradient is split among them, as torch's amax."""
    options = CBAM_OPTIONS[case]
    rng = np.random.default_rng(200 + case)
    torch.manual_seed(case)
    pt, ak = cbam_ref.CbamModule(**options), V.CBAM(**options)
    randomise_reference(pt, case)
    load_reference_state(ak, pt)
    assert ak.rd_channels == pt.channel.fc1.out_channels
    assert ak.attention_map is None and ak.channel_attention_map is None
    channel_gate, spatial_gate = capture(pt.channel.gate), capture(pt.spatial.gate)
    for training in (True, False):
        x = image(rng, (2, options["channels"], 6, 5), kind)
        check_block(ak, pt, x, rng, training, f"CBAM {options} {kind} training={training}")
        assert_close(ak.attention_map, spatial_gate["out"], FORWARD, "CBAM attention_map")
        assert_close(ak.channel_attention_map, channel_gate["out"].reshape(2, -1), FORWARD,
                     "CBAM channel_attention_map")
        assert ak.attention_map.shape == (2, 1, 6, 5)


def test_cbam_attributes_and_errors():
    cbam = V.CbamModule(64)
    assert V.CbamModule is V.CBAM
    assert cbam.channel.fc1.weight.shape == (4, 64, 1, 1) and cbam.channel.fc1.bias is None
    assert cbam.spatial.conv.conv.weight.shape == (1, 2, 7, 7)
    assert cbam.spatial.conv.bn.running_mean.shape == (1,)
    assert isinstance(cbam.channel, V._vision.CbamChannelAttention)
    bad_inputs(cbam, 64, "CBAM")
    with pytest.raises(ValueError, match="spatial_kernel_size must be odd"):
        V.CBAM(8, spatial_kernel_size=4)


# ---- SelectiveKernel -------------------------------------------------------------------

SK_OPTIONS = [
    dict(in_channels=8),
    dict(in_channels=9, out_channels=16, kernel_size=[3, 5, 7], rd_ratio=0.25, rd_divisor=4),
    dict(in_channels=6, kernel_size=3, stride=2, rd_channels=4),
    dict(in_channels=8, out_channels=8, stride=2, dilation=2, groups=2, keep_3x3=False),
    dict(in_channels=4, out_channels=12, groups=4, split_input=False, rd_channels=6),
    dict(in_channels=8, kernel_size=[5, 3], groups=64, split_input=False),  # groups capped at 8: depthwise
]


@pytest.mark.parametrize("case", range(len(SK_OPTIONS)))
def test_selective_kernel(case):
    """Samples at distinct levels: in training mode the attention's BatchNorm
    normalises one pooled value per sample, and samples with near-equal
    descriptors would make it amplify float32 rounding (in either library)
    past any fixed tolerance."""
    options = SK_OPTIONS[case]
    rng = np.random.default_rng(300 + case)
    torch.manual_seed(case)
    pt, ak = sk_ref.SelectiveKernel(**options), V.SelectiveKernel(**options)
    randomise_reference(pt, case)
    load_reference_state(ak, pt)
    assert ak.attn_channels == pt.attn.fc_reduce.out_channels
    assert [p.conv.padding for p in pt.paths] == [tuple(p.conv.padding) for p in ak.paths]
    assert [p.conv.dilation for p in pt.paths] == [tuple(p.conv.dilation) for p in ak.paths]
    selection = capture(pt.attn)
    for training in (True, False):
        x = image(rng, (3, options["in_channels"], 5, 6), "levels")
        out = check_block(ak, pt, x, rng, training, f"SK {options} training={training}")
        weights = ak.attention_map
        assert weights.shape == (3, ak.num_paths, out.shape[1])
        assert_close(weights, selection["out"].reshape(weights.shape), FORWARD, "SK attention_map")
        np.testing.assert_allclose(to_numpy(weights).sum(axis=1), 1.0, rtol=1e-6)


def test_selective_kernel_attributes_and_errors():
    sk = V.SelectiveKernel(16, out_channels=32)
    assert len(sk.paths) == 2 and sk.kernel_size == [3, 3] and sk.dilation == [1, 2]
    assert sk.paths[1].conv.weight.shape == (32, 8, 3, 3) and sk.paths[-1].conv.dilation == (2, 2)
    assert sk.attn.fc_select.weight.shape == (64, 8, 1, 1) and sk.attn.bn.running_var.shape == (8,)
    assert [p.conv.padding for p in sk.paths] == [(1, 1), (2, 2)]
    bad_inputs(sk, 16, "SelectiveKernel")
    with pytest.raises(ValueError, match="more than one sample"):
        sk(attnkit.zeros(1, 16, 4, 4))  # training mode: the attention's BatchNorm needs a batch
    for kwargs in [dict(kernel_size=[3, 4]), dict(kernel_size=[1, 3]), dict(in_channels=9), dict(groups=3)]:
        with pytest.raises(ValueError, match="SelectiveKernel"):
            V.SelectiveKernel(**{"in_channels": 8, **kwargs})


# ---- amax --------------------------------------------------------------------------------

AMAX_DIMS = [(), 0, 1, -1, (2, 3), (1, 2), (0, 2), (3, 1), (0, 1, 2, 3)]


@pytest.mark.parametrize("dims", AMAX_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("sampler", ["normal", "ints"])
def test_amax(dims, keepdim, layout, sampler, rng):
    """Values exact; the gradient split among ties exactly as torch splits it."""
    x = make_input(rng, (2, 3, 4, 5), layout, small_ints if sampler == "ints" else normal)
    ak_out, pt_out = attnkit.amax(x.ak, dims, keepdim), torch.amax(x.pt, dims, keepdim)
    assert_close(ak_out, pt_out, EXACT, f"amax {dims}")
    upstream = rng.standard_normal(tuple(pt_out.shape)).astype(np.float32)
    ak_out.backward(to_attnkit(upstream))
    pt_out.backward(torch.from_numpy(upstream))
    assert_close(x.ak_leaf.grad, x.pt_leaf.grad, EXACT, f"amax {dims} grad")
    assert_close(x.ak.amax(dims, keepdim), pt_out, EXACT, "Tensor.amax")


def test_amax_large_ties_and_nan(rng):
    """Past the parallel threshold and the vector lanes, over the image (CBAM's
    channel attention) and over channels (its spatial attention) of a ReLU'd
    map; then NaN, which propagates and poisons its slice's gradient, as torch."""
    base = np.maximum(rng.standard_normal((4, 64, 23, 31)).astype(np.float32), 0.0)
    for dims in [(2, 3), 1]:
        ak_x, pt_x = to_attnkit(base, requires_grad=True), torch.from_numpy(base.copy()).requires_grad_()
        ak_out, pt_out = attnkit.amax(ak_x, dims, keepdim=True), torch.amax(pt_x, dims, keepdim=True)
        assert_close(ak_out, pt_out, EXACT, f"amax {dims}")
        upstream = rng.standard_normal(tuple(pt_out.shape)).astype(np.float32)
        ak_out.backward(to_attnkit(upstream))
        pt_out.backward(torch.from_numpy(upstream))
        assert_close(ak_x.grad, pt_x.grad, Tol(1e-6, 1e-7), f"amax {dims} grad")
    x = np.array([[1.0, np.nan, 2.0], [3.0, 3.0, -1.0]], np.float32)
    ak_x, pt_x = to_attnkit(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    ak_out, pt_out = attnkit.amax(ak_x, 1), torch.amax(pt_x, 1)
    assert_close(ak_out, pt_out, EXACT, "amax NaN")
    ak_out.backward(attnkit.ones(2))
    pt_out.backward(torch.ones(2))
    assert_close(ak_x.grad, pt_x.grad, EXACT, "amax NaN grad")
    with pytest.raises(ValueError, match="amax"):
        attnkit.amax(attnkit.zeros(2, 0), 1)
