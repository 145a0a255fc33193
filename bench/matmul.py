#!/usr/bin/env python3
"""float32 matmul: attnkit against torch.matmul in the same process.

Both libraries run on the same number of threads (2 by default) and are timed
alternately, repetition by repetition, so that clock drift, a noisy neighbour
or thermal throttling hits both alike. Each case reports the median of the
repetitions, the GFLOP/s of each library, the speedup (torch_ms / attnkit_ms,
> 1 means attnkit is faster) and attnkit's fraction of the CPU's FMA peak as
measured by bench/fma_peak on the same thread count.

    python bench/matmul.py [--threads 2] [--repeats 7] [--json FILE] [--no-lock]

While measuring it holds the build lock (/tmp/attnkit-build.lock), so no
build runs on the two cores meanwhile; pass --no-lock when already running
under `flock` on that file. Every case also checks once that both libraries
give the same product, and the exit status is 1 if any disagrees.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import attnkit
from machine import BUILD_LOCK, build_lock, find_or_build_fma_peak, fma_peak, print_machine



@dataclass(frozen=True)
class Case:
    name: str
    a_shape: tuple[int, ...]  # (..., m, k)
    b_shape: tuple[int, ...]  # (..., k, n), or (..., n, k) when b_transposed
    b_transposed: bool = False  # b is passed as a transposed view, as a Linear weight (out, in)

    @property
    def flops(self) -> int:
        *batch, m, k = self.a_shape
        n = self.b_shape[-2] if self.b_transposed else self.b_shape[-1]
        return 2 * math.prod(batch) * m * n * k

    @property
    def shape_str(self) -> str:
        b = "x".join(map(str, self.b_shape)) + ("^T" if self.b_transposed else "")
        return "x".join(map(str, self.a_shape)) + " @ " + b


CASES = [
    *(Case(f"square {n}", (n, n), (n, n)) for n in (128, 256, 512, 1024, 2048)),
    # GPT-2 small / BERT-base, 8 sequences of 512 tokens flattened to 4096 rows.
    Case("mlp up (c_fc)", (4096, 768), (768, 3072)),
    Case("mlp down (c_proj)", (4096, 3072), (3072, 768)),
    Case("attn out proj", (4096, 768), (768, 768)),
    # nn.Linear stores its weight (out, in) and computes x @ W^T on a transposed view.
    Case("linear x @ W^T", (4096, 768), (3072, 768), b_transposed=True),
    # Attention scores and context per head: 12 heads, 512 tokens, head dim 64.
    Case("attn scores q @ k^T", (12, 512, 64), (12, 64, 512)),
    Case("attn context p @ v", (12, 512, 512), (12, 512, 64)),
    # A decoding step: one row (or a few sequences' rows) through GPT-2's
    # weights, which are read once per token.
    Case("decode mlp up, 1 row", (1, 768), (768, 3072)),
    Case("decode mlp up, 4 rows", (4, 768), (768, 3072)),
    Case("decode lm head x @ W^T", (1, 768), (50257, 768), b_transposed=True),
]


# ------------------------------------------------------------------ timing ---

def _operands(case: Case, rng: np.random.Generator):
    """The same random inputs for both libraries, scaled so products are O(1)."""
    k = case.a_shape[-1]
    a = (rng.standard_normal(case.a_shape, dtype=np.float32) / np.sqrt(k)).astype(np.float32)
    b = rng.standard_normal(case.b_shape, dtype=np.float32)
    a_ak, b_ak = attnkit.from_numpy(a), attnkit.from_numpy(b)
    a_pt, b_pt = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    if case.b_transposed:
        b_ak, b_pt = b_ak.transpose(-2, -1), b_pt.transpose(-2, -1)
    return (a_ak, b_ak), (a_pt, b_pt)


def _time_ms(fn, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) * 1e3 / inner


def run_case(case: Case, repeats: int, warmup: int, rng: np.random.Generator) -> dict:
    (a_ak, b_ak), (a_pt, b_pt) = _operands(case, rng)

    def run_attnkit():
        return attnkit.matmul(a_ak, b_ak)

    def run_torch():
        return torch.matmul(a_pt, b_pt)

    # Agreement first: K-term float32 dot products of O(1/sqrt(K)) * O(1) terms
    # differ by summation order only, ~sqrt(K) * 2^-24 relative; 1e-4 leaves room.
    got, want = run_attnkit().numpy(), run_torch().numpy()
    ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-4)

    for _ in range(warmup):  # primitive creation, page faults, clock ramp-up
        run_attnkit()
        run_torch()

    # Small products take microseconds: loop enough calls into one sample that
    # the timer's resolution and the Python call overhead stay below ~1%.
    inner = max(1, int(2e8 // case.flops))
    ak_ms, pt_ms = [], []
    for rep in range(repeats):
        # Alternate which library goes first so neither always inherits a warm cache.
        order = ((run_attnkit, ak_ms), (run_torch, pt_ms))
        for fn, samples in (order if rep % 2 == 0 else order[::-1]):
            samples.append(_time_ms(fn, inner))

    attnkit_ms, torch_ms = statistics.median(ak_ms), statistics.median(pt_ms)
    return {
        "case": case.name,
        "shape": case.shape_str,
        "attnkit_ms": attnkit_ms,
        "torch_ms": torch_ms,
        "speedup": torch_ms / attnkit_ms,
        "attnkit_gflops": case.flops / attnkit_ms * 1e-6,
        "torch_gflops": case.flops / torch_ms * 1e-6,
        "allclose": bool(ok),
    }


def run_all(repeats: int, warmup: int, peak: float) -> list[dict]:
    rng = np.random.default_rng(0)
    header = (f"{'case':<22} {'shape':<30} {'attnkit ms':>10} {'torch ms':>9} "
              f"{'attnkit GF/s':>12} {'torch GF/s':>10} {'speedup':>7} {'% peak':>6}  ok")
    print(header)
    print("-" * len(header))
    rows = []
    with attnkit.no_grad(), torch.no_grad():
        for case in CASES:
            row = run_case(case, repeats, warmup, rng)
            row["peak_gflops"] = peak
            row["fraction_of_peak"] = row["attnkit_gflops"] / peak
            rows.append(row)
            print(f"{row['case']:<22} {row['shape']:<30} {row['attnkit_ms']:>10.3f} "
                  f"{row['torch_ms']:>9.3f} {row['attnkit_gflops']:>12.1f} "
                  f"{row['torch_gflops']:>10.1f} {row['speedup']:>7.2f} "
                  f"{100 * row['fraction_of_peak']:>5.1f}%  {'yes' if row['allclose'] else 'NO'}",
                  flush=True)
    return rows


# ------------------------------------------------------------------- main ---

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per library")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peak", type=float, default=None, help="FMA peak GFLOP/s (skips the probe)")
    parser.add_argument("--json", type=Path, default=None, help="write the results as a JSON list")
    parser.add_argument("--no-lock", action="store_true",
                        help=f"do not hold {BUILD_LOCK} while measuring (e.g. already under flock)")
    args = parser.parse_args()

    attnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    # Built (if need be) before taking the lock, since the build takes it too.
    binary = None if args.peak is not None else find_or_build_fma_peak()

    with build_lock(enabled=not args.no_lock):
        if args.peak is not None:
            peak, peak_source = args.peak, "--peak"
        else:
            peak, peak_source = fma_peak(binary, args.threads)
        # Two threads on two cores: anything else running stalls OpenMP
        # barriers for whole scheduler slices and ruins the numbers.
        load = os.getloadavg()[0]
        if args.no_lock and load > 0.5:
            print(f"WARNING: 1-minute load average is {load:.2f}; timings are unreliable on a busy machine",
                  file=sys.stderr)
        print_machine(args.threads, (peak, peak_source))
        print(f"float32 matmul, {args.threads} threads, median of {args.repeats}")
        rows = run_all(args.repeats, args.warmup, peak)

    speedups = [row["speedup"] for row in rows]
    geomean = math.exp(sum(map(math.log, speedups)) / len(speedups))
    print(f"geometric-mean speedup (torch_ms / attnkit_ms): {geomean:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}")
    mismatches = [row["case"] for row in rows if not row["allclose"]]
    if mismatches:
        print(f"ERROR: attnkit and torch disagree on: {', '.join(mismatches)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
