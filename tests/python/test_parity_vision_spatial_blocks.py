"""The spatial attention blocks of attnkit.nn.vision against PyTorch references
holding the same weights: the forward, the gradients of the input and of every
parameter, the running statistics, in train and eval mode, over several
shapes and options; state_dict keys; the attention maps against the
reference's intermediates; the initial identity; bad input.

References:
  NonLocal           timm's own NonLocalAttn (timm.layers.non_local_attn,
                     imported through timm_reference.py).
  ResidualAttention  timm has no such block: a torch.nn composition written
                     below following Wang et al. 2017, "Residual Attention
                     Network for Image Classification" (§3.1 attention residual
                     learning (1 + M) · T, §3.2 the bottom-up top-down soft
                     mask with max-pooling, skip connections, bilinear
                     up-sampling, two 1×1 convs and a sigmoid), pre-activation
                     bottleneck residual units, with our child names.
  SpatialTransformer the PyTorch STN tutorial's structure as torch.nn modules
                     (localization: conv 7, pool, relu, conv 5, pool, relu,
                     Linear(·, 32), relu; fc_loc Linear(32, 6); affine_grid +
                     grid_sample), with our child names; and the same block
                     around a localization net written in Python.

Tolerances (float32), each with its reason:
  BLOCK       forward: chains of 1×1 / 3×3 convs (oneDNN vs torch's kernels,
              different summation orders) and batch norms, whose
              1 / sqrt(var + eps) scales every rounding of the channel sums;
              ~1e-6 relative per layer, compounding over up to ~30 layers.
  BLOCK_GRAD  the backward adds the batch norms' two extra channel sums per
              layer and the weight gradients' sums over B·H·W positions.
  STN         the localization net's convs, then affine_grid and bilinear
              sampling (four products per output) in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import attnkit
import attnkit.functional as AF
import attnkit.nn as ak_nn
from attnkit.nn import vision
from conftest import Tol, assert_close, to_attnkit, to_numpy
from timm_reference import timm_layer_module

BLOCK = Tol(rtol=1e-4, atol=1e-5)
BLOCK_GRAD = Tol(rtol=1e-4, atol=1e-4)
STN = Tol(rtol=1e-4, atol=1e-5)
STN_GRAD = Tol(rtol=1e-4, atol=1e-4)


# ---- shared machinery ----------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The shapes here are tiny: a parallel region gains nothing, and on a loaded
    two-core machine each one waits for the second thread to be scheduled (the
    file took 20x longer with two threads each in attnkit and torch)."""
    saved = attnkit.get_num_threads(), torch.get_num_threads()
    attnkit.set_num_threads(1)
    torch.set_num_threads(1)
    yield
    attnkit.set_num_threads(saved[0])
    torch.set_num_threads(saved[1])


