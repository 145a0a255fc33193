"""DynamicCapacity and RecurrentAttention against PyTorch references.

timm has neither block, so the references are compositions of torch.nn layers
written here from the papers, with the same parameter names:

* TorchDynamicCapacity (Almahairi et al. 2016): the coarse net over the whole
  image, the saliency as torch.autograd.grad of the entropy of the coarse
  prediction with respect to the (detached) coarse map, a stable sort for the
  top-k (ties in index order, attnkit's rule), the fine net on the chosen
  patches, the map merged with Tensor.scatter, and the top layers (1x1 conv,
  SiLU, mean over positions, Linear) on it.
* TorchRecurrentAttention (Mnih et al. 2014): the glimpse sensor from
  F.affine_grid + F.grid_sample + F.avg_pool2d, nn.RNNCell(nonlinearity='relu')
  or nn.LSTMCell as the core, torch.distributions.Normal for log pi, and the
  hybrid loss (F.nll_loss, REINFORCE with a detached baseline, F.mse_loss).

Each test loads the reference's state_dict into ours (strict), runs both on
the same input (and, for RAM, the same location noise), and compares the
outputs, the maps and the gradients of a loss with respect to the input and
every parameter, in train and eval mode. No block here has batch norm or
dropout, so the modes differ only where RAM samples its locations.

Tolerances (float32): forward 1e-5 absolute / 1e-4 relative (a handful of
small convolutions and matmuls, accumulated in different orders); gradients
1e-4 / 1e-4 (the same sums again, and the saliency is itself a gradient).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

import attnkit
import attnkit.nn as ak_nn
from attnkit.nn import vision
from conftest import Tol, assert_close, to_attnkit

FORWARD = Tol(rtol=1e-4, atol=1e-5)
GRAD = Tol(rtol=1e-4, atol=1e-4)


def load_reference(ours, reference):
    """The reference's weights into ours; the key sets must agree exactly."""
    state = reference.state_dict()
    assert sorted(ours.state_dict().keys()) == sorted(state.keys())
    ours.load_state_dict(state)


def compare_grads(ours, reference, what):
    ak_grads = dict(ours.named_parameters())
    for name, p in reference.named_parameters():
        assert ak_grads[name].grad is not None, f"{what}: {name} got no gradient"
        assert_close(ak_grads[name].grad, p.grad, GRAD, f"{what} grad of {name}")


# ---------------------------------------------------------------- DynamicCapacity ---


class TorchCoarseNet(tnn.Module):
    def __init__(self, c, d, p, s, pad):
        super().__init__()
        self.conv1 = tnn.Conv2d(c, d, p, stride=s, padding=pad)
        self.conv2 = tnn.Conv2d(d, d, 1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class TorchFineNet(tnn.Module):
    def __init__(self, c, d, p, width):
        super().__init__()
        self.conv1 = tnn.Conv2d(c, width, 3, padding=1)
        self.conv2 = tnn.Conv2d(width, width, 3, padding=1)
        self.conv3 = tnn.Conv2d(width, d, p)

    def forward(self, x):
        return F.relu(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))


