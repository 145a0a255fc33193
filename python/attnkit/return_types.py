"""Named tuples returned by ops with several results, as ``torch.return_types``:
``values, indices = attnkit.max(x, dim=1)``."""

from ._C import _max_result as max, _min_result as min

__all__ = ["max", "min"]
