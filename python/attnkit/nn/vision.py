"""attnkit.nn.vision: attention blocks of vision networks.

Parameter names and structure follow timm's (``timm.layers``), so a timm
state_dict of the same block loads unchanged. Every block keeps the attention
it computed for its last input, detached, as ``attention_map`` (None before
the first forward); ``attnkit.vision.save_map`` draws it over the input image.
"""

from .._C.nn import vision as _vision

# channel attention (vision_channel_blocks_bindings.cpp)
_CHANNEL_BLOCKS: list[str] = ["SqueezeExcite", "SEModule", "ECA", "EcaModule", "CBAM", "CbamModule", "SelectiveKernel"]
# spatial attention (vision_spatial_blocks_bindings.cpp)
_SPATIAL_BLOCKS: list[str] = ["NonLocal", "NonLocalAttn", "ResidualAttention", "SpatialTransformer"]
# glimpses and regions (vision_glimpse_blocks_bindings.cpp)
_GLIMPSE_BLOCKS: list[str] = ["DynamicCapacity", "RecurrentAttention"]

__all__ = sorted(_CHANNEL_BLOCKS + _SPATIAL_BLOCKS + _GLIMPSE_BLOCKS)
globals().update({name: getattr(_vision, name) for name in __all__})
