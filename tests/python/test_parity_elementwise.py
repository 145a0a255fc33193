"""Elementwise arithmetic and activations against PyTorch: values and
gradients under broadcasting and non-contiguous layouts, type promotion, the
IEEE domain rules, and the Python number protocol."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import attnkit
from conftest import (ELEMENTWISE, EXACT, REDUCTION, assert_close, broadcastable_pairs, check_parity, layouts,
                      make_input, nonzero, normal, positive, seeds, shapes, to_attnkit)

# name -> (attnkit op, torch op, sampler of the first and second operand)
BINARY = {
    "add": (attnkit.add, torch.add, normal, normal),
    "sub": (attnkit.sub, torch.sub, normal, normal),
    "mul": (attnkit.mul, torch.mul, normal, normal),
    "div": (attnkit.div, torch.div, normal, nonzero),
    # A positive base keeps the result and d/d(exponent) = log(base) * out real.
    "pow": (attnkit.pow, torch.pow, positive, normal),
    # Continuous random data has no ties, where the two libraries may split the
    # gradient differently.
    "maximum": (attnkit.maximum, torch.maximum, normal, normal),
    "minimum": (attnkit.minimum, torch.minimum, normal, normal),
}

# name -> (attnkit op, torch op, sampler)
UNARY = {
    "neg": (attnkit.neg, torch.neg, normal),
    "exp": (attnkit.exp, torch.exp, normal),
    "log": (attnkit.log, torch.log, positive),
    "sqrt": (attnkit.sqrt, torch.sqrt, positive),
    "abs": (attnkit.abs, torch.abs, nonzero),
    "tanh": (attnkit.tanh, torch.tanh, normal),
    "sigmoid": (attnkit.sigmoid, torch.sigmoid, normal),
    "relu": (attnkit.relu, torch.relu, nonzero),
    "gelu": (attnkit.gelu, F.gelu, normal),
    "gelu_tanh": (lambda x: attnkit.gelu(x, approximate="tanh"),
                  lambda x: F.gelu(x, approximate="tanh"), normal),
    "gelu_none": (lambda x: attnkit.gelu(x, approximate="none"),
                  lambda x: F.gelu(x, approximate="none"), normal),
    "silu": (attnkit.silu, F.silu, normal),
}


@pytest.mark.parametrize("name", BINARY)
@given(shapes=broadcastable_pairs, layout_a=layouts, layout_b=layouts, seed=seeds)
def test_binary_broadcast(name, shapes, layout_a, layout_b, seed):
    ak_op, pt_op, sample_a, sample_b = BINARY[name]
    rng = np.random.default_rng(seed)
    (shape_a, shape_b), _ = shapes
    a = make_input(rng, shape_a, layout_a, sample_a)
    b = make_input(rng, shape_b, layout_b, sample_b)
    check_parity(ak_op, pt_op, [a, b], rng, ELEMENTWISE, what=name)


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_to_one_side_only(name, rng):
    """Only the second operand requires grad; the first is a constant."""
    ak_op, pt_op, sample_a, sample_b = BINARY[name]
    a = make_input(rng, (3, 4), "transposed", sample_a, requires_grad=False)
    b = make_input(rng, (4,), "strided", sample_b)
    check_parity(ak_op, pt_op, [a, b], rng, ELEMENTWISE, what=name)
    assert a.ak_leaf.grad is None


# Every Python-side spelling of the scalar forms: the named op with a float
# argument, the operator, and the reflected operator.
SCALAR_FORMS = {
    "add(t, s)": (lambda t, s: attnkit.add(t, s), lambda t, s: torch.add(t, s)),
    "t + s": (lambda t, s: t + s, lambda t, s: t + s),
    "s + t": (lambda t, s: s + t, lambda t, s: s + t),
    "sub(t, s)": (lambda t, s: attnkit.sub(t, s), lambda t, s: torch.sub(t, s)),
    "t - s": (lambda t, s: t - s, lambda t, s: t - s),
    "s - t": (lambda t, s: s - t, lambda t, s: s - t),
    "mul(t, s)": (lambda t, s: attnkit.mul(t, s), lambda t, s: torch.mul(t, s)),
    "t * s": (lambda t, s: t * s, lambda t, s: t * s),
    "s * t": (lambda t, s: s * t, lambda t, s: s * t),
    "div(t, s)": (lambda t, s: attnkit.div(t, s), lambda t, s: torch.div(t, s)),
    "t / s": (lambda t, s: t / s, lambda t, s: t / s),
    "s / t": (lambda t, s: s / t, lambda t, s: s / t),
    "pow(t, s)": (lambda t, s: attnkit.pow(t, s), lambda t, s: torch.pow(t, s)),
    "t ** s": (lambda t, s: t ** s, lambda t, s: t ** s),
    "s ** t": (lambda t, s: abs(s) ** t, lambda t, s: abs(s) ** t),
}


@pytest.mark.parametrize("form", SCALAR_FORMS)
@given(shape=shapes, layout=layouts, seed=seeds,
       scalar=st.sampled_from([2.5, -1.75, 0.5, 3.0, 1e-3]))
def test_scalar_operand(form, shape, layout, scalar, seed):
    ak_fn, pt_fn = SCALAR_FORMS[form]
    rng = np.random.default_rng(seed)
    # Positive values: valid bases for t ** s and divisors for s / t.
    x = make_input(rng, shape, layout, positive)
    check_parity(lambda t: ak_fn(t, scalar), lambda t: pt_fn(t, scalar), [x], rng, ELEMENTWISE, what=form)


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes, layout=layouts, seed=seeds)
def test_unary(name, shape, layout, seed):
    ak_op, pt_op, sampler = UNARY[name]
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, sampler)
    check_parity(ak_op, pt_op, [x], rng, ELEMENTWISE, what=name)


@pytest.mark.parametrize("name", ["abs", "relu"])
def test_kink_at_zero_has_torch_subgradient(name, rng):
    """At x = 0 torch takes d|x| = sign(0) = 0 and drelu = 0; attnkit must agree."""
    ak_op, pt_op, _ = UNARY[name]
    values = np.array([-1.0, -0.0, 0.0, 1.0], dtype=np.float32)
    x = make_input(rng, values.shape, sampler=lambda _rng, _shape: values)
    check_parity(ak_op, pt_op, [x], rng, EXACT, what=name)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "relu", "abs"])
def test_saturation_is_finite(name, rng):
    """Far in the tails the activations saturate (exp overflows to inf, as in
    torch); gradients stay finite and match torch, with no NaN from inf/inf."""
    ak_op, pt_op, _ = UNARY[name]
    values = np.array([-200.0, -88.0, -30.0, -10.0, 10.0, 30.0, 88.0, 200.0], dtype=np.float32)
    x = make_input(rng, values.shape, sampler=lambda _rng, _shape: values)
    check_parity(ak_op, pt_op, [x], rng, ELEMENTWISE, what=name)
    if name != "exp":
        assert np.isfinite(x.ak_leaf.grad.numpy()).all(), f"{name}: non-finite gradient in the tails"


def test_gradient_accumulates_when_an_input_is_reused(rng):
    """y = x * x + x: the leaf's gradient sums both uses, 2x + 1; the skipped
    slots of the strided leaf get exactly zero."""
    x = make_input(rng, (4, 3), "strided")
    attnkit.sum(x.ak * x.ak + x.ak).backward()
    grad = x.ak_leaf.grad.numpy()
    np.testing.assert_allclose(grad[:, ::2], 2 * x.pt.detach().numpy() + 1, rtol=1e-6)
    np.testing.assert_array_equal(grad[:, 1::2], 0.0)


def test_broadcast_against_empty_tensor():
    a = to_attnkit(np.zeros((0, 3), dtype=np.float32))
    b = to_attnkit(np.arange(3, dtype=np.float32))
    out = attnkit.add(a, b)
    assert tuple(out.shape) == (0, 3)
    assert out.numpy().shape == (0, 3)


# ---- IEEE domain: documented in ops/elementwise.h -----------------------------

DOMAIN_CASES = {
    "sqrt(-1) = nan": (lambda t: attnkit.sqrt(t), lambda t: torch.sqrt(t), [-1.0, -4.0, 4.0]),
    "log(0) = -inf, log(-1) = nan": (lambda t: attnkit.log(t), lambda t: torch.log(t), [0.0, -1.0, 1.0]),
    "x / 0 = +-inf, 0 / 0 = nan": (lambda t: attnkit.div(t, 0.0), lambda t: torch.div(t, 0.0),
                                   [1.0, -1.0, 0.0]),
    "exp(-inf) = 0, exp(inf) = inf": (lambda t: attnkit.exp(t), lambda t: torch.exp(t),
                                      [-math.inf, math.inf, 0.0]),
    "(-8) ** 0.5 = nan": (lambda t: t ** 0.5, lambda t: t ** 0.5, [-8.0, 9.0]),
    "nan propagates through add": (lambda t: t + 1.0, lambda t: t + 1.0, [math.nan, 1.0]),
}


@pytest.mark.parametrize("case", DOMAIN_CASES)
def test_ieee_domain(case):
    ak_fn, pt_fn, values = DOMAIN_CASES[case]
    data = np.array(values, dtype=np.float32)
    ak_out = ak_fn(to_attnkit(data))
    pt_out = pt_fn(torch.from_numpy(data))
    assert_close(ak_out, pt_out, EXACT, case)


def test_integer_division_by_zero_is_float():
    """Integer division is computed in float32, so n / 0 is +-inf (as torch)."""
    numerator = np.array([1, -1, 0, 6], dtype=np.int64)
    denominator = np.array([0, 0, 0, 4], dtype=np.int64)
    out = attnkit.div(to_attnkit(numerator), to_attnkit(denominator))
    expected = torch.div(torch.from_numpy(numerator), torch.from_numpy(denominator))
    assert_close(out, expected, EXACT, "int / 0")


# ---- type promotion: bool -> int32 -> int64 -> float32 ------------------------

def _typed(array_dtype, rng, shape=(2, 3)):
    if array_dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if np.issubdtype(array_dtype, np.integer):
        return rng.integers(1, 5, shape).astype(array_dtype)
    return rng.uniform(0.5, 2.0, shape).astype(array_dtype)


PROMOTION_PAIRS = [
    (np.int32, np.int32), (np.int64, np.int64), (np.int32, np.int64), (np.int64, np.int32),
    (np.int32, np.float32), (np.float32, np.int64), (np.bool_, np.int32), (np.bool_, np.float32),
    (np.int64, np.bool_),
]


# torch refuses to subtract bools, so there is nothing to compare against.
PROMOTION_CASES = [(name, dtypes) for name in ("add", "sub", "mul", "div", "maximum", "minimum")
                   for dtypes in PROMOTION_PAIRS if not (name == "sub" and np.bool_ in dtypes)]


@pytest.mark.parametrize("name, dtypes", PROMOTION_CASES,
                         ids=[f"{n}-{np.dtype(a)}-{np.dtype(b)}" for n, (a, b) in PROMOTION_CASES])
def test_type_promotion_matches_torch(name, dtypes, rng):
    a, b = _typed(dtypes[0], rng), _typed(dtypes[1], rng)
    ak_op, pt_op = BINARY[name][:2]
    out = ak_op(to_attnkit(a), to_attnkit(b))
    expected = pt_op(torch.from_numpy(a), torch.from_numpy(b))
    assert_close(out, expected, ELEMENTWISE, f"{name}({a.dtype}, {b.dtype})")


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_pow_gives_float32(dtype, rng):
    """Documented: pow always computes in float32 (torch would keep ints)."""
    base, exponent = _typed(dtype, rng), _typed(dtype, rng)
    out = attnkit.pow(to_attnkit(base), to_attnkit(exponent))
    expected = torch.pow(torch.from_numpy(base).float(), torch.from_numpy(exponent).float())
    assert_close(out, expected, ELEMENTWISE, "pow(int, int)")


@pytest.mark.parametrize("scalar, expected_dtype", [(2, np.int64), (-3, np.int64), (2.5, np.float32)])
def test_int_tensor_with_python_scalar(scalar, expected_dtype):
    """An int scalar keeps an int tensor int; a fractional one makes it float32."""
    data = np.array([1, 2, 3], dtype=np.int64)
    for ak_out, pt_out in [
        (to_attnkit(data) + scalar, torch.from_numpy(data) + scalar),
        (to_attnkit(data) * scalar, torch.from_numpy(data) * scalar),
        (scalar - to_attnkit(data), scalar - torch.from_numpy(data)),
    ]:
        assert ak_out.numpy().dtype == expected_dtype
        assert_close(ak_out, pt_out, ELEMENTWISE, f"int64 tensor with {scalar!r}")


def test_int_tensor_with_integral_python_float_is_float32():
    """torch types Python scalars by their type, not their value: int + 2.0 is float32."""
    data = np.array([1, 2, 3], dtype=np.int64)
    assert_close(to_attnkit(data) + 2.0, torch.from_numpy(data) + 2.0, ELEMENTWISE, "int64 + 2.0")


# ---- Python number protocol -------------------------------------------------

def test_abs_builtin_and_unary_minus(rng):
    x = make_input(rng, (3, 4), "transposed", nonzero)
    check_parity(lambda t: abs(t), lambda t: abs(t), [x], rng, ELEMENTWISE, what="abs(t)")
    x = make_input(rng, (3, 4), "strided")
    check_parity(lambda t: -t, lambda t: -t, [x], rng, ELEMENTWISE, what="-t")


def test_float_of_one_element_tensor():
    assert float(to_attnkit(np.array(2.5, dtype=np.float32))) == 2.5
    assert float(to_attnkit(np.array([[-0.75]], dtype=np.float32))) == -0.75
    assert float(to_attnkit(np.array(7, dtype=np.int64))) == 7.0
    assert math.isnan(float(attnkit.sqrt(to_attnkit(np.array(-1.0, dtype=np.float32)))))


def test_float_of_many_elements_raises():
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        float(to_attnkit(np.ones(3, dtype=np.float32)))


def test_pow_half_is_sqrt_and_negative_base_is_nan():
    data = np.array([4.0, 2.0, 0.0, -1.0, -4.0], dtype=np.float32)
    half = (to_attnkit(data) ** 0.5).numpy()
    root = attnkit.sqrt(to_attnkit(data)).numpy()
    np.testing.assert_allclose(half[:3], [2.0, math.sqrt(2.0), 0.0], rtol=1e-6)
    np.testing.assert_allclose(root[:3], half[:3], rtol=1e-6)
    assert np.isnan(half[3:]).all() and np.isnan(root[3:]).all()


def test_sqrt_gradient_at_negative_input_is_nan_as_torch(rng):
    x = make_input(rng, (3,), sampler=lambda _rng, _shape: np.array([-1.0, 1.0, 4.0], dtype=np.float32))
    check_parity(attnkit.sqrt, torch.sqrt, [x], rng, ELEMENTWISE, what="sqrt")
    assert np.isnan(x.ak_leaf.grad.numpy()[0])


def test_operators_chain_like_torch(rng):
    """A small expression mixing every arithmetic operator, broadcast and views."""
    a = make_input(rng, (4, 1, 3), "strided", positive)
    b = make_input(rng, (5, 3), "transposed", positive)

    def expression(x, y):
        return ((x + y) * (x - 0.5) / (y + 1.0)) ** 1.5 - 2.0 * y + abs(-x)

    check_parity(expression, expression, [a, b], rng, ELEMENTWISE, what="expression")


# ---- sizes past the parallel threshold ----------------------------------------
# Hypothesis shapes stay under 625 elements; the strided loop only goes
# parallel from 2^15 elements, so these fixed shapes cover the OpenMP path,
# including its one-long-row special case.

@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "maximum"])
@pytest.mark.parametrize("shape_a, layout_a, shape_b, layout_b", [
    ((48, 40, 64), "transposed", (40, 64), "strided"),
    ((48, 40, 64), "expanded", (48, 1, 64), "transposed"),
    ((1 << 17,), "strided", (1 << 17,), "contiguous"),
], ids=["3d-broadcast", "expanded", "one-long-row"])
def test_binary_large(name, shape_a, layout_a, shape_b, layout_b, rng):
    ak_op, pt_op, sample_a, sample_b = BINARY[name]
    a = make_input(rng, shape_a, layout_a, sample_a)
    b = make_input(rng, shape_b, layout_b, sample_b)
    # The broadcast operand's gradient sums up to 48 * 64 terms.
    check_parity(ak_op, pt_op, [a, b], rng, ELEMENTWISE, grad_tol=REDUCTION, what=f"{name} large")


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "relu"])
@pytest.mark.parametrize("shape, layout", [((300, 256), "transposed"), ((1 << 17,), "strided")])
def test_unary_large(name, shape, layout, rng):
    ak_op, pt_op, sampler = UNARY[name]
    x = make_input(rng, shape, layout, sampler)
    check_parity(ak_op, pt_op, [x], rng, ELEMENTWISE, what=f"{name} large")
