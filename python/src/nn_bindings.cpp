// attnkit._C.nn: the module system and the layers, as torch.nn.
//
// Module is subclassable from Python: attribute assignment registers
// Modules as children and leaf tensors that require grad (attnkit.nn.Parameter)
// as parameters, so a Python model's parameters(), state_dict() and train()
// reach the C++ layers inside it.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using nn::Module;

nb::list named_list(const nn::NamedTensors& named, const std::string& prefix) {
  nb::list out;
  for (const auto& [name, t] : named) out.append(nb::make_tuple(prefix.empty() ? name : prefix + "." + name, t));
  return out;
}

// A state-dict value as a tensor: an attnkit Tensor, anything with
// __dlpack__ (torch, jax), or an array-like through NumPy.
Tensor as_state_tensor(nb::handle value, const std::string& key) {
  if (nb::isinstance<Tensor>(value)) return nb::cast<Tensor>(value);
  nb::module_ attnkit = nb::module_::import_("attnkit");
  try {
    if (nb::hasattr(value, "__dlpack__")) {
      nb::object source = nb::hasattr(value, "detach") ? value.attr("detach")() : nb::borrow(value);
      if (nb::hasattr(source, "contiguous")) source = source.attr("contiguous")();
      return nb::cast<Tensor>(attnkit.attr("from_dlpack")(source)).clone();
    }
    nb::module_ numpy = nb::module_::import_("numpy");
    return nb::cast<Tensor>(attnkit.attr("from_numpy")(numpy.attr("ascontiguousarray")(value))).clone();
  } catch (nb::python_error&) {
    throw nb::type_error(("load_state_dict: the value of \"" + key +
                          "\" is not a tensor or an array-like").c_str());
  }
}

bool is_parameter_like(nb::handle value) {
  if (!nb::isinstance<Tensor>(value)) return false;
  const Tensor& t = nb::cast<const Tensor&>(value);
  return t.defined() && t.is_leaf() && t.requires_grad();
}

