"""``attnkit.functional``: the neural-network ops under the names of
``torch.nn.functional``, for code written as ``F.softmax(x, dim=-1)``.

The same functions are also attributes of ``attnkit`` itself.
"""

from ._C import (
    cross_entropy,
    dropout,
    embedding,
    gelu,
    layer_norm,
    linear,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    tanh,
)

__all__ = [
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "log_softmax",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]
