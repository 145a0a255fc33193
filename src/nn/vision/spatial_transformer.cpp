#include "attnkit/nn/vision/spatial_transformer.h"

#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/affine_grid.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/grid_sample.h"
#include "attnkit/ops/pooling.h"

namespace attnkit::nn::vision {

namespace {

// The side after the default net's conv 7 -> pool 2 -> conv 5 -> pool 2.
int64_t localized_side(int64_t side) { return ((side - 6) / 2 - 4) / 2; }

std::string sizes_str(const std::vector<int64_t>& sizes) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  return out.str() + ")";
}

const SpatialTransformerOptions& checked(const SpatialTransformerOptions& o, bool default_net) {
  AK_CHECK(o.in_channels > 0, "SpatialTransformer: in_channels must be positive, got ", o.in_channels);
  AK_CHECK(o.output_size.empty() || (o.output_size.size() == 2 && o.output_size[0] > 0 && o.output_size[1] > 0),
           "SpatialTransformer: output_size must be empty (the input's) or two positive sizes (Ho, Wo), got ",
           sizes_str(o.output_size));
  AK_CHECK(o.mode == "bilinear" || o.mode == "nearest" || o.mode == "bicubic",
           "SpatialTransformer: mode must be 'bilinear', 'nearest' or 'bicubic', got '", o.mode, "'");
  AK_CHECK(o.padding_mode == "zeros" || o.padding_mode == "border" || o.padding_mode == "reflection",
           "SpatialTransformer: padding_mode must be 'zeros', 'border' or 'reflection', got '", o.padding_mode, "'");
  if (default_net) {
    AK_CHECK(o.input_size.size() == 2,
             "SpatialTransformer: the default localization net needs input_size (H, W), got ",
             sizes_str(o.input_size), "; give input_size or your own localization net");
    AK_CHECK(o.localization_features == 0,
             "SpatialTransformer: localization_features is the width of your own localization net's output; the "
             "default net's is ",
             StnLocalization::kFeatures, ", got localization_features=", o.localization_features);
  } else {
    AK_CHECK(o.localization_features > 0,
             "SpatialTransformer: localization_features (F, the width of your localization net's output (B, F)) "
             "must be positive, got ",
             o.localization_features);
  }
  return o;
}

}  // namespace

// ---- StnLocalization ----

StnLocalization::StnLocalization(int64_t in_channels, int64_t height_, int64_t width_, Generator* generator)
    : height(height_), width(width_) {
  AK_CHECK(height >= 18 && width >= 18,
           "SpatialTransformer: the default localization net (conv 7, pool 2, conv 5, pool 2) needs an input of at "
           "least 18 x 18, got input_size (",
           height, ", ", width, ")");
  conv1 = register_module(
      "conv1", std::make_shared<Conv2d>(ConvOptions{.in_channels = in_channels, .out_channels = 8, .kernel_size = 7},
                                        generator));
  conv2 = register_module(
      "conv2", std::make_shared<Conv2d>(ConvOptions{.in_channels = 8, .out_channels = 10, .kernel_size = 5}, generator));
  fc = register_module("fc", std::make_shared<Linear>(10 * localized_side(height) * localized_side(width), kFeatures,
                                                      true, generator));
}

Tensor StnLocalization::forward(const Tensor& x) const {
  AK_CHECK(x.dim() == 4 && x.size(2) == height && x.size(3) == width,
           "SpatialTransformer: the default localization net was built for inputs of ", height, " x ", width,
           " (input_size), got input of shape ", shape_str(x.shape()));
  Tensor out = relu(max_pool2d(conv1->forward(x), 2));  // (B, 8, (H - 6) / 2, ...)
  out = relu(max_pool2d(conv2->forward(out), 2));       // (B, 10, h, w)
  return relu(fc->forward(out.flatten(1)));             // (B, 32)
}

std::string StnLocalization::extra_repr() const {
  return "input_size=(" + std::to_string(height) + ", " + std::to_string(width) + ")";
}

// ---- SpatialTransformer ----

SpatialTransformer::SpatialTransformer(const SpatialTransformerOptions& o, Generator* generator)
    : SpatialTransformer(o, Localization{}, generator) {}

SpatialTransformer::SpatialTransformer(const SpatialTransformerOptions& o, Localization net, Generator* generator)
    : options(checked(o, net.module == nullptr && net.forward == nullptr)) {
  int64_t features = options.localization_features;
  if (net.module == nullptr && net.forward == nullptr) {
    auto default_net = std::make_shared<StnLocalization>(options.in_channels, options.input_size[0],
                                                         options.input_size[1], generator);
    net = Localization::of(default_net);
    features = StnLocalization::kFeatures;
  }
  AK_CHECK(net.module != nullptr && net.forward != nullptr,
           "SpatialTransformer: a localization net needs both its module (which owns its parameters) and its "
           "forward function, got ",
           net.module ? "no forward function" : "no module");
  localization = register_module("localization", net.module);
  localize_ = std::move(net.forward);
  fc_loc = register_module("fc_loc", std::make_shared<Linear>(features, 6, true, generator));
  // The identity transform: θ = [1 0 0; 0 1 0] whatever the features.
  init::zeros_(fc_loc->weight);
  NoGradGuard no_grad;
  fc_loc->bias.copy_(from_vector({1, 0, 0, 0, 1, 0}, {6}));
}

Tensor SpatialTransformer::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  AK_CHECK(x.defined() && x.dim() == 4, "SpatialTransformer: expected input (B, C, H, W), got shape ",
           x.defined() ? shape_str(x.shape()) : std::string("nothing"));
  AK_CHECK(x.size(1) == options.in_channels, "SpatialTransformer: expected ", options.in_channels,
           " input channels, got input of shape ", shape_str(x.shape()));
  const int64_t b = x.size(0);
  Tensor features = localize_(x);  // (B, F)
  AK_CHECK(features.defined() && features.dim() == 2 && features.size(0) == b &&
               features.size(1) == fc_loc->in_features,
           "SpatialTransformer: the localization net should give features (", b, ", ", fc_loc->in_features,
           ") for input of shape ", shape_str(x.shape()), ", got ",
           features.defined() ? shape_str(features.shape()) : std::string("nothing"));
  Tensor theta = fc_loc->forward(features).view({b, 2, 3});  // (B, 2, 3)
  const int64_t ho = options.output_size.empty() ? x.size(2) : options.output_size[0];
  const int64_t wo = options.output_size.empty() ? x.size(3) : options.output_size[1];
  Tensor grid = affine_grid(theta, {b, x.size(1), ho, wo}, options.align_corners);  // (B, Ho, Wo, 2)
  Tensor out = grid_sample(x, grid, options.mode, options.padding_mode, options.align_corners);  // (B, C, Ho, Wo)
  theta_ = theta.detach();
  grid_ = grid.detach();
  warped_ = out.detach();
  return out;
}

std::string SpatialTransformer::extra_repr() const {
  std::ostringstream out;
  out << "in_channels=" << options.in_channels;
  if (!options.output_size.empty()) out << ", output_size=" << sizes_str(options.output_size);
  out << ", mode=" << options.mode << ", padding_mode=" << options.padding_mode
      << ", align_corners=" << (options.align_corners ? "True" : "False");
  return out.str();
}

}  // namespace attnkit::nn::vision
