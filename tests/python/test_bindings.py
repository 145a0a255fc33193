"""Smoke tests of the Python bindings themselves (not of the ops' numerics,
which the PyTorch parity tests cover): zero-copy NumPy and DLPack exchange,
the number protocol, grad mode, indexing, and which Python exception each
kind of bad input raises."""

import ast
import gc
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import attnkit as ak


# ---------------------------------------------------------------- NumPy ----


def test_numpy_view_shares_memory_both_ways():
    t = ak.arange(6.0).reshape(2, 3)
    a = t.numpy()
    assert a.dtype == np.float32 and a.shape == (2, 3)
    assert a.ctypes.data == t.data_ptr()
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t[1, 2] = -1.0
    assert a[1, 2] == -1.0


def test_numpy_view_keeps_storage_alive_and_keeps_strides():
    t = ak.arange(6.0).reshape(2, 3)
    a = t.T.numpy()
    assert a.strides == (4, 12)
    del t
    gc.collect()
    np.testing.assert_array_equal(a, np.arange(6.0, dtype=np.float32).reshape(2, 3).T)


def test_from_numpy_shares_memory_and_keeps_array_alive():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ak.from_numpy(array)
    assert t.data_ptr() == array.ctypes.data
    array[0, 1] = 7.0
    assert t[0, 1].item() == 7.0
    t.fill_(1.0)
    assert array.sum() == 12.0
    del array
    gc.collect()
    assert t.sum().item() == 12.0


def test_from_numpy_strided_and_dtypes():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = ak.from_numpy(base[:, ::2])
    assert t.shape == (4, 3) and t.stride() == (6, 2) and not t.is_contiguous()
    assert t.sum().item() == base[:, ::2].sum()
    assert ak.from_numpy(np.array([True, False])).dtype == ak.bool
    assert ak.from_numpy(np.array([1, 2], dtype=np.int32)).dtype == ak.int32
    assert ak.from_numpy(np.array([1, 2], dtype=np.int64)).dtype == ak.int64


def test_from_numpy_refusals():
    with pytest.raises(TypeError, match="float64"):
        ak.from_numpy(np.zeros(3))
    with pytest.raises(ValueError, match="negative strides"):
        ak.from_numpy(np.arange(3, dtype=np.float32)[::-1])
    with pytest.raises(TypeError, match="numpy.ndarray"):
        ak.from_numpy([1.0, 2.0])


def test_bfloat16_numpy_error_and_tolist():
    t = ak.tensor([1.5, -2.0], dtype=ak.bfloat16)
    with pytest.raises(TypeError, match=r"to\(attnkit.float32\)"):
        t.numpy()
    assert t.tolist() == [1.5, -2.0]
    assert np.asarray(t).dtype == np.float32  # __array__ widens (a copy)


def test_array_protocol_and_numpy_from_dlpack():
    t = ak.ones(2, 3)
    np.asarray(t)[0, 0] = 5.0
    assert t[0, 0].item() == 5.0
    b = np.from_dlpack(t)
    b[0, 1] = 6.0
    assert t[0, 1].item() == 6.0
    assert np.from_dlpack(ak.tensor([True, False])).dtype == np.bool_


def test_tensor_from_python_data():
    assert ak.tensor([[1, 2], [3, 4]]).dtype == ak.int64
    assert ak.tensor([1.5, 2]).dtype == ak.float32
    assert ak.tensor([True]).dtype == ak.bool
    assert ak.tensor(3.0).shape == ()
    assert ak.tensor([1, 2], dtype=ak.float32).dtype == ak.float32
    source = np.ones(3, dtype=np.float32)
    copy = ak.tensor(source)
    source[0] = 9.0
    assert copy[0].item() == 1.0  # tensor() copies, as torch.tensor
    t = ak.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert ak.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]


# --------------------------------------------------------------- DLPack ----


