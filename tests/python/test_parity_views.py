"""Views against PyTorch: reshape, view, permute, transpose, indexing, narrow,
select, expand, squeeze, unsqueeze, flatten, contiguous, clone, detach. Values
and gradients on every input layout, and, for views of a contiguous tensor,
the same strides and offset as torch (the view must not copy)."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import attnkit
from conftest import (EXACT, check_parity, layouts, make_input, nonscalar_shapes, normal,
                      seeds, shapes, to_attnkit)


def _prime_factors(n):
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def reshape_target(draw, shape):
    """A shape of the same size: the prime factors regrouped, 1s sprinkled in,
    and maybe one size replaced by -1."""
    factors = draw(st.permutations(_prime_factors(int(np.prod(shape, dtype=np.int64)))))
    n_groups = draw(st.integers(min_value=1 if factors else 0, max_value=4))
    groups = [1] * n_groups
    for f in factors:
        groups[draw(st.integers(0, n_groups - 1))] *= f
    if groups and draw(st.booleans()):
        groups[draw(st.integers(0, len(groups) - 1))] = -1
    return tuple(groups)


def _assert_same_view_geometry(ak_view, pt_view, what):
    """A view of a contiguous tensor: strides and offset as torch's, no copy.
    The stride of a size-1 dim is never used to address anything, and torch
    and attnkit choose it differently, so only dims of size > 1 are compared."""
    used = [d for d, size in enumerate(pt_view.shape) if size > 1]
    ak_strides = tuple(ak_view.stride()[d] for d in used)
    pt_strides = tuple(pt_view.stride()[d] for d in used)
    assert ak_strides == pt_strides, f"{what}: strides {tuple(ak_view.stride())} != torch {pt_view.stride()}"
    assert ak_view.storage_offset() == pt_view.storage_offset(), f"{what}: storage offset"
    assert ak_view.is_contiguous() == pt_view.is_contiguous(), f"{what}: is_contiguous"


def _view_parity(ak_fn, pt_fn, shape, layout, seed, what, geometry=True):
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    ak_out, pt_out = check_parity(ak_fn, pt_fn, [x], rng, EXACT, what=what)
    assert ak_out.is_contiguous() == pt_out.is_contiguous() or layout != "contiguous", f"{what}: is_contiguous"
    if geometry and layout == "contiguous":
        _assert_same_view_geometry(ak_fn(x.ak), pt_fn(x.pt), what)


@given(shape=shapes, data=st.data(), layout=layouts, seed=seeds)
def test_reshape(shape, data, layout, seed):
    """A view when possible, else a copy; the values are the same either way."""
    target = data.draw(reshape_target(shape), label="target")
    _view_parity(lambda t: t.reshape(target), lambda t: t.reshape(target), shape, layout, seed,
                 f"reshape{target}", geometry=False)
    if target:  # torch has no reshape() with no sizes
        _view_parity(lambda t: t.reshape(*target), lambda t: t.reshape(*target), shape, "contiguous", seed,
                     f"reshape(*{target})")


@given(shape=shapes, data=st.data(), seed=seeds)
def test_view_of_contiguous(shape, data, seed):
    target = data.draw(reshape_target(shape), label="target")
    _view_parity(lambda t: t.view(target), lambda t: t.view(target), shape, "contiguous", seed, f"view{target}")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_permute(shape, data, layout, seed):
    order = data.draw(st.permutations(range(len(shape))), label="dims")
    signed = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in order)
    _view_parity(lambda t: t.permute(*signed), lambda t: t.permute(*signed), shape, layout, seed,
                 f"permute{signed}")
    _view_parity(lambda t: t.permute(signed), lambda t: t.permute(signed), shape, layout, seed,
                 f"permute({signed})")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_transpose(shape, data, layout, seed):
    ndim = len(shape)
    dim0 = data.draw(st.integers(-ndim, ndim - 1), label="dim0")
    dim1 = data.draw(st.integers(-ndim, ndim - 1), label="dim1")
    _view_parity(lambda t: t.transpose(dim0, dim1), lambda t: t.transpose(dim0, dim1), shape, layout, seed,
                 f"transpose({dim0}, {dim1})")


@pytest.mark.parametrize("shape", [(), (4,), (3, 5)])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_t_and_T(shape, layout):
    _view_parity(lambda t: t.t(), lambda t: t.t(), shape, layout, 0, "t()")
    if len(shape) == 2:
        _view_parity(lambda t: t.T, lambda t: t.T, shape, layout, 0, ".T")
        _view_parity(lambda t: t.mT, lambda t: t.mT, shape, layout, 0, ".mT")


@st.composite
def shape_and_index(draw):
    shape = draw(shapes)
    index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    parts = index if isinstance(index, tuple) else (index,)
    # torch (and attnkit) reject negative slice steps; they are tested as errors.
    assume(not any(isinstance(p, slice) and p.step is not None and p.step < 0 for p in parts))
    return shape, index


@given(case=shape_and_index(), layout=layouts, seed=seeds)
def test_getitem_basic_indexing(case, layout, seed):
    """ints (negative too), slices with steps and out-of-range bounds, None and ..."""
    shape, index = case
    _view_parity(lambda t: t[index], lambda t: t[index], shape, layout, seed, f"[{index}]")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_narrow(shape, data, layout, seed):
    """start may be negative, counting from the end, as in torch."""
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    size = shape[dim]
    start = data.draw(st.integers(-size, size - 1), label="start")
    length = data.draw(st.integers(0, size - (start % size)), label="length")
    _view_parity(lambda t: t.narrow(dim, start, length), lambda t: t.narrow(dim, start, length), shape, layout,
                 seed, f"narrow({dim}, {start}, {length})")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_select(shape, data, layout, seed):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    index = data.draw(st.integers(-shape[dim], shape[dim] - 1), label="index")
    _view_parity(lambda t: t.select(dim, index), lambda t: t.select(dim, index), shape, layout, seed,
                 f"select({dim}, {index})")


@given(shape=shapes, data=st.data(), layout=layouts, seed=seeds)
def test_expand(shape, data, layout, seed):
    """Size-1 dims stretch, -1 keeps a size, new leading dims are added; the
    gradient sums over every stretched dim."""
    base = tuple(1 if data.draw(st.booleans()) else s for s in shape)
    leading = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2), label="leading"))
    target = leading + tuple(-1 if data.draw(st.booleans()) else s for s in shape)
    _view_parity(lambda t: t.expand(target), lambda t: t.expand(target), base, layout, seed,
                 f"{base}.expand({target})")
    if target:  # torch has no expand() with no sizes
        _view_parity(lambda t: t.expand(*target), lambda t: t.expand(*target), base, "contiguous", seed,
                     f"{base}.expand(*{target})")


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), data=st.data(), layout=layouts,
       seed=seeds)
def test_squeeze_unsqueeze(shape, data, layout, seed):
    """Small sides make size-1 dims common; squeeze(dim) of a larger dim is a no-op."""
    ndim = len(shape)
    _view_parity(lambda t: t.squeeze(), lambda t: t.squeeze(), shape, layout, seed, "squeeze()")
    if ndim:
        dim = data.draw(st.integers(-ndim, ndim - 1), label="squeeze dim")
        _view_parity(lambda t: t.squeeze(dim), lambda t: t.squeeze(dim), shape, layout, seed, f"squeeze({dim})")
    dim = data.draw(st.integers(-ndim - 1, ndim), label="unsqueeze dim")
    _view_parity(lambda t: t.unsqueeze(dim), lambda t: t.unsqueeze(dim), shape, layout, seed,
                 f"unsqueeze({dim})")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_flatten(shape, data, layout, seed):
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1), label="start_dim")
    end = data.draw(st.integers(start % ndim, ndim - 1), label="end_dim")
    _view_parity(lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), shape, layout, seed,
                 f"flatten({start}, {end})", geometry=False)
    _view_parity(lambda t: t.flatten(), lambda t: t.flatten(), shape, layout, seed, "flatten()", geometry=False)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "expanded"])
def test_contiguous_and_clone(layout, rng):
    x = make_input(rng, (3, 4, 5), layout)
    ak_out, _ = check_parity(lambda t: t.contiguous(), lambda t: t.contiguous(), [x], rng, EXACT,
                             what="contiguous")
    assert ak_out.is_contiguous()
    assert x.ak.is_contiguous() == x.pt.is_contiguous()
    x = make_input(rng, (3, 4, 5), layout)
    ak_out, _ = check_parity(lambda t: t.clone(), lambda t: t.clone(), [x], rng, EXACT, what="clone")


def test_contiguous_of_contiguous_is_itself_clone_is_not(rng):
    x = to_attnkit(normal(rng, (3, 4)))
    assert x.contiguous().data_ptr() == x.data_ptr()
    assert x.clone().data_ptr() != x.data_ptr()


def test_detach_stops_the_gradient(rng):
    x = make_input(rng, (3, 4), "transposed")
    check_parity(lambda t: t * t.detach(), lambda t: t * t.detach(), [x], rng, EXACT, what="x * x.detach()")
    assert not x.ak.detach().requires_grad


def test_chained_views_gradient(rng):
    """Several views stacked on one another, then an op, then backward."""
    x = make_input(rng, (4, 6, 5), "strided")

    def chain(t):
        return (t.transpose(0, 2)[1:, ::2].reshape(-1, 4).unsqueeze(0).expand(3, -1, -1) * 2.0).flatten()

    check_parity(chain, chain, [x], rng, EXACT, what="chained views")


def test_views_alias_their_base(rng):
    """A view shares storage: a write through it shows in the base."""
    x = to_attnkit(normal(rng, (4, 5)))
    with attnkit.no_grad():
        x[1].fill_(7.0)
        x.t()[2].zero_()
    expected = x.numpy()
    assert (expected[1, [0, 1, 3, 4]] == 7.0).all()
    assert (expected[:, 2] == 0.0).all()


# (A broadcast array is read-only, which from_numpy refuses: test_bindings.py.)
@pytest.mark.parametrize("make", [lambda a: a.T, lambda a: a[:, ::2], lambda a: a[1:, 1:3]],
                         ids=["transposed", "strided", "sliced"])
def test_from_numpy_non_contiguous(make, rng):
    array = make(normal(rng, (6, 8)))
    np.testing.assert_array_equal(attnkit.from_numpy(array).numpy(), array)


def test_from_numpy_negative_strides(rng):
    """torch refuses negative strides; attnkit may copy or refuse, not misread."""
    array = normal(rng, (5, 4))[::-1, ::-2]
    try:
        converted = attnkit.from_numpy(array)
    except (ValueError, RuntimeError, TypeError):
        return
    np.testing.assert_array_equal(converted.numpy(), array)


@pytest.mark.parametrize("make", [lambda t: t.narrow(1, 0, 0), lambda t: t[:, 2:2], lambda t: t[3:],
                                  lambda t: t.narrow(1, 1, 0).t()],
                         ids=["narrow to 0", "empty slice", "rows past the end", "empty transposed"])
def test_empty_views_are_contiguous_like_torch(make):
    """torch calls every tensor with no elements contiguous (nothing is
    addressed); code that copies only non-contiguous inputs relies on it."""
    ak_view = make(attnkit.ones(3, 4))
    pt_view = make(torch.ones(3, 4))
    assert tuple(ak_view.shape) == tuple(pt_view.shape)
    assert ak_view.is_contiguous() == pt_view.is_contiguous()
