#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace attnkit::kernels {

namespace {

Isa hardware() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return Isa::Scalar;
  return __builtin_cpu_supports("avx512f") ? Isa::Avx512 : Isa::Avx2;
}

Isa initial() {
  const Isa best = hardware();
  const char* cap = std::getenv("ATTNKIT_ISA");
  if (cap && std::strcmp(cap, "scalar") == 0) return Isa::Scalar;
  if (cap && std::strcmp(cap, "avx2") == 0 && best > Isa::Avx2) return Isa::Avx2;
  return best;
}

std::atomic<Isa>& current() {
  static std::atomic<Isa> isa{initial()};
  return isa;
}

}  // namespace

Isa active_isa() { return current().load(std::memory_order_relaxed); }

Isa detected_isa() { return hardware(); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

void force_isa(Isa isa) {
  if (isa > hardware()) return;
  current().store(isa);
}

}  // namespace attnkit::kernels
