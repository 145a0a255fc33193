"""Grad-mode switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, as in PyTorch. The mode is
per thread (it lives in the C++ autograd engine), so a ``no_grad`` block in
one thread does not affect another.
"""

import functools
import threading

from . import _C

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled"]

is_grad_enabled = _C.is_grad_enabled


class _GradMode:
    """Sets grad mode to ``self._mode`` on entry and restores it on exit."""

    _mode = True

    def __init__(self):
        # A stack per thread, so one instance can be entered again while
        # active, and entered by several threads at once (grad mode itself is
        # per thread).
        self._local = threading.local()

    def _previous(self):
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def __enter__(self):
        self._previous().append(_C.is_grad_enabled())
        _C._set_grad_enabled(self._mode)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self._previous().pop())
        return False

    def __call__(self, func):
        """Use as a decorator: ``func`` runs in this grad mode on every call."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disables autograd recording: ops record no history and keep nothing alive.

    >>> with attnkit.no_grad():
    ...     y = model(x)        # inference, no graph
    """

    _mode = False


class enable_grad(_GradMode):
    """Re-enables autograd recording inside a ``no_grad`` block."""

    _mode = True


class inference_mode(_GradMode):
    """``no_grad`` under PyTorch's other name (``inference_mode(False)`` enables grad)."""

    def __init__(self, mode=True):
        super().__init__()
        self._mode = not mode

    def __call__(self, func):
        mode = not self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    """Sets grad mode to ``mode`` now; as a context manager, restores it on exit.

    >>> attnkit.set_grad_enabled(False)      # a plain call switches it
    >>> with attnkit.set_grad_enabled(True):
    ...     ...
    """

    def __init__(self, mode):
        super().__init__()
        self._mode = bool(mode)
        # Set immediately (a plain call switches the mode); remember what to
        # restore if this is then used as a context manager.
        self._previous().append(_C.is_grad_enabled())
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        return self

    def __call__(self, func):
        # The constructor already switched the mode; undo that for decorators.
        _C._set_grad_enabled(self._previous().pop())
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper
