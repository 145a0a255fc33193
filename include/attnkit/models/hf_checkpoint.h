#pragma once
// The weights of a Hugging Face model folder: model.safetensors, or the
// shards listed by model.safetensors.index.json. Only safetensors are read
// (a pickle — pytorch_model.bin — can run code when loaded; the error says
// how to convert it).
//
// Tensor names are mapped to a model's own state-dict names by `rename`
// (return "" to drop a tensor the model does not keep, such as GPT-2's
// causal-mask buffers). What then does not fit — a missing tensor, an
// unexpected one, a shape that differs — is an attnkit::Error naming the
// folder and listing the names.

#include <functional>
#include <string>

#include "attnkit/io/safetensors.h"
#include "attnkit/nn/module.h"

namespace attnkit::models {

// Every tensor of the folder's checkpoint, by its name in the file.
io::TensorMap load_hf_weights(const std::string& folder);

// Copies `weights` into `module` (float32, whatever the file's dtype).
using Rename = std::function<std::string(const std::string& name)>;
void load_hf_weights_into(nn::Module& module, const io::TensorMap& weights, const Rename& rename,
                          const std::string& folder);

// folder/name, with one slash.
std::string join_path(const std::string& folder, const std::string& name);
bool file_exists(const std::string& path);

}  // namespace attnkit::models
