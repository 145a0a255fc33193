"""Named tuples returned by ops with several results, as ``torch.return_types``:
``values, indices = attnkit.max(x, dim=1)``."""

from collections import namedtuple

from ._C import _max_result as max, _min_result as min

# Module.load_state_dict's result, as torch.nn.modules.module._IncompatibleKeys.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

__all__ = ["max", "min", "IncompatibleKeys"]
