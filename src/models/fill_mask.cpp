#include "attnkit/models/fill_mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::models {

std::vector<FillMaskCandidate> fill_mask(const BertForMaskedLM& model, const tokenizers::Tokenizer& tokenizer,
                                         const std::string& text, int64_t top_k) {
  AK_CHECK(top_k >= 1, "fill-mask: top_k must be >= 1, got ", top_k);
  const auto mask = tokenizer.mask_token();
  AK_CHECK(mask.has_value(), "fill-mask: the tokenizer has no mask token");
  const tokenizers::Encoding encoding = tokenizer.encode(text);
  const auto at = std::find(encoding.ids.begin(), encoding.ids.end(), mask->id);
  AK_CHECK(at != encoding.ids.end(), "fill-mask: the text must contain ", mask->token, " once, it has none");
  AK_CHECK(std::count(encoding.ids.begin(), encoding.ids.end(), mask->id) == 1, "fill-mask: the text must contain ",
           mask->token, " once, it has ", std::count(encoding.ids.begin(), encoding.ids.end(), mask->id));
  const auto position = static_cast<int64_t>(at - encoding.ids.begin());
  const auto length = static_cast<int64_t>(encoding.ids.size());

  NoGradGuard no_grad;
  // The tokenizer may pad (MiniLM's tokenizer.json pads to 128): its mask keeps the pads out.
  const Tensor logits = model.forward(from_vector_i64(encoding.ids, {1, length}),
                                      from_vector_i64(encoding.attention_mask, {1, length}),
                                      from_vector_i64(encoding.type_ids, {1, length}))
                            .select(0, 0)
                            .select(0, position)
                            .contiguous();  // (V)
  const float* z = logits.data<float>();
  const int64_t vocab = logits.size(0);
  const double top = *std::max_element(z, z + vocab);
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v) total += std::exp(z[v] - top);

  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  const int64_t k = std::min(top_k, vocab);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) { return z[a] > z[b]; });

  std::vector<FillMaskCandidate> results;
  for (int64_t i = 0; i < k; ++i) {
    FillMaskCandidate c;
    c.token = order[i];
    c.score = std::exp(z[c.token] - top) / total;
    const int64_t one[1] = {c.token};
    c.token_str = tokenizer.decode(one);
    std::vector<int64_t> filled = encoding.ids;
    filled[position] = c.token;
    c.sequence = tokenizer.decode(filled);
    results.push_back(std::move(c));
  }
  return results;
}

}  // namespace attnkit::models
