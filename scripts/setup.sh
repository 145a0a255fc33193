# Sourced by scripts/demo and scripts/test: installs what a fresh Debian 12
# machine is missing, and nothing when it is all there.
#   setup_system           Debian packages (apt-get) for the C++ build
#   setup_venv FILE        .venv with the pip requirements in FILE

ATTNKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# libsimde-dev: SIMDe's portable AVX-512 intrinsics, so the AVX-512 kernels are
# tested on CPUs without AVX-512 (tests/cpp/test_kernels_avx512_emulated.cpp).
# clang-14 + libclang-rt-14-dev: libFuzzer, for the fuzz targets of the file parsers.
# libicu-dev: Unicode normalisation (NFD), general categories and case mapping
# for the tokenizers; writing and updating those tables ourselves would be
# thousands of lines that ICU already keeps current.
DEBIAN_PACKAGES=(g++ python3 python3-venv python3-dev libdnnl-dev libgtest-dev nlohmann-json3-dev
                 libcli11-dev libstb-dev libsimde-dev clang-14 libclang-rt-14-dev libicu-dev zlib1g-dev)

setup_system() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

setup_venv() {
  local requirements="$ATTNKIT_ROOT/$1"
  local venv="$ATTNKIT_ROOT/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
  fi
  # Reinstall only when the requirement files changed.
  local stamp="$venv/.requirements-$(basename "$requirements" .txt).sha"
  local digest
  digest=$(cat "$ATTNKIT_ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "setup: installing Python packages from ${requirements#$ATTNKIT_ROOT/}"
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install -q -r "$requirements"
    if [ "$(basename "$requirements")" = test.txt ]; then
      "$venv/bin/python" -m pip install -q --no-deps -r "$ATTNKIT_ROOT/requirements/timm-no-deps.txt"
    fi
    echo "$digest" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# Builds and installs the Python package into .venv, incrementally in a
# persistent CMake build tree: build/wheel by default.  scripts/test passes
# build/release (configured with ATTNKIT_BUILD_PYTHON=ON), so the wheel reuses
# the Release objects instead of compiling the library a second time; the
# defines keep that tree's tests, benchmarks and CLI, which pyproject.toml
# turns off for a plain `pip install .`.
install_python_package() {
  local build_dir="${1:-build/wheel}"
  local settings=(-C "build-dir=$build_dir")
  if [ "$build_dir" != build/wheel ]; then
    settings+=(-C cmake.define.ATTNKIT_BUILD_TESTS=ON -C cmake.define.ATTNKIT_BUILD_BENCH=ON
               -C cmake.define.ATTNKIT_BUILD_CLI=ON -C cmake.define.ATTNKIT_BUILD_EXAMPLES=ON)
  fi
  (cd "$ATTNKIT_ROOT" && python -m pip install -q --no-build-isolation --no-deps "${settings[@]}" .)
}
