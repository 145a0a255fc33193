"""``attnkit.functional``: the neural-network ops under the names of
``torch.nn.functional``, for code written as ``F.softmax(x, dim=-1)``.

The same functions are also attributes of ``attnkit`` itself.
"""

from ._C import (
    additive_score as additive,
    attention,
    bilinear_score as bilinear,
    cross_entropy,
    dot_score as dot,
    gumbel_softmax,
    hard_attention,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_score as scaled_dot,
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
    "additive",
    "attention",
    "bilinear",
    "cross_entropy",
    "dot",
    "masked_softmax",
    "scaled_dot",
    "scaled_dot_product_attention",
    "dropout",
    "embedding",
    "gelu",
    "gumbel_softmax",
    "hard_attention",
    "layer_norm",
    "linear",
    "log_softmax",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]