def test_dlpack_round_trip_with_torch():
    torch = pytest.importorskip("torch")
    tt = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = ak.from_dlpack(tt)
    assert t.data_ptr() == tt.data_ptr()
    tt[0, 0] = 99.0
    assert t[0, 0].item() == 99.0
    back = torch.from_dlpack(t)
    back[1, 1] = -5.0
    assert tt[1, 1].item() == -5.0
    del tt, back
    gc.collect()
    assert t[0, 0].item() == 99.0  # the producer is kept alive


def test_dlpack_dtypes_and_strides_with_torch():
    torch = pytest.importorskip("torch")
    assert torch.from_dlpack(ak.ones(2, dtype=ak.bfloat16)).dtype == torch.bfloat16
    assert torch.from_dlpack(ak.tensor([True, False])).dtype == torch.bool
    assert torch.from_dlpack(ak.arange(3)).dtype == torch.int64
    assert torch.from_dlpack(ak.arange(6.0).reshape(2, 3).T).stride() == (1, 3)
    assert ak.from_dlpack(torch.ones(2, 3).t()).stride() == (1, 3)
    assert ak.from_dlpack(torch.ones(3, dtype=torch.bfloat16)).dtype == ak.bfloat16
    assert ak.ones(1).__dlpack_device__() == (1, 0)


def test_package_never_imports_torch():
    code = (
        "import sys, numpy, attnkit as ak\n"
        "x = ak.randn(3, 3, requires_grad=True)\n"
        "(ak.softmax(x @ x.T, -1).sum()).backward()\n"
        "np_view = x.detach().numpy(); ak.from_dlpack(numpy.ones(2, numpy.float32))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------ number protocol ----


def test_arithmetic_with_tensors_and_scalars():
    x = ak.tensor([1.0, 2.0, 4.0])
    assert (x + x).tolist() == [2.0, 4.0, 8.0]
    assert (x + 1).tolist() == [2.0, 3.0, 5.0]
    assert (1 + x).tolist() == [2.0, 3.0, 5.0]
    assert (x - 1).tolist() == [0.0, 1.0, 3.0]
    assert (1 - x).tolist() == [0.0, -1.0, -3.0]
    assert (x * 2).tolist() == (2 * x).tolist() == [2.0, 4.0, 8.0]
    assert (x / 2).tolist() == [0.5, 1.0, 2.0]
    assert (4 / x).tolist() == [4.0, 2.0, 1.0]
    assert (x ** 2).tolist() == [1.0, 4.0, 16.0]
    assert (2 ** x).tolist() == [2.0, 4.0, 16.0]
    assert (-x).tolist() == [-1.0, -2.0, -4.0]
    assert abs(-x).tolist() == x.tolist()
    assert (x + np.float32(1)).tolist() == [2.0, 3.0, 5.0]


def test_scalar_type_promotion_follows_torch():
    i = ak.arange(3)
    assert (i + 1).dtype == ak.int64
    assert (i + 2.0).dtype == ak.float32  # a Python float makes it float
    assert (2.5 - i).dtype == ak.float32
    assert (i / 2).dtype == ak.float32
    assert (ak.tensor([True, False]) + 1).dtype == ak.int64


def test_numpy_operands_give_tensors():
    t = ak.ones(2)
    # A NumPy scalar on the left (np.sqrt returns one) must not turn the
    # result into an ndarray: Tensor.__array_priority__ makes NumPy defer.
    assert isinstance(np.sqrt(np.float64(4.0)) * t, ak.Tensor)
    assert (np.float32(2) * t).tolist() == [2.0, 2.0]
    assert isinstance(np.ones(2) + t, ak.Tensor)
    assert (np.arange(2) < t).tolist() == [True, False]


def test_matmul_operator():
    a = ak.ones(2, 3)
    b = ak.ones(3, 4)
    assert (a @ b).shape == (2, 4)
    assert (a @ b).tolist() == [[3.0] * 4] * 2


def test_comparisons_give_bool_tensors_and_identity_hash():
    x = ak.tensor([1.0, 2.0, 3.0])
    assert (x == 2).dtype == ak.bool
    assert (x == 2).tolist() == [False, True, False]
    assert (x != x).tolist() == [False] * 3
    assert (x < 2).tolist() == [True, False, False]
    assert (2 < x).tolist() == [False, False, True]
    assert (x >= 2).tolist() == [False, True, True]
    assert (x == None) is False  # noqa: E711 (NotImplemented -> identity)
    y = ak.tensor([1.0, 2.0, 3.0])
    assert len({x, y}) == 2  # identity hash, as torch.Tensor
    mask = x > 1
    assert (~mask).tolist() == [True, False, False]
    assert (mask & (x < 3)).tolist() == [False, True, False]
    assert (mask | (x < 2)).tolist() == [True, True, True]


def test_python_number_conversions():
    assert float(ak.tensor([2.5])) == 2.5
    assert int(ak.tensor(7)) == 7 and isinstance(int(ak.tensor(7)), int)
    assert int(ak.tensor(2.7)) == 2
    assert bool(ak.tensor([1.0])) is True
    assert ak.tensor(3).item() == 3 and isinstance(ak.tensor(3).item(), int)
    assert isinstance(ak.tensor(True).item(), bool)
    assert [10, 20, 30][ak.tensor(1)] == 20  # __index__
    with pytest.raises(ValueError, match="one element"):
        float(ak.ones(2))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ak.ones(2))
    with pytest.raises(TypeError):
        len(ak.tensor(1.0))


