#!/usr/bin/env python3
"""Transformer training steps: attnkit against torch in the same process.

The model of issue 4: nn.Transformer with d_model 256, 4 heads, 3 + 3 layers,
feed-forward 1024, dropout 0.1, batch_first, token embeddings and an output
projection over a 1,000-token vocabulary; batch 32, source and target length
64; one step = forward, cross-entropy (label smoothing 0.1), backward, AdamW.
Both libraries start from the same weights, run on the same thread count and
are timed alternately step by step; the table gives median ms per step,
tokens/s (target tokens) and the speedup torch_ms / attnkit_ms.

    python bench/train.py [--threads 2] [--steps 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

import attnkit
from machine import print_machine
import attnkit.nn as nn

VOCAB, D_MODEL, HEADS, LAYERS, FF, BATCH, LENGTH = 1000, 256, 4, 3, 1024, 32, 64


class TorchModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, D_MODEL)
        self.transformer = torch.nn.Transformer(D_MODEL, HEADS, LAYERS, LAYERS, FF, 0.1, batch_first=True)
        self.head = torch.nn.Linear(D_MODEL, VOCAB)

    def forward(self, src, tgt, tgt_mask):
        out = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=tgt_mask, tgt_is_causal=True)
        return self.head(out)


class AttnkitModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.transformer = nn.Transformer(D_MODEL, HEADS, LAYERS, LAYERS, FF, 0.1, batch_first=True)
        self.head = nn.Linear(D_MODEL, VOCAB)

    def forward(self, src, tgt, tgt_mask):
        out = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=tgt_mask, tgt_is_causal=True)
        return self.head(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", help="write the rows as a JSON list")
    args = parser.parse_args()
    attnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print_machine(args.threads)
    torch.manual_seed(0)
    theirs = TorchModel()
    ours = AttnkitModel()
    ours.load_state_dict(theirs.state_dict())
    opt_theirs = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    opt_ours = attnkit.optim.AdamW(ours.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    src = rng.integers(0, VOCAB, (BATCH, LENGTH))
    tgt = rng.integers(0, VOCAB, (BATCH, LENGTH + 1))
    t_src, t_in, t_out = (torch.from_numpy(a) for a in (src, tgt[:, :-1], tgt[:, 1:].copy()))
    a_src, a_in, a_out = (attnkit.from_numpy(np.ascontiguousarray(a)) for a in (src, tgt[:, :-1], tgt[:, 1:]))
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(LENGTH)
    a_mask = nn.Transformer.generate_square_subsequent_mask(LENGTH)

    def step_theirs():
        opt_theirs.zero_grad()
        logits = theirs(t_src, t_in, t_mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), t_out.reshape(-1), label_smoothing=0.1)
        loss.backward()
        opt_theirs.step()
        return loss.item()

    def step_ours():
        opt_ours.zero_grad()
        logits = ours(a_src, a_in, a_mask)
        loss = attnkit.cross_entropy(logits.reshape(-1, VOCAB), a_out.reshape(-1), label_smoothing=0.1)
        loss.backward()
        opt_ours.step()
        return loss.item()

    ak, pt = [], []
    for i in range(args.steps + 1):  # the first step of each warms up
        start = time.perf_counter()
        loss_ours = step_ours()
        middle = time.perf_counter()
        loss_theirs = step_theirs()
        end = time.perf_counter()
        if i:
            ak.append((middle - start) * 1e3)
            pt.append((end - middle) * 1e3)
        print(f"step {i}: loss attnkit {loss_ours:.4f} torch {loss_theirs:.4f}", flush=True)
    attnkit_ms, torch_ms = statistics.median(ak), statistics.median(pt)
    tokens = BATCH * LENGTH
    row = {"case": f"train step d{D_MODEL} h{HEADS} {LAYERS}+{LAYERS} b{BATCH} n{LENGTH}",
           "attnkit_ms": attnkit_ms, "torch_ms": torch_ms, "speedup": torch_ms / attnkit_ms,
           "attnkit_tokens_per_s": tokens / attnkit_ms * 1e3, "torch_tokens_per_s": tokens / torch_ms * 1e3}
    print(f"{'case':40s} {'attnkit ms':>11s} {'torch ms':>9s} {'ak tok/s':>9s} {'pt tok/s':>9s} {'speedup':>8s}")
    print(f"{row['case']:40s} {attnkit_ms:11.1f} {torch_ms:9.1f} {row['attnkit_tokens_per_s']:9.0f} "
          f"{row['torch_tokens_per_s']:9.0f} {row['speedup']:8.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([row], handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
