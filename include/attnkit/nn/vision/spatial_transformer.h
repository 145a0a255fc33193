#pragma once
// The Spatial Transformer (Jaderberg et al. 2015, "Spatial Transformer
// Networks", §3): a localisation network looks at the input and regresses an
// affine transform θ; the input is resampled through it, so the network after
// it sees the content rectified (rotated, scaled and shifted back).
//
//   x (B, C, H, W)
//   f = localization(x)                           (B, F)
//   θ = fc_loc(f).view(B, 2, 3)                   Linear(F, 6)          (§3.1)
//   grid = affine_grid(θ, (B, C, Ho, Wo))         (B, Ho, Wo, 2)        (§3.2)
//   y = grid_sample(x, grid)                      (B, C, Ho, Wo)        (§3.3)
//
// fc_loc starts at the identity transform (weight 0, bias [1 0 0; 0 1 0]), so a
// fresh block passes its input through unchanged (for Ho, Wo = H, W: the
// identity grid hits the pixel centres, up to float rounding).
//
// The localisation network is yours to choose. By default it is the PyTorch STN
// tutorial's, built for a fixed input size (StnLocalization below, F = 32). Any
// other: a module (registered as the child "localization", so its parameters,
// state_dict and train/eval go with the block) and the function that runs it:
//
//   // the default net, for 1×32×32 digits
//   auto stn = std::make_shared<nn::vision::SpatialTransformer>(
//       nn::vision::SpatialTransformerOptions{.in_channels = 1, .input_size = {32, 32}});
//   Tensor rectified = stn->forward(x);     // (B, 1, 32, 32)
//   stn->warped(); stn->theta(); stn->attention_map();   // what the last batch did
//
//   // your own net: any module class with Tensor forward(const Tensor&) returning (B, F)
//   auto net = std::make_shared<MyLocNet>(...);
//   nn::vision::SpatialTransformer stn({.in_channels = 1, .localization_features = 16},
//                                      nn::vision::Localization::of(net));
//
// Parameters: localization.* and fc_loc.weight / fc_loc.bias (the test's torch.nn
// reference uses the same names). Initialisation: torch's defaults, then fc_loc
// as above.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/nn/conv.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn::vision {

struct SpatialTransformerOptions {
  int64_t in_channels = 0;  // C, > 0
  // (H, W) of the inputs: required by the default localisation net (its Linear
  // layer's width depends on it; each side >= 18), ignored with your own net.
  std::vector<int64_t> input_size = {};
  // (Ho, Wo) of the output; empty = the input's (H, W).
  std::vector<int64_t> output_size = {};
  // F, the width of your own localisation net's output (B, F); must be 0 (unused)
  // with the default net, whose F is 32.
  int64_t localization_features = 0;
  // grid_sample's options (ops/grid_sample.h); align_corners also goes to affine_grid.
  std::string mode = "bilinear";        // "bilinear" | "nearest" | "bicubic"
  std::string padding_mode = "zeros";   // "zeros" | "border" | "reflection"
  bool align_corners = false;
};

// A localisation network: the module that owns its parameters, and the function
// that runs it on x (B, C, H, W) -> (B, F). Both empty (Localization{}) means
// the default net.
struct Localization {
  std::shared_ptr<Module> module;
  std::function<Tensor(const Tensor&)> forward;

  // For a module class with `Tensor forward(const Tensor&)` (const or not).
  template <typename M>
  static Localization of(std::shared_ptr<M> module) {
    return {module, [module](const Tensor& x) { return module->forward(x); }};
  }
};

// The PyTorch STN tutorial's localisation net, for inputs of a fixed (H, W):
//   conv1 7×7 C->8, max-pool 2, relu, conv2 5×5 8->10, max-pool 2, relu, flatten,
//   fc Linear(10 · h · w, 32), relu                     (B, C, H, W) -> (B, 32)
class StnLocalization : public Module {
 public:
  StnLocalization(int64_t in_channels, int64_t height, int64_t width, Generator* generator = nullptr);
  std::string name() const override { return "StnLocalization"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) const;

  static constexpr int64_t kFeatures = 32;  // F
  int64_t height, width;                    // the input size it was built for
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<Linear> fc;
};

class SpatialTransformer : public Module {
 public:
  // With the default localisation net (options.input_size required).
  explicit SpatialTransformer(const SpatialTransformerOptions& options, Generator* generator = nullptr);
  // With your own (options.localization_features = its F).
  SpatialTransformer(const SpatialTransformerOptions& options, Localization localization,
                     Generator* generator = nullptr);
  std::string name() const override { return "SpatialTransformer"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> the warped input (B, C, Ho, Wo).
  Tensor forward(const Tensor& x);

  // What the last input did, detached; undefined before the first forward:
  // The sampling grid (B, Ho, Wo, 2): output pixel (h, w) read the input at
  // (x, y) in normalised coordinates (-1 left / top edge, +1 right / bottom).
  Tensor attention_map() const { return grid_; }
  Tensor theta() const { return theta_; }     // (B, 2, 3), the affine transforms
  Tensor warped() const { return warped_; }   // (B, C, Ho, Wo), the output

  SpatialTransformerOptions options;
  std::shared_ptr<Module> localization;  // a StnLocalization unless you gave your own
  std::shared_ptr<Linear> fc_loc;        // F -> 6

 private:
  std::function<Tensor(const Tensor&)> localize_;
  Tensor grid_, theta_, warped_;
};

}  // namespace attnkit::nn::vision
