#include "attnkit/nn/vision/selective_kernel.h"

#include <algorithm>
#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/nn/vision/make_divisible.h"
#include "attnkit/ops/adaptive_pooling.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"
#include "nn/vision/block_input.h"

namespace attnkit::nn::vision {

namespace {

std::string list_str(const std::vector<int64_t>& values) {
  std::ostringstream out;  // Python's list: [3, 5]
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << "]";
  return out.str();
}

}  // namespace

SelectiveKernelAttention::SelectiveKernelAttention(int64_t channels, int64_t num_paths, int64_t attn_channels,
                                                   Generator* generator)
    : num_paths(num_paths) {
  fc_reduce = register_module("fc_reduce", std::make_shared<Conv2d>(ConvOptions{.in_channels = channels,
                                                                                .out_channels = attn_channels,
                                                                                .kernel_size = 1,
                                                                                .bias = false},
                                                                    generator));
  bn = register_module("bn", std::make_shared<BatchNorm2d>(attn_channels));
  fc_select = register_module("fc_select", std::make_shared<Conv2d>(ConvOptions{.in_channels = attn_channels,
                                                                                .out_channels = channels * num_paths,
                                                                                .kernel_size = 1,
                                                                                .bias = false},
                                                                    generator));
}

Tensor SelectiveKernelAttention::forward(const Tensor& paths_sum) {
  const int64_t batch = paths_sum.size(0), channels = paths_sum.size(1);
  Tensor s = adaptive_avg_pool2d(paths_sum, 1);                  // (B, C, 1, 1): the mean over H, W
  Tensor z = relu(bn->forward(fc_reduce->forward(s)));           // (B, d, 1, 1)
  Tensor logits = fc_select->forward(z).reshape({batch, num_paths, channels, 1, 1});  // (B, P, C, 1, 1)
  return softmax(logits, 1);
}

SelectiveKernel::SelectiveKernel(const SelectiveKernelOptions& o, Generator* generator)
    : in_channels(o.in_channels),
      out_channels(o.out_channels.value_or(o.in_channels)),
      num_paths(static_cast<int64_t>(o.kernel_size.size())),
      stride(o.stride),
      split_input(o.split_input) {
  const char* block = "SelectiveKernel";
  AK_CHECK(in_channels > 0, block, ": in_channels must be positive, got ", in_channels);
  AK_CHECK(out_channels > 0, block, ": out_channels must be positive, got ", out_channels);
  AK_CHECK(num_paths > 0, block, ": kernel_size needs at least one kernel size (one per path), got none");
  for (int64_t k : o.kernel_size) {
    AK_CHECK(k >= 3 && k % 2 == 1, block, ": every kernel size must be odd and at least 3, got ",
             list_str(o.kernel_size));
  }
  AK_CHECK(stride > 0, block, ": stride must be positive, got ", stride);
  AK_CHECK(o.dilation > 0, block, ": dilation must be positive, got ", o.dilation);
  AK_CHECK(o.groups > 0, block, ": groups must be positive, got ", o.groups);
  AK_CHECK(!o.rd_channels || *o.rd_channels > 0, block, ": rd_channels must be positive, got ",
           o.rd_channels.value_or(0));
  AK_CHECK(o.rd_channels || o.rd_ratio > 0, block, ": rd_ratio must be positive, got ", o.rd_ratio);
  AK_CHECK(o.rd_divisor > 0, block, ": rd_divisor must be positive, got ", o.rd_divisor);
  AK_CHECK(!split_input || in_channels % num_paths == 0, block, ": with split_input, in_channels=", in_channels,
           " must be divisible by the number of paths ", num_paths);
  const int64_t path_in = split_input ? in_channels / num_paths : in_channels;
  groups = std::min(out_channels, o.groups);  // as timm
  AK_CHECK(path_in % groups == 0 && out_channels % groups == 0, block, ": groups=", groups,
           " must divide each path's input channels (", path_in, ") and out_channels (", out_channels, ")");

  for (int64_t k : o.kernel_size) {
    // keep_3x3: a k×k receptive field from a 3×3 kernel with dilation (k - 1) / 2.
    kernel_size.push_back(o.keep_3x3 ? 3 : k);
    dilation.push_back(o.keep_3x3 ? o.dilation * (k - 1) / 2 : o.dilation);
  }
  paths = register_module("paths", std::make_shared<ModuleList<ConvNormAct>>());
  for (int64_t i = 0; i < num_paths; ++i) {
    paths->push_back(std::make_shared<ConvNormAct>(ConvNormActOptions{.in_channels = path_in,
                                                                      .out_channels = out_channels,
                                                                      .kernel_size = kernel_size[i],
                                                                      .stride = stride,
                                                                      .dilation = dilation[i],
                                                                      .groups = groups},
                                                   generator));
  }
  // timm's SK keeps make_divisible's default 10 % guard (round_limit 0.9), unlike SE and CBAM.
  attn_channels = o.rd_channels.value_or(make_divisible(static_cast<double>(out_channels) * o.rd_ratio,
                                                        o.rd_divisor));
  attn = register_module("attn",
                         std::make_shared<SelectiveKernelAttention>(out_channels, num_paths, attn_channels, generator));
}

std::string SelectiveKernel::extra_repr() const {
  std::ostringstream out;
  out << "in_channels=" << in_channels << ", out_channels=" << out_channels << ", kernel_size="
      << list_str(kernel_size) << ", dilation=" << list_str(dilation) << ", stride=" << stride;
  if (groups != 1) out << ", groups=" << groups;
  out << ", attn_channels=" << attn_channels;
  if (!split_input) out << ", split_input=False";
  return out.str();
}

Tensor SelectiveKernel::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  check_block_input(x, in_channels, "SelectiveKernel");
  AK_CHECK(!is_training() || x.size(0) > 1,
           "SelectiveKernel: in training mode the batch must hold more than one sample (the attention's "
           "BatchNorm normalises one value per sample and channel), got an input of shape ",
           shape_str(x.shape()));
  const int64_t batch = x.size(0), path_in = split_input ? in_channels / num_paths : in_channels;
  std::vector<Tensor> outs;  // U_i, (B, C_out, H', W') each
  for (int64_t i = 0; i < num_paths; ++i) {
    outs.push_back((*paths)[i].forward(split_input ? x.narrow(1, i * path_in, path_in) : x));
  }
  Tensor paths_sum = outs[0];  // (B, C_out, H', W')
  for (int64_t i = 1; i < num_paths; ++i) paths_sum = paths_sum + outs[i];
  Tensor a = attn->forward(paths_sum);  // (B, P, C_out, 1, 1)
  Tensor y = outs[0] * a.select(1, 0);  // a_i broadcast over H', W'; the paths are never stacked
  for (int64_t i = 1; i < num_paths; ++i) y = y + outs[i] * a.select(1, i);
  attention_map_ = a.detach().reshape({batch, num_paths, out_channels});
  return y;
}

}  // namespace attnkit::nn::vision
