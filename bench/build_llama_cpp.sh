#!/usr/bin/env bash
# Builds llama.cpp's llama-bench into build/llama.cpp, for the llama.cpp rows
# of bench/models.py. llama.cpp comes from the llama-cpp-python source
# distribution on PyPI, which vendors it together with its GGUF converter
# (convert_hf_to_gguf.py and gguf-py). A benchmark reference only: nothing in
# attnkit's build, tests or run time uses it.
#
#   ./bench/build_llama_cpp.sh [VERSION]     (default: the version pinned below)
#
# Takes about 10 minutes on 2 cores; does nothing when llama-bench is built.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-0.3.36}"
root="build/llama.cpp"
source_dir="$root/llama_cpp_python-$version/vendor/llama.cpp"
binary="$root/build/bin/llama-bench"

if [ -x "$binary" ]; then
  echo "$binary is built"
  exit 0
fi
mkdir -p "$root"
archive="$root/llama_cpp_python-$version.tar.gz"
if [ ! -d "$source_dir" ]; then
  if [ ! -f "$archive" ]; then
    python=".venv/bin/python"
    [ -x "$python" ] || python="python3"
    "$python" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$root"
  fi
  tar -xzf "$archive" -C "$root"
fi
# GGML_NATIVE: the build machine's own ISA, as attnkit picks its kernels at
# run time on the machine it meets; CPU only, no network code.
flock /tmp/attnkit-build.lock cmake -S "$source_dir" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF >/dev/null
flock /tmp/attnkit-build.lock cmake --build "$root/build" --target llama-bench
echo "built $binary"
