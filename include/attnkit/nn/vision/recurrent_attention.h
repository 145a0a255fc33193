#pragma once
// Recurrent Attention Model (Mnih et al. 2014, "Recurrent Models of Visual
// Attention", RAM): a recurrent net that sees the image only through T
// glimpses, choosing where to look next from what it has seen.
//
//   for t = 0 .. T-1:
//     μ_t   = tanh(location_net(h_t.detach()))          where to look (B, 2)
//     l_t   = μ_t + σ ε_t  (ε_t ~ N(0, I); μ_t in eval)  sampled, detached
//     b_t   = baseline_net(h_t.detach())                the expected reward (B)
//     ρ     = glimpse_sensor(x, clamp(l_t, -1, 1))      k patches around l_t
//     g_t   = ReLU(what(ReLU(patch_fc(ρ))) + where(ReLU(location_fc(l_t))))
//     h_t+1 = core(g_t, h_t)                            ReLU RNN cell (or LSTM)
//   log_probs = log_softmax(classifier(h_T))
//
// h_0 = 0, so the first location is drawn from N(tanh(location_net.bias), σ²):
// the starting point is learnt like every later one, and each of the T
// locations is an action with its own log π and baseline. log π_t is the
// Gaussian log-density of the unclamped sample (the action the policy took);
// the glimpse reads the sample clamped to the image, [-1, 1]².
//
// Locations are (x, y) in grid_sample's normalised coordinates: -1 the left
// (top) edge of the image, +1 the right (bottom) edge.
//
// Training is the paper's hybrid loss (reinforce_loss below): the classifier,
// core and glimpse net learn by backpropagation of the NLL; the location net
// by REINFORCE with reward R = 1 for a correct classification (advantage
// R - b_t, b detached); the baseline net by regression on R. The detaches in
// the loop keep those three apart.
//
// Randomness: forward(x, generator) draws ε (B, T, 2) from the generator (the
// default one if null) in training mode, so a seeded generator gives the same
// run; forward(x, noise) takes ε given (for tests against another library).
// Eval mode uses μ_t and draws nothing.

#include <memory>
#include <string>

#include "attnkit/core/rng.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn::vision {

// The glimpse sensor: for each image, num_scales square patches centred at
// its location, of sides g, 2g, 4g, ... pixels, each shrunk to g×g.
//   images (B, C, H, W), locations (B, 2) (x, y) in [-1, 1] -> (B, k, C, g, g)
// A patch of side s = g·2^i is read at full resolution by grid_sample
// (bilinear, zeros outside the image, align_corners=False) on the grid of
// affine_grid with θ = [[s/W, 0, x], [0, s/H, y]], i.e. at one point per
// pixel, then average-pooled by 2^i: the mean of each 2^i × 2^i block, the
// paper's coarser "lower resolution" view. At pixel-aligned locations the
// patch is an exact crop. Locations are read as values: no gradient reaches
// them (RAM trains its location net by REINFORCE); the images get one.
Tensor glimpse_sensor(const Tensor& images, const Tensor& locations, int64_t glimpse_size, int64_t num_scales);

struct RecurrentAttentionOptions {
  int64_t in_channels = 1;
  int64_t num_classes = 10;
  int64_t glimpse_size = 8;       // g: the side of every patch after shrinking
  int64_t num_scales = 3;         // k: patches of sides g, 2g, ..., 2^(k-1) g
  int64_t num_glimpses = 6;       // T
  int64_t glimpse_hidden = 128;   // size of h_g, what the patches say
  int64_t location_hidden = 128;  // size of h_l, where they were taken
  int64_t glimpse_dim = 256;      // size of g_t, the core's input
  int64_t hidden_size = 256;      // size of h_t
  double std = 0.17;              // σ of the location policy, > 0
  std::string core = "rnn";       // "rnn" (ReLU, the paper's) or "lstm"
};

// The glimpse network f_g: patches (B, k·C·g·g) and location (B, 2) -> g_t (B, glimpse_dim).
class GlimpseNetwork : public Module {
 public:
  GlimpseNetwork(const RecurrentAttentionOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "GlimpseNetwork"; }
  Tensor forward(const Tensor& patches, const Tensor& location) const;

