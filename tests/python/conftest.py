"""Shared machinery for the PyTorch parity tests.

Every parity test runs one expression in attnkit and in PyTorch on the same
float32 data and compares the results and the gradients that a random upstream
gradient sends back to every input. Inputs are built in one of several memory
layouts so that the kernels' stride handling is exercised, not just their
arithmetic:

    contiguous   a plain row-major array
    transposed   a contiguous array of the swapped shape, viewed through
                 .transpose(-2, -1)                     (strides reversed)
    strided      every second element along the last dim of an array twice as
                 wide, viewed through a step-2 slice; the skipped elements are
                 NaN, so a kernel that reads them fails loudly
    expanded     a size-1 last dim stretched with .expand (stride 0); its
                 gradient must be summed back to the size-1 leaf

Gradients always land on the leaf the view was taken from, so the backward of
the view ops is part of every test.

The Hypothesis profile keeps the whole suite to about a minute on two cores;
ATTNKIT_HYPOTHESIS_PROFILE=thorough runs ten times as many examples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import attnkit

# ------------------------------------------------------------ hypothesis ---

# function_scoped_fixture: the autouse seeding fixture runs once per test, not
# per example, which is fine: every example seeds its own NumPy generator.
# too_slow: a few strategies draw shapes, dims and layouts together.
_quiet = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("attnkit", max_examples=20, deadline=None, suppress_health_check=_quiet)
settings.register_profile("thorough", max_examples=200, deadline=None, suppress_health_check=_quiet)
settings.load_profile(os.environ.get("ATTNKIT_HYPOTHESIS_PROFILE", "attnkit"))

LAYOUTS = ("contiguous", "transposed", "strided", "expanded")

# Shapes stay small (at most 5^4 = 625 elements): the point is coverage of
# ranks, broadcasting and layouts, not size. Size-dependent accumulation is
# tested separately with fixed larger shapes.
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)
broadcastable_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=5)
broadcastable_triples = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=5)
layouts = st.sampled_from(LAYOUTS)
# Data comes from a NumPy generator seeded by Hypothesis: drawing every element
# through Hypothesis would be slow and would mostly find float edge cases that
# the dedicated domain tests cover.
seeds = st.integers(min_value=0, max_value=2**32 - 1)

# ------------------------------------------------------------ tolerances ---


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float


# Same bits expected: data movement (views, cat, embedding forward), compares,
# max/min values and indices.
EXACT = Tol(0.0, 0.0)
# Elementwise float32: both libraries round each op once, but vectorised
# exp/log/tanh/erf differ from glibc's by a few ulp; 1e-5 relative is ~80 ulp.
ELEMENTWISE = Tol(1e-5, 1e-6)
# Reductions: attnkit accumulates sums in double, torch in float32 with its own
# (vectorised, pairwise) order; for <= 625 terms of O(1) the float32 error is
# at most ~n * eps * max|x| ~ 1e-5 absolute.
REDUCTION = Tol(1e-5, 1e-5)
# matmul: oneDNN and torch's BLAS block the K loop differently and both use
# FMA; the rounding error of a K-term dot product grows like sqrt(K) * eps
# relative to the sum of |terms|, which for the K <= 256 used here stays below
# 1e-5 absolute on O(1) results; 1e-4 leaves margin for cancellation.
MATMUL = Tol(1e-4, 1e-4)
# softmax / log_softmax: one exp and one sum per row, as ELEMENTWISE plus the
# row sum's accumulation order.
SOFTMAX = Tol(1e-5, 1e-6)
# Their backward, dy - y * sum(dy) (or exp(y) * sum(dy)), cancels where the
# two terms nearly agree: the absolute error is then ~ |sum(dy)| * few eps,
# 1e-6 .. 1e-5 for rows of up to 64 random upstream values.
SOFTMAX_GRAD = Tol(1e-5, 1e-5)
# layer_norm: rstd = 1/sqrt(var + eps) multiplies every difference in the mean
# and variance accumulation by up to 1/sqrt(eps); the backward adds two more
# row sums.
LAYER_NORM = Tol(1e-4, 1e-5)


# --------------------------------------------------------------- seeding ---

@pytest.fixture(autouse=True)
def _seed_everything():
    """The same global seeds before every test, so failures reproduce."""
    np.random.seed(0)
    torch.manual_seed(0)
    attnkit.manual_seed(0)
    yield


@pytest.fixture(autouse=True, scope="session")
def _two_threads():
    # The machine has two cores; both libraries use both, as in the benchmarks.
    attnkit.set_num_threads(2)
    torch.set_num_threads(2)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ----------------------------------------------------------- conversions ---

def to_torch(tensor) -> torch.Tensor:
    """attnkit -> torch through NumPy (a copy, no history)."""
    return torch.from_numpy(np.array(to_numpy(tensor), copy=True))


def to_attnkit(array, requires_grad: bool = False):
    """NumPy or torch -> attnkit (a copy, so neither side aliases the other)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().numpy()
    tensor = attnkit.from_numpy(np.array(array, copy=True))
    if requires_grad:
        tensor.requires_grad = True
    return tensor


def to_numpy(tensor) -> np.ndarray:
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().numpy()
    if isinstance(tensor, np.ndarray):
        return tensor
    return np.asarray(tensor.numpy())


