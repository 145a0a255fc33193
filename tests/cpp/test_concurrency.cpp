// Many threads at once give the bits one thread gives. Each case computes
// its outputs once on the test's own thread, then on 4 threads started
// together, several rounds each, and every output must equal the serial one
// bit for bit: op families forward and backward, the fused attention forward
// and backward, convolution and the vision layers, GPT-2 / BERT / sentence
// embeddings (inference, one shared model and separate ones), the
// tokenizers, and training of separate models. Every case runs on both GEMM
// backends, the automatic choice between them, and every ISA path this CPU
// has. The stress case mixes shapes under a tiny oneDNN plan cache, so plans
// are created, hit and evicted by several threads at once.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <latch>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "attnkit/core/exclusive_use.h"
#include "attnkit/nn/vision/cbam.h"
#include "attnkit/nn/vision/squeeze_excite.h"
#include "isa_scope.h"
#include "kernels/dnnl_context.h"
#include "kernels/gemm.h"
#include "test_support.h"
#include "tokenizer_fixtures.h"

namespace attnkit::testing {
namespace {

using kernels::GemmBackend;
using kernels::Isa;
using Outputs = std::vector<Tensor>;
using Work = std::function<Outputs()>;

constexpr int kThreads = 4;
constexpr int kRounds = 3;

// Same dtype, shape and bytes (NaN payloads included).
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data_ptr(), y.data_ptr(), static_cast<size_t>(x.numel()) * dtype_size(x.dtype())) == 0;
}

// Runs work(thread) on `threads` threads released together and rethrows the
// first exception any of them raised.
void run_together(int threads, const std::function<void(int)>& work) {
  std::latch start(threads);
  std::mutex mutex;
  std::exception_ptr failure;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        work(t);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

// The serial outputs of `work`, then kRounds calls on each of kThreads
// threads at once, each compared with them.
::testing::AssertionResult same_from_threads(const Work& work) {
  const Outputs expected = work();
  std::mutex mutex;
  int calls = 0;
  std::vector<std::string> mismatches;
  run_together(kThreads, [&](int thread) {
    for (int round = 0; round < kRounds; ++round) {
      const Outputs got = work();
      std::lock_guard lock(mutex);
      ++calls;
      if (got.size() != expected.size()) {
        mismatches.push_back("thread " + std::to_string(thread) + ": " + std::to_string(got.size()) +
                             " outputs, expected " + std::to_string(expected.size()));
        continue;
      }
      for (size_t i = 0; i < got.size(); ++i) {
        if (!same_bits(got[i], expected[i])) {
          mismatches.push_back("thread " + std::to_string(thread) + " round " + std::to_string(round) +
                               ": output " + std::to_string(i) + " differs");
        }
      }
    }
  });
  if (mismatches.empty()) return ::testing::AssertionSuccess();
  std::ostringstream out;
  out << mismatches.size() << " mismatching outputs in " << calls << " concurrent calls; first: " << mismatches[0];
  return ::testing::AssertionFailure() << out.str();
}

Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return from_vector_i64(ids, {static_cast<int64_t>(ids.size())});
}

// The gradients of `leaves` after `loss.backward()`.
Outputs with_grads(Outputs outputs, const Tensor& loss, const std::vector<Tensor>& leaves) {
  loss.backward();
  for (const Tensor& l : leaves) outputs.push_back(l.grad());
  return outputs;
}

// ---- the cases ----

