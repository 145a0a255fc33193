#include "attnkit/models/seq2seq_transformer.h"

#include <cmath>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::models {

namespace {

// The rows `rows` of x along dim 0, stacked: (R, ...).
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  std::vector<Tensor> picked;
  picked.reserve(rows.size());
  for (int64_t r : rows) picked.push_back(x.select(0, r));
  return stack(picked, 0);
}

void check_tokens(const Tensor& tokens, const char* what) {
  AK_CHECK(tokens.defined() && tokens.dim() == 2 && tokens.dtype() == kInt64, "Seq2SeqTransformer: ", what,
           " must be (N, L) int64 token ids, got ",
           tokens.defined() ? shape_str(tokens.shape()) + " " + std::string(dtype_name(tokens.dtype())) : std::string("nothing"));
  AK_CHECK(tokens.size(1) > 0, "Seq2SeqTransformer: ", what, " is empty (length 0)");
}

}  // namespace

Seq2SeqTransformer::Seq2SeqTransformer(const Seq2SeqTransformerOptions& o, Generator* gen) : options(o) {
  AK_CHECK(o.src_vocab > 0 && o.tgt_vocab > 0, "Seq2SeqTransformer: src_vocab and tgt_vocab must be positive, got ",
           o.src_vocab, " and ", o.tgt_vocab);
  AK_CHECK(o.pad >= 0 && o.pad < o.src_vocab && o.pad < o.tgt_vocab, "Seq2SeqTransformer: pad id ", o.pad,
           " lies outside a vocabulary (", o.src_vocab, ", ", o.tgt_vocab, ")");
  src_embed = register_module("src_embed", std::make_shared<nn::Embedding>(o.src_vocab, o.d_model, o.pad, gen));
  tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(o.tgt_vocab, o.d_model, o.pad, gen));
  // Embeddings ~ N(0, 1/d) so that after the √d scaling tokens and positions
  // have comparable size (the paper's shared-weight scaling).
  for (nn::Embedding* table : {src_embed.get(), tgt_embed.get()}) {
    nn::init::normal_(table->weight, 0.0, 1.0 / std::sqrt(static_cast<double>(o.d_model)), gen);
    NoGradGuard no_grad;
    table->weight.select(0, o.pad).fill_(0.0);
  }
  positions = register_module("positions", std::make_shared<nn::SinusoidalPositionalEncoding>(
                                               o.d_model, o.max_len, o.dropout, /*batch_first=*/true));
  nn::TransformerOptions t;
  t.layer.d_model = o.d_model;
  t.layer.nhead = o.nhead;
  t.layer.dim_feedforward = o.dim_feedforward;
  t.layer.dropout = o.dropout;
  t.layer.batch_first = true;
  t.layer.norm_first = o.norm_first;
  t.num_encoder_layers = o.num_encoder_layers;
  t.num_decoder_layers = o.num_decoder_layers;
  transformer = register_module("transformer", std::make_shared<nn::Transformer>(t, gen));
  generator = register_module("generator", std::make_shared<nn::Linear>(o.d_model, o.tgt_vocab, true, gen));
}

Tensor Seq2SeqTransformer::embed(const nn::Embedding& table, const Tensor& tokens) const {
  return positions->forward(mul(table.forward(tokens), std::sqrt(static_cast<double>(options.d_model))));
}

Tensor Seq2SeqTransformer::source_padding(const Tensor& src) const { return eq(src, static_cast<double>(options.pad)); }

Tensor Seq2SeqTransformer::encode(const Tensor& src) const {
  check_tokens(src, "src");
  nn::TransformerMasks masks;
  masks.src_key_padding_mask = source_padding(src);
  return transformer->encode(embed(*src_embed, src), masks);
}

Tensor Seq2SeqTransformer::decode(const Tensor& tgt, const Tensor& memory, const Tensor& src,
                                  std::vector<Tensor>* cross_weights) const {
  check_tokens(tgt, "tgt");
  AK_CHECK(memory.dim() == 3 && memory.size(0) == tgt.size(0) && src.dim() == 2 && src.size(0) == tgt.size(0) &&
               src.size(1) == memory.size(1),
           "Seq2SeqTransformer.decode: memory (N, S, d) and src (N, S) must match tgt's batch ", tgt.size(0),
           ", got memory ", shape_str(memory.shape()), " and src ", shape_str(src.shape()));
  nn::TransformerMasks masks;
  masks.tgt_is_causal = true;
  masks.memory_key_padding_mask = source_padding(src);
  return generator->forward(transformer->decode(embed(*tgt_embed, tgt), memory, masks, cross_weights));
}

Tensor Seq2SeqTransformer::forward(const Tensor& src, const Tensor& tgt) const {
  check_tokens(tgt, "tgt");
  AK_CHECK(src.defined() && src.dim() == 2 && src.size(0) == tgt.size(0),
           "Seq2SeqTransformer: src and tgt must hold the same number of rows, got ",
           src.defined() ? shape_str(src.shape()) : std::string("nothing"), " and ", shape_str(tgt.shape()));
  return decode(tgt, encode(src), src);
}

std::vector<std::vector<int64_t>> Seq2SeqTransformer::translate(const Tensor& src,
                                                                const decoding::SearchOptions& search,
                                                                bool beam) const {
  NoGradGuard no_grad;
  const Tensor memory = encode(src);
  auto step = [&](const Tensor& tokens, const std::vector<int64_t>& rows) {
    // The whole prefix is decoded again each step: outputs are short, and the
    // decoder keeps no cache across calls.
    Tensor logits = decode(tokens, gather_rows(memory, rows), gather_rows(src, rows));  // (R, t, V)
    return log_softmax(logits.select(1, logits.size(1) - 1), -1);                      // (R, V)
  };
  return beam ? decoding::beam_search(step, src.size(0), search)
              : decoding::greedy_search(step, src.size(0), search);
}

std::vector<Tensor> Seq2SeqTransformer::cross_attention(const Tensor& src, const Tensor& tgt) const {
  NoGradGuard no_grad;
  std::vector<Tensor> maps;
  decode(tgt, encode(src), src, &maps);
  return maps;
}

}  // namespace attnkit::models
