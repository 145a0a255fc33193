#include "attnkit/nn/vision/non_local.h"

#include <cmath>
#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/functional/scaled_dot_product_attention.h"
#include "attnkit/nn/init.h"
#include "attnkit/nn/vision/make_divisible.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::nn::vision {

namespace {

int64_t reduced_channels(const NonLocalOptions& o) {
  AK_CHECK(o.in_channels > 0, "NonLocal: in_channels must be positive, got ", o.in_channels);
  if (o.rd_channels) {
    AK_CHECK(*o.rd_channels > 0, "NonLocal: rd_channels must be positive, got ", *o.rd_channels);
    return *o.rd_channels;
  }
  AK_CHECK(o.rd_ratio > 0, "NonLocal: rd_ratio must be positive, got ", o.rd_ratio);
  AK_CHECK(o.rd_divisor > 0, "NonLocal: rd_divisor must be positive, got ", o.rd_divisor);
  return make_divisible(static_cast<double>(o.in_channels) * o.rd_ratio, o.rd_divisor);
}

std::shared_ptr<Conv2d> pointwise(int64_t in, int64_t out, Generator* generator) {
  return std::make_shared<Conv2d>(ConvOptions{.in_channels = in, .out_channels = out, .kernel_size = 1}, generator);
}

// (B, C', H, W) -> (B, 1, HW, C'): the positions as a sequence of one head.
Tensor as_sequence(const Tensor& features) {
  const int64_t b = features.size(0), c = features.size(1);
  return features.reshape({b, c, -1}).transpose(1, 2).unsqueeze(1);
}

}  // namespace

NonLocal::NonLocal(const NonLocalOptions& o, Generator* generator)
    : in_channels(o.in_channels),
      rd_channels(reduced_channels(o)),
      scale(o.use_scale ? 1.0 / std::sqrt(static_cast<double>(o.in_channels)) : 1.0) {
  t = register_module("t", pointwise(in_channels, rd_channels, generator));
  p = register_module("p", pointwise(in_channels, rd_channels, generator));
  g = register_module("g", pointwise(in_channels, rd_channels, generator));
  z = register_module("z", pointwise(rd_channels, in_channels, generator));
  norm = register_module("norm", std::make_shared<BatchNorm2d>(in_channels));
  reset_parameters(generator);
}

void NonLocal::reset_parameters(Generator* generator) {
  for (const std::shared_ptr<Conv2d>& conv : {t, p, g, z}) {
    // kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = √2 / √fan_out.
    const double std = std::sqrt(2.0 / static_cast<double>(init::fans(conv->weight).out));
    init::normal_(conv->weight, 0.0, std, generator);
    init::zeros_(conv->bias);
  }
  // A zero-scaled norm makes the residual branch vanish: the block starts as the identity.
  init::zeros_(norm->weight);
  init::zeros_(norm->bias);
}

Tensor NonLocal::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  AK_CHECK(x.defined() && x.dim() == 4, "NonLocal: expected input (B, C, H, W), got shape ",
           x.defined() ? shape_str(x.shape()) : std::string("nothing"));
  AK_CHECK(x.size(1) == in_channels, "NonLocal: expected ", in_channels, " input channels, got input of shape ",
           shape_str(x.shape()));
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  Tensor query = as_sequence(t->forward(x));  // (B, 1, HW, C')
  Tensor key = as_sequence(p->forward(x));    // (B, 1, HW, C')
  Tensor value = as_sequence(g->forward(x));  // (B, 1, HW, C')
  functional::SdpaOptions sdpa;
  sdpa.scale = scale;
  Tensor attended = functional::scaled_dot_product_attention(query, key, value, sdpa).output;  // (B, 1, HW, C')
  query_ = query.detach();
  key_ = key.detach();
  Tensor y = attended.squeeze(1).transpose(1, 2).reshape({b, rd_channels, h, w});  // (B, C', H, W)
  return add(norm->forward(z->forward(y)), x);
}

Tensor NonLocal::attention_map() const {
  if (!query_.defined()) return Tensor();
  NoGradGuard no_grad;
  Tensor scores = mul(matmul(query_, key_.transpose(-2, -1)), scale);  // (B, 1, HW, HW)
  return softmax(scores, -1).squeeze(1);
}

std::string NonLocal::extra_repr() const {
  std::ostringstream out;
  out << "in_channels=" << in_channels << ", rd_channels=" << rd_channels << ", scale=" << scale;
  return out.str();
}

}  // namespace attnkit::nn::vision
