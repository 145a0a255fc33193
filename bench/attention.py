#!/usr/bin/env python3
"""scaled_dot_product_attention: attnkit against torch in the same process.

The matrix of issue 3: B=1, H=12, head dim d in {64, 128}, length
N in {512, 1024, 2048, 4096, 8192}, causal and not, forward and
forward + backward. Both libraries run on the same thread count and are timed
alternately call by call; each row reports medians, the effective GFLOP/s
(forward 4·N²·d per head, halved when causal; forward + backward counted as
3.5 times the forward, FlashAttention-2's accounting), the fraction of this
machine's FMA peak, and the speedup torch_ms / attnkit_ms (> 1: attnkit is
faster).

    python bench/attention.py [--threads 2] [--repeats 3] [--n 512 2048]
                              [--d 64] [--modes fwd fwdbwd] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as TF

import attnkit
import attnkit.functional as F
from machine import print_machine

BATCH, HEADS = 1, 12


def _time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def run_case(length, dim, causal, backward, repeats, rng) -> dict:
    shape = (BATCH, HEADS, length, dim)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    ours = [attnkit.from_numpy(a.copy()) for a in arrays]
    theirs = [torch.from_numpy(a.copy()) for a in arrays]
    if backward:
        for t in ours:
            t.requires_grad = True
        for t in theirs:
            t.requires_grad_(True)
    upstream = rng.standard_normal(shape).astype(np.float32)
    up_ours, up_theirs = attnkit.from_numpy(upstream.copy()), torch.from_numpy(upstream.copy())

    def run_ours():
        out = F.scaled_dot_product_attention(*ours, is_causal=causal)
        if backward:
            out.backward(up_ours)

    def run_theirs():
        out = TF.scaled_dot_product_attention(*theirs, is_causal=causal)
        if backward:
            out.backward(up_theirs)

    check = F.scaled_dot_product_attention(*[t.detach() for t in ours], is_causal=causal).numpy()
    with torch.no_grad():
        expected = TF.scaled_dot_product_attention(*theirs, is_causal=causal).numpy()
    agree = bool(np.allclose(check, expected, rtol=1e-4, atol=1e-5))
    warmups = 2 if length <= 2048 else 1
    for _ in range(warmups):
        run_ours()
        run_theirs()
    ak, pt = [], []
    for _ in range(repeats):
        ak.append(_time_ms(run_ours))
        pt.append(_time_ms(run_theirs))
    attnkit_ms, torch_ms = statistics.median(ak), statistics.median(pt)
    flops = 4.0 * BATCH * HEADS * length * length * dim * (0.5 if causal else 1.0)
    flops *= 3.5 if backward else 1.0
    return {
        "case": f"{'fwdbwd' if backward else 'fwd'} N={length} d={dim} {'causal' if causal else 'noncausal'}",
        "attnkit_ms": attnkit_ms,
        "torch_ms": torch_ms,
        "speedup": torch_ms / attnkit_ms,
        "attnkit_gflops": flops / attnkit_ms / 1e6,
        "allclose": agree,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--d", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--modes", nargs="+", default=["fwd", "fwdbwd"], choices=["fwd", "fwdbwd"])
    parser.add_argument("--causal", nargs="+", default=["noncausal", "causal"], choices=["noncausal", "causal"])
    parser.add_argument("--json", help="write the rows as a JSON list")
    args = parser.parse_args()
    attnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    peak = print_machine(args.threads)  # measured for the ISA the kernels use
    rng = np.random.default_rng(0)
    rows = []
    print(f"scaled_dot_product_attention, B={BATCH} H={HEADS} fp32, {args.threads} threads, "
          f"median of {args.repeats}, FMA peak {peak:.0f} GFLOP/s")
    print(f"{'case':30s} {'attnkit ms':>11s} {'torch ms':>10s} {'GFLOP/s':>8s} {'% peak':>7s} {'speedup':>8s}  ok",
          flush=True)
    for mode in args.modes:
        for dim in args.d:
            for length in args.n:
                for causal in args.causal:
                    row = run_case(length, dim, causal == "causal", mode == "fwdbwd", args.repeats, rng)
                    rows.append(row)
                    print(f"{row['case']:30s} {row['attnkit_ms']:11.2f} {row['torch_ms']:10.2f} "
                          f"{row['attnkit_gflops']:8.1f} {100 * row['attnkit_gflops'] / peak:6.1f}% "
                          f"{row['speedup']:8.2f}  {'yes' if row['allclose'] else 'NO'}", flush=True)
    print(f"geometric-mean speedup: {statistics.geometric_mean(r['speedup'] for r in rows):.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0 if all(r["allclose"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
