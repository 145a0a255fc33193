"""conv1d / conv2d and nn.Conv1d / nn.Conv2d against PyTorch: forward and the
gradients of input, weight and bias over random geometries and over every
combination of stride, padding (sizes, 'same', 'valid'), dilation, groups
(depthwise too), bias and batched / unbatched input; modules loading a torch
state_dict, their parameters, attributes and repr; padding modes; errors."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnkit
import attnkit.functional as AF
from conftest import Input, Tol, check_parity, make_input, normal, to_attnkit

# Both libraries run oneDNN in float32 but block the reduction differently. A
# forward output sums C_in / groups * prod(kernel) <= 64 products, a weight
# gradient N * prod(output) <= ~600; with O(1) data the float32 rounding stays
# near 1e-6 relative to the sum of |terms|, so 1e-4 (relative and absolute)
# leaves room for cancellation without hiding a wrong tap or a wrong group.
CONV = Tol(rtol=1e-4, atol=1e-4)

# torch warns that 'same' with an even kernel copies the input; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

OPS = {1: ("conv1d", AF.conv1d, F.conv1d), 2: ("conv2d", AF.conv2d, F.conv2d)}


def conv_inputs(rng, dims, batched, batch, c_in, c_out, groups, size, kernel, bias, layout="contiguous"):
    """x, weight and (optionally) bias as parity Inputs; layout 'channels_last'
    (4-D only) gives x NHWC strides, the others are conftest's."""
    x_shape = ((batch,) if batched else ()) + (c_in,) + tuple(size)
    if layout == "channels_last":
        base = normal(rng, (x_shape[0],) + x_shape[2:] + (x_shape[1],))
        ak_leaf, pt_leaf = to_attnkit(base, requires_grad=True), torch.from_numpy(base.copy()).requires_grad_()
        x = Input(ak_leaf, pt_leaf, ak_leaf.permute(0, 3, 1, 2), pt_leaf.permute(0, 3, 1, 2), True)
    else:
        x = make_input(rng, x_shape, layout)
    w = make_input(rng, (c_out, c_in // groups) + tuple(kernel), sampler=lambda r, s: 0.5 * normal(r, s))
    inputs = [x, w]
    if bias:
        inputs.append(make_input(rng, (c_out,)))
    return inputs


def run_parity(rng, dims, inputs, stride, padding, dilation, groups, what):
    name, ak_op, pt_op = OPS[dims]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def ak_fn(x, w, b=None):
        return ak_op(x, w, b, **kwargs)

    def pt_fn(x, w, b=None):
        return pt_op(x, w, b, **kwargs)

    return check_parity(ak_fn, pt_fn, inputs, rng, CONV, what=f"{name} {what} {kwargs}")


# ---- random geometries ------------------------------------------------------


def random_case(seed):
    rng = np.random.default_rng(seed)
    dims = int(rng.integers(1, 3))
    kind = rng.integers(0, 3)
    if kind == 0:
        groups, c_in, c_out = 1, int(rng.integers(1, 7)), int(rng.integers(1, 7))
    elif kind == 1:  # depthwise, depth multiplier 1 or 2
        groups = c_in = int(rng.integers(1, 7))
        c_out = groups * int(rng.integers(1, 3))
    else:
        groups = int(rng.integers(2, 4))
        c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel = tuple(int(k) for k in rng.integers(1, 5, dims))
    dilation = tuple(int(d) for d in rng.integers(1, 3, dims))
    padding_kind = rng.integers(0, 4)
    if padding_kind == 2:
        padding, stride = "same", 1
    else:
        stride = tuple(int(s) for s in rng.integers(1, 4, dims))
        padding = "valid" if padding_kind == 3 else tuple(int(p) for p in rng.integers(0, 3, dims))
    size = []
    for i in range(dims):
        span = dilation[i] * (kernel[i] - 1) + 1
        pads = 0 if padding == "valid" else span - 1 if padding == "same" else 2 * padding[i]
        size.append(max(1, span - pads) + int(rng.integers(0, 10 if dims == 1 else 6)))
    # An int instead of a tuple half the time: torch's int-or-tuple.
    if rng.random() < 0.5 and not isinstance(stride, int):
        stride = stride[0]
    return dict(dims=dims, batched=bool(rng.random() < 0.75), batch=int(rng.integers(1, 4)), c_in=c_in,
                c_out=c_out, groups=groups, size=tuple(size), kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, bias=bool(rng.random() < 0.6),
                layout=str(rng.choice(["contiguous", "transposed", "strided", "expanded", "channels_last"])))


@pytest.mark.parametrize("seed", range(60))
def test_random_geometry(seed):
    case = random_case(seed)
    rng = np.random.default_rng(1000 + seed)
    layout = case["layout"]
    if layout == "channels_last" and not (case["dims"] == 2 and case["batched"]):
        layout = "contiguous"
    inputs = conv_inputs(rng, case["dims"], case["batched"], case["batch"], case["c_in"], case["c_out"],
                         case["groups"], case["size"], case["kernel"], case["bias"], layout)
    run_parity(rng, case["dims"], inputs, case["stride"], case["padding"], case["dilation"], case["groups"],
               f"seed {seed} layout {layout}")


# ---- every combination of the options ----------------------------------------

STRIDES = [1, 2]
PADDINGS = [0, "pair", "same", "valid"]
DILATIONS = [1, "pair"]
GROUPS = ["dense", "grouped", "depthwise"]


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", STRIDES)
def test_every_option_combination(dims, padding, stride):
    """stride x padding (test parameters) x dilation x groups x bias x batched
    (looped here); 'same' with stride 2 is an error in both libraries."""
    rng = np.random.default_rng(7)
    pair = (lambda a, b: (a, b)) if dims == 2 else (lambda a, b: (a,))
    pad = pair(1, 2) if padding == "pair" else padding
    for dilation, groups_kind, bias, batched in itertools.product(DILATIONS, GROUPS, [True, False], [True, False]):
        dil = pair(2, 1) if dilation == "pair" else dilation
        groups, c_in, c_out = {"dense": (1, 3, 4), "grouped": (2, 4, 6), "depthwise": (4, 4, 4)}[groups_kind]
        size = (9, 8)[:dims]
        kernel = (3, 2)[:dims]
        inputs = conv_inputs(rng, dims, batched, 2, c_in, c_out, groups, size, kernel, bias)
        name, ak_op, pt_op = OPS[dims]
        if pad == "same" and stride != 1:
            with pytest.raises(ValueError, match=f"{name}: padding='same' is not supported for strided"):
                ak_op(inputs[0].ak, inputs[1].ak, stride=stride, padding=pad, groups=groups)
            with pytest.raises((ValueError, RuntimeError)):
                pt_op(inputs[0].pt, inputs[1].pt, stride=stride, padding=pad, groups=groups)
            continue
        run_parity(rng, dims, inputs, stride, pad, dil, groups,
                   f"groups={groups_kind} bias={bias} batched={batched}")


def test_larger_channels_and_sizes():
    """Enough channels for oneDNN's blocked layouts (and their reorders) and a
    spatial size past one tile."""
    rng = np.random.default_rng(3)
    inputs = conv_inputs(rng, 2, True, 2, 24, 40, 1, (17, 15), (3, 3), True)
    run_parity(rng, 2, inputs, 1, 1, 1, 1, "24->40 3x3")
    inputs = conv_inputs(rng, 2, True, 2, 32, 32, 32, (12, 12), (5, 5), True, "channels_last")
    run_parity(rng, 2, inputs, 2, 2, 1, 32, "depthwise 32 5x5 channels_last")
    inputs = conv_inputs(rng, 1, True, 3, 16, 24, 2, (50,), (7,), False)
    run_parity(rng, 1, inputs, 3, 3, 2, 2, "conv1d 16->24 k7")


def test_only_some_inputs_require_grad(rng):
    x = make_input(rng, (2, 4, 7, 6), requires_grad=False)
    w = make_input(rng, (6, 2, 3, 3))
    b = make_input(rng, (6,), requires_grad=False)
    run_parity(rng, 2, [x, w, b], 1, 1, 1, 2, "weight only")
    x = make_input(rng, (2, 4, 7, 6))
    w = make_input(rng, (6, 2, 3, 3), requires_grad=False)
    b = make_input(rng, (6,))
    run_parity(rng, 2, [x, w, b], 2, 0, 1, 2, "input and bias")


def test_empty_batch(rng):
    """N = 0 gives an empty output and zero gradients, as torch."""
    inputs = conv_inputs(rng, 2, True, 0, 3, 4, 1, (5, 5), (3, 3), True)
    run_parity(rng, 2, inputs, 1, 0, 1, 1, "empty batch")


def test_top_level_names():
    assert attnkit.conv2d is AF.conv2d and attnkit.conv1d is AF.conv1d
    x = attnkit.randn(1, 2, 5, 5)
    w = attnkit.randn(3, 2, 3, 3)
    assert tuple(attnkit.conv2d(x, w).shape) == (1, 3, 3, 3)
    assert tuple(attnkit.conv2d(x, w, None, 1, "same").shape) == (1, 3, 5, 5)  # positional, as torch


# ---- modules ----------------------------------------------------------------

MODULE_CONFIGS = [
    (1, dict(in_channels=3, out_channels=4, kernel_size=3)),
    (1, dict(in_channels=4, out_channels=6, kernel_size=5, stride=2, padding=2, dilation=1, groups=2, bias=False)),
    (1, dict(in_channels=3, out_channels=3, kernel_size=4, padding="same", dilation=2, groups=3)),
    (2, dict(in_channels=3, out_channels=8, kernel_size=3)),
    (2, dict(in_channels=4, out_channels=8, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0), groups=4)),
    (2, dict(in_channels=6, out_channels=6, kernel_size=3, padding="same", dilation=2, groups=6, bias=False)),
    (2, dict(in_channels=2, out_channels=4, kernel_size=2, padding="valid")),
    (2, dict(in_channels=2, out_channels=3, kernel_size=(3, 4), padding="same", padding_mode="reflect")),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=(2, 1), padding_mode="replicate")),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="circular")),
    (1, dict(in_channels=2, out_channels=2, kernel_size=3, padding=2, padding_mode="reflect")),
    (1, dict(in_channels=2, out_channels=2, kernel_size=4, padding="same", padding_mode="circular")),
]
MODULES = {1: (attnkit.nn.Conv1d, torch.nn.Conv1d), 2: (attnkit.nn.Conv2d, torch.nn.Conv2d)}


