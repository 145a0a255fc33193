#pragma once
// For the kernel tests: which vector paths this CPU can run, and a scope that
// forces one of them (cpu_features.h) and restores the detected one after.

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

inline bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

struct IsaScope {
  Isa previous = active_isa();
  explicit IsaScope(Isa isa) { force_isa(isa); }
  ~IsaScope() { force_isa(previous); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

}  // namespace attnkit::kernels
