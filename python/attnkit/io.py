"""attnkit.io: files.

safetensors, with the function names of the ``safetensors`` package::

    attnkit.io.save_file(model.state_dict(), "model.safetensors", metadata={"step": "100"})
    model.load_state_dict(attnkit.io.load_file("model.safetensors"))

A PyTorch ``state_dict`` saved with ``safetensors.torch.save_file`` loads into
the attnkit module of the same structure unchanged.
"""

from ._C.io import load_file, load_metadata, save_file

__all__ = ["load_file", "load_metadata", "save_file"]
