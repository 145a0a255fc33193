#pragma once
// Learning-rate schedules: each step() sets the optimiser's rate for the
// next update, as torch.optim.lr_scheduler. The rate at step t (t = 0 for
// the first update):
//
//   InverseSqrtWarmup  "Attention Is All You Need" §5.3:
//                      factor · d_model^-0.5 · min((t+1)^-0.5, (t+1) · warmup^-1.5)
//   WarmupCosine       linear warm-up from 0 to base over `warmup` steps, then
//                      cosine decay to min_lr at total_steps
//   CosineAnnealing    torch's CosineAnnealingLR:
//                      min_lr + (base - min_lr) · (1 + cos(π t / t_max)) / 2

#include <cstdint>

#include "attnkit/train/optimizer.h"

namespace attnkit::train {

class LRSchedule {
 public:
  explicit LRSchedule(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}
  virtual ~LRSchedule() = default;
  // The rate at step t.
  virtual double rate(int64_t t) const = 0;
  // Call after optimizer.step(): moves to the next step and sets its rate.
  void step() { optimizer_.set_lr(rate(++t_)); }
  void start() { optimizer_.set_lr(rate(t_ = 0)); }  // sets the first step's rate
  int64_t last_step() const { return t_; }
  void set_last_step(int64_t t) { optimizer_.set_lr(rate(t_ = t)); }  // for resuming
  double base_lr() const { return base_lr_; }

 protected:
  Optimizer& optimizer_;
  double base_lr_;
  int64_t t_ = 0;
};

class InverseSqrtWarmup : public LRSchedule {
 public:
  InverseSqrtWarmup(Optimizer& optimizer, int64_t d_model, int64_t warmup, double factor = 1.0);
  double rate(int64_t t) const override;
  int64_t d_model, warmup;
  double factor;
};

class WarmupCosine : public LRSchedule {
 public:
  WarmupCosine(Optimizer& optimizer, int64_t warmup, int64_t total_steps, double min_lr = 0.0);
  double rate(int64_t t) const override;
  int64_t warmup, total_steps;
  double min_lr;
};

class CosineAnnealing : public LRSchedule {
 public:
  CosineAnnealing(Optimizer& optimizer, int64_t t_max, double min_lr = 0.0);
  double rate(int64_t t) const override;
  int64_t t_max;
  double min_lr;
};

// Scales the gradients of `params` so their joint 2-norm is at most
// max_norm (torch.nn.utils.clip_grad_norm_: coefficient max_norm /
// (norm + 1e-6), capped at 1). Returns the norm before clipping. A NaN or
// infinite norm is an error when error_if_nonfinite.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite = false);

}  // namespace attnkit::train
