#pragma once
// Training checkpoints: the model's state_dict, the optimiser's state and
// the random generator's state in one safetensors file, written atomically
// (a crash while saving leaves the previous checkpoint intact). Loading them
// back and training on gives the same losses as never having stopped.
//
// Keys: "model.<parameter or buffer>", "optimizer.<state key>"; the
// generator's seed and counter, the schedule's step and any caller
// metadata go in the file's __metadata__.

#include <map>
#include <string>

#include "attnkit/core/rng.h"
#include "attnkit/nn/module.h"
#include "attnkit/train/optimizer.h"

namespace attnkit::train {

struct CheckpointExtras {
  std::map<std::string, std::string> metadata;  // free-form (epoch, loss, config...)
  int64_t schedule_step = -1;                   // LRSchedule::last_step(); -1 = none
};

void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer* optimizer = nullptr,
                     Generator* generator = nullptr, const CheckpointExtras& extras = {});

// Restores what save_checkpoint wrote into `model` (strictly: every key must
// match), `optimizer` and `generator` when given; returns the extras.
CheckpointExtras load_checkpoint(const std::string& path, nn::Module& model, Optimizer* optimizer = nullptr,
                                 Generator* generator = nullptr);

}  // namespace attnkit::train