void bind_module(nb::module_& m) {
  nb::class_<Module>(m, "Module", nb::dynamic_attr(),
                     "Base of every layer, as torch.nn.Module. Subclass it in Python: assign child modules "
                     "and attnkit.nn.Parameter tensors as attributes, define forward().")
      .def(nb::init<>())
      .def("__setattr__",
           [](nb::handle self, const std::string& name, nb::handle value) {
             Module& module = nb::cast<Module&>(self);
             if (nb::isinstance<Module>(value)) {
               module.set_module(name, nb::cast<std::shared_ptr<Module>>(value));
             } else if (is_parameter_like(value) || (value.is_none() && module.has_parameter(name))) {
               module.set_parameter(name, value.is_none() ? Tensor() : nb::cast<Tensor>(value));
             }
             nb::str key(name.c_str());
             if (PyObject_GenericSetAttr(self.ptr(), key.ptr(), value.ptr()) != 0) throw nb::python_error();
           },
           "name"_a, "value"_a.none())  // None is a value too: bn.momentum = None, self.bias = None
      .def("__call__",
           [](nb::handle self, nb::args args, nb::kwargs kwargs) { return self.attr("forward")(*args, **kwargs); })
      .def("forward",
           [](nb::handle self, nb::args, nb::kwargs) -> nb::object {
             throw nb::type_error((std::string(nb::type_name(self.type()).c_str()) +
                                   ": forward() is not defined (subclasses define it)")
                                      .c_str());
           })
      .def("register_parameter",
           [](Module& self, const std::string& name, std::optional<Tensor> t) {
             self.register_parameter(name, t ? *t : Tensor());
           },
           "name"_a, "param"_a.none())
      .def("register_buffer", [](Module& self, const std::string& name, std::optional<Tensor> t) {
             self.register_buffer(name, t ? *t : Tensor());
           }, "name"_a, "tensor"_a.none())
      .def("add_module", [](Module& self, const std::string& name, std::shared_ptr<Module> child) {
             self.set_module(name, std::move(child));
           })
      .def("named_parameters",
           [](const Module& self, const std::string& prefix, bool recurse) {
             return named_list(self.named_parameters(recurse), prefix);
           },
           "prefix"_a = "", "recurse"_a = true)
      .def("parameters", [](const Module& self, bool recurse) { return self.parameters(recurse); },
           "recurse"_a = true)
      .def("named_buffers",
           [](const Module& self, const std::string& prefix, bool recurse) {
             return named_list(self.named_buffers(recurse), prefix);
           },
           "prefix"_a = "", "recurse"_a = true)
      .def("buffers", [](const Module& self, bool recurse) {
             std::vector<Tensor> out;
             for (auto& [name, t] : self.named_buffers(recurse)) out.push_back(t);
             return out;
           }, "recurse"_a = true)
      .def("named_children", &Module::named_children)
      .def("children", [](const Module& self) {
             std::vector<std::shared_ptr<Module>> out;
             for (auto& [name, child] : self.named_children()) out.push_back(child);
             return out;
           })
      .def("state_dict",
           [](const Module& self) {
             nb::dict out;  // parameters, then buffers, in registration order (as torch)
             for (auto& [name, t] : self.named_parameters()) out[name.c_str()] = t.detach();
             for (auto& [name, t] : self.named_buffers()) out[name.c_str()] = t.detach();
             return out;
           })
      .def("load_state_dict",
           [](Module& self, nb::dict state, bool strict) {
             nn::StateDict converted;
             for (auto [key, value] : state) {
               std::string name = nb::cast<std::string>(key);
               converted[name] = as_state_tensor(value, name);
             }
             nn::LoadResult result = self.load_state_dict(converted, strict);
             nb::object make = nb::module_::import_("attnkit.return_types").attr("IncompatibleKeys");
             return make(result.missing_keys, result.unexpected_keys);
           },
           "state_dict"_a, "strict"_a = true,
           "Copies the tensors (attnkit, torch or NumPy) into the parameters and buffers. A shape "
           "mismatch is an error; with strict, so are missing and unexpected keys. Returns "
           "(missing_keys, unexpected_keys).")
      .def("train", [](nb::handle self, bool mode) {
             nb::cast<Module&>(self).train(mode);
             return nb::borrow(self);
           }, "mode"_a = true)
      .def("eval", [](nb::handle self) {
             nb::cast<Module&>(self).eval();
             return nb::borrow(self);
           })
      .def_prop_ro("training", &Module::is_training)
      .def("zero_grad", [](Module& self, bool /*set_to_none*/) { self.zero_grad(); }, "set_to_none"_a = true)
      .def("extra_repr", &Module::extra_repr)
      .def("__repr__", [](nb::handle self) {
             const Module& module = nb::cast<const Module&>(self);
             std::string text = module.repr();
             // A Python subclass is shown by its own class name.
             if (module.name() == "Module") {
               text = nb::cast<std::string>(self.type().attr("__name__")) + text.substr(6);
             }
             return text;
           });
}