@pytest.mark.parametrize("dims,config", MODULE_CONFIGS, ids=lambda v: str(v) if isinstance(v, int) else
                         "-".join(f"{k}={v}" for k, v in v.items() if k not in ("in_channels", "out_channels")))
def test_module_matches_torch(dims, config):
    ak_cls, pt_cls = MODULES[dims]
    pt_layer = pt_cls(**config)
    ak_layer = ak_cls(**config)
    # Same parameter names, shapes and attributes as torch.
    assert [(n, tuple(p.shape)) for n, p in ak_layer.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in pt_layer.named_parameters()]
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode"):
        assert getattr(ak_layer, attr) == getattr(pt_layer, attr), attr
    assert repr(ak_layer) == repr(pt_layer)
    assert (ak_layer.bias is None) == (pt_layer.bias is None)

    ak_layer.load_state_dict(pt_layer.state_dict())
    rng = np.random.default_rng(11)
    size = (9, 10)[:dims]
    for batched in (True, False):
        x = make_input(rng, ((2,) if batched else ()) + (config["in_channels"],) + size)
        ak_out, _ = check_parity(ak_layer, pt_layer, [x], rng, CONV, what=f"{pt_layer} batched={batched}")
        params = dict(ak_layer.named_parameters())
        for name, p in pt_layer.named_parameters():
            np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), rtol=CONV.rtol, atol=CONV.atol,
                                       err_msg=f"{pt_layer} grad of {name}")
        ak_layer.zero_grad()
        pt_layer.zero_grad()


