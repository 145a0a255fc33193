#pragma once
// Which vector ISA the kernels may use, decided once at run time. Setting
// the environment variable ATTNKIT_ISA=scalar forces the plain reference
// paths (for tests and for comparing against them).

namespace attnkit::kernels {

enum class Isa { Scalar, Avx2 };

Isa active_isa();
const char* isa_name(Isa isa);
// For tests: override the detected ISA (Scalar is always allowed; asking for
// an ISA the CPU lacks leaves the detected one).
void force_isa(Isa isa);

}  // namespace attnkit::kernels
