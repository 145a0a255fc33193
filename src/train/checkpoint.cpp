#include "attnkit/train/checkpoint.h"

#include <string>

#include "attnkit/core/error.h"
#include "attnkit/io/safetensors.h"

namespace attnkit::train {

namespace {

constexpr const char* kModel = "model.";
constexpr const char* kOptimizer = "optimizer.";
// Metadata keys the checkpoint itself uses; caller metadata keeps its own names.
constexpr const char* kSeed = "attnkit.generator.seed";
constexpr const char* kCounter = "attnkit.generator.counter";
constexpr const char* kScheduleStep = "attnkit.schedule.step";

uint64_t parse_u64(const std::map<std::string, std::string>& metadata, const char* key, const std::string& path) {
  try {
    return std::stoull(metadata.at(key));
  } catch (const std::exception&) {
    throw ValueError(std::string("load_checkpoint: ") + path + " has no valid \"" + key + "\" entry");
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer* optimizer,
                     Generator* generator, const CheckpointExtras& extras) {
  io::TensorMap tensors;
  for (const auto& [name, t] : model.state_dict()) tensors[kModel + name] = t;
  if (optimizer) {
    for (const auto& [name, t] : optimizer->state_dict()) tensors[kOptimizer + name] = t;
  }
  std::map<std::string, std::string> metadata = extras.metadata;
  if (generator) {
    const Generator::Range state = generator->state();
    metadata[kSeed] = std::to_string(state.seed);
    metadata[kCounter] = std::to_string(state.first_block);
  }
  if (extras.schedule_step >= 0) metadata[kScheduleStep] = std::to_string(extras.schedule_step);
  io::save_safetensors(path, tensors, metadata);
}

CheckpointExtras load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer,
                                 Generator* generator) {
  io::SafetensorsFile file(path);
  nn::StateDict model_state;
  std::map<std::string, Tensor> optimizer_state;
  for (const auto& [name, t] : file.tensors()) {
    if (name.rfind(kModel, 0) == 0) {
      model_state[name.substr(6)] = t;
    } else if (name.rfind(kOptimizer, 0) == 0) {
      optimizer_state[name.substr(10)] = t;
    } else {
      AK_CHECK(false, "load_checkpoint: ", path, " has an unexpected tensor \"", name,
               "\" (not model.* or optimizer.*)");
    }
  }
  model.load_state_dict(model_state, true);
  if (optimizer) {
    AK_CHECK(!optimizer_state.empty(), "load_checkpoint: ", path, " holds no optimizer state");
    optimizer->load_state_dict(optimizer_state);
  }
  const auto& metadata = file.header().metadata;
  if (generator) {
    generator->set_state({parse_u64(metadata, kSeed, path), parse_u64(metadata, kCounter, path)});
  }
  CheckpointExtras extras;
  for (const auto& [key, value] : metadata) {
    if (key.rfind("attnkit.", 0) != 0) extras.metadata[key] = value;
  }
  if (metadata.count(kScheduleStep)) extras.schedule_step = static_cast<int64_t>(parse_u64(metadata, kScheduleStep, path));
  return extras;
}

}  // namespace attnkit::train
