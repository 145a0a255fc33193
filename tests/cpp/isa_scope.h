#pragma once
// For the kernel tests: which vector paths this CPU can run, and a scope that
// forces one of them (cpu_features.h) and restores the detected one after.

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

inline bool cpu_has_avx2() { return detected_isa() >= Isa::Avx2; }
inline bool cpu_has(Isa isa) { return detected_isa() >= isa; }

// Every ISA level, best first; tests skip the ones this CPU lacks.
inline constexpr Isa kAllIsas[] = {Isa::Avx512, Isa::Avx2, Isa::Scalar};

struct IsaScope {
  Isa previous = active_isa();
  explicit IsaScope(Isa isa) { force_isa(isa); }
  ~IsaScope() { force_isa(previous); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

}  // namespace attnkit::kernels
