"""GPT-2 against transformers' GPT2LMHeadModel on random-weight checkpoints of
several configs (GPT-2 small's among them): logits, the key/value cache,
greedy generation, attention weights, and what a broken folder does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import attnkit as ak
from model_fixtures import GPT2_CONFIGS, save_gpt2

LOGIT_TOLERANCE = 1e-4  # max abs difference (issue 5)


@pytest.fixture(scope="module", params=list(GPT2_CONFIGS))
def gpt2_pair(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"gpt2-{request.param}")
    reference = save_gpt2(folder, request.param)
    return request.param, folder, reference, ak.models.GPT2LMHeadModel.from_pretrained(str(folder))


@pytest.fixture(scope="module", params=[name for name in GPT2_CONFIGS if name != "gpt2-124M"])
def small_gpt2_pair(request, tmp_path_factory):
    """The configs other than 124M, for the tests whose reference (eager attention, many generate calls) is slow."""
    folder = tmp_path_factory.mktemp(f"small-gpt2-{request.param}")
    reference = save_gpt2(folder, request.param)
    return request.param, folder, reference, ak.models.GPT2LMHeadModel.from_pretrained(str(folder))


def random_ids(vocab: int, shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=shape, dtype=np.int64)


def test_logits_equal_transformers(gpt2_pair):
    name, _, reference, model = gpt2_pair
    ids = random_ids(reference.config.vocab_size, (2, 37), seed=1)
    with torch.no_grad():
        expected = reference(torch.from_numpy(ids)).logits.numpy()
    got = model(ak.from_numpy(ids)).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= LOGIT_TOLERANCE, name


def test_right_padding_leaves_real_tokens_unchanged(gpt2_pair):
    _, _, reference, model = gpt2_pair
    ids = random_ids(reference.config.vocab_size, (3, 20), seed=2)
    mask = np.ones_like(ids)
    mask[1, 12:] = 0
    mask[2, 5:] = 0
    with torch.no_grad():
        expected = reference(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
    got = model(ak.from_numpy(ids), attention_mask=ak.from_numpy(mask)).numpy()
    real = mask.astype(bool)
    assert np.abs(got[real] - expected[real]).max() <= LOGIT_TOLERANCE


def test_cache_steps_equal_one_pass(gpt2_pair):
    _, _, reference, model = gpt2_pair
    ids = random_ids(reference.config.vocab_size, (2, 24), seed=3)
    whole = model(ak.from_numpy(ids)).numpy()
    cache = model.make_cache(batch=2, capacity=24)
    pieces = [model(ak.from_numpy(ids[:, a:b]), cache=cache).numpy() for a, b in ((0, 10), (10, 11), (11, 24))]
    assert cache.length == 24
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5, rtol=0)


def test_greedy_generation_of_50_tokens_equals_transformers(gpt2_pair):
    name, _, reference, model = gpt2_pair
    prompt = random_ids(reference.config.vocab_size, (1, 12), seed=4)
    with torch.no_grad():
        expected = reference.generate(torch.from_numpy(prompt), max_new_tokens=50, do_sample=False,
                                      eos_token_id=None, pad_token_id=0)[0, 12:].tolist()
    tokens, reason = model.generate(prompt[0].tolist(), max_new_tokens=50, stop_token_ids=[])
    assert tokens == expected, name
    assert reason == "max_new_tokens"


def test_repetition_penalty_greedy_equals_transformers(small_gpt2_pair):
    _, _, reference, model = small_gpt2_pair
    prompt = random_ids(reference.config.vocab_size, (1, 8), seed=5)
    with torch.no_grad():
        expected = reference.generate(torch.from_numpy(prompt), max_new_tokens=30, do_sample=False,
                                      repetition_penalty=1.3, eos_token_id=None, pad_token_id=0)[0, 8:].tolist()
    tokens, _ = model.generate(prompt[0].tolist(), max_new_tokens=30, repetition_penalty=1.3, stop_token_ids=[])
    assert tokens == expected


def test_attention_weights_of_chosen_layers_and_heads(small_gpt2_pair):
    _, folder, _, model = small_gpt2_pair
    import transformers

    eager = transformers.GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()
    ids = random_ids(eager.config.vocab_size, (2, 16), seed=6)
    with torch.no_grad():
        expected = eager(torch.from_numpy(ids), output_attentions=True).attentions
    with ak.no_grad():  # inference: the weights come from the fused kernel's log-sum-exp
        logits, weights = model(ak.from_numpy(ids), output_attentions=True, attention_layers=[0, -1],
                                attention_heads=[1, 2])
        plain = model(ak.from_numpy(ids))
    assert len(weights) == 2
    for got, layer in zip(weights, (0, len(expected) - 1)):
        assert tuple(got.shape) == (2, 2, 16, 16)
        np.testing.assert_allclose(got.numpy(), expected[layer][:, 1:3].numpy(), atol=1e-5, rtol=0)
    # Asking for weights leaves the model on its fused path: the logits are bit-identical.
    np.testing.assert_array_equal(logits.numpy(), plain.numpy())


# ---------------------------------------------------------------- sampling ---

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2-tiny-sampling")
    reference = save_gpt2(folder, "tiny", seed=7)
    return folder, reference, ak.models.GPT2LMHeadModel.from_pretrained(str(folder))


def test_sampling_is_reproducible_by_seed_and_streams(tiny):
    _, _, model = tiny
    streamed = []
    first, _ = model.generate([1, 2, 3], max_new_tokens=40, do_sample=True, temperature=1.5, top_k=0,
                              seed=11, stop_token_ids=[], streamer=streamed.append)
    again, _ = model.generate([1, 2, 3], max_new_tokens=40, do_sample=True, temperature=1.5, top_k=0, seed=11,
                              stop_token_ids=[])
    other, _ = model.generate([1, 2, 3], max_new_tokens=40, do_sample=True, temperature=1.5, top_k=0, seed=12,
                              stop_token_ids=[])
    assert first == again == streamed
    assert first != other  # 40 draws from a near-uniform 300-way distribution


def test_top_k_1_and_tiny_top_p_are_greedy(tiny):
    _, _, model = tiny
    greedy, _ = model.generate([5, 6], max_new_tokens=20, stop_token_ids=[])
    for options in (dict(top_k=1), dict(top_k=0, top_p=1e-6)):
        sampled, _ = model.generate([5, 6], max_new_tokens=20, do_sample=True, seed=3, stop_token_ids=[], **options)
        assert sampled == greedy, options


def test_stop_tokens_callback_and_context(tiny):
    _, reference, model = tiny
    greedy, _ = model.generate([5, 6], max_new_tokens=20, stop_token_ids=[])
    stop = greedy[4]
    tokens, reason = model.generate([5, 6], max_new_tokens=20, stop_token_ids=[stop])
    assert tokens == greedy[: greedy.index(stop) + 1] and reason == "stop_token"
    tokens, reason = model.generate([5, 6], max_new_tokens=20, stop_token_ids=[], streamer=lambda token: False)
    assert len(tokens) == 1 and reason == "callback"
    n_positions = reference.config.n_positions
    # 123 prompt positions + 5 fed-back tokens fill the 128; the token predicted from position 127 is the last.
    tokens, reason = model.generate([1] * (n_positions - 5), max_new_tokens=20, stop_token_ids=[])
    assert len(tokens) == 6 and reason == "context_full"


@pytest.mark.parametrize("bad, message", [
    (dict(temperature=0.0), "temperature"),
    (dict(top_p=1.5), "top_p"),
    (dict(top_k=-1), "top_k"),
    (dict(repetition_penalty=0.0), "repetition_penalty"),
])
def test_bad_sampling_options(tiny, bad, message):
    _, _, model = tiny
    with pytest.raises(ValueError, match=message):
        model.generate([1], do_sample=True, **bad)


def test_prompts_longer_than_the_context_are_refused(tiny):
    _, reference, model = tiny
    n_positions = reference.config.n_positions
    with pytest.raises(ValueError, match=f"context is {n_positions}"):
        model.generate([1] * (n_positions + 1))
    with pytest.raises(ValueError, match="exceed the context"):
        model(ak.from_numpy(np.ones((1, n_positions + 1), dtype=np.int64)))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.generate([reference.config.vocab_size])


# ------------------------------------------------------------- bad folders ---

def broken_copy(tiny, tmp_path, edit):
    folder, _, _ = tiny
    target = tmp_path / "model"
    shutil.copytree(folder, target)
    edit(target)
    return str(target)


def edit_tensors(change):
    def edit(folder):
        tensors = load_file(folder / "model.safetensors")
        change(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    return edit


@pytest.mark.parametrize("edit, message", [
    (edit_tensors(lambda t: t.pop("transformer.h.1.mlp.c_fc.weight")), r"(?i)missing.*h\.1\.mlp\.c_fc\.weight"),
    (edit_tensors(lambda t: t.update({"transformer.ln_f.weight": torch.ones(3)})), r"ln_f\.weight"),
    (edit_tensors(lambda t: t.update({"transformer.extra": torch.ones(3)})), r"(?i)unexpected.*extra"),
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:5000]), "truncated"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"), "JSON"),
    (lambda f: (f / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda f: (f / "config.json").write_text(json.dumps({"model_type": "llama"})), "llama"),
    (lambda f: (f / "config.json").unlink(), "config.json"),
])
def test_broken_folders_are_clear_errors(tiny, tmp_path, edit, message):
    folder = broken_copy(tiny, tmp_path, edit)
    with pytest.raises((ValueError, RuntimeError), match=message):
        ak.models.GPT2LMHeadModel.from_pretrained(folder)


def test_gpt2_model_loads_lm_head_folders_and_state_dict_keys_match(tiny):
    folder, reference, model = tiny
    base = ak.models.GPT2Model.from_pretrained(str(folder))
    ids = random_ids(reference.config.vocab_size, (1, 9), seed=8)
    with torch.no_grad():
        expected = reference.transformer(torch.from_numpy(ids)).last_hidden_state.numpy()
    np.testing.assert_allclose(base(ak.from_numpy(ids)).numpy(), expected, atol=1e-5, rtol=0)
    ours = set(model.state_dict().keys())
    theirs = {k for k in reference.state_dict().keys() if k != "lm_head.weight"}
    assert ours == theirs
