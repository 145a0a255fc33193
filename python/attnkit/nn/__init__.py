"""attnkit.nn: modules with parameters, as torch.nn.

>>> import attnkit.nn as nn
>>> mha = nn.MultiheadAttention(embed_dim=64, num_heads=8, batch_first=True)
>>> out, weights = mha(x, x, x, need_weights=True)
>>> mha.load_state_dict(torch_mha.state_dict())   # PyTorch weights load unchanged

Subclass :class:`Module` to build models: child modules and :func:`Parameter`
tensors assigned as attributes are registered, so ``parameters()``,
``state_dict()`` and ``train()``/``eval()`` reach them.
"""

from .._C import Tensor as _Tensor
from . import utils, vision
from .._C.nn import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AdditiveAttention,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BilinearAttention,
    Conv1d,
    Conv2d,
    Dropout,
    Embedding,
    HardAttention,
    KVCache,
    LayerNorm,
    LearnedPositionalEncoding,
    Linear,
    MaxPool2d,
    Module,
    MultiheadAttention,
    PositionwiseFeedForward,
    ScoreAttention,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    Upsample,
)


def Parameter(data: _Tensor, requires_grad: bool = True) -> _Tensor:  # noqa: N802 (torch's name)
    """A leaf copy-free alias of ``data`` that requires grad: assigned to a Module
    attribute it is registered as a parameter (as ``torch.nn.Parameter``)."""
    leaf = data.detach()
    leaf.requires_grad = requires_grad
    return leaf


__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AdditiveAttention",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BilinearAttention",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "HardAttention",
    "KVCache",
    "LayerNorm",
    "LearnedPositionalEncoding",
    "Linear",
    "MaxPool2d",
    "Module",
    "MultiheadAttention",
    "Parameter",
    "PositionwiseFeedForward",
    "ScoreAttention",
    "SinusoidalPositionalEncoding",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Upsample",
]
