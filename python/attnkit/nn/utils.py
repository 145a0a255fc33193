"""attnkit.nn.utils: helpers for training loops, as torch.nn.utils."""

from .._C import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