void bind_layers(nb::module_& m) {
  nb::class_<nn::Linear, Module>(m, "Linear", "y = x Wᵀ + b, as torch.nn.Linear.")
      .def(nb::init<int64_t, int64_t, bool, Generator*>(), "in_features"_a, "out_features"_a, "bias"_a = true,
           "generator"_a = nb::none())
      .def("forward", &nn::Linear::forward, "input"_a)
      .def("__call__", &nn::Linear::forward, "input"_a)
      .def_ro("in_features", &nn::Linear::in_features)
      .def_ro("out_features", &nn::Linear::out_features)
      .def_prop_ro("weight", [](const nn::Linear& l) { return l.weight; })
      .def_prop_ro("bias", [](const nn::Linear& l) -> std::optional<Tensor> {
        return l.bias.defined() ? std::optional<Tensor>(l.bias) : std::nullopt;
      });

  using nn::MultiheadAttention;
  auto optional_tensor = [](const Tensor& t) { return t.defined() ? std::optional<Tensor>(t) : std::nullopt; };
  auto mha_forward = [](const MultiheadAttention& self, const Tensor& query, const Tensor& key, const Tensor& value,
                        std::optional<Tensor> key_padding_mask, bool need_weights, std::optional<Tensor> attn_mask,
                        bool average_attn_weights, bool is_causal) {
    nn::MultiheadAttentionCall call;
    if (key_padding_mask) call.key_padding_mask = *key_padding_mask;
    call.need_weights = need_weights;
    if (attn_mask) call.attn_mask = *attn_mask;
    call.average_attn_weights = average_attn_weights;
    call.is_causal = is_causal;
    nn::MultiheadAttentionOutput out;
    {
      nb::gil_scoped_release release;
      out = self.forward(query, key, value, call);
    }
    return nb::make_tuple(out.output, out.weights.defined() ? nb::cast(out.weights) : nb::none());
  };
  nb::class_<MultiheadAttention, Module>(
      m, "MultiheadAttention",
      "torch.nn.MultiheadAttention: the same options, forward arguments and parameter names "
      "(in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias, ...), so PyTorch weights load "
      "as they are. Fully masked queries give zeros, not NaN.")
      .def("__init__",
           [](MultiheadAttention* self, int64_t embed_dim, int64_t num_heads, double dropout, bool bias,
              bool add_bias_kv, bool add_zero_attn, std::optional<int64_t> kdim, std::optional<int64_t> vdim,
              bool batch_first, Generator* generator) {
             nn::MultiheadAttentionOptions o;
             o.embed_dim = embed_dim; o.num_heads = num_heads; o.dropout = dropout; o.bias = bias;
             o.add_bias_kv = add_bias_kv; o.add_zero_attn = add_zero_attn;
             o.kdim = kdim.value_or(0); o.vdim = vdim.value_or(0); o.batch_first = batch_first;
             new (self) MultiheadAttention(o, generator);
           },
           "embed_dim"_a, "num_heads"_a, "dropout"_a = 0.0, "bias"_a = true, "add_bias_kv"_a = false,
           "add_zero_attn"_a = false, "kdim"_a = nb::none(), "vdim"_a = nb::none(), "batch_first"_a = false,
           "generator"_a = nb::none())
      .def("forward", mha_forward, "query"_a, "key"_a, "value"_a, "key_padding_mask"_a = nb::none(),
           "need_weights"_a = true, "attn_mask"_a = nb::none(), "average_attn_weights"_a = true,
           "is_causal"_a = false,
           "(output, weights): output (L, N, E) ((N, L, E) with batch_first), weights (N, L, S) averaged "
           "over heads or (N, H, L, S), None without need_weights.")
      .def("__call__", mha_forward, "query"_a, "key"_a, "value"_a, "key_padding_mask"_a = nb::none(),
           "need_weights"_a = true, "attn_mask"_a = nb::none(), "average_attn_weights"_a = true,
           "is_causal"_a = false)
      .def_prop_ro("embed_dim", [](const MultiheadAttention& a) { return a.options().embed_dim; })
      .def_prop_ro("num_heads", [](const MultiheadAttention& a) { return a.options().num_heads; })
      .def_prop_ro("head_dim", &MultiheadAttention::head_dim)
      .def_prop_ro("kdim", [](const MultiheadAttention& a) { return a.options().kdim; })
      .def_prop_ro("vdim", [](const MultiheadAttention& a) { return a.options().vdim; })
      .def_prop_ro("dropout", [](const MultiheadAttention& a) { return a.options().dropout; })
      .def_prop_ro("batch_first", [](const MultiheadAttention& a) { return a.options().batch_first; })
      .def_prop_ro("in_proj_weight", [=](const MultiheadAttention& a) { return optional_tensor(a.in_proj_weight); })
      .def_prop_ro("in_proj_bias", [=](const MultiheadAttention& a) { return optional_tensor(a.in_proj_bias); })
      .def_prop_ro("q_proj_weight", [=](const MultiheadAttention& a) { return optional_tensor(a.q_proj_weight); })
      .def_prop_ro("k_proj_weight", [=](const MultiheadAttention& a) { return optional_tensor(a.k_proj_weight); })
      .def_prop_ro("v_proj_weight", [=](const MultiheadAttention& a) { return optional_tensor(a.v_proj_weight); })
      .def_prop_ro("bias_k", [=](const MultiheadAttention& a) { return optional_tensor(a.bias_k); })
      .def_prop_ro("bias_v", [=](const MultiheadAttention& a) { return optional_tensor(a.bias_v); })
      .def_prop_ro("out_proj", [](const MultiheadAttention& a) { return a.out_proj; });
}

