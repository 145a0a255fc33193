"""Reductions against PyTorch: sum, mean, var over all elements or dims
(negative dims, keepdim), max/min with values and indices, argmax/argmin, and
their gradients, on non-contiguous inputs."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import attnkit
from conftest import (EXACT, REDUCTION, assert_close, check_parity, layouts, make_input, nonscalar_shapes,
                      seeds, shapes, small_ints, to_attnkit)


@st.composite
def shape_and_dims(draw):
    """A shape and a non-empty set of dims to reduce, each of either sign,
    given as a bare int or a tuple (torch accepts both)."""
    shape = draw(nonscalar_shapes)
    ndim = len(shape)
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    dims = tuple(d - ndim if draw(st.booleans()) else d for d in chosen)
    return shape, dims[0] if len(dims) == 1 and draw(st.booleans()) else dims


def _count(shape, dims):
    dims = (dims,) if isinstance(dims, int) else dims
    return int(np.prod([shape[d] for d in dims]))


# ---- sum / mean / var -------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean"])
@given(shape=shapes, layout=layouts, seed=seeds)
def test_reduce_all(name, shape, layout, seed):
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    check_parity(getattr(attnkit, name), getattr(torch, name), [x], rng, REDUCTION, what=f"{name}(x)")


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=shape_and_dims(), keepdim=st.booleans(), layout=layouts, seed=seeds)
def test_reduce_dims(name, case, keepdim, layout, seed):
    shape, dims = case
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    check_parity(lambda t: getattr(attnkit, name)(t, dim=dims, keepdim=keepdim),
                 lambda t: getattr(torch, name)(t, dim=dims, keepdim=keepdim),
                 [x], rng, REDUCTION, what=f"{name}(dim={dims}, keepdim={keepdim})")


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduce_positional_dim_and_method_free_call(name, rng):
    """sum(x, 1) with dim positional, as torch allows."""
    x = make_input(rng, (3, 4, 2), "transposed")
    check_parity(lambda t: getattr(attnkit, name)(t, 1), lambda t: getattr(torch, name)(t, 1),
                 [x], rng, REDUCTION, what=f"{name}(x, 1)")


@given(case=shape_and_dims(), correction=st.sampled_from([0, 1, 2]), keepdim=st.booleans(),
       layout=layouts, seed=seeds)
def test_var_dims(case, correction, keepdim, layout, seed):
    shape, dims = case
    if _count(shape, dims) <= correction:
        correction = 0  # too few samples for the correction: see test_var_too_few_samples_is_nan
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    check_parity(lambda t: attnkit.var(t, dim=dims, correction=correction, keepdim=keepdim),
                 lambda t: torch.var(t, dim=dims, correction=correction, keepdim=keepdim),
                 [x], rng, REDUCTION, what=f"var(dim={dims}, correction={correction})")


@given(shape=nonscalar_shapes, layout=layouts, seed=seeds)
def test_var_all_default_correction(shape, layout, seed):
    if int(np.prod(shape)) < 2:
        shape = shape + (2,)
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    check_parity(attnkit.var, torch.var, [x], rng, REDUCTION, what="var(x)")


def test_var_positional_dim(rng):
    x = make_input(rng, (4, 6), "strided")
    check_parity(lambda t: attnkit.var(t, 1), lambda t: torch.var(t, 1), [x], rng, REDUCTION, what="var(x, 1)")


def test_var_too_few_samples_is_nan():
    """One sample with Bessel's correction divides 0 by 0."""
    data = np.array([[1.5], [2.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about degrees of freedom <= 0
        expected = torch.var(torch.from_numpy(data), dim=1)
    assert_close(attnkit.var(to_attnkit(data), dim=1), expected, EXACT, "var of one sample")


def test_var_of_large_offset_data_is_stable(rng):
    """Data far from zero: a one-pass E[x^2] - E[x]^2 in float32 would lose all
    digits; torch (Welford) does not, and neither may attnkit."""
    data = (1e4 + rng.standard_normal((8, 512))).astype(np.float32)
    expected = torch.var(torch.from_numpy(data), dim=1)
    assert_close(attnkit.var(to_attnkit(data), dim=1), expected, REDUCTION, "var of 1e4 + N(0, 1)")


def test_sum_accumulates_in_double(rng):
    """Documented: sums accumulate in double. 2^20 terms of mixed magnitude
    then match float64 NumPy to float32 rounding, which a plain float32 loop
    would not."""
    data = (rng.standard_normal(1 << 20) * rng.choice([1.0, 1e3], 1 << 20)).astype(np.float32)
    reference = np.float32(np.sum(data, dtype=np.float64))
    got = float(attnkit.sum(to_attnkit(data)))
    np.testing.assert_allclose(got, reference, rtol=2e-7)
    mean = float(attnkit.mean(to_attnkit(data)))
    np.testing.assert_allclose(mean, np.float32(np.mean(data, dtype=np.float64)), rtol=2e-7)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_sum_of_integers_is_int64_like_torch(dtype, rng):
    data = rng.integers(0, 2, (3, 4)).astype(dtype)
    assert_close(attnkit.sum(to_attnkit(data)), torch.sum(torch.from_numpy(data)), EXACT, f"sum({dtype})")
    assert_close(attnkit.sum(to_attnkit(data), dim=0), torch.sum(torch.from_numpy(data), dim=0),
                 EXACT, f"sum({dtype}, dim=0)")


# ---- max / min / argmax / argmin --------------------------------------------

@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes, layout=layouts, seed=seeds)
def test_max_min_all(name, shape, layout, seed):
    """Random normal data has no ties, so the gradient is one-hot in both."""
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    check_parity(getattr(attnkit, name), getattr(torch, name), [x], rng, EXACT, what=f"{name}(x)")


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=nonscalar_shapes, data=st.data(), keepdim=st.booleans(), layout=layouts, seed=seeds)
def test_max_min_dim_values_and_indices(name, shape, data, keepdim, layout, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    ak = getattr(attnkit, name)(x.ak, dim=dim, keepdim=keepdim)
    pt = getattr(torch, name)(x.pt, dim=dim, keepdim=keepdim)
    assert_close(ak.indices, pt.indices, EXACT, f"{name} indices")
    values, indices = ak  # a namedtuple, like torch's: unpacks and indexes too
    assert_close(values, pt.values, EXACT, f"{name} values (unpacked)")
    assert_close(ak[1], pt.indices, EXACT, f"{name} indices ([1])")
    # Values and their gradient (which goes to the index chosen).
    check_parity(lambda t: getattr(attnkit, name)(t, dim, keepdim).values,
                 lambda t: getattr(torch, name)(t, dim, keepdim).values,
                 [x], rng, EXACT, what=f"{name}(dim={dim}).values")


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=nonscalar_shapes, data=st.data(), keepdim=st.booleans(), layout=layouts, seed=seeds)
def test_argmax_argmin_dim(name, shape, data, keepdim, layout, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, requires_grad=False)
    check_parity(lambda t: getattr(attnkit, name)(t, dim=dim, keepdim=keepdim),
                 lambda t: getattr(torch, name)(t, dim=dim, keepdim=keepdim),
                 [x], rng, EXACT, what=f"{name}(dim={dim})")


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=shapes, layout=layouts, seed=seeds)
def test_argmax_argmin_flattened(name, shape, layout, seed):
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout, requires_grad=False)
    check_parity(getattr(attnkit, name), getattr(torch, name), [x], rng, EXACT, what=f"{name}(x)")


