#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace attnkit::kernels {

namespace {

Isa detect() {
  const char* forced = std::getenv("ATTNKIT_ISA");
  if (forced && std::strcmp(forced, "scalar") == 0) return Isa::Scalar;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Scalar;
}

std::atomic<Isa>& current() {
  static std::atomic<Isa> isa{detect()};
  return isa;
}

}  // namespace

Isa active_isa() { return current().load(std::memory_order_relaxed); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
  }
  return "?";
}

void force_isa(Isa isa) {
  if (isa == Isa::Avx2 && detect() != Isa::Avx2) return;
  current().store(isa);
}

}  // namespace attnkit::kernels
