#pragma once
// Batch normalisation as modules, as torch.nn.BatchNorm1d / BatchNorm2d.
//
// Parameters weight (C) = 1 and bias (C) = 0 when affine; buffers
// running_mean (C) = 0, running_var (C) = 1 and num_batches_tracked (an int64
// scalar) when track_running_stats — the names and order of torch's
// state_dict, so a torch or timm checkpoint loads unchanged.
//
// Training mode normalises with the batch statistics and, when tracking,
// counts the batch and updates the running statistics with momentum (or, with
// momentum = nullopt, with 1 / num_batches_tracked: a cumulative moving
// average, torch's momentum=None). Eval mode normalises with the running
// statistics — or with the batch's when the module tracks none.

#include <optional>

#include "attnkit/nn/module.h"

namespace attnkit::nn {

struct BatchNormOptions {
  int64_t num_features;                  // C
  double eps = 1e-5;                     // added to the variance inside the square root
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;                    // learnable weight and bias
  bool track_running_stats = true;       // keep running_mean / running_var / num_batches_tracked
  bool bias = true;                      // with affine: whether there is a bias (torch's bias=)
};

// What BatchNorm1d and BatchNorm2d share (torch's _BatchNorm); they differ
// only in the input ranks they accept.
class BatchNormBase : public Module {
 public:
  std::string extra_repr() const override;

  // Updates num_batches_tracked and the running statistics in training mode.
  Tensor forward(const Tensor& x);
  void reset_running_stats();
  void reset_parameters();

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;                 // (C); undefined without affine (bias also without bias)
  Tensor running_mean, running_var;    // (C); undefined without track_running_stats
  Tensor num_batches_tracked;          // int64 scalar; undefined without track_running_stats

 protected:
  explicit BatchNormBase(const BatchNormOptions& options);
  // Throws unless x has a rank this module accepts.
  virtual void check_input_dim(const Tensor& x) const = 0;
};

// input (N, C) or (N, C, L).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNormBase(options) {}
  explicit BatchNorm1d(int64_t num_features) : BatchNormBase({.num_features = num_features}) {}
  std::string name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& x) const override;
};

// input (N, C, H, W).
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNormBase(options) {}
  explicit BatchNorm2d(int64_t num_features) : BatchNormBase({.num_features = num_features}) {}
  std::string name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& x) const override;
};

}  // namespace attnkit::nn
