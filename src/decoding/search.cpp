#include "attnkit/decoding/search.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::decoding {

namespace {

void check(const SearchOptions& o, int64_t batch, const char* who) {
  AK_CHECK(batch > 0, who, ": batch must be positive, got ", batch);
  AK_CHECK(o.max_length > 0, who, ": max_length must be positive, got ", o.max_length);
}

Tensor token_matrix(const std::vector<std::vector<int64_t>>& sequences) {
  const int64_t rows = static_cast<int64_t>(sequences.size()), length = static_cast<int64_t>(sequences[0].size());
  std::vector<int64_t> flat;
  flat.reserve(static_cast<size_t>(rows * length));
  for (const auto& s : sequences) flat.insert(flat.end(), s.begin(), s.end());
  return from_vector_i64(flat, {rows, length});
}

// The step's log-probabilities as a (rows, V) float32 contiguous tensor.
Tensor scores_of(const StepFn& step, const Tensor& tokens, const std::vector<int64_t>& rows, const char* who) {
  Tensor scores = step(tokens, rows);
  AK_CHECK(scores.dim() == 2 && scores.size(0) == static_cast<int64_t>(rows.size()), who,
           ": the step function must return (", rows.size(), ", vocabulary) scores, got ", shape_str(scores.shape()));
  return scores.to(kFloat32).contiguous();
}

}  // namespace

std::vector<std::vector<int64_t>> greedy_search(const StepFn& step, int64_t batch, const SearchOptions& o) {
  check(o, batch, "greedy_search");
  NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> sequences(static_cast<size_t>(batch), std::vector<int64_t>{o.bos});
  std::vector<bool> done(static_cast<size_t>(batch), false);
  for (int64_t t = 0; t < o.max_length; ++t) {
    std::vector<int64_t> rows;
    std::vector<std::vector<int64_t>> active;
    for (int64_t b = 0; b < batch; ++b) {
      if (done[static_cast<size_t>(b)]) continue;
      rows.push_back(b);
      active.push_back(sequences[static_cast<size_t>(b)]);
    }
    if (rows.empty()) break;
    Tensor scores = scores_of(step, token_matrix(active), rows, "greedy_search");
    const int64_t vocab = scores.size(1);
    const float* s = scores.data<float>();
    for (size_t r = 0; r < rows.size(); ++r) {
      const float* row = s + static_cast<int64_t>(r) * vocab;
      const int64_t next = std::max_element(row, row + vocab) - row;
      auto& seq = sequences[static_cast<size_t>(rows[r])];
      seq.push_back(next);
      if (next == o.eos) done[static_cast<size_t>(rows[r])] = true;
    }
  }
  for (auto& seq : sequences) seq.erase(seq.begin());  // drop bos
  return sequences;
}

std::vector<std::vector<int64_t>> beam_search(const StepFn& step, int64_t batch, const SearchOptions& o) {
  check(o, batch, "beam_search");
  AK_CHECK(o.beam_size > 0, "beam_search: beam_size must be positive, got ", o.beam_size);
  NoGradGuard no_grad;
  struct Hypothesis {
    std::vector<int64_t> tokens;  // bos first
    double log_prob = 0.0;
  };
  auto final_score = [&](const Hypothesis& h) {
    const double length = static_cast<double>(h.tokens.size() - 1);  // without bos
    return o.length_penalty == 0.0 ? h.log_prob : h.log_prob / std::pow(std::max(length, 1.0), o.length_penalty);
  };
  std::vector<std::vector<Hypothesis>> beams(static_cast<size_t>(batch), {Hypothesis{{o.bos}, 0.0}});
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(batch));
  for (int64_t t = 0; t < o.max_length; ++t) {
    std::vector<int64_t> rows;
    std::vector<std::vector<int64_t>> active;
    for (int64_t b = 0; b < batch; ++b) {
      for (const Hypothesis& h : beams[static_cast<size_t>(b)]) {
        rows.push_back(b);
        active.push_back(h.tokens);
      }
    }
    if (rows.empty()) break;
    Tensor scores = scores_of(step, token_matrix(active), rows, "beam_search");
    const int64_t vocab = scores.size(1);
    const float* s = scores.data<float>();
    size_t row = 0;
    for (int64_t b = 0; b < batch; ++b) {
      auto& beam = beams[static_cast<size_t>(b)];
      // Every extension of every live hypothesis; keep the best beam_size that go on.
      std::vector<Hypothesis> candidates;
      for (const Hypothesis& h : beam) {
        const float* lp = s + static_cast<int64_t>(row++) * vocab;
        std::vector<int64_t> order(static_cast<size_t>(vocab));
        for (int64_t v = 0; v < vocab; ++v) order[static_cast<size_t>(v)] = v;
        const int64_t keep = std::min<int64_t>(vocab, o.beam_size + 1);  // enough to survive eos endings
        std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                          [&](int64_t a, int64_t c) { return lp[a] > lp[c]; });
        for (int64_t k = 0; k < keep; ++k) {
          Hypothesis next = h;
          next.tokens.push_back(order[static_cast<size_t>(k)]);
          next.log_prob += lp[order[static_cast<size_t>(k)]];
          candidates.push_back(std::move(next));
        }
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const Hypothesis& a, const Hypothesis& c) { return a.log_prob > c.log_prob; });
      beam.clear();
      for (Hypothesis& c : candidates) {
        if (static_cast<int64_t>(beam.size()) == o.beam_size) break;
        const bool ended = c.tokens.back() == o.eos || t + 1 == o.max_length;
        (ended ? finished[static_cast<size_t>(b)] : beam).push_back(std::move(c));
      }
      // Stop an entry once its best finished score cannot be beaten by a live one (scores only fall).
      auto& done = finished[static_cast<size_t>(b)];
      if (static_cast<int64_t>(done.size()) >= o.beam_size && !beam.empty()) {
        double best_done = -std::numeric_limits<double>::infinity();
        for (const Hypothesis& h : done) best_done = std::max(best_done, final_score(h));
        double best_live = -std::numeric_limits<double>::infinity();
        for (const Hypothesis& h : beam) best_live = std::max(best_live, h.log_prob);
        // With a non-negative penalty a live hypothesis' final score is at most best_live / len^p.
        const double bound = o.length_penalty > 0.0
                                 ? best_live / std::pow(static_cast<double>(o.max_length), o.length_penalty)
                                 : best_live;
        if (best_done >= bound) beam.clear();
      }
    }
  }
  std::vector<std::vector<int64_t>> out;
  for (int64_t b = 0; b < batch; ++b) {
    auto& done = finished[static_cast<size_t>(b)];
    for (Hypothesis& h : beams[static_cast<size_t>(b)]) done.push_back(std::move(h));
    const Hypothesis* best = nullptr;
    for (const Hypothesis& h : done) {
      if (!best || final_score(h) > final_score(*best)) best = &h;
    }
    out.emplace_back(best->tokens.begin() + 1, best->tokens.end());
  }
  return out;
}

}  // namespace attnkit::decoding
