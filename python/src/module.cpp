// attnkit._C: the compiled half of the attnkit package. The Python half
// (attnkit/__init__.py) re-exports it and adds no_grad, tensor() and the
// functional namespace.
#include "attnkit/core/cpu_info.h"
#include "attnkit/core/memory.h"
#include "bindings.h"

namespace attnkit::python {
namespace {

void bind_threading(nb::module_& m) {
  using namespace nb::literals;
  m.def("set_num_threads", &set_num_threads, "n"_a,
        "Sets the number of threads (OpenMP, shared with oneDNN) for later ops on this thread.");
  m.def("get_num_threads", &get_num_threads);
  m.def("cpu_info",
        [] {
          const CpuInfo info = cpu_info();
          nb::dict d;
          d["isa"] = nb::str(info.isa.c_str());
          d["detected_isa"] = nb::str(info.detected_isa.c_str());
          d["gemm_backend"] = nb::str(info.gemm_backend.c_str());
          return d;
        },
        "What the kernels run on: {'isa': used vector ISA (after ATTNKIT_ISA), 'detected_isa': the best this "
        "CPU has, 'gemm_backend': auto|attnkit|onednn (ATTNKIT_GEMM)}.");
}

// The large-block cache (attnkit/core/memory.h), as torch.cuda's names.
void bind_memory(nb::module_& m) {
  using namespace nb::literals;
  m.def("empty_cache", &empty_cache, "Returns the large memory blocks kept for reuse to the system.");
  m.def("memory_cached", &cached_bytes, "Bytes of freed tensor memory kept for reuse.");
  m.def("set_cache_limit", &set_cache_limit, "bytes"_a,
        "How many bytes of freed large blocks to keep for reuse (0: none).");
}

}  // namespace
}  // namespace attnkit::python

NB_MODULE(_C, m) {
  using namespace attnkit::python;
  m.doc() = "attnkit: attention mechanisms for deep learning (compiled core).";

  bind_errors(m);
  bind_dtype(m);
  TensorClass cls(m, "Tensor", nb::is_weak_referenceable(),
                  "A strided view of shared storage with an optional autograd history.\n\n"
                  "Create tensors with attnkit.tensor, zeros, randn, from_numpy, from_dlpack, ...");
  bind_tensor(m, cls);
  bind_indexing(cls);
  bind_operators(cls);
  bind_autograd(m, cls);
  bind_interop(m, cls);
  bind_creation(m);
  bind_ops(m, cls);
  bind_reduce(m, cls);
  bind_nn_ops(m, cls);
  bind_attention(m);
  bind_nn(m);
  bind_io(m);
  bind_pictures(m);
  bind_optim(m);
  bind_decoding(m);
  bind_models(m);
  bind_tokenizers(m);
  bind_conv(m);
  bind_grid_sample(m);
  bind_vision_layers(m);
  nb::module_ vision = nb::borrow<nb::module_>(m.attr("nn")).def_submodule(
      "vision", "Attention blocks of vision networks (SE, ECA, CBAM, SK, non-local, residual attention, STN, DCN, RAM).");
  bind_vision_channel_blocks(vision);
  bind_vision_spatial_blocks(vision);
  bind_vision_glimpse_blocks(vision);
  bind_threading(m);
  bind_memory(m);
}