void bind_score_attention(nb::module_& m) {
  using nn::ScoreAttention;
  auto forward = [](const ScoreAttention& self, const Tensor& query, const Tensor& key, std::optional<Tensor> value,
                    std::optional<Tensor> mask) {
    functional::AttentionOutput out = self.forward(query, key, value ? *value : Tensor(), mask ? *mask : Tensor());
    return nb::make_tuple(out.output, out.weights);
  };
  nb::class_<ScoreAttention, Module>(m, "ScoreAttention",
                                     "Soft attention with a learned score function (base class).")
      .def("score", &ScoreAttention::score, "query"_a, "key"_a, "scores (..., M, N) of query (..., M, Dq) "
           "against key (..., N, Dk)")
      .def("forward", forward, "query"_a, "key"_a, "value"_a = nb::none(), "mask"_a = nb::none(),
           "(output (..., M, Dv), weights α (..., M, N)); value None = plain mode (key = value); mask: "
           "bool, true = may attend.")
      .def("__call__", forward, "query"_a, "key"_a, "value"_a = nb::none(), "mask"_a = nb::none());
  nb::class_<nn::AdditiveAttention, ScoreAttention>(m, "AdditiveAttention",
                                                    "Bahdanau attention: s(x, q) = vᵀ tanh(W x + U q).")
      .def(nb::init<int64_t, int64_t, int64_t, Generator*>(), "query_dim"_a, "key_dim"_a, "hidden_dim"_a,
           "generator"_a = nb::none())
      .def_prop_ro("w_key", [](const nn::AdditiveAttention& a) { return a.w_key; })
      .def_prop_ro("w_query", [](const nn::AdditiveAttention& a) { return a.w_query; })
      .def_prop_ro("v", [](const nn::AdditiveAttention& a) { return a.v; });
  nb::class_<nn::BilinearAttention, ScoreAttention>(m, "BilinearAttention",
                                                    "Luong's general attention: s(x, q) = xᵀ W q.")
      .def(nb::init<int64_t, int64_t, Generator*>(), "query_dim"_a, "key_dim"_a, "generator"_a = nb::none())
      .def_prop_ro("weight", [](const nn::BilinearAttention& a) { return a.weight; });

  auto hard_forward = [](const nn::HardAttention& self, const Tensor& query, const Tensor& key,
                         std::optional<Tensor> value, std::optional<Tensor> mask, Generator* generator) {
    functional::HardAttentionOutput out =
        self.forward(query, key, value ? *value : Tensor(), mask ? *mask : Tensor(), generator);
    return nb::make_tuple(out.output, out.index, out.log_prob, out.weights);
  };
  nb::class_<nn::HardAttention, Module>(
      m, "HardAttention",
      "Hard attention: one value per query, sampled from α in training mode, the arg-max in eval mode. "
      "Returns (output, index, log_prob, weights); train the score with REINFORCE through log_prob.")
      .def("__init__",
           [](nn::HardAttention* self, const std::string& score, std::optional<int64_t> query_dim,
              std::optional<int64_t> key_dim, std::optional<int64_t> hidden_dim, Generator* generator) {
             nn::HardAttentionOptions o;
             o.score = score;
             o.query_dim = query_dim.value_or(0);
             o.key_dim = key_dim.value_or(0);
             o.hidden_dim = hidden_dim.value_or(0);
             new (self) nn::HardAttention(o, generator);
           },
           "score"_a = "scaled_dot", "query_dim"_a = nb::none(), "key_dim"_a = nb::none(),
           "hidden_dim"_a = nb::none(), "generator"_a = nb::none())
      .def("score", &nn::HardAttention::score, "query"_a, "key"_a)
      .def("forward", hard_forward, "query"_a, "key"_a, "value"_a = nb::none(), "mask"_a = nb::none(),
           "generator"_a = nb::none())
      .def("__call__", hard_forward, "query"_a, "key"_a, "value"_a = nb::none(), "mask"_a = nb::none(),
           "generator"_a = nb::none())
      .def_prop_ro("score_fn", [](const nn::HardAttention& a) { return a.score_fn; });
}