  std::shared_ptr<Linear> patch_fc;     // k·C·g·g -> glimpse_hidden
  std::shared_ptr<Linear> location_fc;  // 2 -> location_hidden
  std::shared_ptr<Linear> what;         // glimpse_hidden -> glimpse_dim
  std::shared_ptr<Linear> where;        // location_hidden -> glimpse_dim
};

// The core network f_h, with torch.nn.RNNCell(nonlinearity="relu") /
// torch.nn.LSTMCell's parameters and initialisation (U(±1/√hidden)):
//   rnn:  h' = ReLU(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)
//   lstm: i, f, c̃, o = the four quarters of the same sum; c' = σ(f) c + σ(i) tanh(c̃); h' = σ(o) tanh(c')
class RecurrentCore : public Module {
 public:
  RecurrentCore(int64_t input_size, int64_t hidden_size, bool lstm, Generator* generator = nullptr);
  std::string name() const override { return lstm ? "LSTMCell" : "RNNCell"; }
  std::string extra_repr() const override;

  struct State {
    Tensor h, c;  // (B, hidden); c undefined for rnn
  };
  State forward(const Tensor& x, const State& state) const;

  int64_t input_size, hidden_size;
  bool lstm;
  Tensor weight_ih;  // (gates · hidden, input), gates = 4 for lstm, else 1
  Tensor weight_hh;  // (gates · hidden, hidden)
  Tensor bias_ih, bias_hh;  // (gates · hidden)
};

struct RecurrentAttentionOutput {
  Tensor log_probs;  // (B, num_classes)
  Tensor locations;  // (B, T, 2) where each glimpse was taken (x, y), in [-1, 1]; no history
  Tensor log_pi;     // (B, T) log-density of each sampled location under the policy
  Tensor baselines;  // (B, T)
};

class RecurrentAttention : public Module {
 public:
  explicit RecurrentAttention(const RecurrentAttentionOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "RecurrentAttention"; }
  std::string extra_repr() const override;

  // x (B, C, H, W). Training mode samples the locations with ε from
  // `generator` (the default one if null); eval mode takes μ.
  RecurrentAttentionOutput forward(const Tensor& x, Generator* generator = nullptr);
  // With ε (B, T, 2) given; ignored (may be undefined) in eval mode.
  RecurrentAttentionOutput forward(const Tensor& x, const Tensor& noise);

  // ---- maps of the last input (detached; undefined before the first forward) ----
  // The glimpse path (B, T, 2): the locations (x, y) in [-1, 1].
  Tensor attention_map() const { return locations_; }
  // The patches read, (B, T, k, 4) float32 (y0, x0, y1, x1) in input pixels
  // (continuous coordinates: pixel (r, c) covers [r, r+1) × [c, c+1)); scale i
  // is the box of side g·2^i around the same centre; they may reach past the image.
  Tensor glimpse_boxes() const;

  const RecurrentAttentionOptions& options() const { return options_; }

  std::shared_ptr<GlimpseNetwork> glimpse_net;
  std::shared_ptr<RecurrentCore> core;
  std::shared_ptr<Linear> location_net;  // hidden -> 2 (μ before tanh)
  std::shared_ptr<Linear> baseline_net;  // hidden -> 1
  std::shared_ptr<Linear> classifier;    // hidden -> num_classes

 private:
  RecurrentAttentionOptions options_;
  Tensor locations_;
  int64_t image_height_ = 0, image_width_ = 0;
};

// The hybrid loss of RAM, every part a 0-d tensor, mean over the batch:
//   classification = NLL(log_probs, labels)
//   reinforce      = Σ_t -log π_t · (R - b_t.detach()),  R = [argmax log_probs == label]
//   baseline       = mean over (B, T) of (b_t - R)²
//   total          = classification + reinforce + baseline
// labels: int64 (B) in [0, num_classes).
struct ReinforceLoss {
  Tensor total, classification, reinforce, baseline;
};
ReinforceLoss reinforce_loss(const RecurrentAttentionOutput& output, const Tensor& labels);

}  // namespace attnkit::nn::vision
