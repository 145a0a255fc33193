"""llama.cpp as a benchmark peer for bench/models.py: the same random GPT-2
124M in f32, converted to GGUF with llama.cpp's own converter and timed with
its llama-bench. Everything comes from build/llama.cpp, made by
bench/build_llama_cpp.sh; when it is missing the rows are skipped with a
message. Never a test or run-time dependency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "build" / "llama.cpp"
BUILD_HINT = "run ./bench/build_llama_cpp.sh to build it"


def llama_bench() -> Path | None:
    binary = ROOT / "build" / "bin" / "llama-bench"
    return binary if binary.exists() else None


def source_dir() -> Path | None:
    found = sorted(ROOT.glob("llama_cpp_python-*/vendor/llama.cpp"))
    return found[-1] if found else None


# The converter looks the tokenizer's pre-tokenizer up by a hash of how it
# splits a test string, and knows only published tokenizers. The benchmark's
# tokenizer is a small byte-level BPE trained locally with GPT-2's
# pre-tokenizer (random weights need no real vocabulary), so the driver tells
# the converter which pre-tokenizer it is rather than editing its source.
_DRIVER = """
import runpy, sys
source, folder, out = sys.argv[1:4]
sys.path.insert(0, source)
sys.path.insert(1, source + "/gguf-py")
import conversion.base as base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
sys.argv = ["convert_hf_to_gguf.py", folder, "--outtype", "f32", "--outfile", out]
runpy.run_path(source + "/convert_hf_to_gguf.py", run_name="__main__")
"""


def convert_gpt2(folder: Path) -> Path:
    """GGUF f32 of the GPT-2 folder saved by transformers. Adds what the
    converter needs: a tokenizer (a small trained byte-level BPE; ids past it
    are padding entries) and config.json's n_ctx, which transformers 5 no
    longer writes (it is n_positions)."""
    sys.path.insert(0, str(REPO / "tests" / "python"))
    from tokenizer_fixtures import train_byte_level_bpe

    source = source_dir()
    if source is None:
        raise FileNotFoundError(f"no llama.cpp sources under {ROOT}; {BUILD_HINT}")
    train_byte_level_bpe(folder, vocab_size=1000)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config.setdefault("n_ctx", config["n_positions"])
    config_path.write_text(json.dumps(config, indent=2))
    out = folder / "gpt2-124M-f32.gguf"
    result = subprocess.run([sys.executable, "-c", _DRIVER, str(source), str(folder), str(out)],
                            capture_output=True, text=True)
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"llama.cpp's converter failed:\n{result.stderr[-3000:]}")
    return out


def bench(gguf: Path, threads: int, prompt: int, generate: int, repeats: int) -> dict:
    """llama-bench's mean times: {'prompt_ms': prompt of `prompt` tokens,
    'generate_ms_per_token': over `generate` tokens}."""
    binary = llama_bench()
    if binary is None:
        raise FileNotFoundError(f"llama-bench is not built; {BUILD_HINT}")
    result = subprocess.run([str(binary), "-m", str(gguf), "-t", str(threads), "-p", str(prompt), "-n",
                             str(generate), "-r", str(repeats), "-o", "json"],
                            capture_output=True, text=True, check=True)
    rows = json.loads(result.stdout)
    out = {}
    for r in rows:
        if r["n_prompt"] > 0 and r["n_gen"] == 0:
            out["prompt_ms"] = r["avg_ns"] / 1e6
        elif r["n_gen"] > 0 and r["n_prompt"] == 0:
            out["generate_ms_per_token"] = r["avg_ns"] / 1e6 / r["n_gen"]
    return out
