"""attnkit: attention mechanisms for deep learning.

A C++20 library with PyTorch-like tensors, autograd and ops; this package is a
thin layer over its compiled core (``attnkit._C``). NumPy is the only run-time
dependency: tensors convert to and from NumPy arrays and any DLPack producer
(e.g. ``torch.from_dlpack(t)``) without copying.

>>> import attnkit as ak
>>> x = ak.randn(2, 3, requires_grad=True)
>>> y = ak.softmax(x @ x.T, dim=-1).sum()
>>> y.backward()
"""

from . import _C
from ._C import (
    # types
    Generator,
    Node,
    Tensor,
    dtype,
    # dtypes
    bfloat16,
    bool,
    float32,
    int32,
    int64,
    # creation
    arange,
    empty,
    empty_like,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    manual_seed,
    default_generator,
    generator_scope,
    # training state
    load_checkpoint,
    save_checkpoint,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    scalar_tensor,
    zeros,
    zeros_like,
    # elementwise
    abs,
    add,
    div,
    exp,
    gelu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    negative,
    pow,
    relu,
    sigmoid,
    silu,
    sqrt,
    sub,
    tanh,
    # comparison and selection
    eq,
    ge,
    gt,
    le,
    logical_not,
    lt,
    masked_fill,
    ne,
    where,
    # reductions
    amax,
    argmax,
    argmin,
    max,
    mean,
    min,
    std,
    sum,
    var,
    # neural-network ops
    affine_grid,
    avg_pool1d,
    bmm,
    conv1d,
    conv2d,
    cross_entropy,
    dropout,
    embedding,
    grid_sample,
    layer_norm,
    linear,
    log_softmax,
    matmul,
    max_pool1d,
    max_pool2d,
    mm,
    softmax,
    # joining and splitting
    cat,
    chunk,
    concat,
    concatenate,
    split,
    stack,
    unbind,
    # runtime
    cpu_info,
    get_num_threads,
    set_num_threads,
)
from ._creation import as_tensor, tensor
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import decoding, functional, io, models, nn, optim, return_types, tokenizers, vision

__version__ = "0.1.0"

# PyTorch's short dtype names. Defined last: they shadow builtins here.
float = float32
long = int64
int = int32
