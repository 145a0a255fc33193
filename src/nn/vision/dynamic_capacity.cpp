#include "attnkit/nn/vision/dynamic_capacity.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <vector>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/ops/conv.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/linear.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::nn::vision {

namespace {

DynamicCapacityOptions resolved(DynamicCapacityOptions o) {
  if (o.patch_stride == 0) o.patch_stride = o.patch_size;
  if (o.fine_width == 0) o.fine_width = 2 * o.dim;
  return o;
}

void check_options(const DynamicCapacityOptions& o) {
  AK_CHECK(o.in_channels > 0, "DynamicCapacity: in_channels must be positive, got ", o.in_channels);
  AK_CHECK(o.num_classes > 0, "DynamicCapacity: num_classes must be positive, got ", o.num_classes);
  AK_CHECK(o.dim > 0, "DynamicCapacity: dim must be positive, got ", o.dim);
  AK_CHECK(o.top_k > 0, "DynamicCapacity: top_k must be positive, got ", o.top_k);
  AK_CHECK(o.patch_size > 0, "DynamicCapacity: patch_size must be positive, got ", o.patch_size);
  AK_CHECK(o.patch_stride >= 0, "DynamicCapacity: patch_stride must be >= 0 (0: patch_size), got ", o.patch_stride);
  AK_CHECK(o.patch_padding >= 0 && o.patch_padding < o.patch_size,
           "DynamicCapacity: patch_padding must be in [0, patch_size), got ", o.patch_padding, " with patch_size ",
           o.patch_size);
  AK_CHECK(o.fine_width >= 0, "DynamicCapacity: fine_width must be >= 0 (0: 2 * dim), got ", o.fine_width);
}

// Zero padding of the last two dims, built from cat so it is differentiable.
Tensor zero_pad2d(const Tensor& x, int64_t pad) {
  if (pad == 0) return x;
  Shape rows = x.shape();
  rows[2] = pad;
  Tensor tall = cat({zeros(rows), x, zeros(rows)}, 2);
  Shape columns = tall.shape();
  columns[3] = pad;
  return cat({zeros(columns), tall, zeros(columns)}, 3);
}

// For each sample, the k flat positions of largest saliency, largest first;
// ties go to the lower index, so the choice is deterministic; NaN ranks last.
std::vector<int64_t> top_k_positions(const Tensor& saliency, int64_t k) {  // saliency (B, h, w)
  const int64_t batch = saliency.size(0), count = saliency.size(1) * saliency.size(2);
  Tensor values = saliency.contiguous();
  const float* data = values.data<float>();
  std::vector<int64_t> chosen;
  chosen.reserve(static_cast<size_t>(batch * k));
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = data + b * count;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [row](int64_t a, int64_t c) {
      return row[a] > row[c] || (std::isnan(row[c]) && !std::isnan(row[a]));
    });
    chosen.insert(chosen.end(), order.begin(), order.begin() + k);
  }
  return chosen;
}

}  // namespace

// ---- default nets ----

DynamicCapacityCoarseNet::DynamicCapacityCoarseNet(const DynamicCapacityOptions& o, Generator* generator) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(ConvOptions{.in_channels = o.in_channels,
                                                                        .out_channels = o.dim,
                                                                        .kernel_size = o.patch_size,
                                                                        .stride = resolved(o).patch_stride,
                                                                        .padding = o.patch_padding},
                                                            generator));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(
                                       ConvOptions{.in_channels = o.dim, .out_channels = o.dim, .kernel_size = 1},
                                       generator));
}

Tensor DynamicCapacityCoarseNet::forward(const Tensor& x) const {
  return relu(conv2->forward(relu(conv1->forward(x))));
}

DynamicCapacityFineNet::DynamicCapacityFineNet(const DynamicCapacityOptions& o, Generator* generator) {
  const int64_t width = resolved(o).fine_width;
  conv1 = register_module("conv1", std::make_shared<Conv2d>(ConvOptions{.in_channels = o.in_channels,
                                                                        .out_channels = width,
                                                                        .kernel_size = 3,
                                                                        .padding = 1},
                                                            generator));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(
                                       ConvOptions{.in_channels = width, .out_channels = width, .kernel_size = 3,
                                                   .padding = 1},
                                       generator));
  conv3 = register_module("conv3", std::make_shared<Conv2d>(
                                       ConvOptions{.in_channels = width, .out_channels = o.dim,
                                                   .kernel_size = o.patch_size},
                                       generator));
}

