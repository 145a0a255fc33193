"""cat, stack, split and chunk against PyTorch: pieces, their shapes, and the
gradients flowing back through them, with non-contiguous inputs."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import attnkit
from conftest import (EXACT, REDUCTION, assert_close, check_parity, layouts, make_input, nonscalar_shapes,
                      seeds, to_attnkit)


@given(shape=nonscalar_shapes, data=st.data(), count=st.integers(1, 4), seed=seeds)
def test_cat(shape, data, count, seed):
    """Tensors that agree except along dim, each in its own layout."""
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    rng = np.random.default_rng(seed)
    inputs = []
    for _ in range(count):
        piece_shape = list(shape)
        piece_shape[dim] = int(rng.integers(1, 4))
        inputs.append(make_input(rng, piece_shape, data.draw(layouts, label="layout")))
    check_parity(lambda *ts: attnkit.cat(list(ts), dim=dim), lambda *ts: torch.cat(list(ts), dim=dim),
                 inputs, rng, EXACT, what=f"cat(dim={dim})")


@given(shape=st.one_of(st.just(()), nonscalar_shapes), data=st.data(), count=st.integers(1, 4), seed=seeds)
def test_stack(shape, data, count, seed):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim - 1, ndim), label="dim")
    rng = np.random.default_rng(seed)
    inputs = [make_input(rng, shape, data.draw(layouts, label="layout")) for _ in range(count)]
    check_parity(lambda *ts: attnkit.stack(ts, dim), lambda *ts: torch.stack(ts, dim),
                 inputs, rng, EXACT, what=f"stack(dim={dim})")


def test_cat_tuple_and_default_dim(rng):
    a, b = make_input(rng, (2, 3), "transposed"), make_input(rng, (4, 3), "strided")
    check_parity(lambda x, y: attnkit.cat((x, y)), lambda x, y: torch.cat((x, y)), [a, b], rng, EXACT,
                 what="cat((a, b))")


def test_cat_integers_keeps_dtype():
    a, b = np.arange(6, dtype=np.int64).reshape(2, 3), np.arange(3, dtype=np.int64).reshape(1, 3)
    assert_close(attnkit.cat([to_attnkit(a), to_attnkit(b)]),
                 torch.cat([torch.from_numpy(a), torch.from_numpy(b)]), EXACT, "cat int64")


def _pieces_parity(ak_split, pt_split, x, rng, what):
    """The pieces must match torch's exactly (count, shapes, values); then a
    random weighted sum of all pieces checks the gradient through every one."""
    ak_pieces, pt_pieces = list(ak_split(x.ak)), list(pt_split(x.pt))
    assert len(ak_pieces) == len(pt_pieces), f"{what}: {len(ak_pieces)} pieces, torch {len(pt_pieces)}"
    for i, (ak_piece, pt_piece) in enumerate(zip(ak_pieces, pt_pieces)):
        assert_close(ak_piece, pt_piece, EXACT, f"{what} piece {i}")
    weights = [rng.standard_normal(tuple(p.shape)).astype(np.float32) for p in pt_pieces]

    def weighted_total(pieces, to_lib, lib_sum):
        total = None
        for piece, weight in zip(pieces, weights):
            term = lib_sum(piece * to_lib(weight))
            total = term if total is None else total + term
        return total

    check_parity(lambda t: weighted_total(ak_split(t), to_attnkit, attnkit.sum),
                 lambda t: weighted_total(pt_split(t), torch.from_numpy, torch.sum),
                 [x], rng, REDUCTION, what=f"{what} weighted sum")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_split_by_size(shape, data, layout, seed):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    split_size = data.draw(st.integers(1, shape[dim] + 1), label="split_size")
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    _pieces_parity(lambda t: attnkit.split(t, split_size, dim), lambda t: torch.split(t, split_size, dim),
                   x, rng, f"split({split_size}, dim={dim})")


@given(shape=nonscalar_shapes, data=st.data(), layout=layouts, seed=seeds)
def test_split_by_sections(shape, data, layout, seed):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    # Cut points anywhere, repeats allowed: zero-length sections are legal, as in torch.
    cuts = sorted(data.draw(st.lists(st.integers(0, shape[dim]), max_size=3), label="cuts"))
    sections = np.diff([0, *cuts, shape[dim]]).tolist()
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    _pieces_parity(lambda t: attnkit.split(t, sections, dim=dim), lambda t: torch.split(t, sections, dim=dim),
                   x, rng, f"split({sections}, dim={dim})")


@given(shape=nonscalar_shapes, data=st.data(), chunks=st.integers(1, 7), layout=layouts, seed=seeds)
def test_chunk(shape, data, chunks, layout, seed):
    """torch.chunk's rule: pieces of ceil(size / chunks), so 5 in 4 chunks is
    2 + 2 + 1 (three pieces) and 6 in 4 is 2 + 2 + 2."""
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = make_input(rng, shape, layout)
    _pieces_parity(lambda t: attnkit.chunk(t, chunks, dim), lambda t: torch.chunk(t, chunks, dim),
                   x, rng, f"chunk({chunks}, dim={dim})")


@pytest.mark.parametrize("size, chunks", [(5, 4), (6, 4), (7, 3), (1, 3), (12, 12)])
def test_chunk_counts_match_torch(size, chunks):
    x = to_attnkit(np.arange(size, dtype=np.float32))
    got = [tuple(p.shape) for p in attnkit.chunk(x, chunks)]
    want = [tuple(p.shape) for p in torch.chunk(torch.arange(size, dtype=torch.float32), chunks)]
    assert got == want


def test_qkv_split_then_heads(rng):
    """The attention pattern: one (B, T, 3C) projection split into q, k, v,
    each reshaped to heads; only k's and v's pieces are used twice."""
    x = make_input(rng, (2, 5, 3 * 8))

    def attend(lib, split, qkv):
        q, k, v = split(qkv, 8, 2)
        heads = lambda t: t.reshape(2, 5, 2, 4).transpose(1, 2)  # (B, H, T, D)
        scores = heads(q) @ heads(k).transpose(-2, -1)
        return lib.softmax(scores, -1) @ heads(v)

    check_parity(lambda t: attend(attnkit, attnkit.split, t), lambda t: attend(torch, torch.split, t), [x], rng,
                 REDUCTION, what="qkv attention")


def test_cat_and_stack_large(rng):
    """Big non-contiguous pieces (the copy kernels' parallel path)."""
    a, b = make_input(rng, (300, 128), "transposed"), make_input(rng, (300, 64), "strided")
    check_parity(lambda x, y: attnkit.cat([x, y], dim=1), lambda x, y: torch.cat([x, y], dim=1), [a, b], rng,
                 EXACT, what="cat large")
    a, b = make_input(rng, (300, 128), "transposed"), make_input(rng, (300, 128), "strided")
    check_parity(lambda x, y: attnkit.stack([x, y], dim=1), lambda x, y: torch.stack([x, y], dim=1), [a, b],
                 rng, EXACT, what="stack large")
