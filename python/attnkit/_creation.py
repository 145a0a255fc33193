"""``attnkit.tensor`` and ``attnkit.as_tensor``: tensors from Python data.

Nested lists and scalars go through NumPy, which already knows how to turn
them into a rectangular array; the array is then shared (``from_numpy``), so
there is exactly one copy.
"""

import numpy as np

from . import _C

__all__ = ["tensor", "as_tensor"]

# The NumPy dtype holding each attnkit dtype's values (bfloat16 is built as
# float32 and then narrowed).
_NUMPY_DTYPE = {
    _C.float32: np.float32,
    _C.bfloat16: np.float32,
    _C.int64: np.int64,
    _C.int32: np.int32,
    _C.bool: np.bool_,
}


def _inferred_dtype(array):
    """The dtype PyTorch would give data that NumPy read as ``array``."""
    kind = array.dtype.kind
    if kind == "b":
        return _C.bool
    if kind in "iu":
        return _C.int32 if array.dtype == np.int32 else _C.int64
    if kind == "f":
        return _C.float32  # attnkit has no float64: Python floats become float32, as in PyTorch
    raise TypeError(
        f"tensor: cannot make a tensor from data of NumPy dtype {array.dtype} "
        "(expected numbers, bools, or nested lists of them)"
    )


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data``.

    ``data`` may be a number, a (nested) list or tuple of numbers, a NumPy
    array or a Tensor. The dtype follows the data as in PyTorch: bool, int64
    (int32 for an int32 array) or float32, unless ``dtype`` says otherwise.
    """
    if isinstance(data, _C.Tensor):
        out = data.detach().clone()
        if dtype is not None:
            out = out.to(dtype)
    else:
        array = np.asarray(data)
        if dtype is None:
            dtype = _inferred_dtype(array)
        elif not isinstance(dtype, _C.dtype):
            raise TypeError(f"tensor: dtype must be an attnkit.dtype, got {dtype!r}")
        array = np.array(array, dtype=_NUMPY_DTYPE[dtype], order="C", copy=True)
        out = _C.from_numpy(array)
        if dtype == _C.bfloat16:
            out = out.to(_C.bfloat16)
    if requires_grad:
        out.requires_grad_(True)
    return out


def as_tensor(data, dtype=None):
    """``data`` as a tensor, sharing memory when it can (a Tensor, or a NumPy
    array of a supported dtype); otherwise a copy, as ``tensor(data)``."""
    if isinstance(data, _C.Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is None and data.dtype in (
        np.float32, np.int64, np.int32, np.bool_,
    ) and data.flags.writeable and all(s >= 0 for s in data.strides):
        return _C.from_numpy(data)
    return tensor(data, dtype=dtype)