Tensor DynamicCapacityFineNet::forward(const Tensor& patches) const {
  return relu(conv3->forward(relu(conv2->forward(relu(conv1->forward(patches))))));
}

// ---- the block ----

DynamicCapacity::DynamicCapacity(const DynamicCapacityOptions& options, Generator* generator)
    : DynamicCapacity(options, FeatureNet{}, FeatureNet{}, generator) {}

DynamicCapacity::DynamicCapacity(const DynamicCapacityOptions& options, FeatureNet coarse, FeatureNet fine,
                                 Generator* generator)
    : options_(resolved(options)) {
  check_options(options);
  AK_CHECK(!coarse.module || coarse.forward, "DynamicCapacity: the coarse net was given without its forward");
  AK_CHECK(!fine.module || fine.forward, "DynamicCapacity: the fine net was given without its forward");
  if (coarse.module) {
    coarse_net = register_module("coarse_net", coarse.module);
    coarse_forward_ = std::move(coarse.forward);
  } else {
    auto net = register_module("coarse_net", std::make_shared<DynamicCapacityCoarseNet>(options_, generator));
    coarse_net = net;
    coarse_forward_ = [net](const Tensor& x) { return net->forward(x); };
  }
  if (fine.module) {
    fine_net = register_module("fine_net", fine.module);
    fine_forward_ = std::move(fine.forward);
  } else {
    auto net = register_module("fine_net", std::make_shared<DynamicCapacityFineNet>(options_, generator));
    fine_net = net;
    fine_forward_ = [net](const Tensor& x) { return net->forward(x); };
  }
  top = register_module("top", std::make_shared<Conv2d>(
                                   ConvOptions{.in_channels = options.dim, .out_channels = options.dim,
                                               .kernel_size = 1},
                                   generator));
  classifier = register_module("classifier",
                               std::make_shared<Linear>(options.dim, options.num_classes, true, generator));
}

std::string DynamicCapacity::extra_repr() const {
  std::ostringstream out;
  out << "in_channels=" << options_.in_channels << ", num_classes=" << options_.num_classes
      << ", dim=" << options_.dim << ", top_k=" << options_.top_k << ", patch_size=" << options_.patch_size
      << ", patch_stride=" << options_.patch_stride << ", patch_padding=" << options_.patch_padding;
  return out.str();
}

Tensor DynamicCapacity::head(const Tensor& features, bool detach_weights) const {
  auto w = [detach_weights](const Tensor& t) { return detach_weights ? t.detach() : t; };
  Tensor hidden = silu(conv2d(features, w(top->weight), w(top->bias)));  // (B, D, h, w)
  Tensor pooled = mean(hidden, {2, 3});                                  // (B, D)
  return linear(pooled, w(classifier->weight), w(classifier->bias));     // (B, num_classes)
}

Tensor DynamicCapacity::top_layers(const Tensor& features) const { return head(features, false); }

Tensor DynamicCapacity::entropy_saliency(const Tensor& coarse) const {  // coarse (B, D, h, w)
  autograd::GradModeGuard grad_on(true);  // a gradient is the output here, even under no_grad
  Tensor features = coarse.detach();     // a fresh leaf: the only thing the backward below reaches
  features.set_requires_grad(true);
  Tensor log_p = log_softmax(head(features, true), 1);  // (B, num_classes)
  Tensor entropy = neg(sum(mul(exp(log_p), log_p)));    // Σ_b H_b
  entropy.backward();
  Tensor g = features.grad();                           // (B, D, h, w)
  return sqrt(sum(mul(g, g), {1}));                     // (B, h, w)
}