def assert_close(actual, expected, tol: Tol, what: str = "") -> None:
    """attnkit result `actual` against torch result `expected`: shape, dtype, values."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != torch {e.dtype}"
    if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer) or tol == EXACT:
        np.testing.assert_array_equal(a, e, err_msg=what)
    else:
        np.testing.assert_allclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True, err_msg=what)


# ---------------------------------------------------------------- inputs ---

Sampler = Callable[[np.random.Generator, tuple], np.ndarray]


def normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """In [0.5, 2]: inside the domain of log, sqrt, pow and away from their poles."""
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def nonzero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """+-[0.5, 2]: safe divisors, and no kinks of abs/relu at 0."""
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def small_ints(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Whole numbers in [-2, 2] as float32: ties for compares, max/min and eq."""
    return rng.integers(-2, 3, shape).astype(np.float32)


@dataclass
class Input:
    """One input in both libraries: the leaves receive the gradients, the
    (possibly non-contiguous) views go into the op."""

    ak_leaf: object
    pt_leaf: torch.Tensor
    ak: object
    pt: torch.Tensor
    requires_grad: bool


def _slice_last_step2(ndim: int):
    return (slice(None),) * (ndim - 1) + (slice(None, None, 2),)


def make_input(rng: np.random.Generator, shape: Sequence[int], layout: str = "contiguous",
               sampler: Sampler = normal, requires_grad: bool = True) -> Input:
    """A float32 input of `shape` in `layout` (see the module docstring).

    Layouts that a shape cannot have (transposed needs 2 dims, strided 1,
    expanded a last dim > 1) fall back to the next simpler one, so Hypothesis
    can draw the layout independently of the shape.
    """
    shape = tuple(shape)
    ndim = len(shape)
    if layout == "expanded" and (ndim == 0 or shape[-1] == 1):
        layout = "strided"
    if layout == "transposed" and ndim < 2:
        layout = "strided"
    if layout == "strided" and ndim == 0:
        layout = "contiguous"

    if layout == "contiguous":
        base = sampler(rng, shape)
    elif layout == "transposed":
        base = np.ascontiguousarray(np.swapaxes(sampler(rng, shape), -1, -2))
    elif layout == "strided":
        base = np.full(shape[:-1] + (2 * shape[-1],), np.nan, dtype=np.float32)
        base[_slice_last_step2(ndim)] = sampler(rng, shape)
    elif layout == "expanded":
        base = sampler(rng, shape[:-1] + (1,))
    else:
        raise ValueError(f"unknown layout {layout!r}")
    base = np.asarray(base, dtype=np.float32)  # samplers return NumPy scalars for shape ()

    ak_leaf = to_attnkit(base, requires_grad=requires_grad)
    pt_leaf = torch.from_numpy(base.copy()).requires_grad_(requires_grad)
    if layout == "contiguous":
        ak, pt = ak_leaf, pt_leaf
    elif layout == "transposed":
        ak, pt = ak_leaf.transpose(-2, -1), pt_leaf.transpose(-2, -1)
    elif layout == "strided":
        index = _slice_last_step2(ndim)
        ak, pt = ak_leaf[index], pt_leaf[index]
    else:
        ak, pt = ak_leaf.expand(*shape), pt_leaf.expand(*shape)
    assert tuple(ak.shape) == shape, f"make_input({layout}): attnkit view has shape {tuple(ak.shape)}"
    return Input(ak_leaf, pt_leaf, ak, pt, requires_grad)


def make_index_input(array: np.ndarray) -> Input:
    """An integer or bool input (no gradient), contiguous."""
    return Input(to_attnkit(array), torch.from_numpy(array.copy()),
                 to_attnkit(array), torch.from_numpy(array.copy()), False)


# ---------------------------------------------------------------- parity ---

def check_parity(ak_fn: Callable, pt_fn: Callable, inputs: Sequence[Input], rng: np.random.Generator,
                 tol: Tol, grad_tol: Tol | None = None, what: str = "") -> tuple:
    """Runs ak_fn / pt_fn on the inputs' views and compares the outputs; then
    backpropagates the same random upstream gradient through both and compares
    the gradients of every leaf that requires one (at grad_tol, by default
    tol, or REDUCTION when tol is EXACT). Returns (ak_out, pt_out)."""
    ak_out = ak_fn(*[x.ak for x in inputs])
    pt_out = pt_fn(*[x.pt for x in inputs])
    assert_close(ak_out, pt_out, tol, f"{what} forward")
    if not any(x.requires_grad for x in inputs):
        return ak_out, pt_out

    upstream = rng.standard_normal(tuple(pt_out.shape)).astype(np.float32)
    ak_out.backward(to_attnkit(upstream))
    pt_out.backward(torch.from_numpy(upstream))
    if grad_tol is None:
        # An exact forward (data movement) still has a summing backward: the
        # upstream gradient is added up over broadcast, expanded or repeated
        # positions, in an order that may differ from torch's.
        grad_tol = REDUCTION if tol == EXACT else tol
    for position, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        assert x.ak_leaf.grad is not None, f"{what}: input {position} got no gradient"
        assert_close(x.ak_leaf.grad, x.pt_leaf.grad, grad_tol, f"{what} grad of input {position}")
    return ak_out, pt_out
