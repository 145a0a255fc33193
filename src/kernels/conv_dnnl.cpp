#include "kernels/conv_dnnl.h"

#include <omp.h>

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "attnkit/core/error.h"
#include "kernels/dnnl_context.h"
#include "kernels/scratch_buffer.h"

namespace attnkit::kernels {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using Dims = dnnl::memory::dims;

// ---- per-thread scratch buffers ----

// The blocked copies of the operands and oneDNN's scratchpad. Each role has
// its own buffer, since several are alive at once within one call; between
// calls they are reused, which keeps a training step from allocating (and
// zero-filling fresh pages of) ~100 MB per convolution.
enum class Slot { Src, Weights, Dst, DiffDst, DiffDstForWeights, DiffSrc, DiffWeights, Scratchpad, Count };

void* scratch(Slot slot, size_t bytes) {
  thread_local ScratchBuffer buffers[static_cast<size_t>(Slot::Count)];
  return buffers[static_cast<size_t>(slot)].get(bytes);
}

// ---- memory descriptors ----

// Strides of size-1 dims are arbitrary; they are set to what a dense NCHW
// array would have, so an NCHW-dense operand is described exactly as
// format_tag::nchw and needs no reorder when the primitive wants that layout.
Dims normalized_strides(const Dims& dims, const std::array<int64_t, 4>& strides) {
  Dims out(strides.begin(), strides.end());
  for (int i = 3; i >= 0; --i) {
    if (dims[i] == 1) out[i] = i == 3 ? 1 : out[i + 1] * dims[i + 1];
  }
  return out;
}

dnnl::memory::desc activation_desc(const Dims& dims, const std::array<int64_t, 4>& strides) {
  return dnnl::memory::desc(dims, dt::f32, normalized_strides(dims, strides));
}

Dims src_dims(const ConvParams& p) { return {p.batch, p.in_channels, p.input[0], p.input[1]}; }
Dims dst_dims(const ConvParams& p) { return {p.batch, p.out_channels, p.output[0], p.output[1]}; }

// Grouped weights are 5-D for oneDNN: (G, C_out / G, C_in / G, KH, KW),
// the same memory as torch's (C_out, C_in / G, KH, KW).
Dims weight_dims(const ConvParams& p) {
  if (p.groups == 1) return {p.out_channels, p.in_channels, p.kernel[0], p.kernel[1]};
  return {p.groups, p.out_per_group(), p.in_per_group(), p.kernel[0], p.kernel[1]};
}
dnnl::memory::desc user_weight_desc(const ConvParams& p) {
  return dnnl::memory::desc(weight_dims(p), dt::f32, p.groups == 1 ? tag::oihw : tag::goihw);
}
dnnl::memory::desc any_desc(const Dims& dims) { return dnnl::memory::desc(dims, dt::f32, tag::any); }
dnnl::memory::desc bias_desc(const ConvParams& p) { return dnnl::memory::desc({p.out_channels}, dt::f32, tag::x); }

struct Geometry {
  Dims strides, dilates, padding_l, padding_r;
};
Geometry geometry(const ConvParams& p) {
  return {{p.stride[0], p.stride[1]},
          {p.dilation[0] - 1, p.dilation[1] - 1},  // oneDNN counts the gaps between taps
          {p.pad_begin[0], p.pad_begin[1]},
          {p.pad_end[0], p.pad_end[1]}};
}


// The primitive's forward description, which the backward ones take as a hint.
dnnl::convolution_forward::primitive_desc forward_pd(const ConvParams& p, bool with_bias) {
  const Geometry g = geometry(p);
  const auto alg = dnnl::algorithm::convolution_direct;  // no Winograd: it changes the rounding
  const auto prop = dnnl::prop_kind::forward_training;
  auto desc = with_bias ? dnnl::convolution_forward::desc(prop, alg, any_desc(src_dims(p)),
                                                           any_desc(weight_dims(p)), bias_desc(p),
                                                           any_desc(dst_dims(p)), g.strides, g.dilates,
                                                           g.padding_l, g.padding_r)
                        : dnnl::convolution_forward::desc(prop, alg, any_desc(src_dims(p)),
                                                           any_desc(weight_dims(p)), any_desc(dst_dims(p)),
                                                           g.strides, g.dilates, g.padding_l, g.padding_r);
  return dnnl::convolution_forward::primitive_desc(desc, user_scratchpad(), cpu_engine());
}

// ---- ports: a user array and the primitive's layout of it ----

// `reorder` goes user -> inner for an input, inner -> user for an output;
// it is empty when the layouts agree and the user array is used in place.
struct Port {
  dnnl::memory::desc user, inner;
  std::optional<dnnl::reorder> reorder;
};

enum class Direction { In, Out };

Port make_port(const dnnl::memory::desc& user, const dnnl::memory::desc& inner, Direction direction) {
  Port port{user, inner, std::nullopt};
  if (user != inner) {
    auto& engine = cpu_engine();
    const dnnl::reorder::primitive_desc pd =
        direction == Direction::In ? dnnl::reorder::primitive_desc(engine, user, engine, inner, user_scratchpad())
                                   : dnnl::reorder::primitive_desc(engine, inner, engine, user, user_scratchpad());
    // fp32 layout changes need no scratchpad, and execute() passes none.
    AK_CHECK(pd.scratchpad_desc().get_size() == 0, "conv2d: oneDNN wants a scratchpad for a reorder of ",
             user.get_size(), " bytes");
    port.reorder = dnnl::reorder(pd);
  }
  return port;
}

// The memory the primitive reads for an input port (reordered into a scratch buffer if needed).
dnnl::memory bind_input(const Port& port, const void* user_data, Slot slot) {
  dnnl::memory user(port.user, cpu_engine(), const_cast<void*>(user_data));
  if (!port.reorder) return user;
  dnnl::memory inner(port.inner, cpu_engine(), scratch(slot, port.inner.get_size()));
  port.reorder->execute(cpu_stream(), user, inner);
  return inner;
}

// The memory the primitive writes for an output port; finish_output moves it to the user array.
dnnl::memory bind_output(const Port& port, void* user_data, Slot slot) {
  if (!port.reorder) return dnnl::memory(port.user, cpu_engine(), user_data);
  return dnnl::memory(port.inner, cpu_engine(), scratch(slot, port.inner.get_size()));
}
void finish_output(const Port& port, const dnnl::memory& inner, void* user_data) {
  if (!port.reorder) return;
  dnnl::memory user(port.user, cpu_engine(), user_data);
  dnnl::memory source = inner;  // a handle copy: reorder::execute takes non-const references
  port.reorder->execute(cpu_stream(), source, user);
}

dnnl::memory scratchpad_memory(const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, cpu_engine(), scratch(Slot::Scratchpad, desc.get_size()));
}

