// Toy attention: learn to look up a value by a noisy key.
//
// Each example holds N items (key k_i, label y_i) and a query q = k_j + noise.
// The model is one head of scaled dot-product attention (Vaswani 2017):
//   α = softmax((q W_q)(K W_k)ᵀ / √h),   p = Σ_i α_i onehot(y_i) W_o
// trained with cross-entropy by attnkit's autograd and plain SGD. When it has
// learned, α puts its mass on item j, which the demo prints as a bar chart.

#include <cmath>
#include <cstdio>
#include <string>

#include "attnkit/attnkit.h"

using namespace attnkit;

namespace {

constexpr int64_t kItems = 8;      // N
constexpr int64_t kKeyDim = 16;    // d
constexpr int64_t kHeadDim = 16;   // h
constexpr int64_t kClasses = 8;    // C
constexpr int64_t kBatch = 64;     // B
constexpr float kNoise = 0.3f;

struct Batch {
  Tensor keys;     // (B, N, d)
  Tensor values;   // (B, N, C) one-hot labels
  Tensor query;    // (B, 1, d)
  Tensor target;   // (B) label of the queried item
  Tensor position; // (B) index j of the queried item
};

Batch make_batch(Generator& gen) {
  NoGradGuard no_grad;
  Batch b;
  b.keys = randn({kBatch, kItems, kKeyDim}, &gen);
  Tensor labels = randint(0, kClasses, {kBatch, kItems}, &gen);
  b.position = randint(0, kItems, {kBatch}, &gen);
  b.values = zeros({kBatch, kItems, kClasses});
  b.query = empty({kBatch, 1, kKeyDim});
  b.target = empty({kBatch}, kInt64);
  Tensor noise = randn({kBatch, 1, kKeyDim}, &gen);
  for (int64_t i = 0; i < kBatch; ++i) {
    for (int64_t n = 0; n < kItems; ++n) {
      b.values.select(0, i).select(0, n).select(0, static_cast<int64_t>(labels.at({i, n}))).fill_(1.0);
    }
    int64_t j = static_cast<int64_t>(b.position.at({i}));
    b.query.select(0, i).copy_(add(b.keys.select(0, i).narrow(0, j, 1), mul(noise.select(0, i), kNoise)));
    b.target.data<int64_t>()[i] = static_cast<int64_t>(labels.at({i, j}));
  }
  return b;
}

struct Model {
  Tensor w_q = mul(randn({kKeyDim, kHeadDim}), 1.0 / std::sqrt(kKeyDim)).set_requires_grad(true);
  Tensor w_k = mul(randn({kKeyDim, kHeadDim}), 1.0 / std::sqrt(kKeyDim)).set_requires_grad(true);
  Tensor w_o = mul(randn({kClasses, kClasses}), 0.1).set_requires_grad(true);

  // Returns logits (B, C) and the attention α (B, 1, N).
  std::pair<Tensor, Tensor> forward(const Batch& b) const {
    Tensor q = matmul(b.query, w_q);                                        // (B, 1, h)
    Tensor k = matmul(b.keys, w_k);                                         // (B, N, h)
    Tensor scores = div(matmul(q, k.transpose(1, 2)), std::sqrt(kHeadDim)); // (B, 1, N)
    Tensor alpha = softmax(scores, -1);                                     // (B, 1, N)
    Tensor read = matmul(alpha, b.values).squeeze(1);                       // (B, C)
    return {matmul(read, w_o), alpha};
  }

  void sgd_step(float lr) {
    NoGradGuard no_grad;
    for (Tensor* p : {&w_q, &w_k, &w_o}) {
      p->copy_(sub(*p, mul(p->grad(), lr)));
      p->set_grad(Tensor());
    }
  }
};

double accuracy(const Tensor& logits, const Tensor& target) {
  return mean(eq(argmax(logits, 1), target).to(kFloat32)).item();
}

void print_attention(const Batch& b, const Tensor& alpha, int64_t example) {
  int64_t j = static_cast<int64_t>(b.position.at({example}));
  std::printf("\nattention of example %lld (the query is a noisy copy of key %lld):\n",
              static_cast<long long>(example), static_cast<long long>(j));
  for (int64_t n = 0; n < kItems; ++n) {
    double a = alpha.at({example, 0, n});
    std::string bar(static_cast<size_t>(std::lround(a * 40)), '#');
    std::printf("  key %lld %s %5.3f %s\n", static_cast<long long>(n), n == j ? "*" : " ", a, bar.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int steps = argc > 1 ? std::atoi(argv[1]) : 400;
  manual_seed(0);
  Generator data_gen(1234);
  Model model;
  std::printf("attnkit toy attention: find the value whose key matches a noisy query\n");
  std::printf("items %lld, key dim %lld, batch %lld, SGD steps %d\n", static_cast<long long>(kItems),
              static_cast<long long>(kKeyDim), static_cast<long long>(kBatch), steps);
  for (int step = 1; step <= steps; ++step) {
    Batch batch = make_batch(data_gen);
    auto [logits, alpha] = model.forward(batch);
    Tensor loss = cross_entropy(logits, batch.target);
    loss.backward();
    model.sgd_step(0.5f);
    if (step % 50 == 0 || step == 1) {
      std::printf("step %4d  loss %.4f  batch accuracy %5.1f%%\n", step, loss.item(),
                  100.0 * accuracy(logits.detach(), batch.target));
    }
  }
  Generator test_gen(99);
  Batch test = make_batch(test_gen);
  NoGradGuard no_grad;
  auto [logits, alpha] = model.forward(test);
  std::printf("\nheld-out accuracy: %.1f%%\n", 100.0 * accuracy(logits, test.target));
  print_attention(test, alpha, 0);
  print_attention(test, alpha, 1);
  return 0;
}
