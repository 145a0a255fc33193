#pragma once
// attnkit._C: the nanobind module over the attnkit C++ API.
//
// One file per concept; module.cpp calls the bind_* functions below in order
// (dtype and Tensor first, since every later signature names them).

#include <nanobind/nanobind.h>

#include "attnkit/attnkit.h"

namespace nb = nanobind;

namespace attnkit::python {

using TensorClass = nb::class_<Tensor>;

void bind_errors(nb::module_& m);                          // errors.cpp
void bind_dtype(nb::module_& m);                           // dtype_bindings.cpp
void bind_tensor(nb::module_& m, TensorClass& cls);        // tensor_bindings.cpp
void bind_indexing(TensorClass& cls);                      // indexing.cpp
void bind_operators(TensorClass& cls);                     // operators_bindings.cpp
void bind_creation(nb::module_& m);                        // creation_bindings.cpp
void bind_interop(nb::module_& m, TensorClass& cls);       // interop.cpp
void bind_ops(nb::module_& m, TensorClass& cls);           // ops_bindings.cpp
void bind_reduce(nb::module_& m, TensorClass& cls);        // reduce_bindings.cpp
void bind_nn_ops(nb::module_& m, TensorClass& cls);        // nn_ops_bindings.cpp
void bind_autograd(nb::module_& m, TensorClass& cls);      // autograd_bindings.cpp
// An SdpaOutput as Python returns it: the output alone, or (output[, weights][, lse]).
nb::object sdpa_result(const functional::SdpaOutput& out, bool weights, bool lse);

void bind_attention(nb::module_& m);                       // attention_bindings.cpp
void bind_nn(nb::module_& m);                              // nn_bindings.cpp
void bind_transformer(nb::module_& nn);                    // transformer_bindings.cpp (from bind_nn)
void bind_io(nb::module_& m);                              // io_bindings.cpp
void bind_optim(nb::module_& m);                           // optim_bindings.cpp
void bind_decoding(nb::module_& m);                        // decoding_bindings.cpp
void bind_models(nb::module_& m);                          // models_bindings.cpp
void bind_tokenizers(nb::module_& m);                      // tokenizers_bindings.cpp
// The vision layers: functional ops on `m`, modules on `m.nn` (after bind_nn).
void bind_conv(nb::module_& m);                            // conv_bindings.cpp
void bind_grid_sample(nb::module_& m);                     // grid_sample_bindings.cpp
void bind_vision_layers(nb::module_& m);                   // vision_layers_bindings.cpp
void bind_pictures(nb::module_& m);                         // pictures_bindings.cpp (after bind_io)
// The vision attention blocks, on the submodule `m.nn.vision`.
void bind_vision_channel_blocks(nb::module_& vision);      // vision_channel_blocks_bindings.cpp
void bind_vision_spatial_blocks(nb::module_& vision);      // vision_spatial_blocks_bindings.cpp
void bind_vision_glimpse_blocks(nb::module_& vision);      // vision_glimpse_blocks_bindings.cpp

}  // namespace attnkit::python
