"""Bad input raises a Python exception whose message names the op, per op
family: ValueError for a bad argument, RuntimeError for a state the library
refuses (include/attnkit/core/error.h), IndexError for an index out of range
as in Python and torch. Never a crash, never a silent wrong answer."""

import math

import numpy as np
import pytest

import attnkit
from conftest import to_attnkit


def f32(*shape):
    return to_attnkit(np.ones(shape, dtype=np.float32))


def i64(*values):
    return to_attnkit(np.array(values, dtype=np.int64))


def bools(*shape):
    return to_attnkit(np.ones(shape, dtype=np.bool_))


# (id, thunk, the op name the message must contain)
BAD_ARGUMENTS = [
    # elementwise: shapes that do not broadcast, bad options
    ("add shapes", lambda: attnkit.add(f32(2, 3), f32(4)), "add"),
    ("+ shapes", lambda: f32(2, 3) + f32(2, 4), "add"),
    ("sub shapes", lambda: attnkit.sub(f32(2, 3), f32(3, 2)), "sub"),
    ("- shapes", lambda: f32(5) - f32(4), "sub"),
    ("mul shapes", lambda: attnkit.mul(f32(2, 3), f32(2, 1, 4)), "mul"),
    ("* shapes", lambda: f32(3) * f32(2), "mul"),
    ("div shapes", lambda: attnkit.div(f32(3, 1), f32(2, 2)), "div"),
    ("pow shapes", lambda: attnkit.pow(f32(3), f32(4)), "pow"),
    ("** shapes", lambda: f32(3) ** f32(4), "pow"),
    ("maximum shapes", lambda: attnkit.maximum(f32(3), f32(2)), "maximum"),
    ("minimum shapes", lambda: attnkit.minimum(f32(3), f32(2)), "minimum"),
    ("gelu approximate", lambda: attnkit.gelu(f32(3), approximate="fast"), "gelu"),
    ("neg of bool", lambda: attnkit.neg(bools(3)), "neg"),
    # comparisons and selection
    ("eq shapes", lambda: attnkit.eq(f32(2, 3), f32(4)), "eq"),
    ("< shapes", lambda: f32(2, 3) < f32(4), "lt"),
    ("where float condition", lambda: attnkit.where(f32(3), f32(3), f32(3)), "where"),
    ("where shapes", lambda: attnkit.where(bools(3), f32(2), f32(3)), "where"),
    ("masked_fill float mask", lambda: attnkit.masked_fill(f32(3), f32(3), 0.0), "masked_fill"),
    ("masked_fill mask larger than input", lambda: attnkit.masked_fill(f32(3), bools(2, 3), 0.0),
     "masked_fill"),
    # reductions
    ("sum dim out of range", lambda: attnkit.sum(f32(2, 3), dim=2), "sum"),
    ("sum repeated dim", lambda: attnkit.sum(f32(2, 3), dim=(0, -2)), "sum"),
    ("mean dim out of range", lambda: attnkit.mean(f32(2, 3), dim=-3), "mean"),
    ("mean of int64", lambda: attnkit.mean(i64(1, 2, 3)), "mean"),
    ("var dim out of range", lambda: attnkit.var(f32(2, 3), dim=5), "var"),
    ("var negative correction", lambda: attnkit.var(f32(2, 3), correction=-1), "var"),
    ("max dim out of range", lambda: attnkit.max(f32(2, 3), dim=2), "max"),
    ("min of empty", lambda: attnkit.min(to_attnkit(np.zeros((0,), np.float32))), "min"),
    ("argmax dim out of range", lambda: attnkit.argmax(f32(2, 3), dim=-4), "argmax"),
    ("argmin dim out of range", lambda: attnkit.argmin(f32(2, 3), dim=3), "argmin"),
    # matmul
    ("matmul inner dims", lambda: attnkit.matmul(f32(2, 3), f32(4, 5)), "matmul"),
    ("@ inner dims", lambda: f32(2, 3) @ f32(2, 3), "matmul"),
    ("matmul 0-d", lambda: attnkit.matmul(f32(), f32(3)), "matmul"),
    ("matmul batch dims", lambda: attnkit.matmul(f32(2, 3, 4), f32(3, 4, 5)), "matmul"),
    ("matmul vector lengths", lambda: attnkit.matmul(f32(3), f32(4)), "matmul"),
    ("matmul int64", lambda: attnkit.matmul(i64(1, 2), i64(3, 4)), "matmul"),
    # softmax
    ("softmax dim", lambda: attnkit.softmax(f32(2, 3), dim=2), "softmax"),
    ("log_softmax dim", lambda: attnkit.log_softmax(f32(2, 3), dim=-3), "log_softmax"),
    ("softmax of int64", lambda: attnkit.softmax(i64(1, 2), dim=0), "softmax"),
    # layer_norm
    ("layer_norm normalized_shape", lambda: attnkit.layer_norm(f32(3, 5), (4,)), "layer_norm"),
    ("layer_norm weight shape", lambda: attnkit.layer_norm(f32(3, 5), (5,), weight=f32(4)), "layer_norm"),
    ("layer_norm bias shape", lambda: attnkit.layer_norm(f32(3, 5), (5,), bias=f32(5, 1)), "layer_norm"),
    ("layer_norm of int64", lambda: attnkit.layer_norm(i64(1, 2), (2,)), "layer_norm"),
    # embedding
    ("embedding float indices", lambda: attnkit.embedding(f32(3), f32(4, 2)), "embedding"),
    ("embedding index too large", lambda: attnkit.embedding(i64(0, 4), f32(4, 2)), "embedding"),
    ("embedding negative index", lambda: attnkit.embedding(i64(-1), f32(4, 2)), "embedding"),
    ("embedding 1-d weight", lambda: attnkit.embedding(i64(0), f32(4)), "embedding"),
    ("embedding padding_idx", lambda: attnkit.embedding(i64(0), f32(4, 2), padding_idx=4), "embedding"),
    # cross_entropy
    ("cross_entropy float target", lambda: attnkit.cross_entropy(f32(2, 3), f32(2)), "cross_entropy"),
    ("cross_entropy target shape", lambda: attnkit.cross_entropy(f32(2, 3), i64(0, 1, 2)), "cross_entropy"),
    ("cross_entropy class out of range", lambda: attnkit.cross_entropy(f32(2, 3), i64(0, 3)), "cross_entropy"),
    ("cross_entropy negative class", lambda: attnkit.cross_entropy(f32(2, 3), i64(0, -1)), "cross_entropy"),
    ("cross_entropy reduction", lambda: attnkit.cross_entropy(f32(2, 3), i64(0, 1), reduction="avg"),
     "cross_entropy"),
    ("cross_entropy label_smoothing", lambda: attnkit.cross_entropy(f32(2, 3), i64(0, 1), label_smoothing=1.5),
     "cross_entropy"),
    ("cross_entropy 0-d input", lambda: attnkit.cross_entropy(f32(), i64(0)), "cross_entropy"),
    # dropout
    ("dropout p > 1", lambda: attnkit.dropout(f32(3), p=1.5), "dropout"),
    ("dropout p < 0", lambda: attnkit.dropout(f32(3), p=-0.1), "dropout"),
    ("dropout of int64", lambda: attnkit.dropout(i64(1, 2), p=0.5), "dropout"),
    # join
    ("cat sizes", lambda: attnkit.cat([f32(2, 3), f32(2, 4)], dim=0), "cat"),
    ("cat ranks", lambda: attnkit.cat([f32(2, 3), f32(3)]), "cat"),
    ("cat empty list", lambda: attnkit.cat([]), "cat"),
    ("cat dim", lambda: attnkit.cat([f32(2, 3), f32(2, 3)], dim=2), "cat"),
    ("cat 0-d", lambda: attnkit.cat([f32(), f32()]), "cat"),
    ("stack shapes", lambda: attnkit.stack([f32(2, 3), f32(3, 2)]), "stack"),
    ("stack empty list", lambda: attnkit.stack([]), "stack"),
    ("split sections", lambda: attnkit.split(f32(5, 2), [2, 2]), "split"),
    ("split negative section", lambda: attnkit.split(f32(5, 2), [6, -1]), "split"),
    ("split size 0", lambda: attnkit.split(f32(5, 2), 0), "split"),
    ("chunk 0", lambda: attnkit.chunk(f32(5, 2), 0), "chunk"),
    ("chunk 0-d", lambda: attnkit.chunk(f32(), 2), "chunk"),
    # views
    ("view of transposed", lambda: f32(3, 4).t().view(12), "view"),
    ("view size", lambda: f32(3, 4).view(5, 2), "view"),
    ("reshape size", lambda: f32(3, 4).reshape(5, -1), "reshape"),
    ("reshape two -1", lambda: f32(3, 4).reshape(-1, -1), "reshape"),
    ("permute length", lambda: f32(2, 3, 4).permute(0, 1), "permute"),
    ("permute repeat", lambda: f32(2, 3, 4).permute(0, 1, 1), "permute"),
    ("transpose dim", lambda: f32(2, 3).transpose(0, 2), "transpose"),
    ("t of 3-d", lambda: f32(2, 3, 4).t(), "t: "),
    ("expand size", lambda: f32(2, 3).expand(2, 4), "expand"),
    ("expand fewer dims", lambda: f32(2, 3).expand(3), "expand"),
    ("narrow past the end", lambda: f32(2, 5).narrow(1, 3, 3), "narrow"),
    ("select index", lambda: f32(2, 5).select(1, 5), "select"),
    ("select of 0-d", lambda: f32().select(0, 0), "select"),
    ("unsqueeze dim", lambda: f32(2, 3).unsqueeze(4), "unsqueeze"),
    ("flatten order", lambda: f32(2, 3, 4).flatten(2, 1), "flatten"),
]


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=[case[0] for case in BAD_ARGUMENTS])
def test_bad_argument_raises_naming_the_op(case):
    _, thunk, op = case
    with pytest.raises((ValueError, RuntimeError)) as info:
        thunk()
    message = str(info.value)
    assert op in message, f"message does not name {op!r}: {message!r}"


