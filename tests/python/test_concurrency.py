"""Many Python threads at once give the bits one thread gives.

attnkit releases the GIL inside its calls, so threads of a web server or a
thread pool really run them at the same time. Each case computes its outputs
once, then on 4 threads started together (3 rounds each), and every output
must equal the serial one bit for bit: ops forward and backward, the fused
attention, convolution, GPT-2 / BERT / all-MiniLM-L6-v2 inference on one
shared model and on separate ones, the tokenizers, and training of separate
models. test_every_backend_and_isa runs the same cases in a fresh process for
each GEMM backend (ATTNKIT_GEMM) and ISA path (ATTNKIT_ISA) this CPU has.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

import attnkit as ak
import attnkit.functional as F
from model_fixtures import minilm_folder, save_bert_mlm, save_gpt2

THREADS = 4
ROUNDS = 3


def _arrays(outputs) -> list[np.ndarray]:
    return [np.array(o.numpy() if isinstance(o, ak.Tensor) else o, copy=True) for o in outputs]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_from_threads(work) -> None:
    """work() -> list of tensors / arrays; serial once, then THREADS x ROUNDS at once."""
    expected = _arrays(work())
    start = threading.Barrier(THREADS)
    lock = threading.Lock()
    mismatches: list[str] = []
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        start.wait()
        try:
            for round_ in range(ROUNDS):
                got = _arrays(work())
                with lock:
                    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
                        if not _same_bits(g, e):
                            diff = np.abs(g.astype(np.float64) - e.astype(np.float64)).max() if g.shape == e.shape else "shape"
                            mismatches.append(f"thread {thread} round {round_} output {i}: max diff {diff}")
        except BaseException as error:  # noqa: BLE001 - reported on the main thread
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert not mismatches, f"{len(mismatches)} outputs differ from the serial run; first: {mismatches[0]}"


def _randn(seed: int, *shape: int, requires_grad: bool = False, scale: float = 1.0) -> ak.Tensor:
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * scale
    t = ak.from_numpy(values)
    return t.requires_grad_() if requires_grad else t


# ------------------------------------------------------------------ cases ---

def test_matmul_512():
    # The first report: 4 threads of a @ b on the oneDNN backend.
    a, b = _randn(1, 512, 512), _randn(2, 512, 512)
    assert_same_from_threads(lambda: [a @ b, a @ b.T, a[:1] @ b])


def test_op_families_forward_and_backward():
    def work():
        x = _randn(3, 37, 300, requires_grad=True)
        w = _randn(4, 300, 53, requires_grad=True)
        gamma, beta = _randn(5, 300, requires_grad=True), _randn(6, 300, requires_grad=True)
        y = F.layer_norm(F.gelu(x) * 0.5 + x.exp().sqrt(), (300,), gamma, beta)
        logits = y @ w
        target = ak.from_numpy(np.arange(37, dtype=np.int64) % 53)
        loss = F.cross_entropy(logits, target) + F.softmax(logits, -1).pow(2).sum() + y.var(0).sum()
        loss.backward()
        return [y, logits, loss, x.grad, w.grad, gamma.grad, beta.grad]

    assert_same_from_threads(work)


@pytest.mark.parametrize("is_causal", [False, True])
def test_fused_attention_forward_and_backward(is_causal):
    def work():
        # 3 heads: the backward splits leftover problems' key blocks over threads.
        q = _randn(7, 1, 3, 200, 64, requires_grad=True)
        k = _randn(8, 1, 3, 200, 64, requires_grad=True)
        v = _randn(9, 1, 3, 200, 48, requires_grad=True)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        (out * _randn(10, 1, 3, 200, 48)).sum().backward()
        return [out, q.grad, k.grad, v.grad]

    assert_same_from_threads(work)


def test_convolution_and_vision_layers():
    def work():
        x = _randn(11, 4, 8, 20, 24, requires_grad=True)
        weight = _randn(12, 16, 8, 3, 3, requires_grad=True, scale=0.2)
        y = F.max_pool2d(F.relu(F.conv2d(x, weight, padding=1)), 2)
        (y * y).sum().backward()
        return [y, x.grad, weight.grad]

    assert_same_from_threads(work)


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("gpt2")
    save_gpt2(folder, "tiny")
    return folder


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("bert")
    save_bert_mlm(folder)
    return folder


def _gpt2_outputs(model) -> list:
    ids = ak.from_numpy(np.array([[1, 5, 9, 13, 2, 7, 30, 31], [4, 4, 8, 200, 100, 12, 3, 9]], dtype=np.int64))
    greedy, _ = model.generate([1, 5, 9], max_new_tokens=12, stop_token_ids=[])
    sampled, _ = model.generate([7, 7], max_new_tokens=12, do_sample=True, top_p=0.9, seed=11, stop_token_ids=[])
    return [model(ids), np.array(greedy), np.array(sampled)]


def test_one_gpt2_model_shared_by_all_threads(gpt2_folder):
    model = ak.models.GPT2LMHeadModel.from_pretrained(str(gpt2_folder))
    with ak.no_grad():
        assert_same_from_threads(lambda: _gpt2_outputs(model))


def test_separate_gpt2_models(gpt2_folder):
    def work():
        with ak.no_grad():
            return _gpt2_outputs(ak.models.GPT2LMHeadModel.from_pretrained(str(gpt2_folder)))

    assert_same_from_threads(work)


def test_one_bert_shared_by_all_threads(bert_folder):
    model = ak.models.BertForMaskedLM.from_pretrained(str(bert_folder))
    ids = ak.from_numpy(np.array([[2, 5, 6, 10, 3, 0], [2, 7, 8, 9, 11, 3]], dtype=np.int64))
    mask = ak.from_numpy(np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=np.int64))
    with ak.no_grad():
        assert_same_from_threads(lambda: [model(ids, mask)])


SENTENCES = [f"Sentence {i} is about {topic}, and a few more words follow it."
             for i, topic in enumerate(["cats", "dogs", "the weather", "attention", "trains", "rivers"] * 4)]


def test_one_sentence_embedder_shared_by_all_threads():
    embedder = ak.models.SentenceEmbedder.from_pretrained(str(minilm_folder()))
    assert_same_from_threads(lambda: [embedder.encode(SENTENCES, batch_size=8)])


def test_separate_sentence_embedders():
    # The second report: two embedders encoding in two threads.
    embedders = [ak.models.SentenceEmbedder.from_pretrained(str(minilm_folder())) for _ in range(THREADS)]
    expected = embedders[0].encode(SENTENCES).numpy().copy()
    results: dict[int, np.ndarray] = {}

    def run(i):
        for _ in range(ROUNDS):
            results[i] = embedders[i].encode(SENTENCES).numpy().copy()
            assert _same_bits(results[i], expected)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(THREADS):
        assert _same_bits(results[i], expected), f"embedder {i} differs"


def test_tokenizers_shared_and_fresh():
    folder = minilm_folder()
    texts = [s + " Unaffable café 中文 naïve" for s in SENTENCES] * 3
    shared = ak.tokenizers.Tokenizer.from_file(folder / "tokenizer.json")

    def encode(tok):
        encodings = tok.encode_batch(texts)
        ids = [np.array(e.ids) for e in encodings]
        decoded = tok.decode_batch([e.ids for e in encodings])
        return ids + [np.array([len(d) for d in decoded])]

    assert_same_from_threads(lambda: encode(shared))
    assert_same_from_threads(lambda: encode(ak.tokenizers.Tokenizer.from_file(folder / "tokenizer.json")))


def test_training_separate_models_under_their_own_generators():
    def work():
        with ak.generator_scope(ak.Generator(17)):  # initial weights and dropout masks
            model = ak.nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                      dim_feedforward=48, dropout=0.1, batch_first=True)
            model.train()
            optimizer = ak.optim.AdamW(model.parameters(), lr=1e-3)
            src, tgt = _randn(41, 3, 9, 32), _randn(42, 3, 7, 32)
            for _ in range(5):
                optimizer.zero_grad()
                out = model(src, tgt)
                (out * out).sum().backward()
                optimizer.step()
            return list(model.parameters())

    assert_same_from_threads(work)


def test_generator_scope_is_per_thread_and_restored():
    outside = ak.default_generator().get_state()
    with ak.generator_scope(ak.Generator(5)) as generator:
        first = ak.randn(4).numpy().copy()
        assert generator.get_state() != (5, 0)
    assert ak.default_generator().get_state() == outside  # the default generator drew nothing
    with ak.generator_scope(ak.Generator(5)):
        np.testing.assert_array_equal(ak.randn(4).numpy(), first)
    with pytest.raises(TypeError):
        ak.generator_scope(3)


def test_no_grad_instance_shared_by_threads():
    # One no_grad object entered by several threads: each restores its own mode.
    shared = ak.no_grad()
    start = threading.Barrier(THREADS)
    modes = []

    def run():
        start.wait()
        for _ in range(200):
            with shared:
                pass
        modes.append(ak.is_grad_enabled())

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert modes == [True] * THREADS


def test_shared_vision_block_refuses_instead_of_mixing():
    # A block that keeps its last attention map belongs to one thread at a
    # time: a second caller gets a RuntimeError naming it, never a wrong map.
    block = ak.nn.vision.SqueezeExcite(64)
    x = _randn(60, 8, 64, 24, 24)
    expected = block(x).numpy().copy()
    expected_map = block.attention_map.numpy().copy()
    start = threading.Barrier(THREADS)
    refusals, wrong = [], []

    def run():
        start.wait()
        for _ in range(20):
            try:
                if not _same_bits(block(x).numpy(), expected):
                    wrong.append(1)
            except RuntimeError as error:
                refusals.append(str(error))

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    for message in refusals:
        assert "SqueezeExcite: this object is in use by another thread" in message
    # Every call read the same input: the map kept is the serial one, not a mix.
    assert _same_bits(block.attention_map.numpy(), expected_map)


# ------------------------------------------- every backend and ISA path ---

def _paths() -> list[tuple[str, str]]:
    flags = pathlib.Path("/proc/cpuinfo").read_text() if pathlib.Path("/proc/cpuinfo").exists() else ""
    isas = ["scalar"] + (["avx2"] if " avx2" in flags else []) + (["avx512"] if " avx512f" in flags else [])
    return [(gemm, isa) for gemm in ("attnkit", "onednn") for isa in isas]


@pytest.mark.parametrize("gemm,isa", _paths())
def test_every_backend_and_isa(gemm, isa):
    env = dict(os.environ, ATTNKIT_GEMM=gemm)
    if isa == "avx512":
        env.pop("ATTNKIT_ISA", None)  # the best path is the default
    else:
        env["ATTNKIT_ISA"] = isa
    # The model cases are covered per path by the C++ suite; here the ops,
    # attention, convolution, embeddings and training.
    selection = "matmul or op_families or fused_attention or convolution or sentence_embedder or training"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                             "-k", selection], env=env, capture_output=True, text=True,
                            cwd=pathlib.Path(__file__).parent)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