// ---- plans: the primitives and reorders of one call signature ----

struct ForwardPlan {
  dnnl::convolution_forward primitive;
  dnnl::memory::desc scratchpad, bias;
  Port src, weights, dst;
  bool with_bias;
};

ForwardPlan make_forward_plan(const ConvParams& p, const ActivationOperand& dst, const ActivationOperand& src,
                              bool with_bias) {
  auto pd = forward_pd(p, with_bias);
  return {dnnl::convolution_forward(pd),
          pd.scratchpad_desc(),
          bias_desc(p),
          make_port(activation_desc(src_dims(p), src.strides), pd.src_desc(), Direction::In),
          make_port(user_weight_desc(p), pd.weights_desc(), Direction::In),
          make_port(activation_desc(dst_dims(p), dst.strides), pd.dst_desc(), Direction::Out),
          with_bias};
}

struct BackwardDataPass {
  dnnl::convolution_backward_data primitive;
  dnnl::memory::desc scratchpad;
  Port diff_dst, weights, diff_src;
};

struct BackwardWeightsPass {
  dnnl::convolution_backward_weights primitive;
  dnnl::memory::desc scratchpad;
  Port diff_dst, src, diff_weights;
  bool with_bias;
};

struct BackwardPlan {
  std::optional<BackwardDataPass> data;
  std::optional<BackwardWeightsPass> weights;
};

