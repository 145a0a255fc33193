#include "attnkit/nn/dropout.h"

#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/ops/dropout.h"

namespace attnkit::nn {

Dropout::Dropout(double probability, Generator* gen) : p(probability), generator(gen) {
  AK_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability has to be between 0 and 1, but got ", p);
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p, is_training(), generator); }

std::string Dropout::extra_repr() const {
  std::ostringstream out;
  out << "p=" << p << ", inplace=False";
  return out.str();
}

}  // namespace attnkit::nn