@pytest.mark.parametrize("name, np_fn", [("argmax", np.argmax), ("argmin", np.argmin)])
def test_arg_ties_pick_the_first(name, np_fn, rng):
    """Documented: the first extremal element wins (NumPy's rule)."""
    data = small_ints(rng, (6, 7))
    np.testing.assert_array_equal(getattr(attnkit, name)(to_attnkit(data), dim=1).numpy(), np_fn(data, axis=1))
    np.testing.assert_array_equal(getattr(attnkit, name)(to_attnkit(data), dim=0).numpy(), np_fn(data, axis=0))
    assert int(getattr(attnkit, name)(to_attnkit(data)).numpy()) == np_fn(data)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_ties_pick_the_first_and_route_gradient_there(name, rng):
    data = small_ints(rng, (5, 8))
    x = to_attnkit(data, requires_grad=True)
    result = getattr(attnkit, name)(x, dim=1)
    first = (np.argmax if name == "max" else np.argmin)(data, axis=1)
    np.testing.assert_array_equal(result.indices.numpy(), first)
    attnkit.sum(result.values).backward()
    expected = np.zeros_like(data)
    expected[np.arange(5), first] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_all_ties_route_gradient_to_first(name):
    """Documented divergence: over all elements attnkit sends the whole
    gradient to the first extremal element (torch splits it among ties)."""
    data = np.array([[1.0, 3.0, 3.0], [3.0, -2.0, -2.0]], dtype=np.float32)
    if name == "min":
        data = -data
    x = to_attnkit(data, requires_grad=True)
    out = getattr(attnkit, name)(x)
    assert float(out) == float(data.max() if name == "max" else data.min())
    out.backward()
    expected = np.zeros_like(data)
    expected[0, 1] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_max_with_nan_propagates_like_torch():
    data = np.array([[1.0, np.nan, 3.0], [0.0, 2.0, 1.0]], dtype=np.float32)
    assert_close(attnkit.max(to_attnkit(data), dim=1).values, torch.max(torch.from_numpy(data), dim=1).values,
                 EXACT, "max with NaN")
    assert np.isnan(float(attnkit.max(to_attnkit(data))))


def test_sum_over_an_empty_dim_is_zero_like_torch():
    data = np.zeros((0, 3), dtype=np.float32)
    assert_close(attnkit.sum(to_attnkit(data), dim=0), torch.sum(torch.from_numpy(data), dim=0), EXACT,
                 "sum over an empty dim")
    assert_close(attnkit.sum(to_attnkit(data)), torch.sum(torch.from_numpy(data)), EXACT, "sum of empty")


# ---- sizes past the parallel threshold ----------------------------------------
# Rows are reduced in parallel from 2^15 elements and a full sum from 2^16;
# Hypothesis shapes never get there.

@pytest.mark.parametrize("name", ["sum", "mean", "var"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_reduce_large(name, dim, layout, rng):
    x = make_input(rng, (48, 40, 64), layout)
    check_parity(lambda t: getattr(attnkit, name)(t, dim=dim), lambda t: getattr(torch, name)(t, dim=dim),
                 [x], rng, REDUCTION, what=f"{name}(dim={dim}) large")


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_extremes_large(name, dim, rng):
    x = make_input(rng, (48, 40, 64), "transposed", requires_grad=name in ("max", "min"))
    if name in ("max", "min"):
        ak_fn = lambda t: getattr(attnkit, name)(t, dim=dim).values
        pt_fn = lambda t: getattr(torch, name)(t, dim=dim).values
    else:
        ak_fn = lambda t: getattr(attnkit, name)(t, dim=dim)
        pt_fn = lambda t: getattr(torch, name)(t, dim=dim)
    check_parity(ak_fn, pt_fn, [x], rng, EXACT, what=f"{name}(dim={dim}) large")