class TorchDynamicCapacity(tnn.Module):
    def __init__(self, c, classes, d, k, p, s, pad, width, coarse_net=None, fine_net=None):
        super().__init__()
        self.k, self.p, self.s, self.pad = k, p, s, pad
        self.coarse_net = coarse_net or TorchCoarseNet(c, d, p, s, pad)
        self.fine_net = fine_net or TorchFineNet(c, d, p, width)
        self.top = tnn.Conv2d(d, d, 1)
        self.classifier = tnn.Linear(d, classes)

    def head(self, features):
        return self.classifier(F.silu(self.top(features)).mean((2, 3)))

    def forward(self, x):
        coarse = self.coarse_net(x)  # (B, D, h, w)
        b, d, h, w = coarse.shape
        leaf = coarse.detach().requires_grad_()
        with torch.enable_grad():
            log_p = F.log_softmax(self.head(leaf), 1)
            entropy = -(log_p.exp() * log_p).sum()
            (grad,) = torch.autograd.grad(entropy, leaf)  # touches no parameter's .grad
        saliency = grad.norm(dim=1)  # (B, h, w)
        # (B, k), largest first; equal values in index order, as attnkit breaks ties
        chosen = saliency.flatten(1).sort(dim=1, descending=True, stable=True).indices[:, :self.k]
        padded = F.pad(x, (self.pad,) * 4)
        patches = []
        for n in range(b):
            for flat in chosen[n].tolist():
                y0, x0 = (flat // w) * self.s, (flat % w) * self.s
                patches.append(padded[n, :, y0:y0 + self.p, x0:x0 + self.p])
        fine = self.fine_net(torch.stack(patches)).reshape(b, self.k, d)
        merged = coarse.flatten(2).scatter(2, chosen[:, None, :].expand(b, d, self.k), fine.transpose(1, 2))
        return self.head(merged.reshape(b, d, h, w)), saliency, chosen


DCN_CASES = [
    # in_channels, classes, dim, top_k, patch_size, patch_stride, padding, fine_width, batch, H, W
    (2, 3, 4, 2, 2, 2, 0, 6, 2, 6, 6),
    (3, 5, 6, 3, 3, 2, 1, 8, 2, 7, 9),
    (1, 4, 5, 1, 4, 4, 0, 4, 3, 8, 12),
    (2, 2, 3, 4, 3, 1, 0, 4, 1, 5, 6),
]


def make_dcn(case, seed):
    c, classes, d, k, p, s, pad, width, *_ = case
    torch.manual_seed(seed)
    reference = TorchDynamicCapacity(c, classes, d, k, p, s, pad, width)
    ours = vision.DynamicCapacity(c, classes, dim=d, top_k=k, patch_size=p, patch_stride=s, patch_padding=pad,
                                  fine_width=width)
    load_reference(ours, reference)
    return ours, reference


def run_dcn_parity(ours, reference, x_np, what):
    x_ak = to_attnkit(x_np, requires_grad=True)
    x_pt = torch.from_numpy(x_np.copy()).requires_grad_()
    logits = ours(x_ak)
    ref_logits, saliency, chosen = reference(x_pt)
    assert_close(logits, ref_logits, FORWARD, f"{what} logits")
    assert_close(ours.attention_map, saliency, FORWARD, f"{what} saliency")
    w = saliency.shape[2]
    positions = torch.stack([chosen // w, chosen % w], dim=2)
    assert_close(ours.selected_positions, positions, Tol(0, 0), f"{what} positions")

    upstream = np.random.default_rng(7).standard_normal(tuple(ref_logits.shape)).astype(np.float32)
    (logits * to_attnkit(upstream)).sum().backward()
    (ref_logits * torch.from_numpy(upstream)).sum().backward()
    assert_close(x_ak.grad, x_pt.grad, GRAD, f"{what} grad of the input")
    compare_grads(ours, reference, what)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", DCN_CASES, ids=lambda c: "c{}-k{}-p{}s{}pad{}-{}x{}".format(*c[:1], *c[3:7], *c[9:]))
def test_dynamic_capacity_matches_torch(case, mode):
    ours, reference = make_dcn(case, seed=sum(case))
    getattr(ours, mode)()
    getattr(reference, mode)()
    c, *_, batch, height, width = case
    x = np.random.default_rng(sum(case)).standard_normal((batch, c, height, width)).astype(np.float32)
    run_dcn_parity(ours, reference, x, f"DynamicCapacity {case} {mode}")


def test_dynamic_capacity_maps():
    case = DCN_CASES[1]
    ours, _ = make_dcn(case, seed=3)
    assert ours.attention_map is None and ours.selected_regions is None and ours.selected_positions is None
    x = to_attnkit(np.random.default_rng(0).standard_normal((2, 3, 7, 9)).astype(np.float32))
    ours(x)
    saliency = ours.attention_map.numpy()
    assert saliency.shape == (2, 4, 5) and (saliency >= 0).all()
    positions, regions = ours.selected_positions.numpy(), ours.selected_regions.numpy()
    assert positions.shape == (2, 3, 2) and regions.shape == (2, 3, 4) and regions.dtype == np.int64
    # patch of (i, j): top-left (2i - 1, 2j - 1), side 3
    np.testing.assert_array_equal(regions[..., :2], positions * 2 - 1)
    np.testing.assert_array_equal(regions[..., 2:], positions * 2 + 2)
    for n in range(2):  # the chosen are the most salient, largest first
        chosen = saliency[n][positions[n, :, 0], positions[n, :, 1]]
        assert (np.diff(chosen) <= 0).all()
        assert chosen[-1] == np.sort(saliency[n].ravel())[::-1][2]
    # No parameter trained by the saliency; the options read back.
    assert all(p.grad is None for p in ours.parameters())
    assert (ours.in_channels, ours.num_classes, ours.dim, ours.top_k) == (3, 5, 6, 3)
    assert (ours.patch_size, ours.patch_stride, ours.patch_padding, ours.fine_width) == (3, 2, 1, 8)
    assert vision.DynamicCapacity(1, 2).patch_stride == 4 and vision.DynamicCapacity(1, 2, dim=5).fine_width == 10


class PyCoarse(ak_nn.Module):
    """A coarse net of one's own, in Python: one strided convolution."""

    def __init__(self, c, d, p):
        super().__init__()
        self.conv = ak_nn.Conv2d(c, d, p, stride=p)

    def forward(self, x):
        return attnkit.relu(self.conv(x))


class TorchPyCoarse(tnn.Module):
    def __init__(self, c, d, p):
        super().__init__()
        self.conv = tnn.Conv2d(c, d, p, stride=p)

    def forward(self, x):
        return F.relu(self.conv(x))


def test_dynamic_capacity_with_nets_of_your_own():
    c, classes, d, k, p = 2, 3, 4, 2, 2
    torch.manual_seed(5)
    reference = TorchDynamicCapacity(c, classes, d, k, p, p, 0, 0, coarse_net=TorchPyCoarse(c, d, p),
                                     fine_net=tnn.Conv2d(c, d, p))
    coarse, fine = PyCoarse(c, d, p), ak_nn.Conv2d(c, d, p)
    ours = vision.DynamicCapacity(c, classes, dim=d, top_k=k, patch_size=p, coarse_net=coarse, fine_net=fine)
    assert ours.coarse_net is coarse and ours.fine_net is fine
    assert "coarse_net.conv.weight" in ours.state_dict() and "fine_net.bias" in ours.state_dict()
    load_reference(ours, reference)
    x = np.random.default_rng(1).standard_normal((2, c, 6, 8)).astype(np.float32)
    run_dcn_parity(ours, reference, x, "DynamicCapacity with nets of your own")
    assert coarse.conv.weight.grad is not None


def test_dynamic_capacity_bad_input():
    dcn = vision.DynamicCapacity(2, 3, dim=4, top_k=2, patch_size=2)
    with pytest.raises(ValueError, match="DynamicCapacity: expected input of shape"):
        dcn(attnkit.randn(2, 6, 6))
    with pytest.raises(ValueError, match="DynamicCapacity: expected 2 input channels"):
        dcn(attnkit.randn(1, 3, 6, 6))
    with pytest.raises(ValueError, match="smaller than one patch"):
        dcn(attnkit.randn(1, 2, 1, 6))
    with pytest.raises(ValueError, match="top_k=2 is more than the 1 positions"):
        dcn(attnkit.randn(1, 2, 2, 3))
    with pytest.raises(ValueError, match="top_k must be positive"):
        vision.DynamicCapacity(2, 3, top_k=0)
    with pytest.raises(ValueError, match="patch_padding must be in"):
        vision.DynamicCapacity(2, 3, patch_size=2, patch_padding=2)
    with pytest.raises(ValueError, match="patch_stride must be positive"):
        vision.DynamicCapacity(2, 3, patch_stride=0)
    with pytest.raises(TypeError, match="coarse_net must be an attnkit.nn.Module"):
        vision.DynamicCapacity(2, 3, coarse_net=lambda x: x)
    wrong = vision.DynamicCapacity(2, 3, dim=4, top_k=2, patch_size=2, coarse_net=ak_nn.Conv2d(2, 5, 2, stride=2))
    with pytest.raises(ValueError, match=r"the coarse net must give \(1, 4, h, w\)"):
        wrong(attnkit.randn(1, 2, 6, 6))


# ---------------------------------------------------------------- RecurrentAttention ---


class TorchGlimpseNet(tnn.Module):
    def __init__(self, patch_features, hg, hl, gdim):
        super().__init__()
        self.patch_fc = tnn.Linear(patch_features, hg)
        self.location_fc = tnn.Linear(2, hl)
        self.what = tnn.Linear(hg, gdim)
        self.where = tnn.Linear(hl, gdim)

    def forward(self, patches, location):
        return F.relu(self.what(F.relu(self.patch_fc(patches))) + self.where(F.relu(self.location_fc(location))))


class TorchRecurrentAttention(tnn.Module):
    def __init__(self, c, classes, g, k, steps, hg, hl, gdim, hidden, std, core):
        super().__init__()
        self.g, self.k, self.steps, self.std, self.lstm = g, k, steps, std, core == "lstm"
        self.glimpse_net = TorchGlimpseNet(k * c * g * g, hg, hl, gdim)
        self.core = tnn.LSTMCell(gdim, hidden) if self.lstm else tnn.RNNCell(gdim, hidden, nonlinearity="relu")
        self.location_net = tnn.Linear(hidden, 2)
        self.baseline_net = tnn.Linear(hidden, 1)
        self.classifier = tnn.Linear(hidden, classes)

    def sensor(self, x, l):
        b, c, height, width = x.shape
        scales = []
        for i in range(self.k):
            side = self.g * 2**i
            theta = torch.zeros(b, 2, 3)
            theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = side / width, side / height, l
            grid = F.affine_grid(theta, [b, c, side, side], align_corners=False)
            patch = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            scales.append(F.avg_pool2d(patch, 2**i) if i else patch)
        return torch.stack(scales, 1)  # (B, k, C, g, g)

    def forward(self, x, noise):
        b = x.shape[0]
        h = torch.zeros(b, self.core.hidden_size)
        c = torch.zeros_like(h)
        locations, log_pi, baselines = [], [], []
        for t in range(self.steps):
            mu = torch.tanh(self.location_net(h.detach()))
            action = mu.detach() + self.std * noise[:, t] if self.training else mu.detach()
            log_pi.append(torch.distributions.Normal(mu, self.std).log_prob(action).sum(1))
            baselines.append(self.baseline_net(h.detach()).squeeze(1))
            l = action.clamp(-1, 1)
            g = self.glimpse_net(self.sensor(x, l).flatten(1), l)
            if self.lstm:
                h, c = self.core(g, (h, c))
            else:
                h = self.core(g, h)
            locations.append(l)
        log_probs = F.log_softmax(self.classifier(h), 1)
        return log_probs, torch.stack(locations, 1), torch.stack(log_pi, 1), torch.stack(baselines, 1)


def torch_hybrid_loss(log_probs, log_pi, baselines, labels):
    reward = (log_probs.argmax(1) == labels).float()
    classification = F.nll_loss(log_probs, labels)
    reinforce = (-log_pi * (reward[:, None] - baselines.detach())).sum(1).mean()
    baseline = F.mse_loss(baselines, reward[:, None].expand_as(baselines))
    return classification + reinforce + baseline, classification, reinforce, baseline


RAM_CASES = [
    # in_channels, classes, g, k, T, hidden sizes (hg, hl, gdim, hidden), std, core, batch, H, W
    (1, 3, 2, 1, 1, (4, 3, 5, 6), 0.2, "rnn", 3, 6, 6),
    (2, 4, 2, 3, 3, (6, 4, 5, 7), 0.17, "rnn", 4, 8, 8),
    (2, 3, 3, 2, 4, (5, 5, 6, 6), 0.3, "lstm", 3, 7, 9),
    (1, 5, 4, 2, 2, (8, 4, 8, 8), 0.5, "lstm", 2, 9, 6),
]


def make_ram(case, seed):
    c, classes, g, k, steps, (hg, hl, gdim, hidden), std, core, *_ = case
    torch.manual_seed(seed)
    reference = TorchRecurrentAttention(c, classes, g, k, steps, hg, hl, gdim, hidden, std, core)
    ours = vision.RecurrentAttention(c, classes, glimpse_size=g, num_scales=k, num_glimpses=steps, glimpse_hidden=hg,
                                     location_hidden=hl, glimpse_dim=gdim, hidden_size=hidden, std=std, core=core)
    load_reference(ours, reference)
    return ours, reference


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", RAM_CASES, ids=lambda c: "c{}-g{}-k{}-T{}-{}".format(c[0], c[2], c[3], c[4], c[7]))
def test_recurrent_attention_matches_torch(case, mode):
    seed = case[1] * 10 + case[4]
    ours, reference = make_ram(case, seed)
    getattr(ours, mode)()
    getattr(reference, mode)()
    c, classes, *_, steps = case[:5]
    batch, height, width = case[8:]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, c, height, width)).astype(np.float32)
    noise = rng.standard_normal((batch, steps, 2)).astype(np.float32)
    labels = rng.integers(0, classes, batch)
    x_ak, x_pt = to_attnkit(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()

    out = ours(x_ak, to_attnkit(noise))
    ref = reference(x_pt, torch.from_numpy(noise))
    what = f"RecurrentAttention {case} {mode}"
    for name, a, e in zip(out._fields, out, ref):
        assert_close(a, e, FORWARD, f"{what} {name}")
    assert_close(ours.attention_map, ref[1], FORWARD, f"{what} attention_map")

    loss = ours.reinforce_loss(out, to_attnkit(labels))
    ref_loss = torch_hybrid_loss(ref[0], ref[2], ref[3], torch.from_numpy(labels))
    for name, a, e in zip(loss._fields, loss, ref_loss):
        assert_close(a, e, FORWARD, f"{what} loss {name}")
    loss.total.backward()
    ref_loss[0].backward()
    assert_close(x_ak.grad, x_pt.grad, GRAD, f"{what} grad of the input")
    compare_grads(ours, reference, what)


def test_recurrent_attention_sampling_is_reproducible():
    ours, _ = make_ram(RAM_CASES[1], seed=1)
    x = attnkit.randn(4, 2, 8, 8)
    first = ours(x, generator=attnkit.Generator(11))
    again = ours(x, generator=attnkit.Generator(11))
    given = ours(x, attnkit.randn(4, 3, 2, generator=attnkit.Generator(11)))
    other = ours(x, generator=attnkit.Generator(12))
    for out in (again, given):
        np.testing.assert_array_equal(out.locations.numpy(), first.locations.numpy())
        np.testing.assert_array_equal(out.log_probs.numpy(), first.log_probs.numpy())
    assert not np.array_equal(other.locations.numpy(), first.locations.numpy())
    # eval: the policy's mean, whatever the generator
    ours.eval()
    a, b = ours(x, generator=attnkit.Generator(1)), ours(x, generator=attnkit.Generator(2))
    np.testing.assert_array_equal(a.locations.numpy(), b.locations.numpy())


def test_recurrent_attention_maps_and_attributes():
    ours, _ = make_ram(RAM_CASES[2], seed=2)
    assert ours.attention_map is None and ours.glimpse_boxes is None
    out = ours(attnkit.randn(3, 2, 7, 9))
    path = ours.attention_map.numpy()
    assert path.shape == (3, 4, 2) and np.abs(path).max() <= 1
    np.testing.assert_array_equal(path, out.locations.numpy())
    boxes = ours.glimpse_boxes.numpy()
    assert boxes.shape == (3, 4, 2, 4) and boxes.dtype == np.float32
    cx, cy = (path[..., 0] + 1) * 9 / 2, (path[..., 1] + 1) * 7 / 2
    for i, side in enumerate((3, 6)):
        expected = np.stack([cy - side / 2, cx - side / 2, cy + side / 2, cx + side / 2], -1)
        np.testing.assert_allclose(boxes[:, :, i], expected, rtol=1e-6, atol=1e-5)
    assert (ours.glimpse_size, ours.num_scales, ours.num_glimpses, ours.core_type) == (3, 2, 4, "lstm")
    assert math.isclose(ours.std, 0.3)
    assert tuple(ours.core.weight_ih.shape) == (24, 6) and ours.glimpse_net.patch_fc.in_features == 2 * 2 * 9
    assert repr(ours.core) == "LSTMCell(6, 6)"


def test_recurrent_attention_bad_input():
    ours, _ = make_ram(RAM_CASES[1], seed=1)
    with pytest.raises(ValueError, match="RecurrentAttention: expected input of shape"):
        ours(attnkit.randn(2, 8, 8))
    with pytest.raises(ValueError, match="expected 2 input channels"):
        ours(attnkit.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"location noise of shape \(2, 3, 2\)"):
        ours(attnkit.randn(2, 2, 8, 8), attnkit.randn(2, 2, 2))
    out = ours(attnkit.randn(2, 2, 8, 8))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        ours.reinforce_loss(out, attnkit.tensor([0, 4]))
    with pytest.raises(ValueError, match="expected int64 labels"):
        ours.reinforce_loss(out, attnkit.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="reinforce_loss: output must be"):
        ours.reinforce_loss((1, 2), attnkit.tensor([0, 1]))
    with pytest.raises(ValueError, match="std must be positive"):
        vision.RecurrentAttention(std=0.0)
    with pytest.raises(ValueError, match='core must be "rnn" or "lstm"'):
        vision.RecurrentAttention(core="gru")
    with pytest.raises(ValueError, match="num_scales must be in"):
        vision.RecurrentAttention(num_scales=0)
