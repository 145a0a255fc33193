"""attnkit.optim: optimisers, as torch.optim.

>>> opt = attnkit.optim.AdamW(model.parameters(), lr=3e-4)
>>> schedule = attnkit.optim.lr_scheduler.InverseSqrtWarmup(opt, d_model=256, warmup=400)
>>> loss.backward(); attnkit.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
>>> opt.step(); schedule.step(); opt.zero_grad()

The learning rate is ``opt.lr`` (torch: ``opt.param_groups[0]["lr"]``).
"""

from .._C.optim import SGD, Adam, AdamW, Optimizer
from . import lr_scheduler

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