Outputs op_families() {
  const Tensor a = leaf(randn_tensor({37, 300}, 1));
  const Tensor b = leaf(randn_tensor({300, 53}, 2));
  const Tensor w = leaf(randn_tensor({300}, 3)), bias = leaf(randn_tensor({300}, 4));
  const Tensor big_a = randn_tensor({256, 384}, 5), big_b = randn_tensor({512, 384}, 6);  // the team GEMM
  const Tensor row = randn_tensor({1, 768}, 7), weights = randn_tensor({768, 1000}, 8);  // the decoding gemv
  const Tensor batched = randn_tensor({6, 33, 40}, 9), batched_b = randn_tensor({6, 50, 40}, 10);
  const Tensor table = leaf(randn_tensor({100, 300}, 11));
  const Tensor ids = ids_tensor({3, 99, 0, 42, 42, 7});
  const Tensor target = ids_tensor({1, 0, 52, 7, 7, 30});

  const Tensor product = matmul(a, b);                                    // (37, 53)
  const Tensor normed = layer_norm(gelu(a) * 0.5 + sqrt(exp(a)), {300}, w, bias);
  const Tensor probs = softmax(normed, -1);
  const Tensor logits = product.narrow(0, 0, 6);                         // (6, 53)
  const Tensor loss = cross_entropy(logits, target) + sum(probs * probs) + mean(tanh(embedding(ids, table))) +
                      sum(var(normed, {0})) + sum(amax(product, {1}));
  return with_grads({product, normed, probs, loss, matmul(big_a, big_b.t()), matmul(row, weights),
                     matmul(batched, batched_b.transpose(1, 2)), log_softmax(batched, 1), sum(batched, {0, 2})},
                    loss, {a, b, w, bias, table});
}

Outputs attention(bool causal, bool weights) {
  // 3 heads: fewer problems than a multiple of the thread count leaves some
  // whose key blocks are split over the threads in the backward.
  const Tensor q = leaf(randn_tensor({1, 3, 200, 64}, 21)), k = leaf(randn_tensor({1, 3, 260, 64}, 22));
  const Tensor v = leaf(randn_tensor({1, 3, 260, 48}, 23));
  functional::SdpaOptions options;
  options.is_causal = causal;
  options.causal_lower_right = causal;
  options.return_weights = weights;
  const functional::SdpaOutput out = functional::scaled_dot_product_attention(q, k, v, options);
  const Tensor loss = sum(out.output * randn_tensor({1, 3, 200, 48}, 24));
  return with_grads({out.output, out.weights}, loss, {q, k, v});
}

Outputs attention_with_dropout() {
  Generator generator(5);
  const Tensor q = leaf(randn_tensor({2, 4, 70, 32}, 25)), k = leaf(randn_tensor({2, 4, 70, 32}, 26));
  const Tensor v = leaf(randn_tensor({2, 4, 70, 32}, 27));
  functional::SdpaOptions options;
  options.dropout_p = 0.2;
  options.generator = &generator;
  const Tensor out = functional::scaled_dot_product_attention(q, k, v, options).output;
  return with_grads({out}, sum(out * out), {q, k, v});
}

Outputs vision_layers() {
  const Tensor x = leaf(randn_tensor({4, 8, 20, 24}, 31));
  const Tensor weight = leaf(randn_tensor({16, 8, 3, 3}, 32, 0.2)), bias = leaf(randn_tensor({16}, 33));
  ConvFuncOptions options;
  options.padding = 1;
  const Tensor conv = conv2d(x, weight, bias, options);
  const Tensor normed = batch_norm(conv, zeros({16}), ones({16}), Tensor(), Tensor(), /*training=*/true);
  const Tensor pooled = max_pool2d(relu(normed), {2, 2});
  const Tensor identity = from_vector({1, 0, 0, 0, 1, 0}, {1, 2, 3});
  const Tensor theta = leaf(randn_tensor({4, 2, 3}, 34, 0.2) + identity);
  const Tensor grid = affine_grid(theta, {4, 16, 7, 9});
  const Tensor sampled = grid_sample(pooled, grid, "bilinear", "border");
  const Tensor loss = sum(sampled * sampled);
  return with_grads({conv, normed, pooled, sampled}, loss, {x, weight, bias, theta});
}

models::Gpt2Config gpt2_config() {
  models::Gpt2Config c;
  c.vocab_size = 270;
  c.n_positions = 64;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.eos_token_id = 269;
  return c;
}

models::BertConfig bert_config() {
  models::BertConfig c;
  c.vocab_size = 30;  // kWordPieceJson's vocabulary
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 48;
  c.max_position_embeddings = 40;
  return c;
}

