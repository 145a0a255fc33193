#pragma once
// What the kernels run on this CPU: the vector ISA they use (after any
// ATTNKIT_ISA cap), the best one the CPU has, and the GEMM backend setting
// (ATTNKIT_GEMM). For benchmark reports and bug reports, as
// torch.backends.cpu.get_cpu_capability() is for PyTorch.

#include <string>

namespace attnkit {

struct CpuInfo {
  std::string isa;           // "scalar", "avx2" or "avx512": what the kernels use
  std::string detected_isa;  // the best this CPU has
  std::string gemm_backend;  // "auto", "attnkit" or "onednn"
};

CpuInfo cpu_info();

}  // namespace attnkit