def load_reference_weights(ours, reference) -> None:
    """The reference's state_dict into ours, strictly (keys and shapes must match)."""
    result = ours.load_state_dict({k: v.detach().clone() for k, v in reference.state_dict().items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def randomize_(module: nn.Module, rng: np.random.Generator, scale: float = 0.3) -> None:
    """Random weights and running statistics in place, so no parameter sits at a
    value that hides its gradient (timm's NonLocal starts with a zero norm) and
    eval mode differs from train mode."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.BatchNorm2d):
                sub.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, sub.num_features).astype(np.float32)))
                sub.bias.copy_(torch.from_numpy((0.3 * rng.standard_normal(sub.num_features)).astype(np.float32)))
                sub.running_mean.copy_(torch.from_numpy((0.3 * rng.standard_normal(sub.num_features)).astype(np.float32)))
                sub.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, sub.num_features).astype(np.float32)))
            elif isinstance(sub, (nn.Conv2d, nn.Linear)):
                for p in sub.parameters(recurse=False):
                    p.copy_(torch.from_numpy((scale * rng.standard_normal(tuple(p.shape))).astype(np.float32)))


def scaled(tol: Tol, expected: torch.Tensor) -> Tol:
    """tol with its atol relative to the tensor's largest entry (when above 1): a
    weight gradient sums many terms of that size, and where they cancel to a
    small entry its rounding error is still that of the large terms."""
    return Tol(tol.rtol, tol.atol * max(1.0, float(expected.abs().max())))


def check_block(ours, reference, x: np.ndarray, rng: np.random.Generator, tol: Tol, grad_tol: Tol, what: str):
    """One forward and backward of both blocks on x with the same upstream
    gradient: the outputs, the input's gradient, every parameter's gradient (by
    name) and, afterwards, every buffer (running statistics). Returns the two outputs."""
    ours.zero_grad()
    reference.zero_grad()
    x_ours, x_ref = to_attnkit(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    y_ours, y_ref = ours(x_ours), reference(x_ref)
    assert_close(y_ours, y_ref, tol, f"{what} forward")
    upstream = rng.standard_normal(tuple(y_ref.shape)).astype(np.float32)
    y_ours.backward(to_attnkit(upstream))
    y_ref.backward(torch.from_numpy(upstream))
    assert_close(x_ours.grad, x_ref.grad, scaled(grad_tol, x_ref.grad), f"{what} grad of the input")
    reference_parameters = dict(reference.named_parameters())
    ours_parameters = dict(ours.named_parameters())
    assert list(ours_parameters) == list(reference_parameters), what
    for name, p in ours_parameters.items():
        assert p.grad is not None, f"{what}: {name} got no gradient"
        expected = reference_parameters[name].grad
        assert_close(p.grad, expected, scaled(grad_tol, expected), f"{what} grad of {name}")
    reference_buffers = dict(reference.named_buffers())
    for name, b in ours.named_buffers():
        assert_close(b, reference_buffers[name], tol if b.dtype != attnkit.int64 else Tol(0, 0), f"{what} {name}")
    return y_ours, y_ref


def check_train_and_eval(ours, reference, shape, rng, tol, grad_tol, what):
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        reference.train(mode == "train")
        x = rng.standard_normal(shape).astype(np.float32)
        check_block(ours, reference, x, rng, tol, grad_tol, f"{what} {mode}")


# ---- NonLocal --------------------------------------------------------------------

NonLocalAttn = timm_layer_module("non_local_attn").NonLocalAttn

NON_LOCAL_CASES = [
    # (in_channels, keyword arguments, input shape)
    (16, {}, (2, 16, 5, 6)),
    (24, {"rd_channels": 4, "use_scale": False}, (1, 24, 3, 7)),
    (32, {"rd_ratio": 0.25, "rd_divisor": 4}, (2, 32, 4, 4)),
    (8, {"rd_channels": 3}, (3, 8, 1, 5)),
]


@pytest.mark.parametrize("channels,kwargs,shape", NON_LOCAL_CASES)
def test_non_local_matches_timm(channels, kwargs, shape, rng):
    reference = NonLocalAttn(channels, **kwargs)
    randomize_(reference, rng, scale=0.5)
    ours = vision.NonLocal(channels, **kwargs)
    assert list(ours.state_dict()) == list(reference.state_dict())
    load_reference_weights(ours, reference)
    assert ours.rd_channels == reference.t.out_channels
    assert ours.scale == pytest.approx(reference.scale)
    check_train_and_eval(ours, reference, shape, rng, BLOCK, BLOCK_GRAD, f"NonLocal({channels}, {kwargs})")


def test_non_local_map_is_the_softmax_of_timm(rng):
    reference = NonLocalAttn(16).eval()
    randomize_(reference, rng, scale=0.5)
    ours = vision.NonLocal(16).eval()
    load_reference_weights(ours, reference)
    assert ours.attention_map is None
    x = rng.standard_normal((2, 16, 4, 5)).astype(np.float32)
    ours(to_attnkit(x))
    with torch.no_grad():
        xt = torch.from_numpy(x)
        query = reference.t(xt).flatten(2).transpose(1, 2)  # (B, HW, C')
        key = reference.p(xt).flatten(2)                      # (B, C', HW)
        expected = torch.softmax(torch.bmm(query, key) * reference.scale, dim=2)
    attention = ours.attention_map
    assert tuple(attention.shape) == (2, 20, 20)
    assert not attention.requires_grad
    assert_close(attention, expected, Tol(1e-5, 1e-6), "NonLocal attention_map")
    np.testing.assert_allclose(to_numpy(attention).sum(-1), 1.0, atol=1e-5)


def test_non_local_starts_as_identity_like_timm(rng):
    x = rng.standard_normal((2, 16, 3, 4)).astype(np.float32)
    reference = NonLocalAttn(16)
    ours = vision.NonLocal(16)
    assert_close(ours(to_attnkit(x)), torch.from_numpy(x), Tol(0, 0), "a fresh NonLocal")
    assert_close(reference(torch.from_numpy(x)), torch.from_numpy(x), Tol(0, 0), "a fresh timm NonLocalAttn")
    assert np.all(to_numpy(ours.norm.weight) == 0) and np.all(to_numpy(ours.t.bias) == 0)
    # timm's kaiming_normal_(fan_out): std sqrt(2 / C') for t, p, g.
    assert np.std(to_numpy(vision.NonLocal(256).t.weight)) == pytest.approx(np.sqrt(2 / 32), rel=0.1)
    assert vision.NonLocalAttn is vision.NonLocal


# ---- ResidualAttention -------------------------------------------------------------


class TorchResidualUnit(nn.Module):
    """Pre-activation bottleneck (He et al. 2016), width C / 4, identity shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        width = channels // 4
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.norm3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, channels, 1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        out = self.conv3(F.relu(self.norm3(out)))
        return out + x


def torch_units(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[TorchResidualUnit(channels) for _ in range(count)])


class TorchSoftMaskBranch(nn.Module):
    """The soft-mask branch (§3.2, Fig. 3): `depth` max-pool (3, 2, 1) steps each
    followed by r units, r more units at the lowest resolution, then back up by
    bilinear interpolation to each skip's size, adding a one-unit skip
    connection from the bottom-up level of the same size and applying r units;
    a last interpolation to the input's size, BN-ReLU-1×1 conv twice, sigmoid."""

    def __init__(self, channels: int, r: int, depth: int):
        super().__init__()
        self.down = nn.ModuleList([torch_units(channels, r) for _ in range(depth)])
        self.skip = nn.ModuleList([TorchResidualUnit(channels) for _ in range(depth - 1)])
        self.bottom = torch_units(channels, r)
        self.up = nn.ModuleList([torch_units(channels, r) for _ in range(depth - 1)])
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        levels = [x]
        for down in self.down:
            levels.append(down(F.max_pool2d(levels[-1], 3, 2, 1)))
        u = self.bottom(levels[-1])
        for i in range(len(self.down) - 1, 0, -1):
            up = F.interpolate(u, size=levels[i].shape[-2:], mode="bilinear", align_corners=False)
            u = self.up[i - 1](up + self.skip[i - 1](levels[i]))
        u = F.interpolate(u, size=x.shape[-2:], mode="bilinear", align_corners=False)
        u = self.conv1(F.relu(self.norm1(u)))
        u = self.conv2(F.relu(self.norm2(u)))
        return torch.sigmoid(u)


class TorchResidualAttention(nn.Module):
    """Attention residual learning (§3.1): post((1 + M(x')) · T(x')), x' = pre(x)."""

    def __init__(self, channels: int, p: int = 1, t: int = 2, r: int = 1, depth: int = 1):
        super().__init__()
        self.pre = torch_units(channels, p)
        self.trunk = torch_units(channels, t)
        self.mask = TorchSoftMaskBranch(channels, r, depth)
        self.post = torch_units(channels, p)
        self.last_mask = None

    def forward(self, x):
        x = self.pre(x)
        trunk = self.trunk(x)
        mask = self.mask(x)
        self.last_mask = mask.detach()
        return self.post((1 + mask) * trunk)


RESIDUAL_ATTENTION_CASES = [
    # (channels, options, input shape)
    (8, {}, (2, 8, 6, 6)),                                  # the defaults: p=1, t=2, r=1, depth=1
    (4, {"p": 0, "t": 1, "depth": 2}, (2, 4, 7, 5)),
    (8, {"p": 1, "t": 1, "r": 2, "depth": 2}, (1, 8, 9, 8)),
    (4, {"p": 1, "t": 0, "r": 0, "depth": 3}, (2, 4, 8, 8)),
    (12, {"p": 2, "t": 1, "r": 1, "depth": 2}, (2, 12, 5, 6)),
]


@pytest.mark.parametrize("channels,options,shape", RESIDUAL_ATTENTION_CASES)
def test_residual_attention_matches_torch_composition(channels, options, shape, rng):
    reference = TorchResidualAttention(channels, **options)
    randomize_(reference, rng)
    ours = vision.ResidualAttention(channels, **options)
    # The same keys (attnkit lists all parameters before all buffers, torch module by module).
    assert sorted(ours.state_dict()) == sorted(reference.state_dict())
    load_reference_weights(ours, reference)
    what = f"ResidualAttention({channels}, {options})"
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        reference.train(mode == "train")
        x = rng.standard_normal(shape).astype(np.float32)
        check_block(ours, reference, x, rng, BLOCK, BLOCK_GRAD, f"{what} {mode}")
        mask = ours.attention_map
        assert tuple(mask.shape) == shape and not mask.requires_grad
        assert_close(mask, reference.last_mask, BLOCK, f"{what} {mode} soft mask")
        assert 0 <= to_numpy(mask).min() and to_numpy(mask).max() <= 1


def test_residual_attention_children_and_defaults():
    block = vision.ResidualAttention(16, depth=2)
    assert (block.channels, block.p, block.t, block.r, block.depth) == (16, 1, 2, 1, 2)
    assert block.attention_map is None
    assert len(block.pre) == 1 and len(block.trunk) == 2 and len(block.post) == 1
    assert len(block.mask.down) == 2 and len(block.mask.skip) == 1 and len(block.mask.up) == 1
    assert tuple(block.trunk[1].conv2.weight.shape) == (4, 4, 3, 3)
    assert block.mask.conv2.bias is not None and block.mask.conv1.bias is None
    assert "ResidualAttention(" in repr(block) and "(mask): SoftMaskBranch(" in repr(block)
    x = to_attnkit(np.random.default_rng(0).standard_normal((2, 16, 4, 4)).astype(np.float32))
    assert tuple(block(x).shape) == (2, 16, 4, 4)


# ---- SpatialTransformer -------------------------------------------------------------


def localized_side(side: int) -> int:
    return ((side - 6) // 2 - 4) // 2


class TorchStnLocalization(nn.Module):
    """The PyTorch STN tutorial's localization net, with a named Linear(·, 32) + ReLU at the end."""

    def __init__(self, channels: int, height: int, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 8, kernel_size=7)
        self.conv2 = nn.Conv2d(8, 10, kernel_size=5)
        self.fc = nn.Linear(10 * localized_side(height) * localized_side(width), 32)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return F.relu(self.fc(x.flatten(1)))


class TorchSpatialTransformer(nn.Module):
    def __init__(self, localization: nn.Module, features: int, output_size=None, mode="bilinear",
                 padding_mode="zeros", align_corners=False):
        super().__init__()
        self.localization = localization
        self.fc_loc = nn.Linear(features, 6)
        with torch.no_grad():  # the identity transform, as the tutorial
            self.fc_loc.weight.zero_()
            self.fc_loc.bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
        self.output_size, self.mode, self.padding_mode, self.align_corners = (
            output_size, mode, padding_mode, align_corners)
        self.theta = self.grid = None

    def forward(self, x):
        theta = self.fc_loc(self.localization(x)).view(-1, 2, 3)
        size = tuple(x.shape[:2]) + tuple(self.output_size or x.shape[2:])
        grid = F.affine_grid(theta, size, align_corners=self.align_corners)
        self.theta, self.grid = theta.detach(), grid.detach()
        return F.grid_sample(x, grid, mode=self.mode, padding_mode=self.padding_mode,
                             align_corners=self.align_corners)


def jitter_fc_loc_(stn: TorchSpatialTransformer, rng) -> None:
    """A generic transform near the identity, depending on the input (fc_loc's
    zero weight would pass no gradient to the localization net)."""
    with torch.no_grad():
        stn.fc_loc.weight.copy_(torch.from_numpy((0.05 * rng.standard_normal((6, stn.fc_loc.in_features)))
                                                 .astype(np.float32)))
        stn.fc_loc.bias.add_(torch.from_numpy((0.1 * rng.standard_normal(6)).astype(np.float32)))


STN_CASES = [
    # (channels, input (H, W), output_size, mode, padding_mode, align_corners)
    (1, (28, 28), None, "bilinear", "zeros", False),
    (3, (20, 24), (10, 12), "bilinear", "border", True),
    (2, (18, 18), None, "nearest", "reflection", False),
    (1, (32, 32), (16, 16), "bicubic", "zeros", False),
    (2, (19, 21), (7, 9), "bilinear", "reflection", True),
]


@pytest.mark.parametrize("channels,size,output_size,mode,padding_mode,align_corners", STN_CASES)
def test_spatial_transformer_matches_torch_composition(channels, size, output_size, mode, padding_mode,
                                                       align_corners, rng):
    reference = TorchSpatialTransformer(TorchStnLocalization(channels, *size), 32, output_size, mode, padding_mode,
                                        align_corners)
    jitter_fc_loc_(reference, rng)
    ours = vision.SpatialTransformer(channels, input_size=size, output_size=output_size, mode=mode,
                                     padding_mode=padding_mode, align_corners=align_corners)
    assert list(ours.state_dict()) == list(reference.state_dict())
    load_reference_weights(ours, reference)
    what = f"SpatialTransformer({channels}, {size}, {output_size}, {mode}, {padding_mode}, {align_corners})"
    x = rng.standard_normal((2, channels) + size).astype(np.float32)
    y_ours, y_ref = check_block(ours, reference, x, rng, STN, STN_GRAD, what)
    assert_close(ours.theta, reference.theta, STN, f"{what} theta")
    assert_close(ours.attention_map, reference.grid, STN, f"{what} grid")
    assert_close(ours.warped, y_ref, STN, f"{what} warped")
    ho, wo = output_size or size
    assert tuple(ours.attention_map.shape) == (2, ho, wo, 2)


def test_spatial_transformer_starts_as_identity(rng):
    ours = vision.SpatialTransformer(1, input_size=32)
    assert ours.attention_map is None and ours.theta is None and ours.warped is None
    x = rng.standard_normal((3, 1, 32, 32)).astype(np.float32)
    y = ours(to_attnkit(x))
    np.testing.assert_allclose(to_numpy(y), x, atol=1e-5)
    np.testing.assert_array_equal(to_numpy(ours.theta), np.tile([[1, 0, 0], [0, 1, 0]], (3, 1, 1)))
    np.testing.assert_array_equal(to_numpy(ours.fc_loc.weight), 0)
    reference = TorchSpatialTransformer(TorchStnLocalization(1, 32, 32), 32)
    load_reference_weights(ours, reference)
    assert_close(ours(to_attnkit(x)), reference(torch.from_numpy(x)), STN, "identity")


class PooledLocalization(ak_nn.Module):
    """A localization net written in Python: average-pool to 2×2, Linear, tanh."""

    def __init__(self, channels: int, features: int):
        super().__init__()
        self.fc = ak_nn.Linear(4 * channels, features)

    def forward(self, x):
        return attnkit.tanh(self.fc(AF.adaptive_avg_pool2d(x, 2).flatten(1)))


class TorchPooledLocalization(nn.Module):
    def __init__(self, channels: int, features: int):
        super().__init__()
        self.fc = nn.Linear(4 * channels, features)

    def forward(self, x):
        return torch.tanh(self.fc(F.adaptive_avg_pool2d(x, 2).flatten(1)))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_spatial_transformer_with_python_localization(mode, rng):
    net = PooledLocalization(2, 5)
    ours = vision.SpatialTransformer(2, localization=net, localization_features=5, output_size=(5, 4), mode=mode)
    assert ours.localization is net and ours.localization_features == 5
    reference = TorchSpatialTransformer(TorchPooledLocalization(2, 5), 5, (5, 4), mode)
    randomize_(reference.localization, rng)
    jitter_fc_loc_(reference, rng)
    assert list(ours.state_dict()) == list(reference.state_dict())
    load_reference_weights(ours, reference)
    x = rng.standard_normal((3, 2, 6, 7)).astype(np.float32)
    check_block(ours, reference, x, rng, STN, STN_GRAD, f"SpatialTransformer(Python localization, {mode})")
    assert_close(ours.attention_map, reference.grid, STN, "grid")


def test_spatial_transformer_trains_its_python_localization(rng):
    """The Python net's parameters are the block's: one SGD step moves them."""
    net = PooledLocalization(1, 3)
    stn = vision.SpatialTransformer(1, localization=net, localization_features=3)
    with attnkit.no_grad():
        stn.fc_loc.weight.copy_(to_attnkit(0.1 * rng.standard_normal((6, 3)).astype(np.float32)))
    names = [name for name, _ in stn.named_parameters()]
    assert names == ["localization.fc.weight", "localization.fc.bias", "fc_loc.weight", "fc_loc.bias"]
    x = to_attnkit(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    (stn(x) * stn(x)).sum().backward()
    assert np.abs(to_numpy(net.fc.weight.grad)).sum() > 0


# ---- bad input ------------------------------------------------------------------------


def test_errors():
    x4 = lambda *shape: to_attnkit(np.zeros(shape, dtype=np.float32))  # noqa: E731
    with pytest.raises(ValueError, match="NonLocal: expected 8 input channels"):
        vision.NonLocal(8)(x4(1, 4, 3, 3))
    with pytest.raises(ValueError, match=r"NonLocal: expected input \(B, C, H, W\)"):
        vision.NonLocal(8)(x4(8, 3, 3))
    with pytest.raises(ValueError, match="NonLocal: rd_ratio"):
        vision.NonLocal(8, rd_ratio=0)
    with pytest.raises(ValueError, match="ResidualAttention: channels must be a positive multiple of 4"):
        vision.ResidualAttention(6)
    with pytest.raises(ValueError, match="ResidualAttention: depth"):
        vision.ResidualAttention(8, depth=0)
    with pytest.raises(ValueError, match="ResidualAttention: expected 8 input channels"):
        vision.ResidualAttention(8)(x4(1, 4, 6, 6))
    with pytest.raises(ValueError, match="SpatialTransformer: the default localization net needs input_size"):
        vision.SpatialTransformer(1)
    with pytest.raises(ValueError, match="at least 18 x 18"):
        vision.SpatialTransformer(1, input_size=(12, 20))
    with pytest.raises(ValueError, match="built for inputs of 20 x 20"):
        vision.SpatialTransformer(1, input_size=20)(x4(1, 1, 24, 24))
    with pytest.raises(ValueError, match="SpatialTransformer: expected 1 input channels"):
        vision.SpatialTransformer(1, input_size=20)(x4(1, 3, 20, 20))
    with pytest.raises(ValueError, match="SpatialTransformer: mode"):
        vision.SpatialTransformer(1, input_size=20, mode="area")
    with pytest.raises(ValueError, match="localization_features"):
        vision.SpatialTransformer(1, localization=PooledLocalization(1, 3))
    with pytest.raises(TypeError, match="must be an attnkit.nn.Module"):
        vision.SpatialTransformer(1, localization=lambda x: x, localization_features=3)
    with pytest.raises(ValueError, match=r"should give features \(2, 4\)"):
        vision.SpatialTransformer(1, localization=PooledLocalization(1, 3), localization_features=4)(x4(2, 1, 5, 5))
    # A C++ module as the net: its own forward runs (here on the wrong rank, so the shape check names it).
    with pytest.raises(ValueError, match="should give features"):
        vision.SpatialTransformer(1, localization=ak_nn.Conv2d(1, 2, 1), localization_features=2)(x4(2, 1, 5, 5))
