"""attnkit.io against the `safetensors` package (Hugging Face's reference
implementation): files either one writes, the other reads, every dtype; a
torch Transformer's state_dict saved by safetensors loads into attnkit's
unchanged; damaged files are clear errors."""

import os

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import attnkit
import attnkit.nn as nn
from conftest import normal, to_numpy


def test_files_written_by_safetensors_load_in_attnkit(tmp_path, rng):
    arrays = {
        "f32": normal(rng, (3, 4)),
        "f16": normal(rng, (5,)).astype(np.float16),
        "f64": normal(rng, (2, 2)).astype(np.float64),
        "i64": np.array([1, -2, 3], dtype=np.int64),
        "i32": np.array([[4], [5]], dtype=np.int32),
        "i8": np.array([-3, 7], dtype=np.int8),
        "u8": np.array([200, 1], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    path = str(tmp_path / "ref.safetensors")
    safetensors.numpy.save_file(arrays, path, metadata={"who": "safetensors"})
    loaded = attnkit.io.load_file(path)
    assert sorted(loaded) == sorted(arrays)
    for name, expected in arrays.items():
        got = to_numpy(loaded[name])
        assert got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected.astype(got.dtype), err_msg=name)
    assert attnkit.io.load_metadata(path) == {"who": "safetensors"}
    bf16 = torch.randn(4, 3).to(torch.bfloat16)
    safetensors.torch.save_file({"bf16": bf16}, path)
    ours = attnkit.io.load_file(path)["bf16"]
    assert ours.dtype == attnkit.bfloat16
    np.testing.assert_array_equal(to_numpy(ours.to(attnkit.float32)), bf16.float().numpy())


def test_files_written_by_attnkit_load_in_safetensors(tmp_path, rng):
    tensors = {
        "w": attnkit.from_numpy(normal(rng, (4, 5))),
        "ids": attnkit.tensor([3, 1, 2]),
        "mask": attnkit.from_numpy(np.array([True, False])),
        "half": attnkit.from_numpy(normal(rng, (2, 3))).to(attnkit.bfloat16),
    }
    path = str(tmp_path / "ours.safetensors")
    attnkit.io.save_file(tensors, path, metadata={"step": "7"})
    theirs = safetensors.torch.load_file(path)
    for name, t in tensors.items():
        np.testing.assert_array_equal(theirs[name].float().numpy(), to_numpy(t.to(attnkit.float32)), err_msg=name)
    with safetensors.safe_open(path, "pt") as f:
        assert f.metadata() == {"step": "7"}
    assert not [p for p in os.listdir(tmp_path) if ".tmp." in p]  # the temporary file was renamed away


def test_a_torch_transformer_state_dict_loads_unchanged(tmp_path, rng):
    options = dict(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=24,
                   dropout=0.0, batch_first=True)
    theirs = torch.nn.Transformer(**options).eval()
    path = str(tmp_path / "transformer.safetensors")
    safetensors.torch.save_file(theirs.state_dict(), path)
    ours = nn.Transformer(**options)
    result = ours.load_state_dict(attnkit.io.load_file(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    src, tgt = normal(rng, (2, 5, 16)), normal(rng, (2, 3, 16))
    expected = theirs(torch.from_numpy(src), torch.from_numpy(tgt)).detach().numpy()
    got = to_numpy(ours(attnkit.from_numpy(src), attnkit.from_numpy(tgt)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_damaged_files_are_clear_errors(tmp_path):
    path = tmp_path / "bad.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(4, np.float32)}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(ValueError, match=r"\(truncated file\).*bad.safetensors"):
        attnkit.io.load_file(str(path))
    path.write_bytes(data[:8] + b"{not json" + data[17:])
    with pytest.raises(ValueError, match="not valid JSON"):
        attnkit.io.load_file(str(path))
    path.write_bytes(b"\xff" * 8 + data[8:])
    with pytest.raises(ValueError, match="the header claims"):
        attnkit.io.load_file(str(path))
    with pytest.raises(ValueError, match="cannot open"):
        attnkit.io.load_file(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="size mismatch"):
        nn.Linear(3, 2).load_state_dict({"weight": np.zeros((2, 4), np.float32), "bias": np.zeros(2, np.float32)})