Outputs gpt2(const models::Gpt2LMHeadModel& model) {
  NoGradGuard no_grad;
  const Tensor ids = id_matrix({{1, 5, 9, 13, 2, 7, 30, 31}, {4, 4, 8, 200, 100, 12, 3, 9}});
  const Tensor logits = model.forward(ids);
  models::GenerationOptions greedy;
  greedy.max_new_tokens = 12;
  greedy.use_stop_tokens = false;
  models::GenerationOptions sampled = greedy;
  sampled.sampling.do_sample = true;
  sampled.sampling.seed = 11;
  sampled.sampling.top_p = 0.9;
  return {logits, ids_tensor(model.generate({1, 5, 9}, greedy).tokens),
          ids_tensor(model.generate({7, 7}, sampled).tokens)};
}

Outputs bert(const models::BertForMaskedLM& mlm, const models::SentenceEmbedder& embedder) {
  NoGradGuard no_grad;
  const Tensor ids = id_matrix({{2, 5, 6, 10, 3, 0}, {2, 7, 8, 9, 11, 3}});
  const Tensor mask = id_matrix({{1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 1}});
  models::AttentionCapture capture;
  capture.layers = {1};
  const Tensor logits = mlm.forward(ids, mask, Tensor(), &capture);
  Outputs out{logits, embedder.encode({"hello world", "Unaffable café!", "i don't play", "中文 cafe"}, 3)};
  for (const Tensor& w : capture.weights) out.push_back(w);
  return out;
}

Outputs tokenizers(const tokenizers::Tokenizer& wordpiece, const tokenizers::Tokenizer& byte_level) {
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) {
    texts.push_back("Hello, WORLD! Unaffable café 中文 worlds " + std::to_string(i) + " hello world hellooo");
  }
  Outputs out;
  for (const tokenizers::Tokenizer* tok : {&wordpiece, &byte_level}) {
    std::vector<std::vector<int64_t>> batch;
    for (const tokenizers::Encoding& e : tok->encode_batch(texts)) {
      out.push_back(ids_tensor(e.ids));
      batch.push_back(e.ids);
    }
    std::vector<int64_t> lengths;
    for (const std::string& text : tok->decode_batch(batch)) lengths.push_back(static_cast<int64_t>(text.size()));
    out.push_back(ids_tensor(lengths));
  }
  return out;
}

// Five AdamW steps of a small Transformer with dropout, built and trained
// under its own generator (initial weights and dropout masks): the
// parameters after training.
Outputs training() {
  Generator generator(17);
  GeneratorScope scope(generator);
  nn::TransformerOptions options;
  options.layer.d_model = 32;
  options.layer.nhead = 4;
  options.layer.dim_feedforward = 48;
  options.layer.dropout = 0.1;
  options.layer.batch_first = true;
  options.num_encoder_layers = 1;
  options.num_decoder_layers = 1;
  nn::Transformer model(options, &generator);
  model.train();
  train::AdamW optimizer(model.parameters());
  const Tensor src = randn_tensor({3, 9, 32}, 41), tgt = randn_tensor({3, 7, 32}, 42);
  for (int step = 0; step < 5; ++step) {
    optimizer.zero_grad();
    const Tensor out = model.forward(src, tgt);
    sum(out * out).backward();
    optimizer.step();
  }
  return model.parameters();
}

// ---- the fixture: every GEMM backend and ISA path this CPU has ----

struct Path {
  GemmBackend backend;
  Isa isa;
};

std::vector<Path> paths() {
  std::vector<Path> out;
  for (GemmBackend backend : {GemmBackend::Auto, GemmBackend::Attnkit, GemmBackend::OneDnn}) {
    for (Isa isa : kernels::kAllIsas) {
      if (kernels::cpu_has(isa)) out.push_back({backend, isa});
    }
  }
  return out;
}

std::string path_name(const ::testing::TestParamInfo<Path>& info) {
  const char* backend = info.param.backend == GemmBackend::Auto      ? "auto_"
                        : info.param.backend == GemmBackend::OneDnn ? "onednn_"
                                                                    : "attnkit_";
  return backend + std::string(kernels::isa_name(info.param.isa));
}

class Concurrency : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    previous_backend_ = kernels::gemm_backend();
    kernels::set_gemm_backend(GetParam().backend);
    isa_.emplace(GetParam().isa);
  }
  void TearDown() override {
    isa_.reset();
    kernels::set_gemm_backend(previous_backend_);
  }

 private:
  GemmBackend previous_backend_ = GemmBackend::Attnkit;
  std::optional<kernels::IsaScope> isa_;
};

