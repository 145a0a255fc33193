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

MINILM_SENTENCES = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "Ein Mann isst Essen.", "Un homme mange de la nourriture.", "Café naïve résumé déjà vu",
    "我们今天去公园散步吧", "東京は日本の首都です。", "안녕하세요, 세계!", "Привет, мир!", "مرحبا بالعالم",
    "mixed: English中文日本語한국어Русский", "emoji 😀🤗👍🏽 family 👨‍👩‍👧‍👦 🇫🇷", "🙂",
    "odd   spacing\t\ttabs\n\nnewlines", "", "numbers 3.14159 1,000,000 2024-01-01",
    "word " * 300,  # past max_seq_length (256)
    "Long sentence about attention mechanisms in deep learning, repeated. " * 40,
]


@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    folder = minilm_folder()
    return (SentenceTransformer(str(folder), device="cpu"), ak.models.SentenceEmbedder.from_pretrained(str(folder)),
            folder)


@pytest.fixture(scope="module")
def minilm_sentences():
    from tokenizer_fixtures import varied_strings

    return MINILM_SENTENCES + varied_strings(230, seed=5)


def test_minilm_embeddings_equal_sentence_transformers(minilm, minilm_sentences):
    reference, embedder, _ = minilm
    assert len(minilm_sentences) >= 200
    expected = reference.encode(minilm_sentences, batch_size=32, convert_to_numpy=True)
    got = embedder.encode(minilm_sentences, batch_size=32).numpy()
    assert got.shape == expected.shape == (len(minilm_sentences), 384)
    cosine = (got * expected).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    assert cosine.min() >= 0.99999, minilm_sentences[int(cosine.argmin())]
    assert np.abs(got - expected).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)  # Normalize module


def test_minilm_token_ids_equal_the_hugging_face_tokenizer(minilm, minilm_sentences):
    reference, embedder, folder = minilm
    ours = ak.tokenizers.Tokenizer.from_pretrained(str(folder))
    ours.enable_truncation(embedder.max_seq_length)
    ours.no_padding()  # tokenizer.json pads to 128; sentence-transformers asks for none per sentence
    for sentence in minilm_sentences:
        theirs = reference.tokenizer(sentence, truncation=True, max_length=reference.max_seq_length)["input_ids"]
        assert ours.encode(sentence).ids == theirs, repr(sentence)


def test_minilm_embeddings_do_not_depend_on_the_batch(minilm, minilm_sentences):
    _, embedder, _ = minilm
    some = minilm_sentences[:40]
    together = embedder.encode(some, batch_size=40).numpy()
    alone = np.concatenate([embedder.encode([s]).numpy() for s in some])
    np.testing.assert_allclose(together, alone, atol=2e-6, rtol=0)


def test_minilm_hidden_states_equal_transformers(minilm):
    import transformers

    reference, _, folder = minilm
    model = ak.models.BertModel.from_pretrained(str(folder))
    torch_model = transformers.BertModel.from_pretrained(folder).eval()
    enc = reference.tokenizer(MINILM_SENTENCES[:8], padding=True, return_tensors="np")
    with torch.no_grad():
        out = torch_model(**{k: torch.from_numpy(v) for k, v in enc.items()})
    with ak.no_grad():
        hidden, pooled = model(ak.from_numpy(enc["input_ids"]), attention_mask=ak.from_numpy(enc["attention_mask"]),
                               token_type_ids=ak.from_numpy(enc["token_type_ids"]))
    real = enc["attention_mask"].astype(bool)
    assert np.abs(hidden.numpy()[real] - out.last_hidden_state.numpy()[real]).max() <= 1e-4
    assert np.abs(pooled.numpy() - out.pooler_output.numpy()).max() <= 1e-4  # every row's [CLS] is real


def test_sentence_embedder_refuses_what_it_does_not_run(minilm, tmp_path):
    import json
    import shutil

    _, _, folder = minilm
    target = tmp_path / "model"
    shutil.copytree(folder, target)
    modules = json.loads((target / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (target / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="Dense"):
        ak.models.SentenceEmbedder.from_pretrained(str(target))
