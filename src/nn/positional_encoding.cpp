#include "attnkit/nn/positional_encoding.h"

#include <cmath>

#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit::nn {

namespace {

// x + table[offset, offset + L) broadcast over the batch.
Tensor add_positions(const Tensor& x, const Tensor& table, int64_t offset, bool batch_first, const char* who) {
  AK_CHECK(x.dim() == 3 || x.dim() == 2, who, ": input must be (L, N, d), (N, L, d) with batch_first, or (L, d), got ",
           shape_str(x.shape()));
  AK_CHECK(x.size(-1) == table.size(1), who, ": input has ", x.size(-1), " features, expected d_model ", table.size(1));
  const int64_t length = x.dim() == 3 && batch_first ? x.size(1) : x.size(0);
  AK_CHECK(offset >= 0 && offset + length <= table.size(0), who, ": positions ", offset, "..", offset + length,
           " exceed max_len ", table.size(0));
  Tensor positions = table.narrow(0, offset, length);           // (L, d)
  if (x.dim() == 3 && !batch_first) positions = positions.unsqueeze(1);  // (L, 1, d)
  return add(x, positions);
}

}  // namespace

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len, double p,
                                                           bool first, Generator* generator)
    : batch_first(first) {
  AK_CHECK(d_model > 0 && max_len > 0, "SinusoidalPositionalEncoding: d_model and max_len must be positive, got ",
           d_model, " and ", max_len);
  Tensor table = empty({max_len, d_model});
  float* t = table.data<float>();
  for (int64_t pos = 0; pos < max_len; ++pos) {
    for (int64_t i = 0; i < d_model; i += 2) {
      const double angle = static_cast<double>(pos) * std::exp(-std::log(10000.0) * static_cast<double>(i) / d_model);
      t[pos * d_model + i] = static_cast<float>(std::sin(angle));
      if (i + 1 < d_model) t[pos * d_model + i + 1] = static_cast<float>(std::cos(angle));
    }
  }
  pe = register_buffer("pe", table);
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, int64_t offset) const {
  return dropout->forward(add_positions(x, pe, offset, batch_first, "SinusoidalPositionalEncoding"));
}

LearnedPositionalEncoding::LearnedPositionalEncoding(int64_t d_model, int64_t max_len, double p, bool first,
                                                     Generator* generator)
    : batch_first(first) {
  AK_CHECK(d_model > 0 && max_len > 0, "LearnedPositionalEncoding: d_model and max_len must be positive, got ",
           d_model, " and ", max_len);
  weight = register_parameter("weight", empty({max_len, d_model}));
  init::normal_(weight, 0.0, 0.02, generator);
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
}

Tensor LearnedPositionalEncoding::forward(const Tensor& x, int64_t offset) const {
  return dropout->forward(add_positions(x, weight, offset, batch_first, "LearnedPositionalEncoding"));
}

}  // namespace attnkit::nn
