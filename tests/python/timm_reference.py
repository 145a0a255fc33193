"""timm's own attention blocks, imported as test references without torchvision.

timm is installed with --no-deps (requirements/timm-no-deps.txt): PyPI's
torchvision does not import beside the CPU torch on these machines. Two things
stand between us and ``timm.layers``:

- ``timm/__init__.py`` imports every model and the data pipeline (PIL,
  torchvision transforms). We register ``timm`` as a bare package whose
  ``__path__`` is the installed directory, so ``import timm.layers.cbam`` runs
  only the layer files and not that ``__init__``.
- ``timm.layers`` imports ``torchvision.ops.misc.FrozenBatchNorm2d`` for its
  norm factories. A stand-in module provides a class of that name that refuses
  to be built: no block under test uses it, and one that did would fail loudly.

Everything else the blocks run is timm's and torch's own code.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types

import torch


def _install_torchvision_stand_in() -> None:
    if "torchvision" in sys.modules:
        return

    class FrozenBatchNorm2d(torch.nn.Module):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("timm_reference: torchvision's FrozenBatchNorm2d is not available in these tests")

    torchvision = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    misc = types.ModuleType("torchvision.ops.misc")
    misc.FrozenBatchNorm2d = FrozenBatchNorm2d
    ops.misc = misc
    torchvision.ops = ops
    sys.modules.update({"torchvision": torchvision, "torchvision.ops": ops, "torchvision.ops.misc": misc})


def _install_bare_timm_package() -> None:
    if "timm" in sys.modules:
        return
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("timm_reference: timm is not installed (scripts/test installs requirements/timm-no-deps.txt)")
    timm = types.ModuleType("timm")
    timm.__path__ = list(spec.submodule_search_locations)
    timm.__file__ = os.path.join(timm.__path__[0], "__init__.py")
    sys.modules["timm"] = timm


def timm_layer_module(name: str) -> types.ModuleType:
    """``timm.layers.<name>`` (e.g. ``"cbam"``, ``"squeeze_excite"``), imported as described above."""
    _install_torchvision_stand_in()
    _install_bare_timm_package()
    return importlib.import_module(f"timm.layers.{name}")
