"""What a benchmark ran on, printed at the top of every bench/*.py.

Numbers mean little without the machine: the CPU model, the vector ISA
attnkit's kernels use (and the best the CPU has), the GEMM backend setting,
the cache sizes, and the float32 FMA peak measured for that ISA on the
benchmark's thread count by bench/fma_peak (built on demand). For example:

    machine: AMD EPYC | attnkit isa avx512 (cpu: avx512), gemm auto | L1d 32 KiB, L2 1 MiB, L3 32 MiB
             | FMA peak 370.1 GFLOP/s on 2 threads [fma_peak avx512f: ...]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import attnkit

REPO = Path(__file__).resolve().parents[1]
BUILD_LOCK = "/tmp/attnkit-build.lock"  # the machine has 2 cores: one build (or benchmark) at a time
FALLBACK_PEAK_GFLOPS = 400.0


# ---------------------------------------------------------------- FMA peak ---

def find_or_build_fma_peak() -> Path | None:
    """The fma_peak binary: from the release build tree, any other build tree,
    or else built on its own (bench/ configures without attnkit's
    dependencies) into build/fma_peak. None if that fails."""
    standalone = REPO / "build" / "fma_peak" / "fma_peak"
    candidates = [REPO / "build" / "release" / "bench" / "fma_peak",
                  *sorted((REPO / "build").glob("*/bench/fma_peak")), standalone]
    for binary in candidates:
        if binary.exists():
            return binary
    cmake = shutil.which("cmake")
    if cmake is None:
        print("note: fma_peak is not built and cmake is not on PATH", file=sys.stderr)
        return None
    print("note: fma_peak not found under build/; building it into build/fma_peak", file=sys.stderr)
    flock = ["flock", BUILD_LOCK] if shutil.which("flock") else []
    build_dir = standalone.parent
    for step in ([*flock, cmake, "-S", str(REPO / "bench"), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"],
                 [*flock, cmake, "--build", str(build_dir), "--target", "fma_peak"]):
        result = subprocess.run(step, cwd=REPO, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"note: `{' '.join(step)}` failed:\n{result.stderr.strip()[-800:]}", file=sys.stderr)
            return None
    return standalone if standalone.exists() else None


def _probe_isa() -> str:
    """fma_peak's --isa for the vector ISA attnkit's kernels use (scalar
    kernels are measured against the AVX2 roofline the compiler targets)."""
    return "avx512" if attnkit.cpu_info()["isa"] == "avx512" else "avx2"


def _run_probe(binary: Path, threads: int) -> dict:
    result = subprocess.run([str(binary), str(threads), "--isa", _probe_isa()], capture_output=True, text=True,
                            timeout=120, check=True)
    return json.loads(result.stdout)


def fma_peak(binary: Path | None, threads: int) -> tuple[float, str]:
    """(peak GFLOP/s on `threads` threads for attnkit's ISA, where the number came from).

    The peak is what the cores can do, so it is the larger of the measured
    `threads`-thread rate and `threads` times the one-thread rate: on a busy
    two-core machine the parallel probe alone would understate the roofline.
    """
    if binary is not None:
        try:
            parallel, single = _run_probe(binary, threads), _run_probe(binary, 1)
            peak = max(parallel["gflops"], threads * single["gflops"])
            source = (f"fma_peak {parallel['isa']}: {parallel['gflops']:.1f} on {threads} threads, "
                      f"{single['gflops']:.1f} on 1")
            if "note" in parallel:
                source += f"; {parallel['note']}"
            return float(peak), source
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as error:
            print(f"note: fma_peak could not run: {error}", file=sys.stderr)
    return FALLBACK_PEAK_GFLOPS, f"fma_peak unavailable: ASSUMED {FALLBACK_PEAK_GFLOPS:.0f} GFLOP/s"


@contextlib.contextmanager
def build_lock(enabled: bool = True):
    """Holds the build lock while measuring: every build on this two-core
    machine takes it, so none can run meanwhile and stall the OpenMP threads."""
    if not enabled:
        yield
        return
    with open(BUILD_LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {BUILD_LOCK} (a build is running) ...", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------- the machine ---

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _size_text(kib: int) -> str:
    return f"{kib // 1024} MiB" if kib >= 1024 and kib % 1024 == 0 else f"{kib} KiB"


def cache_sizes() -> list[str]:
    """The data and unified caches of CPU 0, e.g. ['L1d 32 KiB', 'L2 1 MiB', 'L3 32 MiB']."""
    caches = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction" or not size.endswith("K"):
            continue
        caches.append(f"L{level}{'d' if kind == 'Data' else ''} {_size_text(int(size[:-1]))}")
    return caches


def describe(threads: int, peak: tuple[float, str] | None = None) -> tuple[dict, float]:
    """({what ran}, peak GFLOP/s). Measures the peak unless `peak` is given."""
    info = attnkit.cpu_info()
    peak_gflops, peak_source = peak if peak is not None else fma_peak(find_or_build_fma_peak(), threads)
    return {
        "cpu": cpu_model(),
        "isa": info["isa"],
        "detected_isa": info["detected_isa"],
        "gemm_backend": info["gemm_backend"],
        "caches": cache_sizes(),
        "threads": threads,
        "fma_peak_gflops": peak_gflops,
        "fma_peak_source": peak_source,
    }, peak_gflops


def print_machine(threads: int, peak: tuple[float, str] | None = None) -> float:
    """Prints the machine line(s) and returns the FMA peak in GFLOP/s."""
    machine, peak_gflops = describe(threads, peak)
    print(f"machine: {machine['cpu']} | attnkit isa {machine['isa']} (cpu: {machine['detected_isa']}), "
          f"gemm {machine['gemm_backend']} | {', '.join(machine['caches']) or 'caches unknown'}")
    print(f"         FMA peak {peak_gflops:.1f} GFLOP/s on {threads} threads [{machine['fma_peak_source']}]",
          flush=True)
    return peak_gflops
