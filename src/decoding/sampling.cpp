#include "attnkit/decoding/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnkit/core/error.h"

namespace attnkit::decoding {

namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

void apply_repetition_penalty(std::vector<float>& logits, const std::vector<int64_t>& sequence, double penalty) {
  const auto vocab = static_cast<int64_t>(logits.size());
  std::vector<bool> seen(logits.size(), false);
  for (int64_t token : sequence) {
    if (token < 0 || token >= vocab || seen[token]) continue;
    seen[token] = true;
    float& logit = logits[token];
    logit = logit < 0 ? static_cast<float>(logit * penalty) : static_cast<float>(logit / penalty);
  }
}

// Keeps the k largest; every logit equal to the k-th largest stays too, as
// Hugging Face's TopKLogitsWarper (it compares with the k-th value).
void keep_top_k(std::vector<float>& logits, int64_t k) {
  if (k <= 0 || k >= static_cast<int64_t>(logits.size())) return;
  std::vector<float> sorted(logits);
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
  const float kth = sorted[k - 1];
  for (float& logit : logits) {
    if (logit < kth) logit = kRemoved;
  }
}

// Removes the least likely tokens whose probabilities sum to at most 1 - p,
// ascending, as Hugging Face's TopPLogitsWarper; the most likely token stays.
void keep_top_p(std::vector<float>& logits, double p) {
  if (p >= 1.0) return;
  std::vector<int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] < logits[b]; });
  const float max_logit = logits[order.back()];
  double total = 0.0;
  for (float logit : logits) total += std::exp(static_cast<double>(logit) - max_logit);
  double cumulative = 0.0;
  for (size_t i = 0; i + 1 < order.size(); ++i) {  // the last (most likely) always stays
    cumulative += std::exp(static_cast<double>(logits[order[i]]) - max_logit) / total;
    if (cumulative > 1.0 - p) break;
    logits[order[i]] = kRemoved;
  }
}

int64_t argmax(const std::vector<float>& logits) {
  return std::max_element(logits.begin(), logits.end()) - logits.begin();  // the first of equal maxima
}

}  // namespace

void check_sampling_options(const SamplingOptions& o) {
  AK_CHECK(std::isfinite(o.temperature) && o.temperature > 0, "sampling: temperature must be > 0, got ",
           o.temperature);
  AK_CHECK(o.top_k >= 0, "sampling: top_k must be >= 0 (0 = off), got ", o.top_k);
  AK_CHECK(o.top_p > 0 && o.top_p <= 1, "sampling: top_p must be in (0, 1], got ", o.top_p);
  AK_CHECK(std::isfinite(o.repetition_penalty) && o.repetition_penalty > 0,
           "sampling: repetition_penalty must be > 0 (1 = off), got ", o.repetition_penalty);
}

TokenSampler::TokenSampler(const SamplingOptions& options) : options_(options), engine_(options.seed) {
  check_sampling_options(options);
}

int64_t TokenSampler::next(std::vector<float>& logits, const std::vector<int64_t>& sequence) {
  AK_CHECK(!logits.empty(), "sampling: no logits");
  if (options_.repetition_penalty != 1.0) apply_repetition_penalty(logits, sequence, options_.repetition_penalty);
  if (!options_.do_sample) return argmax(logits);

  if (options_.temperature != 1.0) {
    const float inverse = static_cast<float>(1.0 / options_.temperature);
    for (float& logit : logits) logit *= inverse;
  }
  keep_top_k(logits, options_.top_k);
  keep_top_p(logits, options_.top_p);

  // Inverse-CDF draw from the softmax of what is left.
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0.0;
  for (float logit : logits) total += std::exp(static_cast<double>(logit) - max_logit);
  const double target = std::uniform_real_distribution<double>(0.0, total)(engine_);
  double cumulative = 0.0;
  int64_t last_kept = argmax(logits);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] == kRemoved) continue;
    cumulative += std::exp(static_cast<double>(logits[i]) - max_logit);
    last_kept = static_cast<int64_t>(i);
    if (cumulative > target) return last_kept;
  }
  return last_kept;  // rounding left the target just above the sum
}

}  // namespace attnkit::decoding