BackwardPlan make_backward_plan(const ConvParams& p, const ConvGradients& grads, const ActivationOperand& diff_dst,
                                const ActivationOperand& src) {
  const bool with_bias = grads.diff_bias != nullptr;
  const Geometry g = geometry(p);
  const auto alg = dnnl::algorithm::convolution_direct;
  const auto hint = forward_pd(p, with_bias);
  const auto user_diff_dst = activation_desc(dst_dims(p), diff_dst.strides);
  BackwardPlan plan;
  if (grads.diff_src.data) {
    dnnl::convolution_backward_data::desc desc(alg, any_desc(src_dims(p)), any_desc(weight_dims(p)),
                                               any_desc(dst_dims(p)), g.strides, g.dilates, g.padding_l,
                                               g.padding_r);
    dnnl::convolution_backward_data::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), hint);
    plan.data = BackwardDataPass{
        dnnl::convolution_backward_data(pd), pd.scratchpad_desc(),
        make_port(user_diff_dst, pd.diff_dst_desc(), Direction::In),
        make_port(user_weight_desc(p), pd.weights_desc(), Direction::In),
        make_port(activation_desc(src_dims(p), grads.diff_src.strides), pd.diff_src_desc(), Direction::Out)};
  }
  if (grads.diff_weight || grads.diff_bias) {
    auto desc = with_bias ? dnnl::convolution_backward_weights::desc(
                                alg, any_desc(src_dims(p)), any_desc(weight_dims(p)), bias_desc(p),
                                any_desc(dst_dims(p)), g.strides, g.dilates, g.padding_l, g.padding_r)
                          : dnnl::convolution_backward_weights::desc(
                                alg, any_desc(src_dims(p)), any_desc(weight_dims(p)), any_desc(dst_dims(p)),
                                g.strides, g.dilates, g.padding_l, g.padding_r);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), hint);
    plan.weights = BackwardWeightsPass{
        dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(),
        make_port(user_diff_dst, pd.diff_dst_desc(), Direction::In),
        make_port(activation_desc(src_dims(p), src.strides), pd.src_desc(), Direction::In),
        make_port(user_weight_desc(p), pd.diff_weights_desc(), Direction::Out), with_bias};
  }
  return plan;
}

DnnlPlanCache<ForwardPlan>& forward_cache() {
  static DnnlPlanCache<ForwardPlan> instance("conv", 256);
  return instance;
}
DnnlPlanCache<BackwardPlan>& backward_cache() {
  static DnnlPlanCache<BackwardPlan> instance("conv backward", 256);
  return instance;
}

// The geometry, the thread count (oneDNN sizes a primitive for it at
// creation), then the caller's flags and operand strides.
std::vector<int64_t> plan_key(const ConvParams& p, std::initializer_list<int64_t> flags,
                              std::initializer_list<const ActivationOperand*> operands) {
  std::vector<int64_t> key = {p.batch, p.in_channels, p.out_channels, p.groups, omp_get_max_threads()};
  for (const auto* a : {&p.input, &p.output, &p.kernel, &p.stride, &p.pad_begin, &p.pad_end, &p.dilation}) {
    key.insert(key.end(), a->begin(), a->end());
  }
  key.insert(key.end(), flags);
  for (const ActivationOperand* op : operands) key.insert(key.end(), op->strides.begin(), op->strides.end());
  return key;
}

}  // namespace

void dnnl_conv_forward(const ActivationOperand& dst, const ActivationOperand& src, const float* weight,
                       const float* bias, const ConvParams& p) {
  const bool with_bias = bias != nullptr;
  auto plan = forward_cache().get(plan_key(p, {with_bias}, {&dst, &src}),
                                  [&] { return make_forward_plan(p, dst, src, with_bias); });
  dnnl::memory src_mem = bind_input(plan->src, src.data, Slot::Src);
  dnnl::memory weight_mem = bind_input(plan->weights, weight, Slot::Weights);
  dnnl::memory dst_mem = bind_output(plan->dst, dst.data, Slot::Dst);
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, src_mem},
                                                {DNNL_ARG_WEIGHTS, weight_mem},
                                                {DNNL_ARG_DST, dst_mem},
                                                {DNNL_ARG_SCRATCHPAD, scratchpad_memory(plan->scratchpad)}};
  if (with_bias) args[DNNL_ARG_BIAS] = dnnl::memory(plan->bias, cpu_engine(), const_cast<float*>(bias));
  dnnl::stream& stream = cpu_stream();
  plan->primitive.execute(stream, args);
  finish_output(plan->dst, dst_mem, dst.data);
  stream.wait();
}

