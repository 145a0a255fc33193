#include "attnkit/models/hf_checkpoint.h"

#include <set>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "io/json_depth.h"
#include "io/text_file.h"

namespace attnkit::models {

namespace {

constexpr int kMaxIndexDepth = 16;


// The shard files named by model.safetensors.index.json, each once.
std::vector<std::string> shards_of_index(const std::string& index_path) {
  const std::string text = io::read_text_file(index_path, "model.safetensors.index.json");
  AK_CHECK(io::json_nesting_depth(text.data(), text.size(), kMaxIndexDepth) <= kMaxIndexDepth, index_path,
           ": the JSON nests deeper than ", kMaxIndexDepth, " levels");
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  AK_CHECK(!json.is_discarded() && json.is_object(), index_path, ": not a JSON object");
  auto map = json.find("weight_map");
  AK_CHECK(map != json.end() && map->is_object(), index_path, ": no \"weight_map\" object");
  std::set<std::string> seen;
  std::vector<std::string> shards;
  for (const auto& [tensor, shard] : map->items()) {
    AK_CHECK(shard.is_string(), index_path, ": weight_map[\"", tensor, "\"] must be a file name");
    const std::string file = shard.get<std::string>();
    AK_CHECK(!file.empty() && file.find('/') == std::string::npos && file != "..", index_path,
             ": shard name \"", file, "\" must be a file in the same folder");
    if (seen.insert(file).second) shards.push_back(file);
  }
  return shards;
}

}  // namespace

std::string join_path(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return folder.back() == '/' ? folder + name : folder + "/" + name;
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

io::TensorMap load_hf_weights(const std::string& folder) {
  struct stat info {};
  AK_CHECK(::stat(folder.c_str(), &info) == 0 && S_ISDIR(info.st_mode), "load model: ", folder,
           " is not a folder");
  const std::string single = join_path(folder, "model.safetensors");
  if (file_exists(single)) return io::load_safetensors(single);

  const std::string index = join_path(folder, "model.safetensors.index.json");
  if (file_exists(index)) {
    io::TensorMap all;
    for (const std::string& shard : shards_of_index(index)) {
      for (auto& [name, tensor] : io::load_safetensors(join_path(folder, shard))) {
        AK_CHECK(all.emplace(name, tensor).second, folder, ": tensor \"", name, "\" is in more than one shard");
      }
    }
    return all;
  }
  AK_CHECK(!file_exists(join_path(folder, "pytorch_model.bin")), folder,
           ": has pytorch_model.bin only; attnkit reads safetensors, which cannot run code when loaded. "
           "Convert it once in Python: model.save_pretrained(folder, safe_serialization=True)");
  throw ValueError(folder + ": no model.safetensors (or model.safetensors.index.json) in the folder");
}

void load_hf_weights_into(nn::Module& module, const io::TensorMap& weights, const Rename& rename,
                          const std::string& folder) {
  nn::StateDict state;
  for (const auto& [name, tensor] : weights) {
    const std::string own = rename(name);
    if (own.empty()) continue;
    AK_CHECK(is_floating(tensor.dtype()), folder, ": tensor \"", name, "\" holds ", dtype_name(tensor.dtype()),
             ", expected floating-point weights");
    AK_CHECK(state.emplace(own, tensor).second, folder, ": two tensors map to \"", own, "\"");
  }
  try {
    module.load_state_dict(state, /*strict=*/true);
  } catch (const Error& e) {
    throw ValueError(folder + ": the checkpoint does not fit " + module.name() + ": " + e.what());
  }
}

}  // namespace attnkit::models
