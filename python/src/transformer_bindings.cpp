// attnkit._C.nn, part two: the Transformer's layers (Embedding, LayerNorm,
// Dropout, feed-forward, positional encodings) and the encoder-decoder
// stacks, with torch.nn's constructor and forward signatures.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <type_traits>
#include <variant>

#include "bindings.h"
#include "module_bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using nn::Module;

Tensor or_undefined(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

nn::TransformerLayerOptions layer_options(int64_t d_model, int64_t nhead, int64_t dim_feedforward, double dropout,
                                          const std::string& activation, double layer_norm_eps, bool batch_first,
                                          bool norm_first, bool bias) {
  nn::TransformerLayerOptions o;
  o.d_model = d_model;
  o.nhead = nhead;
  o.dim_feedforward = dim_feedforward;
  o.dropout = dropout;
  o.activation = nn::parse_activation(activation);
  o.layer_norm_eps = layer_norm_eps;
  o.batch_first = batch_first;
  o.norm_first = norm_first;
  o.bias = bias;
  return o;
}

void bind_simple_layers(nb::module_& m) {
  nb::class_<nn::Embedding, Module>(m, "Embedding", "A table of learned vectors, as torch.nn.Embedding.")
      .def(nb::init<int64_t, int64_t, std::optional<int64_t>, Generator*>(), "num_embeddings"_a, "embedding_dim"_a,
           "padding_idx"_a = nb::none(), "generator"_a = nb::none())
      .def("forward", &nn::Embedding::forward, "input"_a)
      .def("__call__", &nn::Embedding::forward, "input"_a)
      .def_prop_ro("weight", [](const nn::Embedding& e) { return e.weight; })
      .def_ro("num_embeddings", &nn::Embedding::num_embeddings)
      .def_ro("embedding_dim", &nn::Embedding::embedding_dim)
      .def_ro("padding_idx", &nn::Embedding::padding_idx);

  nb::class_<nn::LayerNorm, Module>(m, "LayerNorm", "Layer normalisation, as torch.nn.LayerNorm.")
      .def("__init__",
           [](nn::LayerNorm* self, std::variant<int64_t, std::vector<int64_t>> shape, double eps,
              bool elementwise_affine, bool bias) {
             Shape s = std::holds_alternative<int64_t>(shape) ? Shape{std::get<int64_t>(shape)}
                                                              : Shape(std::get<std::vector<int64_t>>(shape));
             new (self) nn::LayerNorm(s, eps, elementwise_affine, bias);
           },
           "normalized_shape"_a, "eps"_a = 1e-5, "elementwise_affine"_a = true, "bias"_a = true)
      .def("forward", &nn::LayerNorm::forward, "input"_a)
      .def("__call__", &nn::LayerNorm::forward, "input"_a)
      .def_prop_ro("weight", [](const nn::LayerNorm& l) { return l.weight.defined() ? nb::cast(l.weight) : nb::none(); })
      .def_prop_ro("bias", [](const nn::LayerNorm& l) { return l.bias.defined() ? nb::cast(l.bias) : nb::none(); })
      .def_ro("eps", &nn::LayerNorm::eps)
      .def_prop_ro("normalized_shape", [](const nn::LayerNorm& l) { return nb::tuple(nb::cast(l.normalized_shape)); });

  nb::class_<nn::Dropout, Module>(m, "Dropout", "Inverted dropout in training mode, as torch.nn.Dropout.")
      .def(nb::init<double, Generator*>(), "p"_a = 0.5, "generator"_a = nb::none(),
           nb::keep_alive<1, 3>())  // the module keeps drawing from the generator
      .def("forward", &nn::Dropout::forward, "input"_a)
      .def("__call__", &nn::Dropout::forward, "input"_a)
      .def_ro("p", &nn::Dropout::p);

  nb::class_<nn::PositionwiseFeedForward, Module>(
      m, "PositionwiseFeedForward", "linear2(dropout(activation(linear1(x)))), the Transformer's FFN.")
      .def("__init__",
           [](nn::PositionwiseFeedForward* self, int64_t d_model, int64_t dim_feedforward, double dropout,
              const std::string& activation, bool bias, Generator* generator) {
             new (self) nn::PositionwiseFeedForward(d_model, dim_feedforward, dropout, nn::parse_activation(activation),
                                                    bias, generator);
           },
           "d_model"_a, "dim_feedforward"_a, "dropout"_a = 0.1, "activation"_a = "relu", "bias"_a = true,
           "generator"_a = nb::none())
      .def("forward", &nn::PositionwiseFeedForward::forward, "input"_a)
      .def("__call__", &nn::PositionwiseFeedForward::forward, "input"_a)
      .def_prop_ro("linear1", [](const nn::PositionwiseFeedForward& f) { return f.linear1; })
      .def_prop_ro("linear2", [](const nn::PositionwiseFeedForward& f) { return f.linear2; });

  nb::class_<nn::SinusoidalPositionalEncoding, Module>(
      m, "SinusoidalPositionalEncoding",
      "dropout(x + PE), PE the fixed sines and cosines of Vaswani et al. (buffer 'pe'); x (L, N, d) or "
      "(N, L, d) with batch_first; positions start at offset.")
      .def(nb::init<int64_t, int64_t, double, bool, Generator*>(), "d_model"_a, "max_len"_a = 5000,
           "dropout"_a = 0.0, "batch_first"_a = false, "generator"_a = nb::none())
      .def("forward", &nn::SinusoidalPositionalEncoding::forward, "input"_a, "offset"_a = 0)
      .def("__call__", &nn::SinusoidalPositionalEncoding::forward, "input"_a, "offset"_a = 0)
      .def_prop_ro("pe", [](const nn::SinusoidalPositionalEncoding& p) { return p.pe; });
  nb::class_<nn::LearnedPositionalEncoding, Module>(
      m, "LearnedPositionalEncoding", "dropout(x + W[positions]), W a learned (max_len, d) table ('weight').")
      .def(nb::init<int64_t, int64_t, double, bool, Generator*>(), "d_model"_a, "max_len"_a, "dropout"_a = 0.0,
           "batch_first"_a = false, "generator"_a = nb::none())
      .def("forward", &nn::LearnedPositionalEncoding::forward, "input"_a, "offset"_a = 0)
      .def("__call__", &nn::LearnedPositionalEncoding::forward, "input"_a, "offset"_a = 0)
      .def_prop_ro("weight", [](const nn::LearnedPositionalEncoding& p) { return p.weight; });
}

template <typename Layer>
void layer_properties(nb::class_<Layer, Module>& cls) {
  cls.def_prop_ro("self_attn", [](const Layer& l) { return l.self_attn; })
      .def_prop_ro("linear1", [](const Layer& l) { return l.linear1; })
      .def_prop_ro("linear2", [](const Layer& l) { return l.linear2; })
      .def_prop_ro("norm1", [](const Layer& l) { return l.norm1; })
      .def_prop_ro("norm2", [](const Layer& l) { return l.norm2; })
      .def_prop_ro("norm_first", [](const Layer& l) { return l.options.norm_first; })
      .def_prop_ro("batch_first", [](const Layer& l) { return l.options.batch_first; });
}

void bind_transformer_layers(nb::module_& m) {
  auto encoder_forward = [](const nn::TransformerEncoderLayer& self, const Tensor& src, std::optional<Tensor> src_mask,
                            std::optional<Tensor> src_key_padding_mask, bool is_causal) {
    nn::TransformerMasks masks;
    masks.src_mask = or_undefined(src_mask);
    masks.src_key_padding_mask = or_undefined(src_key_padding_mask);
    masks.src_is_causal = is_causal;
    nb::gil_scoped_release release;
    return self.forward(src, masks);
  };
  auto init_layer = [](auto* self, int64_t d_model, int64_t nhead, int64_t dim_feedforward, double dropout,
                       const std::string& activation, double layer_norm_eps, bool batch_first, bool norm_first,
                       bool bias, Generator* generator) {
    using Layer = std::remove_pointer_t<decltype(self)>;
    new (self) Layer(layer_options(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                                   norm_first, bias),
                     generator);
  };
  nb::class_<nn::TransformerEncoderLayer, Module> encoder_layer(
      m, "TransformerEncoderLayer", "Self-attention and feed-forward, as torch.nn.TransformerEncoderLayer.");
  encoder_layer
      .def("__init__",
           [init_layer](nn::TransformerEncoderLayer* self, int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                        double dropout, const std::string& activation, double layer_norm_eps, bool batch_first,
                        bool norm_first, bool bias, Generator* generator) {
             init_layer(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                        norm_first, bias, generator);
           },
           "d_model"_a, "nhead"_a, "dim_feedforward"_a = 2048, "dropout"_a = 0.1, "activation"_a = "relu",
           "layer_norm_eps"_a = 1e-5, "batch_first"_a = false, "norm_first"_a = false, "bias"_a = true,
           "generator"_a = nb::none())
      .def("forward", encoder_forward, "src"_a, "src_mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "is_causal"_a = false)
      .def("__call__", encoder_forward, "src"_a, "src_mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "is_causal"_a = false);
  layer_properties(encoder_layer);

  auto decoder_forward = [](const nn::TransformerDecoderLayer& self, const Tensor& tgt, const Tensor& memory,
                            std::optional<Tensor> tgt_mask, std::optional<Tensor> memory_mask,
                            std::optional<Tensor> tgt_key_padding_mask, std::optional<Tensor> memory_key_padding_mask,
                            bool tgt_is_causal, bool memory_is_causal) {
    nn::TransformerMasks masks;
    masks.tgt_mask = or_undefined(tgt_mask);
    masks.memory_mask = or_undefined(memory_mask);
    masks.tgt_key_padding_mask = or_undefined(tgt_key_padding_mask);
    masks.memory_key_padding_mask = or_undefined(memory_key_padding_mask);
    masks.tgt_is_causal = tgt_is_causal;
    masks.memory_is_causal = memory_is_causal;
    nb::gil_scoped_release release;
    return self.forward(tgt, memory, masks);
  };
  nb::class_<nn::TransformerDecoderLayer, Module> decoder_layer(
      m, "TransformerDecoderLayer",
      "Self-attention, cross-attention over the memory, and feed-forward, as torch.nn.TransformerDecoderLayer. "
      "With keep_attention = True each forward keeps the cross-attention weights (N, T, S), averaged over "
      "heads, in cross_attention.");
  decoder_layer
      .def("__init__",
           [init_layer](nn::TransformerDecoderLayer* self, int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                        double dropout, const std::string& activation, double layer_norm_eps, bool batch_first,
                        bool norm_first, bool bias, Generator* generator) {
             init_layer(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                        norm_first, bias, generator);
           },
           "d_model"_a, "nhead"_a, "dim_feedforward"_a = 2048, "dropout"_a = 0.1, "activation"_a = "relu",
           "layer_norm_eps"_a = 1e-5, "batch_first"_a = false, "norm_first"_a = false, "bias"_a = true,
           "generator"_a = nb::none())
      .def("forward", decoder_forward, "tgt"_a, "memory"_a, "tgt_mask"_a = nb::none(), "memory_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "tgt_is_causal"_a = false, "memory_is_causal"_a = false)
      .def("__call__", decoder_forward, "tgt"_a, "memory"_a, "tgt_mask"_a = nb::none(), "memory_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "tgt_is_causal"_a = false, "memory_is_causal"_a = false)
      .def_prop_ro("multihead_attn", [](const nn::TransformerDecoderLayer& l) { return l.multihead_attn; })
      .def_prop_ro("norm3", [](const nn::TransformerDecoderLayer& l) { return l.norm3; })
      .def_rw("keep_attention", &nn::TransformerDecoderLayer::keep_attention)
      .def_prop_ro("cross_attention", [](const nn::TransformerDecoderLayer& l) {
        return l.cross_attention.defined() ? nb::cast(l.cross_attention) : nb::none();
      });
  layer_properties(decoder_layer);
}

// torch's stacks deep-copy one layer, so every layer starts with its
// weights: build the stack empty, then add copies of the template.
template <typename Stack, typename Layer>
void fill_with_copies(Stack* stack, const Layer& layer, int64_t num_layers, const nn::LayerNorm* norm) {
  AK_CHECK(num_layers >= 0, stack->name(), ": num_layers must be non-negative, got ", num_layers);
  const nn::StateDict weights = layer.state_dict();
  for (int64_t i = 0; i < num_layers; ++i) {
    auto copy = std::make_shared<Layer>(layer.options);
    copy->load_state_dict(weights);
    stack->layers->push_back(copy);
  }
  if (norm) {
    AK_CHECK(norm->normalized_shape == Shape{layer.options.d_model}, stack->name(),
             ": the final norm must normalise d_model (", layer.options.d_model, ") features");
    nn::StateDict norm_weights = norm->state_dict();
    stack->norm->load_state_dict(norm_weights);
  }
}

nn::TransformerMasks make_masks(std::optional<Tensor> src_mask, std::optional<Tensor> tgt_mask,
                                std::optional<Tensor> memory_mask, std::optional<Tensor> src_key_padding_mask,
                                std::optional<Tensor> tgt_key_padding_mask,
                                std::optional<Tensor> memory_key_padding_mask, bool src_is_causal, bool tgt_is_causal,
                                bool memory_is_causal) {
  nn::TransformerMasks masks;
  masks.src_mask = or_undefined(src_mask);
  masks.tgt_mask = or_undefined(tgt_mask);
  masks.memory_mask = or_undefined(memory_mask);
  masks.src_key_padding_mask = or_undefined(src_key_padding_mask);
  masks.tgt_key_padding_mask = or_undefined(tgt_key_padding_mask);
  masks.memory_key_padding_mask = or_undefined(memory_key_padding_mask);
  masks.src_is_causal = src_is_causal;
  masks.tgt_is_causal = tgt_is_causal;
  masks.memory_is_causal = memory_is_causal;
  return masks;
}

void bind_transformer_stacks(nb::module_& m) {
  bind_module_list<nn::TransformerEncoderLayer>(m, "TransformerEncoderLayerList");
  bind_module_list<nn::TransformerDecoderLayer>(m, "TransformerDecoderLayerList");

  auto encoder_forward = [](const nn::TransformerEncoder& self, const Tensor& src, std::optional<Tensor> mask,
                            std::optional<Tensor> src_key_padding_mask, bool is_causal) {
    nn::TransformerMasks masks = make_masks(mask, {}, {}, src_key_padding_mask, {}, {}, is_causal, false, false);
    nb::gil_scoped_release release;
    return self.forward(src, masks);
  };
  nb::class_<nn::TransformerEncoder, Module>(
      m, "TransformerEncoder", "num_layers copies of encoder_layer and an optional final norm, as torch.")
      .def("__init__",
           [](nn::TransformerEncoder* self, const nn::TransformerEncoderLayer& layer, int64_t num_layers,
              const nn::LayerNorm* norm) {
             new (self) nn::TransformerEncoder(layer.options, 0, norm != nullptr);
             fill_with_copies(self, layer, num_layers, norm);
           },
           "encoder_layer"_a, "num_layers"_a, "norm"_a = nb::none())
      .def("forward", encoder_forward, "src"_a, "mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "is_causal"_a = false)
      .def("__call__", encoder_forward, "src"_a, "mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "is_causal"_a = false)
      .def_prop_ro("layers", [](const nn::TransformerEncoder& e) { return e.layers; })
      .def_prop_ro("norm", [](const nn::TransformerEncoder& e) { return e.norm; });

  auto decoder_forward = [](const nn::TransformerDecoder& self, const Tensor& tgt, const Tensor& memory,
                            std::optional<Tensor> tgt_mask, std::optional<Tensor> memory_mask,
                            std::optional<Tensor> tgt_key_padding_mask, std::optional<Tensor> memory_key_padding_mask,
                            bool tgt_is_causal, bool memory_is_causal) {
    nn::TransformerMasks masks = make_masks({}, tgt_mask, memory_mask, {}, tgt_key_padding_mask,
                                            memory_key_padding_mask, false, tgt_is_causal, memory_is_causal);
    nb::gil_scoped_release release;
    return self.forward(tgt, memory, masks);
  };
  nb::class_<nn::TransformerDecoder, Module>(
      m, "TransformerDecoder", "num_layers copies of decoder_layer and an optional final norm, as torch.")
      .def("__init__",
           [](nn::TransformerDecoder* self, const nn::TransformerDecoderLayer& layer, int64_t num_layers,
              const nn::LayerNorm* norm) {
             new (self) nn::TransformerDecoder(layer.options, 0, norm != nullptr);
             fill_with_copies(self, layer, num_layers, norm);
           },
           "decoder_layer"_a, "num_layers"_a, "norm"_a = nb::none())
      .def("forward", decoder_forward, "tgt"_a, "memory"_a, "tgt_mask"_a = nb::none(), "memory_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "tgt_is_causal"_a = false, "memory_is_causal"_a = false)
      .def("__call__", decoder_forward, "tgt"_a, "memory"_a, "tgt_mask"_a = nb::none(), "memory_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "tgt_is_causal"_a = false, "memory_is_causal"_a = false)
      .def_prop_ro("layers", [](const nn::TransformerDecoder& d) { return d.layers; })
      .def_prop_ro("norm", [](const nn::TransformerDecoder& d) { return d.norm; });

  auto transformer_forward = [](const nn::Transformer& self, const Tensor& src, const Tensor& tgt,
                                std::optional<Tensor> src_mask, std::optional<Tensor> tgt_mask,
                                std::optional<Tensor> memory_mask, std::optional<Tensor> src_key_padding_mask,
                                std::optional<Tensor> tgt_key_padding_mask,
                                std::optional<Tensor> memory_key_padding_mask, std::optional<bool> src_is_causal,
                                std::optional<bool> tgt_is_causal, bool memory_is_causal) {
    nn::TransformerMasks masks =
        make_masks(src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                   memory_key_padding_mask, src_is_causal.value_or(false), tgt_is_causal.value_or(false),
                   memory_is_causal);
    nb::gil_scoped_release release;
    return self.forward(src, tgt, masks);
  };
  nb::class_<nn::Transformer, Module>(
      m, "Transformer",
      "The encoder-decoder Transformer, as torch.nn.Transformer: same options, defaults, forward arguments "
      "and parameter names; matrices Xavier-uniform initialised.")
      .def("__init__",
           [](nn::Transformer* self, int64_t d_model, int64_t nhead, int64_t num_encoder_layers,
              int64_t num_decoder_layers, int64_t dim_feedforward, double dropout, const std::string& activation,
              nb::handle custom_encoder, nb::handle custom_decoder, double layer_norm_eps, bool batch_first,
              bool norm_first, bool bias, Generator* generator) {
             if (!custom_encoder.is_none() || !custom_decoder.is_none()) {
               throw nb::value_error("Transformer: custom_encoder / custom_decoder are not supported; build the "
                                     "stacks with TransformerEncoder / TransformerDecoder instead");
             }
             nn::TransformerOptions o;
             o.layer = layer_options(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                     batch_first, norm_first, bias);
             o.num_encoder_layers = num_encoder_layers;
             o.num_decoder_layers = num_decoder_layers;
             new (self) nn::Transformer(o, generator);
           },
           "d_model"_a = 512, "nhead"_a = 8, "num_encoder_layers"_a = 6, "num_decoder_layers"_a = 6,
           "dim_feedforward"_a = 2048, "dropout"_a = 0.1, "activation"_a = "relu", "custom_encoder"_a = nb::none(),
           "custom_decoder"_a = nb::none(), "layer_norm_eps"_a = 1e-5, "batch_first"_a = false,
           "norm_first"_a = false, "bias"_a = true, "generator"_a = nb::none())
      .def("forward", transformer_forward, "src"_a, "tgt"_a, "src_mask"_a = nb::none(), "tgt_mask"_a = nb::none(),
           "memory_mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "src_is_causal"_a = nb::none(), "tgt_is_causal"_a = nb::none(), "memory_is_causal"_a = false)
      .def("__call__", transformer_forward, "src"_a, "tgt"_a, "src_mask"_a = nb::none(), "tgt_mask"_a = nb::none(),
           "memory_mask"_a = nb::none(), "src_key_padding_mask"_a = nb::none(),
           "tgt_key_padding_mask"_a = nb::none(), "memory_key_padding_mask"_a = nb::none(),
           "src_is_causal"_a = nb::none(), "tgt_is_causal"_a = nb::none(), "memory_is_causal"_a = false)
      .def_prop_ro("encoder", [](const nn::Transformer& t) { return t.encoder; })
      .def_prop_ro("decoder", [](const nn::Transformer& t) { return t.decoder; })
      .def_prop_ro("d_model", [](const nn::Transformer& t) { return t.options.layer.d_model; })
      .def_prop_ro("nhead", [](const nn::Transformer& t) { return t.options.layer.nhead; })
      .def_prop_ro("batch_first", [](const nn::Transformer& t) { return t.options.layer.batch_first; })
      .def_static("generate_square_subsequent_mask", &nn::generate_square_subsequent_mask, "sz"_a);
}

}  // namespace

void bind_transformer(nb::module_& nn) {
  bind_simple_layers(nn);
  bind_transformer_layers(nn);
  bind_transformer_stacks(nn);
}

}  // namespace attnkit::python