void dnnl_conv_backward(const ConvGradients& grads, const ActivationOperand& diff_dst,
                        const ActivationOperand& src, const float* weight, const ConvParams& p) {
  const bool need_data = grads.diff_src.data != nullptr;
  const bool need_weight = grads.diff_weight != nullptr, need_bias = grads.diff_bias != nullptr;
  if (!need_data && !need_weight && !need_bias) return;
  // Unused operands take no part in the key: their strides may be anything.
  const ActivationOperand none{};
  auto plan = backward_cache().get(
      plan_key(p, {need_data, need_weight || need_bias, need_bias},
               {&diff_dst, need_data ? &grads.diff_src : &none, need_weight || need_bias ? &src : &none}),
      [&] { return make_backward_plan(p, grads, diff_dst, src); });
  dnnl::stream& stream = cpu_stream();

  std::optional<dnnl::memory> data_diff_dst;
  if (plan->data) {
    const BackwardDataPass& pass = *plan->data;
    data_diff_dst = bind_input(pass.diff_dst, diff_dst.data, Slot::DiffDst);
    dnnl::memory weight_mem = bind_input(pass.weights, weight, Slot::Weights);
    dnnl::memory diff_src_mem = bind_output(pass.diff_src, grads.diff_src.data, Slot::DiffSrc);
    pass.primitive.execute(stream, {{DNNL_ARG_DIFF_DST, *data_diff_dst},
                                    {DNNL_ARG_WEIGHTS, weight_mem},
                                    {DNNL_ARG_DIFF_SRC, diff_src_mem},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad_memory(pass.scratchpad)}});
    finish_output(pass.diff_src, diff_src_mem, grads.diff_src.data);
  }
  if (plan->weights) {
    const BackwardWeightsPass& pass = *plan->weights;
    // Both passes usually want diff_dst in the same layout: reorder it once.
    const bool reuse = data_diff_dst && pass.diff_dst.inner == plan->data->diff_dst.inner;
    dnnl::memory diff_dst_mem =
        reuse ? *data_diff_dst : bind_input(pass.diff_dst, diff_dst.data, Slot::DiffDstForWeights);
    dnnl::memory src_mem = bind_input(pass.src, src.data, Slot::Src);
    // The weight gradient is always computed (oneDNN has no bias-only pass);
    // when only the bias's is wanted it stays in a scratch buffer.
    dnnl::memory diff_weight_mem =
        need_weight ? bind_output(pass.diff_weights, grads.diff_weight, Slot::DiffWeights)
                    : dnnl::memory(pass.diff_weights.inner, cpu_engine(),
                                   scratch(Slot::DiffWeights, pass.diff_weights.inner.get_size()));
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_DIFF_DST, diff_dst_mem},
                                                  {DNNL_ARG_SRC, src_mem},
                                                  {DNNL_ARG_DIFF_WEIGHTS, diff_weight_mem},
                                                  {DNNL_ARG_SCRATCHPAD, scratchpad_memory(pass.scratchpad)}};
    if (pass.with_bias) {
      args[DNNL_ARG_DIFF_BIAS] = dnnl::memory(bias_desc(p), cpu_engine(), grads.diff_bias);
    }
    pass.primitive.execute(stream, args);
    if (need_weight) finish_output(pass.diff_weights, diff_weight_mem, grads.diff_weight);
  }
  stream.wait();
}

size_t dnnl_conv_cache_size() { return forward_cache().size() + backward_cache().size(); }

}  // namespace attnkit::kernels