def test_module_initialisation_follows_torch():
    """kaiming_uniform(a=sqrt(5)) for the weight and U(-1/sqrt(fan_in), ..) for
    the bias: both bounded by 1/sqrt(fan_in) and spread across that range."""
    layer = attnkit.nn.Conv2d(8, 16, (3, 2), groups=2)
    bound = 1.0 / np.sqrt(4 * 3 * 2)
    for name in ("weight", "bias"):
        v = getattr(layer, name).numpy()
        assert np.abs(v).max() <= bound + 1e-7, name
        assert v.max() - v.min() > bound, name
    g1, g2 = attnkit.Generator(5), attnkit.Generator(5)
    a = attnkit.nn.Conv1d(3, 4, 3, generator=g1).weight.numpy()
    b = attnkit.nn.Conv1d(3, 4, 3, generator=g2).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_module_in_a_python_model():
    class Net(attnkit.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = attnkit.nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = attnkit.nn.Conv2d(4, 2, 3, stride=2)

        def forward(self, x):
            return self.conv2(attnkit.relu(self.conv1(x)))

    net = Net()
    assert list(net.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]
    out = net(attnkit.randn(2, 1, 8, 8))
    assert tuple(out.shape) == (2, 2, 3, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


# ---- errors -----------------------------------------------------------------

x4, w4 = attnkit.randn(2, 4, 6, 6), attnkit.randn(6, 4, 3, 3)
x3, w3 = attnkit.randn(2, 4, 8), attnkit.randn(6, 4, 3)

ERRORS = [
    (lambda: AF.conv2d(attnkit.randn(4, 6), w4), "conv2d: expected a 3-D (unbatched) or 4-D (batched) input"),
    (lambda: AF.conv1d(attnkit.randn(1, 2, 4, 8), w3), "conv1d: expected a 2-D (unbatched) or 3-D (batched) input"),
    (lambda: AF.conv2d(x4, w3), "conv2d: weight must be 4-D"),
    (lambda: AF.conv2d(x4, attnkit.randn(6, 3, 3, 3)), "conv2d: input of shape (2, 4, 6, 6) has 4 channels, but"),
    (lambda: AF.conv2d(x4, attnkit.randn(6, 2, 3, 3), groups=3), "which groups=3 does not divide"),
    (lambda: AF.conv2d(x4, attnkit.randn(5, 2, 3, 3), groups=2), "5 output channels, which groups=2"),
    (lambda: AF.conv2d(x4, w4, groups=0), "conv2d: groups must be positive"),
    (lambda: AF.conv2d(x4, attnkit.randn(0, 4, 3, 3)), "conv2d: weight of shape (0, 4, 3, 3) has no output"),
    (lambda: AF.conv2d(x4, w4, attnkit.randn(4)), "conv2d: bias must be (6)"),
    (lambda: AF.conv2d(x4, attnkit.randn(6, 4, 7, 7)), "conv2d: the kernel (7, 7)"),
    (lambda: AF.conv2d(x4, w4, dilation=4), "larger than the padded input (6, 6)"),
    (lambda: AF.conv1d(x3, attnkit.randn(6, 4, 11), padding=1), "conv1d: the kernel (11,)"),
    (lambda: AF.conv2d(x4, w4, stride=0), "conv2d: stride must be positive"),
    (lambda: AF.conv2d(x4, w4, dilation=(1, -1)), "conv2d: dilation must be positive"),
    (lambda: AF.conv2d(x4, w4, padding=-1), "conv2d: padding must be non-negative"),
    (lambda: AF.conv2d(x4, w4, padding=(1, 1, 1)), "conv2d: padding must be one int or 2 ints"),
    (lambda: AF.conv1d(x3, w3, stride=2, padding="same"), "conv1d: padding='same' is not supported for strided"),
    (lambda: AF.conv2d(x4, w4, padding="full"), "conv2d: padding must be an int, a tuple of ints, 'valid' or 'same'"),
    (lambda: attnkit.nn.Conv2d(3, 4, 3, groups=2), "Conv2d: in_channels=3 must be divisible by groups=2"),
    (lambda: attnkit.nn.Conv1d(4, 3, 3, groups=2), "Conv1d: out_channels=3 must be divisible by groups=2"),
    (lambda: attnkit.nn.Conv2d(4, 4, 3, padding_mode="mirror"), "Conv2d: padding_mode must be 'zeros', 'reflect'"),
    (lambda: attnkit.nn.Conv2d(4, 4, 3, stride=2, padding="same"), "Conv2d: padding='same' is not supported"),
    (lambda: attnkit.nn.Conv2d(4, 4, 3, padding="half"), "Conv2d: padding must be an int, a tuple of ints"),
    (lambda: attnkit.nn.Conv2d(1, 1, 5, padding=3, padding_mode="reflect")(attnkit.randn(1, 1, 3, 3)),
     "Conv2d: padding_mode='reflect' needs padding smaller than the input"),
    (lambda: attnkit.nn.Conv2d(4, 4, 3)(attnkit.randn(4, 5)), "Conv2d: expected a 3-D (unbatched) or 4-D"),
]


@pytest.mark.parametrize("call,message", ERRORS, ids=[m for _, m in ERRORS])
def test_errors(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
