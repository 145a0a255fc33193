#pragma once
// Which vector ISA the kernels may use, decided once at run time. Setting
// the environment variable ATTNKIT_ISA=scalar (or avx2) caps it: scalar forces
// the plain reference paths (for tests and for comparing against them).
// Kernels without an AVX-512 version take their AVX2 one on AVX-512 CPUs.

namespace attnkit::kernels {

// Ordered: a CPU with one level has the ones below it.
enum class Isa { Scalar, Avx2, Avx512 };

Isa active_isa();
const char* isa_name(Isa isa);
// The best ISA this CPU has, whatever is forced.
Isa detected_isa();
// For tests: override the detected ISA (any level up to the detected one;
// asking for one the CPU lacks leaves the current one).
void force_isa(Isa isa);

}  // namespace attnkit::kernels