@pytest.mark.parametrize("thunk", [lambda: f32(2, 3)[2], lambda: f32(2, 3)[:, -4], lambda: f32(2, 3)[0, 0, 0]],
                         ids=["row", "negative column", "too many"])
def test_index_out_of_range_is_index_error(thunk):
    with pytest.raises(IndexError, match="index"):
        thunk()


def test_negative_slice_step_is_refused():
    with pytest.raises(ValueError, match="step"):
        f32(4)[::-1]


# ---- autograd -------------------------------------------------------------------

def _leaf(*shape):
    return to_attnkit(np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True)


def test_second_backward_through_a_freed_graph_is_runtime_error():
    x = _leaf(3)
    y = attnkit.sum(attnkit.exp(x))
    y.backward()
    with pytest.raises(RuntimeError, match="backward"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = _leaf(3)
    y = attnkit.sum(x * x)
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_backward_of_many_elements_needs_a_gradient():
    y = attnkit.exp(_leaf(3))
    with pytest.raises((ValueError, RuntimeError), match="backward"):
        y.backward()


def test_backward_gradient_of_wrong_shape():
    y = attnkit.exp(_leaf(3))
    with pytest.raises((ValueError, RuntimeError), match="backward"):
        y.backward(f32(4))


def test_backward_of_a_tensor_without_history():
    with pytest.raises((ValueError, RuntimeError), match="backward"):
        attnkit.sum(f32(3)).backward()


def test_requires_grad_on_an_integer_tensor():
    with pytest.raises((ValueError, RuntimeError), match="requires_grad"):
        i64(1, 2).requires_grad = True


def test_in_place_write_to_a_leaf_that_requires_grad():
    x = _leaf(3)
    with pytest.raises(RuntimeError, match="fill_"):
        x.fill_(1.0)
    with attnkit.no_grad():
        x.fill_(1.0)  # allowed: not recorded, as in torch
    assert x.numpy().tolist() == [1.0, 1.0, 1.0]


def test_float_of_many_elements_names_the_conversion():
    with pytest.raises((ValueError, RuntimeError, TypeError)) as info:
        float(f32(2))
    assert "float" in str(info.value) or "item" in str(info.value) or "one element" in str(info.value)


def test_errors_leave_no_half_recorded_graph():
    """A failed op must not break later autograd on the same inputs."""
    x = _leaf(2, 3)
    with pytest.raises(ValueError):
        attnkit.matmul(x, x)
    attnkit.sum(x * 3.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0, dtype=np.float32))
    assert math.isfinite(float(attnkit.sum(x)))
