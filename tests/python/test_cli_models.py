"""The attnkit command's model subcommands (embed, generate, fill-mask)
against the Python references, run as a user runs them: a subprocess on
model folders. The command is the release build's (scripts/test builds it
before pytest)."""

from __future__ import annotations

import json
import pathlib
import subprocess

import numpy as np
import pytest
import torch

from model_fixtures import minilm_folder, save_bert_mlm_with_tokenizer, save_gpt2_with_tokenizer

ATTNKIT = pathlib.Path(__file__).resolve().parents[2] / "build" / "release" / "cli" / "attnkit"


def run(*args, stdin: str | None = None, expect_ok: bool = True) -> subprocess.CompletedProcess:
    assert ATTNKIT.exists(), f"{ATTNKIT} is missing: build the release preset first (./scripts/test does)"
    result = subprocess.run([str(ATTNKIT), *map(str, args)], input=stdin, capture_output=True, text=True,
                            timeout=300)
    if expect_ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def sentence_transformer():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_folder()), device="cpu")


def test_embed_prints_json_lines_equal_to_sentence_transformers(sentence_transformer):
    texts = ["A man is eating food.", "我们今天去公园散步吧", "emoji 🙂 and ünïcödé"]
    lines = run("embed", "--model", minilm_folder(), *texts).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["text"] for r in rows] == texts
    got = np.array([r["embedding"] for r in rows], dtype=np.float32)
    expected = sentence_transformer.encode(texts, convert_to_numpy=True)
    assert np.abs(got - expected).max() <= 1e-4


def test_embed_reads_stdin_and_writes_npy(sentence_transformer, tmp_path):
    texts = ["first line", "second line, a little longer", "third"]
    out = tmp_path / "embeddings.npy"
    run("embed", "--model", minilm_folder(), "-o", out, stdin="\n".join(texts) + "\n")
    got = np.load(out)
    assert got.shape == (3, 384) and got.dtype == np.float32
    assert np.abs(got - sentence_transformer.encode(texts, convert_to_numpy=True)).max() <= 1e-4


def test_generate_greedy_text_equals_transformers(tmp_path):
    import transformers

    folder = tmp_path / "gpt2"
    reference = save_gpt2_with_tokenizer(folder, seed=3)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    prompt = "The attention layer reads"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        out = reference.generate(ids, max_new_tokens=25, do_sample=False, eos_token_id=None, pad_token_id=0)
    expected = tokenizer.decode(out[0], skip_special_tokens=True)
    result = run("generate", "--model", folder, "--prompt", prompt, "-n", 25, "--no-stop")
    assert result.stdout == expected + "\n"
    assert "25 generated" in result.stderr


def test_generate_sampling_is_reproducible_by_seed(tmp_path):
    folder = tmp_path / "gpt2"
    save_gpt2_with_tokenizer(folder, seed=4)
    args = ("generate", "--model", folder, "--prompt", "Once", "-n", 30, "--sample", "--top-p", "0.9", "--no-stop")
    first = run(*args, "--seed", 1).stdout
    assert first == run(*args, "--seed", 1).stdout
    assert first != run(*args, "--seed", 2).stdout


def test_fill_mask_equals_the_transformers_pipeline(tmp_path):
    import transformers

    folder = tmp_path / "bert"
    save_bert_mlm_with_tokenizer(folder, seed=5)
    pipeline = transformers.pipeline("fill-mask", model=str(folder), device="cpu", top_k=5)
    text = "Paris is the [MASK] of France."
    expected = pipeline(text)
    rows = [json.loads(line) for line in run("fill-mask", "--model", folder, "--json", text).stdout.splitlines()]
    assert [r["token"] for r in rows] == [e["token"] for e in expected]
    assert [r["token_str"] for r in rows] == [e["token_str"] for e in expected]
    assert [r["sequence"] for r in rows] == [e["sequence"] for e in expected]
    np.testing.assert_allclose([r["score"] for r in rows], [e["score"] for e in expected], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("command", ["embed", "generate", "fill-mask"])
def test_help_describes_every_command(command):
    text = run(command, "--help").stdout
    assert "--model" in text and "--threads" in text


def test_bad_input_is_a_clear_error(tmp_path):
    folder = tmp_path / "bert"
    save_bert_mlm_with_tokenizer(folder, seed=6)
    result = run("fill-mask", "--model", folder, "no mask here", expect_ok=False)
    assert result.returncode != 0 and "[MASK] once, it has none" in result.stderr
    result = run("fill-mask", "--model", folder, "[MASK] and [MASK]", expect_ok=False)
    assert result.returncode != 0 and "it has 2" in result.stderr
    result = run("generate", "--model", folder, "--prompt", "hi", expect_ok=False)  # a BERT folder
    assert result.returncode != 0 and "gpt2" in result.stderr
    result = run("embed", "--model", tmp_path / "missing", "x", expect_ok=False)
    assert result.returncode != 0 and "missing" in result.stderr
    gpt2 = tmp_path / "gpt2"
    save_gpt2_with_tokenizer(gpt2, seed=7, n_positions=16)
    result = run("generate", "--model", gpt2, "--prompt", "word " * 40, expect_ok=False)
    assert result.returncode != 0 and "context is 16" in result.stderr
