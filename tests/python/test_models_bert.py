"""BERT against transformers' BertModel / BertForMaskedLM: random-weight
models of a small config, and the real all-MiniLM-L6-v2 checkpoint against
sentence-transformers' embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnkit as ak
from model_fixtures import minilm_folder, save_bert_mlm


@pytest.fixture(scope="module")
def mlm_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert-mlm")
    reference = save_bert_mlm(folder, seed=1)
    return folder, reference, ak.models.BertForMaskedLM.from_pretrained(str(folder))


def batch(vocab: int, seed: int, lengths=(12, 7, 1, 12), pad: str = "right"):
    rng = np.random.default_rng(seed)
    length = max(lengths)
    ids = rng.integers(1, vocab, size=(len(lengths), length), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        if pad == "right":
            mask[row, :n] = 1
        else:
            mask[row, length - n:] = 1
    ids[mask == 0] = 0
    types = (np.arange(length)[None, :] >= length // 2).astype(np.int64).repeat(len(lengths), 0)
    return ids, mask, types


@pytest.mark.parametrize("pad", ["right", "left"])
def test_fill_mask_logits_equal_bert_for_masked_lm(mlm_pair, pad):
    _, reference, model = mlm_pair
    ids, mask, types = batch(reference.config.vocab_size, seed=2, pad=pad)
    with torch.no_grad():
        expected = reference(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             token_type_ids=torch.from_numpy(types)).logits.numpy()
    with ak.no_grad():
        got = model(ak.from_numpy(ids), attention_mask=ak.from_numpy(mask), token_type_ids=ak.from_numpy(types))
    real = mask.astype(bool)
    assert np.abs(got.numpy()[real] - expected[real]).max() <= 1e-4
    assert np.all(got.numpy()[~real] == 0)


def test_bert_model_and_pooler_equal_transformers(mlm_pair, tmp_path):
    import transformers

    torch.manual_seed(3)
    config = transformers.BertConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=100, max_position_embeddings=40, hidden_act="gelu_new")
    reference = transformers.BertModel(config).eval()
    reference.save_pretrained(tmp_path)
    model = ak.models.BertModel.from_pretrained(str(tmp_path))
    ids, mask, types = batch(300, seed=4, lengths=(9, 9, 9))  # no padding: one batched call
    with torch.no_grad():
        out = reference(input_ids=torch.from_numpy(ids), token_type_ids=torch.from_numpy(types))
    with ak.no_grad():
        hidden, pooled = model(ak.from_numpy(ids), token_type_ids=ak.from_numpy(types))
    np.testing.assert_allclose(hidden.numpy(), out.last_hidden_state.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(pooled.numpy(), out.pooler_output.numpy(), atol=1e-4, rtol=0)


def test_attention_weights_equal_eager_attention(mlm_pair):
    import transformers

    folder, reference, model = mlm_pair
    eager = transformers.BertForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    ids, mask, _ = batch(reference.config.vocab_size, seed=5)
    with torch.no_grad():
        expected = eager(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                         output_attentions=True).attentions
    with ak.no_grad():
        _, weights = model(ak.from_numpy(ids), attention_mask=ak.from_numpy(mask), output_attentions=True,
                           attention_layers=[1], attention_heads=[0, 3])
    got = weights[0].numpy()
    want = expected[1][:, [0, 3]].numpy()
    real = mask.astype(bool)
    for row in range(ids.shape[0]):  # real queries against real keys; transformers' pads are junk rows
        rows = got[row][:, real[row]][:, :, real[row]]
        np.testing.assert_allclose(rows, want[row][:, real[row]][:, :, real[row]], atol=1e-5, rtol=0)


def test_gradients_reach_the_embeddings(mlm_pair):
    _, reference, model = mlm_pair
    ids, mask, _ = batch(reference.config.vocab_size, seed=6)
    logits = model(ak.from_numpy(ids), attention_mask=ak.from_numpy(mask))
    logits.sum().backward()
    grad = dict(model.named_parameters())["bert.embeddings.word_embeddings.weight"].grad
    assert grad is not None and float(ak.abs(grad).sum()) > 0


# ----------------------------------------------------------------- MiniLM ---

@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    folder = minilm_folder()
    return SentenceTransformer(str(folder), device="cpu"), ak.models.BertModel.from_pretrained(str(folder))


def test_minilm_hidden_states_pooled_equal_sentence_transformers(minilm):
    reference, model = minilm
    sentences = ["A man is eating food.", "Ein Mann isst.", "我们今天去公园散步吧", "🙂 emoji and ünïcödé",
                 "word " * 300]
    expected = reference.encode(sentences, convert_to_numpy=True)
    enc = reference.tokenizer(sentences, padding=True, truncation=True, max_length=reference.max_seq_length,
                              return_tensors="np")
    with ak.no_grad():
        hidden, _ = model(ak.from_numpy(enc["input_ids"]), attention_mask=ak.from_numpy(enc["attention_mask"]))
    mask = enc["attention_mask"][..., None]
    pooled = (hidden.numpy() * mask).sum(1) / mask.sum(1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.abs(pooled - expected).max() <= 1e-4
    assert (pooled * expected).sum(1).min() >= 0.99999
