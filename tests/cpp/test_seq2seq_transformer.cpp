// The sequence-to-sequence Transformer of the date demo: padding in the
// source changes nothing, greedy decoding agrees with the teacher-forced
// forward pass, the cross-attention it reports is a distribution over the
// real (unpadded) source, and it learns a small task.
#include <cmath>

#include "test_support.h"

namespace attnkit::testing {
namespace {

constexpr int64_t kPad = 0, kBos = 1, kEos = 2, kVocab = 12;

models::Seq2SeqTransformerOptions small_options() {
  models::Seq2SeqTransformerOptions o;
  o.src_vocab = o.tgt_vocab = kVocab;
  o.pad = kPad;
  o.d_model = 16;
  o.nhead = 2;
  o.num_encoder_layers = 2;
  o.num_decoder_layers = 2;
  o.dim_feedforward = 32;
  o.dropout = 0.0;
  o.max_len = 32;
  return o;
}

TEST(Seq2SeqTransformer, LogitsHaveOneRowPerTargetToken) {
  Generator gen(1);
  models::Seq2SeqTransformer model(small_options(), &gen);
  Tensor logits = model.forward(id_matrix({{3, 4, 5, 6}, {7, 8, 9, 0}}), id_matrix({{1, 3, 4}, {1, 5, 6}}));
  EXPECT_EQ(logits.shape(), (Shape{2, 3, kVocab}));
}

TEST(Seq2SeqTransformer, SourcePaddingChangesNothing) {
  Generator gen(2);
  models::Seq2SeqTransformer model(small_options(), &gen);
  model.eval();
  NoGradGuard no_grad;
  Tensor tgt = id_matrix({{1, 3, 4, 5}});
  Tensor bare = model.forward(id_matrix({{3, 4, 5, 6, 7}}), tgt);
  Tensor padded = model.forward(id_matrix({{3, 4, 5, 6, 7, 0, 0, 0}}), tgt);
  EXPECT_TRUE(all_close(padded, bare, 1e-5, 1e-5));
  // ... and a row's result does not depend on the other rows of its batch.
  Tensor batched = model.forward(id_matrix({{3, 4, 5, 6, 7, 0, 0, 0}, {9, 9, 8, 8, 7, 7, 6, 6}}),
                                 id_matrix({{1, 3, 4, 5}, {1, 6, 6, 6}}));
  EXPECT_TRUE(all_close(batched.narrow(0, 0, 1), bare, 1e-5, 1e-5));
}

TEST(Seq2SeqTransformer, GreedyDecodingAgreesWithTheTeacherForcedPass) {
  Generator gen(3);
  models::Seq2SeqTransformer model(small_options(), &gen);
  model.eval();
  Tensor src = id_matrix({{3, 4, 5, 6, 0, 0}, {7, 8, 9, 10, 11, 3}});
  decoding::SearchOptions search;
  search.bos = kBos;
  search.eos = kEos;
  search.max_length = 6;
  auto outputs = model.translate(src, search);
  ASSERT_EQ(outputs.size(), 2u);
  NoGradGuard no_grad;
  for (int64_t row = 0; row < 2; ++row) {
    const auto& out = outputs[static_cast<size_t>(row)];
    ASSERT_FALSE(out.empty());
    std::vector<int64_t> prefix{kBos};
    prefix.insert(prefix.end(), out.begin(), out.end() - 1);
    Tensor logits = model.forward(src.narrow(0, row, 1), id_matrix({prefix}));  // (1, T, V)
    Tensor best = argmax(logits.select(0, 0), -1);
    for (size_t t = 0; t < out.size(); ++t) {
      EXPECT_EQ(static_cast<int64_t>(best.at({static_cast<int64_t>(t)})), out[t]) << "row " << row << " step " << t;
    }
  }
  // Beam search with one beam is greedy search.
  search.beam_size = 1;
  EXPECT_EQ(model.translate(src, search, /*beam=*/true), outputs);
}

TEST(Seq2SeqTransformer, CrossAttentionIsADistributionOverTheRealSource) {
  Generator gen(4);
  models::Seq2SeqTransformer model(small_options(), &gen);
  model.eval();
  Tensor src = id_matrix({{3, 4, 5, 0, 0}, {6, 7, 8, 9, 10}});
  Tensor tgt = id_matrix({{1, 3, 4}, {1, 5, 6}});
  std::vector<Tensor> maps = model.cross_attention(src, tgt);
  ASSERT_EQ(maps.size(), 2u);
  for (const Tensor& m : maps) {
    ASSERT_EQ(m.shape(), (Shape{2, 3, 5}));
    EXPECT_TRUE(all_close(sum(m, {-1}), std::vector<double>(6, 1.0), 1e-5, 1e-5));
    EXPECT_TRUE(all_close(m.select(0, 0).narrow(1, 3, 2), std::vector<double>(6, 0.0), 0.0, 0.0));
  }
  // Asking for the maps leaves the layers as they were.
  for (size_t i = 0; i < model.transformer->decoder->layers->size(); ++i) {
    EXPECT_FALSE((*model.transformer->decoder->layers)[i].keep_attention);
  }
}

TEST(Seq2SeqTransformer, LearnsToReverseShortSequences) {
  // src a b c d -> tgt d c b a: every output token must read one particular
  // source position, which only attention can provide.
  Generator gen(5), data(6);
  models::Seq2SeqTransformerOptions o = small_options();
  o.d_model = 32;
  o.dim_feedforward = 64;
  models::Seq2SeqTransformer model(o, &gen);
  train::AdamOptions adam;
  adam.lr = 3e-3;
  train::Adam optimizer(model.parameters(), adam);
  auto batch = [&](int64_t n) {
    Tensor body = randint(3, kVocab, {n, 4}, &data);
    std::vector<std::vector<int64_t>> src, tgt_in, tgt_out;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int64_t> s, r;
      for (int64_t j = 0; j < 4; ++j) s.push_back(static_cast<int64_t>(body.at({i, j})));
      r.assign(s.rbegin(), s.rend());
      src.push_back(s);
      tgt_in.push_back({kBos, r[0], r[1], r[2], r[3]});
      tgt_out.push_back({r[0], r[1], r[2], r[3], kEos});
    }
    return std::array<Tensor, 3>{id_matrix(src), id_matrix(tgt_in), id_matrix(tgt_out)};
  };
  for (int step = 0; step < 300; ++step) {
    auto [src, tgt_in, tgt_out] = batch(32);
    Tensor loss = cross_entropy(model.forward(src, tgt_in).reshape({-1, kVocab}), tgt_out.reshape({-1}), kPad);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  model.eval();
  auto [src, tgt_in, tgt_out] = batch(100);
  decoding::SearchOptions search;
  search.bos = kBos;
  search.eos = kEos;
  search.max_length = 6;
  auto outputs = model.translate(src, search);
  int right = 0;
  for (int64_t i = 0; i < 100; ++i) {
    std::vector<int64_t> want;
    for (int64_t j = 0; j < 5; ++j) want.push_back(static_cast<int64_t>(tgt_out.at({i, j})));
    right += outputs[static_cast<size_t>(i)] == want;
  }
  EXPECT_GE(right, 95) << "exact reversals out of 100";
}

TEST(Seq2SeqTransformer, BadInputIsAnErrorNamingTheModel) {
  Generator gen(7);
  models::Seq2SeqTransformer model(small_options(), &gen);
  EXPECT_TRUE(throws_error_naming([&] { model.forward(randn_tensor({2, 3}, 1), id_matrix({{1, 2}, {1, 2}})); },
                                  "Seq2SeqTransformer: src must be (N, L) int64 token ids"));
  EXPECT_TRUE(throws_error_naming([&] { model.forward(id_matrix({{3, 4}}), id_matrix({{1, 2}, {1, 2}})); },
                                  "same number of rows"));
  models::Seq2SeqTransformerOptions bad = small_options();
  bad.pad = kVocab;
  EXPECT_TRUE(throws_error_naming([&] { models::Seq2SeqTransformer m(bad); }, "pad id 12"));
}

}  // namespace
}  // namespace attnkit::testing