Tensor DynamicCapacity::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  const DynamicCapacityOptions& o = options_;
  AK_CHECK(x.defined() && x.dim() == 4, "DynamicCapacity: expected input of shape (B, C, H, W), got ",
           x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  AK_CHECK(x.size(1) == o.in_channels, "DynamicCapacity: expected ", o.in_channels,
           " input channels, got input of shape ", shape_str(x.shape()));
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  const int64_t padded_h = height + 2 * o.patch_padding, padded_w = width + 2 * o.patch_padding;
  AK_CHECK(padded_h >= o.patch_size && padded_w >= o.patch_size, "DynamicCapacity: input of shape ",
           shape_str(x.shape()), " is smaller than one patch of size ", o.patch_size, " (padding ",
           o.patch_padding, ")");

  Tensor coarse = coarse_forward_(x);  // (B, D, h, w)
  AK_CHECK(coarse.dim() == 4 && coarse.size(0) == batch && coarse.size(1) == o.dim,
           "DynamicCapacity: the coarse net must give (", batch, ", ", o.dim, ", h, w), got ",
           shape_str(coarse.shape()));
  const int64_t rows = coarse.size(2), cols = coarse.size(3), count = rows * cols;
  AK_CHECK((rows - 1) * o.patch_stride + o.patch_size <= padded_h &&
               (cols - 1) * o.patch_stride + o.patch_size <= padded_w,
           "DynamicCapacity: a coarse map of ", rows, "x", cols, " at patch_stride ", o.patch_stride,
           " and patch_size ", o.patch_size, " reaches past the input of shape ", shape_str(x.shape()),
           " padded by ", o.patch_padding);
  AK_CHECK(count >= o.top_k, "DynamicCapacity: top_k=", o.top_k, " is more than the ", count,
           " positions of the coarse map (", rows, "x", cols, ")");

  Tensor saliency = entropy_saliency(coarse);  // (B, h, w)
  const std::vector<int64_t> chosen = top_k_positions(saliency, o.top_k);

  // The fine net sees the chosen patches only, all samples in one batch.
  Tensor padded = zero_pad2d(x, o.patch_padding);
  std::vector<Tensor> patches;
  std::vector<int64_t> positions, regions;
  Tensor selection = zeros({batch, count, o.top_k});  // one-hot: position <- m-th fine vector
  float* select = selection.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    Tensor image = padded.select(0, b);  // (C, H + 2p, W + 2p)
    for (int64_t m = 0; m < o.top_k; ++m) {
      const int64_t flat = chosen[static_cast<size_t>(b * o.top_k + m)];
      const int64_t i = flat / cols, j = flat % cols;
      const int64_t y0 = i * o.patch_stride, x0 = j * o.patch_stride;  // in the padded input
      patches.push_back(image.slice(1, y0, y0 + o.patch_size).slice(2, x0, x0 + o.patch_size));
      positions.insert(positions.end(), {i, j});
      regions.insert(regions.end(), {y0 - o.patch_padding, x0 - o.patch_padding,
                                     y0 - o.patch_padding + o.patch_size, x0 - o.patch_padding + o.patch_size});
      select[(b * count + flat) * o.top_k + m] = 1.0f;
    }
  }
  const int64_t n = batch * o.top_k;
  Tensor fine = fine_forward_(stack(patches, 0));  // (B·k, D, 1, 1) or (B·k, D)
  AK_CHECK((fine.dim() == 4 && fine.size(0) == n && fine.size(1) == o.dim && fine.size(2) == 1 &&
            fine.size(3) == 1) ||
               (fine.dim() == 2 && fine.size(0) == n && fine.size(1) == o.dim),
           "DynamicCapacity: the fine net must give (", n, ", ", o.dim, ", 1, 1) or (", n, ", ", o.dim,
           ") for ", n, " patches of shape (", o.in_channels, ", ", o.patch_size, ", ", o.patch_size, "), got ",
           shape_str(fine.shape()));

  // Scatter the fine vectors to their positions (an exact one-hot product),
  // then take them where chosen and the coarse vectors elsewhere.
  Tensor fine_map = matmul(selection, fine.reshape({batch, o.top_k, o.dim}))  // (B, h·w, D)
                        .transpose(1, 2)
                        .reshape({batch, o.dim, rows, cols});
  Tensor chosen_mask = gt(sum(selection, {2}), 0.0).reshape({batch, 1, rows, cols});  // bool
  Tensor merged = where(chosen_mask, fine_map, coarse);  // (B, D, h, w)

  saliency_ = saliency.detach();
  positions_ = from_vector_i64(positions, {batch, o.top_k, 2});
  regions_ = from_vector_i64(regions, {batch, o.top_k, 4});
  return head(merged, false);
}

}  // namespace attnkit::nn::vision