TEST_P(Concurrency, OpFamiliesForwardAndBackward) { EXPECT_TRUE(same_from_threads(op_families)); }

TEST_P(Concurrency, FusedAttentionForwardAndBackward) {
  EXPECT_TRUE(same_from_threads([] { return attention(false, false); }));
  EXPECT_TRUE(same_from_threads([] { return attention(true, false); }));
  EXPECT_TRUE(same_from_threads([] { return attention(false, true); }));
  EXPECT_TRUE(same_from_threads(attention_with_dropout));
}

TEST_P(Concurrency, ConvolutionAndVisionLayers) { EXPECT_TRUE(same_from_threads(vision_layers)); }

TEST_P(Concurrency, OneGpt2ModelSharedByAllThreads) {
  Generator generator(3);
  const models::Gpt2LMHeadModel model(gpt2_config(), &generator);
  EXPECT_TRUE(same_from_threads([&] { return gpt2(model); }));
}

TEST_P(Concurrency, SeparateGpt2Models) {
  EXPECT_TRUE(same_from_threads([] {
    Generator generator(3);
    const models::Gpt2LMHeadModel model(gpt2_config(), &generator);
    return gpt2(model);
  }));
}

TEST_P(Concurrency, BertAndSentenceEmbeddings) {
  Generator generator(4);
  const models::BertForMaskedLM mlm(bert_config(), &generator);
  const models::SentenceEmbedder embedder(std::make_shared<models::BertModel>(bert_config(), false, &generator),
                                          tokenizers::Tokenizer::from_json(kWordPieceJson), models::PoolingModes{},
                                          /*normalize=*/true, /*max_seq_length=*/16);
  EXPECT_TRUE(same_from_threads([&] { return bert(mlm, embedder); }));
}

TEST_P(Concurrency, TrainingSeparateModels) { EXPECT_TRUE(same_from_threads(training)); }

TEST_P(Concurrency, OneSeq2SeqModelTranslatesAndShowsCrossAttention) {
  Generator generator(6);
  models::Seq2SeqTransformerOptions options;
  options.src_vocab = 20;
  options.tgt_vocab = 15;
  options.d_model = 32;
  options.dim_feedforward = 48;
  models::Seq2SeqTransformer model(options, &generator);
  model.eval();
  const Tensor src = id_matrix({{3, 4, 5, 6, 7, 0}, {8, 9, 10, 11, 12, 13}});
  const Tensor tgt = id_matrix({{1, 3, 4, 5}, {1, 6, 7, 8}});
  EXPECT_TRUE(same_from_threads([&] {
    NoGradGuard no_grad;
    decoding::SearchOptions search;
    search.max_length = 8;
    Outputs out = model.cross_attention(src, tgt);
    for (const auto& tokens : model.translate(src, search, /*beam=*/true)) out.push_back(ids_tensor(tokens));
    return out;
  }));
}

TEST_P(Concurrency, SeparateVisionBlocksKeepTheirOwnMaps) {
  const Tensor x = randn_tensor({2, 32, 9, 11}, 51);
  EXPECT_TRUE(same_from_threads([&] {
    Generator generator(7);
    nn::vision::CBAM cbam(nn::vision::CbamOptions{.channels = 32}, &generator);
    nn::vision::SqueezeExcite se(nn::vision::SqueezeExciteOptions{.channels = 32}, &generator);
    const Tensor y = se.forward(cbam.forward(x));
    return Outputs{y, cbam.attention_map(), cbam.channel_attention_map(), se.attention_map()};
  }));
}

// A module that keeps per-call state, called by two threads at once.
class SlowStatefulModule : public nn::Module {
 public:
  std::string name() const override { return "SlowStatefulModule"; }
  void forward(std::latch& entered, std::latch& release) {
    const ExclusiveUse in_use = exclusive_use();
    entered.count_down();
    release.wait();
  }
};

TEST(ConcurrencyMisuse, SecondThreadOnAStatefulModuleIsAStateError) {
  SlowStatefulModule module;
  std::latch entered(1), release(1);
  std::thread first([&] { module.forward(entered, release); });
  entered.wait();
  std::latch unused_entered(1), unused_release(0);
  EXPECT_TRUE(throws_error_naming([&] { module.forward(unused_entered, unused_release); },
                                  "SlowStatefulModule: this object is in use by another thread"));
  release.count_down();
  first.join();
  // Free again once the first call returned.
  std::latch again_entered(1), again_release(0);
  module.forward(again_entered, again_release);
}

