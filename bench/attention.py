#!/usr/bin/env python3
"""scaled_dot_product_attention: attnkit against torch in the same process.

Forward, and forward + backward, of attention-shaped problems (batch, heads,
length, head dim), with and without a causal mask, both libraries on the same
thread count, timed alternately repetition by repetition; each row reports
medians and the speedup torch_ms / attnkit_ms (> 1: attnkit is faster).

attnkit's scaled_dot_product_attention is for now composed from ops (the
reference, O(L·S) memory); this harness is the yardstick for the fused
kernel that replaces it.

    python bench/attention.py [--threads 2] [--repeats 5] [--json FILE]
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

CASES = [  # (name, batch, heads, length, head_dim, causal)
    ("gpt2-small 512", 1, 12, 512, 64, True),
    ("bert 128 x8", 8, 12, 128, 64, False),
    ("long 2048", 1, 8, 2048, 64, True),
    ("wide head 256", 2, 4, 256, 128, False),
]


def _time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def run_case(name, batch, heads, length, dim, causal, backward, repeats, rng) -> dict:
    shape = (batch, heads, length, dim)
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
    for _ in range(2):  # warm-up
        run_ours()
        run_theirs()
    ak, pt = [], []
    for _ in range(repeats):
        ak.append(_time_ms(run_ours))
        pt.append(_time_ms(run_theirs))
    attnkit_ms, torch_ms = statistics.median(ak), statistics.median(pt)
    # 4 B H L S D multiply-adds forward (QKᵀ and PV), halved for causal; backward ~2.5x.
    flops = 4.0 * batch * heads * length * length * dim * (0.5 if causal else 1.0)
    flops *= 3.5 if backward else 1.0
    return {
        "case": f"{name} {'fwd+bwd' if backward else 'fwd'}{' causal' if causal else ''}",
        "attnkit_ms": attnkit_ms,
        "torch_ms": torch_ms,
        "speedup": torch_ms / attnkit_ms,
        "attnkit_gflops": flops / attnkit_ms / 1e6,
        "allclose": agree,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the rows as a JSON list")
    args = parser.parse_args()
    attnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    print(f"scaled_dot_product_attention, {args.threads} threads, median of {args.repeats}")
    print(f"{'case':36s} {'attnkit ms':>11s} {'torch ms':>9s} {'GFLOP/s':>8s} {'speedup':>8s}  ok")
    for name, batch, heads, length, dim, causal in CASES:
        for backward in (False, True):
            row = run_case(name, batch, heads, length, dim, causal, backward, args.repeats, rng)
            rows.append(row)
            print(f"{row['case']:36s} {row['attnkit_ms']:11.2f} {row['torch_ms']:9.2f} "
                  f"{row['attnkit_gflops']:8.1f} {row['speedup']:8.2f}  {'yes' if row['allclose'] else 'NO'}")
    print(f"geometric-mean speedup: {statistics.geometric_mean(r['speedup'] for r in rows):.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0 if all(r["allclose"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
