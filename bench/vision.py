#!/usr/bin/env python3
"""Vision attention blocks, forward + backward: attnkit against PyTorch/timm in one process.

Rows (batch 32, the sizes of ResNet-50's first stage and of ImageNet inputs):

- ``se-resnet stage``: three bottleneck blocks at 56×56 with 256 channels
  (1×1 conv 256→64, BN, ReLU, 3×3 conv 64→64, BN, ReLU, 1×1 conv 64→256, BN,
  squeeze-excite, + identity, ReLU), as SE-ResNet-50's conv2_x.
- ``cbam-resnet stage``: the same with CBAM in place of squeeze-excite.
- ``grid_sample 224×224``: bilinear sampling of a (32, C, 224, 224) batch
  through random affine grids, gradients to the input and the grid, C = 3 (an
  image, as a spatial transformer in front of a network) and C = 64 (features).

The attention blocks of the torch side are timm's own SEModule and
CbamModule (timm.layers, loaded as the tests load them); the rest is
torch.nn. Both sides start from the same weights, train mode (batch
statistics), and are timed alternately; the table gives median ms of forward +
backward and the speedup torch_ms / attnkit_ms. The largest output difference
is printed as a check that both compute the same thing.

    python bench/vision.py [--threads 2] [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

import attnkit
import attnkit.nn as nn
from machine import print_machine

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from timm_reference import timm_layer_module  # noqa: E402  (after the path above)

BATCH, SIZE, CHANNELS, WIDTH, BLOCKS = 32, 56, 256, 64, 3


# ---- the two stages, built the same way on both sides ----


class TorchBottleneck(torch.nn.Module):
    def __init__(self, attention: torch.nn.Module):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(CHANNELS, WIDTH, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(WIDTH)
        self.conv2 = torch.nn.Conv2d(WIDTH, WIDTH, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(WIDTH)
        self.conv3 = torch.nn.Conv2d(WIDTH, CHANNELS, 1, bias=False)
        self.bn3 = torch.nn.BatchNorm2d(CHANNELS)
        self.attention = attention

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.attention(self.bn3(self.conv3(out)))
        return torch.relu(out + x)


class AttnkitBottleneck(nn.Module):
    def __init__(self, attention: nn.Module):
        super().__init__()
        self.conv1 = nn.Conv2d(CHANNELS, WIDTH, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTH)
        self.conv2 = nn.Conv2d(WIDTH, WIDTH, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(WIDTH)
        self.conv3 = nn.Conv2d(WIDTH, CHANNELS, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(CHANNELS)
        self.attention = attention

    def forward(self, x):
        out = attnkit.relu(self.bn1(self.conv1(x)))
        out = attnkit.relu(self.bn2(self.conv2(out)))
        out = self.attention(self.bn3(self.conv3(out)))
        return attnkit.relu(out + x)


class TorchStage(torch.nn.Module):
    def __init__(self, make_attention):
        super().__init__()
        self.blocks = torch.nn.Sequential(*[TorchBottleneck(make_attention()) for _ in range(BLOCKS)])

    def forward(self, x):
        return self.blocks(x)


class AttnkitStage(nn.Module):
    def __init__(self, make_attention):
        super().__init__()
        self.blocks = [AttnkitBottleneck(make_attention()) for _ in range(BLOCKS)]
        for i, block in enumerate(self.blocks):
            setattr(self, f"block{i}", block)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x

    def load_torch(self, stage: TorchStage):
        state = {k.replace("blocks.", "block", 1): v for k, v in stage.state_dict().items()}
        self.load_state_dict(state)


# ---- timing ----


def time_pair(run_ours, run_theirs, repeats: int):
    """Median ms of each, alternating, after one warm-up call of each."""
    run_ours()
    run_theirs()
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_ours()
        middle = time.perf_counter()
        run_theirs()
        end = time.perf_counter()
        ours.append((middle - start) * 1e3)
        theirs.append((end - middle) * 1e3)
    return statistics.median(ours), statistics.median(theirs)


def bench_stage(name: str, torch_attention, attnkit_attention, repeats: int) -> dict:
    torch.manual_seed(0)
    theirs = TorchStage(torch_attention)
    ours = AttnkitStage(attnkit_attention)
    ours.load_torch(theirs)
    x = np.random.default_rng(0).standard_normal((BATCH, CHANNELS, SIZE, SIZE), dtype=np.float32)
    x_theirs = torch.from_numpy(x).requires_grad_(True)
    x_ours = attnkit.from_numpy(x)
    x_ours.requires_grad = True

    def run_theirs():
        theirs.zero_grad(set_to_none=True)
        x_theirs.grad = None
        out = theirs(x_theirs)
        out.sum().backward()
        return out

    def run_ours():
        ours.zero_grad()
        x_ours.grad = None
        out = ours(x_ours)
        out.sum().backward()
        return out

    difference = float(np.abs(run_ours().detach().numpy() - run_theirs().detach().numpy()).max())
    attnkit_ms, torch_ms = time_pair(run_ours, run_theirs, repeats)
    # Convolutions only, forward ×3 (forward, input gradient, weight gradient).
    conv_flops = 2 * BATCH * SIZE * SIZE * (CHANNELS * WIDTH * 2 + WIDTH * WIDTH * 9) * BLOCKS * 3
    return {"case": f"{name} b{BATCH} {SIZE}x{SIZE} c{CHANNELS} fwd+bwd", "attnkit_ms": attnkit_ms,
            "torch_ms": torch_ms, "speedup": torch_ms / attnkit_ms,
            "attnkit_gflops": conv_flops / attnkit_ms / 1e6, "max_abs_diff": difference}


def bench_grid_sample(channels: int, repeats: int) -> dict:
    rng = np.random.default_rng(1)
    size = 224
    x = rng.standard_normal((BATCH, channels, size, size), dtype=np.float32)
    # Near-identity affine transforms: rotations, scales and shifts of a spatial transformer.
    theta = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (BATCH, 1, 1))
    theta += rng.uniform(-0.2, 0.2, theta.shape).astype(np.float32)
    grid = torch.nn.functional.affine_grid(torch.from_numpy(theta), (BATCH, channels, size, size),
                                           align_corners=False).numpy()
    x_theirs, grid_theirs = (torch.from_numpy(a).requires_grad_(True) for a in (x, grid))
    x_ours, grid_ours = attnkit.from_numpy(x), attnkit.from_numpy(np.ascontiguousarray(grid))
    x_ours.requires_grad = True
    grid_ours.requires_grad = True
    upstream = rng.standard_normal((BATCH, channels, size, size), dtype=np.float32)
    up_theirs, up_ours = torch.from_numpy(upstream), attnkit.from_numpy(upstream)

    def run_theirs():
        x_theirs.grad = grid_theirs.grad = None
        out = torch.nn.functional.grid_sample(x_theirs, grid_theirs, mode="bilinear", padding_mode="zeros",
                                              align_corners=False)
        out.backward(up_theirs)
        return out

    def run_ours():
        x_ours.grad = grid_ours.grad = None
        out = attnkit.grid_sample(x_ours, grid_ours, mode="bilinear", padding_mode="zeros", align_corners=False)
        out.backward(up_ours)
        return out

    difference = float(np.abs(run_ours().detach().numpy() - run_theirs().detach().numpy()).max())
    attnkit_ms, torch_ms = time_pair(run_ours, run_theirs, repeats)
    return {"case": f"grid_sample b{BATCH} c{channels} 224x224 fwd+bwd", "attnkit_ms": attnkit_ms,
            "torch_ms": torch_ms, "speedup": torch_ms / attnkit_ms, "max_abs_diff": difference}


def write_json_atomically(path: str, rows: list) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".vision-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(rows, out, indent=2)
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the rows as a JSON list")
    args = parser.parse_args()
    attnkit.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print_machine(args.threads)

    SEModule = timm_layer_module("squeeze_excite").SEModule
    CbamModule = timm_layer_module("cbam").CbamModule
    rows = [
        bench_stage("se-resnet stage", lambda: SEModule(CHANNELS),
                    lambda: nn.vision.SqueezeExcite(CHANNELS), args.repeats),
        bench_stage("cbam-resnet stage", lambda: CbamModule(CHANNELS),
                    lambda: nn.vision.CBAM(CHANNELS), args.repeats),
        bench_grid_sample(3, args.repeats),
        bench_grid_sample(64, args.repeats),
    ]
    print(f"{args.threads} threads, medians of {args.repeats}")
    print(f"{'case':44s} {'attnkit ms':>11s} {'torch ms':>9s} {'speedup':>8s} {'ak GFLOP/s':>10s} {'max diff':>9s}")
    for r in rows:
        gflops = f"{r['attnkit_gflops']:10.1f}" if "attnkit_gflops" in r else f"{'':10s}"
        print(f"{r['case']:44s} {r['attnkit_ms']:11.1f} {r['torch_ms']:9.1f} {r['speedup']:8.2f} {gflops} "
              f"{r['max_abs_diff']:9.1e}")
    if args.json:
        write_json_atomically(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
