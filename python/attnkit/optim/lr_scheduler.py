"""Learning-rate schedules: call ``step()`` after ``optimizer.step()``.

InverseSqrtWarmup is the schedule of "Attention Is All You Need" (§5.3);
WarmupCosine warms up linearly, then decays along a cosine; CosineAnnealingLR
is torch's.
"""

from .._C.optim import CosineAnnealingLR, InverseSqrtWarmup, LRSchedule, WarmupCosine

__all__ = ["CosineAnnealingLR", "InverseSqrtWarmup", "LRSchedule", "WarmupCosine"]