def test_unsupported_operands_raise_type_error():
    x = ak.ones(2)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        x @ 2
    with pytest.raises(TypeError):
        ak.add(x, "a")
    with pytest.raises(TypeError):
        ak.zeros("a")
    with pytest.raises(TypeError):
        ak.softmax(x, dim="last")


def test_inplace_operators_write_into_the_tensor():
    x = ak.zeros(3)
    view = x[1:]
    alias = x
    x += 1
    assert alias is x and x.tolist() == [1.0, 1.0, 1.0]
    view *= 5
    assert x.tolist() == [1.0, 5.0, 5.0]
    x.add_(ak.ones(3), alpha=2)
    assert x.tolist() == [3.0, 7.0, 7.0]


# ------------------------------------------------------------- indexing ----


def test_basic_indexing_gives_views():
    x = ak.arange(24.0).reshape(2, 3, 4)
    assert x[1].shape == (3, 4)
    assert x[-1, 0, 0].item() == 12.0
    assert x[:, 1:].shape == (2, 2, 4)
    assert x[..., ::2].shape == (2, 3, 2)
    assert x[None, 0, ..., None].shape == (1, 3, 4, 1)
    assert x[:, 1].data_ptr() == x.data_ptr() + 4 * 4
    x[0, 0, 0] = 100.0
    assert x.numpy()[0, 0, 0] == 100.0
    assert [row.shape for row in x] == [(3, 4), (3, 4)]


def test_indexing_errors():
    x = ak.zeros(2, 3)
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[0, 0, 0]
    with pytest.raises(ValueError):
        x[::-1]
    with pytest.raises(TypeError):
        x[[0, 1]]


# ------------------------------------------------------------- autograd ----


def test_backward_and_grad():
    x = ak.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    assert y.grad_fn is not None and x.grad_fn is None
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    x.grad = None
    assert x.grad is None