void bind_kv_cache(nb::module_& m) {
  nb::class_<nn::KVCache>(
      m, "KVCache",
      "Keys and values of the steps decoded so far, in storage allocated once for `capacity` steps "
      "(appending never reallocates). attend() attends new queries to everything cached with the "
      "causal mask aligned to the end, equal to one pass over the whole sequence.")
      .def("__init__",
           [](nn::KVCache* self, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim,
              std::optional<int64_t> value_dim) {
             new (self) nn::KVCache(batch, kv_heads, capacity, head_dim, value_dim.value_or(0));
           },
           "batch"_a, "kv_heads"_a, "capacity"_a, "head_dim"_a, "value_dim"_a = nb::none())
      .def("append", &nn::KVCache::append, "key"_a, "value"_a,
           "Appends T steps: key (B, Hkv, T, E), value (B, Hkv, T, Ev).")
      .def("attend",
           [](const nn::KVCache& self, const Tensor& query, bool is_causal, std::optional<double> scale,
              std::optional<Tensor> attn_mask, bool return_weights, bool return_lse) -> nb::object {
             functional::SdpaOptions o;
             o.is_causal = is_causal;
             o.scale = scale;
             if (attn_mask) o.attn_mask = *attn_mask;
             o.return_weights = return_weights;
             o.return_lse = return_lse;
             functional::SdpaOutput out;
             {
               nb::gil_scoped_release release;
               out = self.attend(query, o);
             }
             return sdpa_result(out, return_weights, return_lse);
           },
           "query"_a, "is_causal"_a = true, "scale"_a = nb::none(), "attn_mask"_a = nb::none(),
           "return_weights"_a = false, "return_lse"_a = false,
           "query (B, Hq, T, E), the last T positions -> (B, Hq, T, Ev); Hq may be a multiple of Hkv.")
      .def("keys", &nn::KVCache::keys, "(B, Hkv, length, E), a view of the storage")
      .def("values", &nn::KVCache::values, "(B, Hkv, length, Ev), a view of the storage")
      .def("clear", &nn::KVCache::clear)
      .def("truncate", &nn::KVCache::truncate, "length"_a)
      .def_prop_ro("length", &nn::KVCache::length)
      .def_prop_ro("capacity", &nn::KVCache::capacity)
      .def("__len__", &nn::KVCache::length);
}

}  // namespace

void bind_nn(nb::module_& m) {
  nb::module_ nn = m.def_submodule("nn", "Modules: layers with parameters, as torch.nn");
  bind_module(nn);
  bind_layers(nn);
  bind_score_attention(nn);
  bind_kv_cache(nn);
  bind_transformer(nn);
}

}  // namespace attnkit::python
