#include "attnkit/core/cpu_info.h"

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace attnkit {

CpuInfo cpu_info() {
  const char* backend = "auto";
  switch (kernels::gemm_backend()) {
    case kernels::GemmBackend::Auto: backend = "auto"; break;
    case kernels::GemmBackend::Attnkit: backend = "attnkit"; break;
    case kernels::GemmBackend::OneDnn: backend = "onednn"; break;
  }
  return {kernels::isa_name(kernels::active_isa()), kernels::isa_name(kernels::detected_isa()), backend};
}

}  // namespace attnkit