def test_second_backward_is_runtime_error():
    x = ak.ones(2, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_no_grad_context_and_decorator():
    x = ak.ones(2, requires_grad=True)
    assert ak.is_grad_enabled()
    with ak.no_grad():
        assert not ak.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ak.enable_grad():
            assert (x * 2).requires_grad
        assert not ak.is_grad_enabled()
    assert ak.is_grad_enabled()

    @ak.no_grad()
    def infer(t):
        return t * 2

    assert not infer(x).requires_grad
    assert ak.is_grad_enabled()

    with pytest.raises(KeyError):
        with ak.no_grad():
            raise KeyError
    assert ak.is_grad_enabled()  # restored on exceptions too


def test_set_grad_enabled_and_threads_are_independent():
    with ak.set_grad_enabled(False):
        assert not ak.is_grad_enabled()
        seen = []
        worker = threading.Thread(target=lambda: seen.append(ak.is_grad_enabled()))
        worker.start()
        worker.join()
        assert seen == [True]  # grad mode is per thread
    assert ak.is_grad_enabled()


def test_inplace_on_leaf_requiring_grad_is_refused():
    w = ak.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        w.fill_(0.0)
    with pytest.raises(RuntimeError):
        w -= 1
    with ak.no_grad():
        w -= 1  # an optimiser step
    assert w.tolist() == [0.0, 0.0]


# ------------------------------------------------------- errors, others ----


def test_error_types_and_messages():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\)"):
        ak.ones(2, 3) @ ak.ones(2, 3)
    with pytest.raises(ValueError, match="out of range"):
        ak.softmax(ak.ones(2), dim=3)
    with pytest.raises(ValueError, match="float32"):
        ak.arange(3).requires_grad_()
    with pytest.raises(ValueError):
        ak.cross_entropy(ak.ones(2, 3), ak.zeros(2, dtype=ak.int64), reduction="average")


def test_reductions_return_types():
    x = ak.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = ak.max(x, dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(0).indices.tolist() == [0, 1, 0]
    assert type(ak.max(x, 1)).__name__ == "max"
    assert x.sum(dim=(0, 1)).item() == 18.0
    assert x.sum(1, keepdim=True).shape == (2, 1)
    assert ak.argmin(x).item() == 4


def test_functional_namespace_and_dtypes():
    assert ak.functional.softmax is ak.softmax
    assert str(ak.float32) == "attnkit.float32" and ak.float is ak.float32
    assert ak.ones(2).dtype == ak.float32 and ak.ones(2).dtype.itemsize == 4


def test_threads_and_seed():
    n = ak.get_num_threads()
    ak.set_num_threads(1)
    assert ak.get_num_threads() == 1
    ak.set_num_threads(n)
    ak.manual_seed(0)
    a = ak.randn(4)
    ak.manual_seed(0)
    assert ak.randn(4).tolist() == a.tolist()
    with pytest.raises(ValueError):
        ak.set_num_threads(0)


def test_from_numpy_refuses_read_only_memory():
    import numpy as np
    import pytest
    import attnkit as ak

    frozen = np.broadcast_to(np.arange(3, dtype=np.float32), (2, 3))
    with pytest.raises(ValueError, match="read-only"):
        ak.from_numpy(frozen)
    # as_tensor copies instead of sharing, so writes cannot reach the original.
    t = ak.as_tensor(frozen)
    t.fill_(7.0)
    assert frozen[0, 0] == 0.0


def test_softmax_forward_without_backward_does_not_leak():
    import gc
    import weakref
    import attnkit as ak

    x = ak.randn(4, 5, requires_grad=True)
    y = ak.softmax(x, dim=-1)
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("gemm,isa", [("attnkit", "scalar"), ("onednn", "avx2"), ("auto", None)])
def test_cpu_info_reports_the_settings(gemm, isa):
    env = dict(os.environ, ATTNKIT_GEMM=gemm)
    env.pop("ATTNKIT_ISA", None)
    if isa is not None:
        env["ATTNKIT_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", "import attnkit; print(attnkit.cpu_info())"], env=env,
                         capture_output=True, text=True, check=True).stdout
    info = ast.literal_eval(out)
    assert info["gemm_backend"] == gemm
    assert info["detected_isa"] in ("scalar", "avx2", "avx512")
    order = ["scalar", "avx2", "avx512"]
    expected_isa = info["detected_isa"] if isa is None else order[min(order.index(isa), order.index(info["detected_isa"]))]
    assert info["isa"] == expected_isa