// A vision block shared by threads: every call gives the serial bits or
// refuses with a StateError; never a mixed map.
TEST(ConcurrencyMisuse, SharedVisionBlockNeverGivesAMixedMap) {
  Generator generator(8);
  nn::vision::SqueezeExcite se(nn::vision::SqueezeExciteOptions{.channels = 64}, &generator);
  const Tensor x = randn_tensor({8, 64, 24, 24}, 52);
  const Tensor expected = se.forward(x);
  const Tensor expected_map = se.attention_map();
  std::atomic<int> refused{0}, wrong{0};
  run_together(kThreads, [&](int) {
    for (int round = 0; round < 20; ++round) {
      try {
        const Tensor y = se.forward(x);
        wrong += same_bits(y, expected) ? 0 : 1;
      } catch (const StateError&) {
        ++refused;
      }
    }
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(same_bits(se.attention_map(), expected_map));
  std::printf("shared SqueezeExcite: %d of %d concurrent calls refused\n", refused.load(), kThreads * 20);
}

// Tokenizers do not depend on the GEMM or the ISA: one instantiation.
TEST(ConcurrencyTokenizers, SharedTokenizersEncodeAndDecode) {
  // Fresh tokenizers: their caches fill while the threads run.
  EXPECT_TRUE(same_from_threads([] {
    return tokenizers(tokenizers::Tokenizer::from_json(kWordPieceJson),
                      tokenizers::Tokenizer::from_json(byte_level_json()));
  }));
  const tokenizers::Tokenizer wordpiece = tokenizers::Tokenizer::from_json(kWordPieceJson);
  const tokenizers::Tokenizer byte_level = tokenizers::Tokenizer::from_json(byte_level_json());
  EXPECT_TRUE(same_from_threads([&] { return tokenizers(wordpiece, byte_level); }));
}

// Many shapes, each thread in its own order, with room for 3 plans per
// oneDNN cache: plans are created, found and evicted while other threads run
// them.
TEST_P(Concurrency, StressMixedShapesEvictPlans) {
  kernels::DnnlPlanCacheLimit limit(3);
  struct Shape3 {
    int64_t m, k, n;
    bool transposed;
  };
  std::vector<Shape3> shapes;
  for (int i = 0; i < 24; ++i) shapes.push_back({7 + 29 * (i % 5), 16 + 24 * (i % 4), 9 + 31 * (i % 6), i % 3 == 0});
  auto compute = [](const Shape3& s, int seed) {
    const Tensor a = randn_tensor({s.m, s.k}, seed);
    const Tensor b = s.transposed ? randn_tensor({s.n, s.k}, seed + 1).t() : randn_tensor({s.k, s.n}, seed + 1);
    const Tensor x = randn_tensor({2, 3, 8 + seed % 5, 9}, seed + 2);
    const Tensor w = randn_tensor({4, 3, 1 + seed % 3, 3}, seed + 3);
    return Outputs{matmul(a, b), conv2d(x, w)};
  };
  std::vector<Outputs> expected;
  for (size_t i = 0; i < shapes.size(); ++i) expected.push_back(compute(shapes[i], static_cast<int>(i)));
  std::atomic<int> mismatches{0};
  run_together(kThreads, [&](int thread) {
    for (int round = 0; round < kRounds; ++round) {
      for (size_t j = 0; j < shapes.size(); ++j) {
        const size_t i = (j * 7 + static_cast<size_t>(thread) * 5 + static_cast<size_t>(round)) % shapes.size();
        const Outputs got = compute(shapes[i], static_cast<int>(i));
        for (size_t o = 0; o < got.size(); ++o) mismatches += same_bits(got[o], expected[i][o]) ? 0 : 1;
      }
    }
  });
  EXPECT_EQ(mismatches.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(EveryPath, Concurrency, ::testing::ValuesIn(paths()), path_name);

}  // namespace
}  // namespace attnkit::testing
