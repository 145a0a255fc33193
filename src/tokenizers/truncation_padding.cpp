#include "attnkit/tokenizers/truncation_padding.h"

#include <algorithm>

#include "attnkit/core/error.h"

namespace attnkit::tokenizers {

namespace {

template <typename T>
void keep(std::vector<T>& values, size_t begin, size_t count) {
  if (begin > 0) values.erase(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(begin));
  values.resize(count);
}

template <typename T>
void extend(std::vector<T>& values, size_t count, const T& value, Direction direction) {
  if (direction == Direction::Right) {
    values.insert(values.end(), count, value);
  } else {
    values.insert(values.begin(), count, value);
  }
}

}  // namespace

void truncate(Encoding& e, size_t max_length, Direction direction) {
  const size_t n = e.size();
  if (n <= max_length) return;
  const size_t begin = direction == Direction::Right ? 0 : n - max_length;
  keep(e.ids, begin, max_length);
  keep(e.type_ids, begin, max_length);
  keep(e.tokens, begin, max_length);
  keep(e.attention_mask, begin, max_length);
  keep(e.special_tokens_mask, begin, max_length);
  keep(e.offsets, begin, max_length);
  keep(e.sequence_ids, begin, max_length);
}

void truncate_pair(Encoding& first, Encoding* second, const TruncationParams& params) {
  const size_t max_length = params.max_length;
  const size_t n_first = first.size(), n_second = second ? second->size() : 0;
  const size_t total = n_first + n_second;
  if (total <= max_length) return;
  const size_t to_remove = total - max_length;
  if (params.strategy == TruncationStrategy::LongestFirst) {
    if (!second) {
      truncate(first, max_length, params.direction);
      return;
    }
    // n_short keeps all it has when the long one can absorb the cut; when
    // both are long, max_length is split, the odd token going to the longer.
    size_t n_short = std::min(n_first, n_second), n_long = std::max(n_first, n_second);
    n_long = n_short > max_length ? n_short : std::max(n_short, max_length - n_short);
    if (n_short + n_long > max_length) {
      n_short = max_length / 2;
      n_long = n_short + max_length % 2;
    }
    const bool first_is_short = n_first <= n_second;
    truncate(first, first_is_short ? n_short : n_long, params.direction);
    truncate(*second, first_is_short ? n_long : n_short, params.direction);
    return;
  }
  AK_CHECK(params.strategy == TruncationStrategy::OnlyFirst || second != nullptr,
           "truncation: strategy only_second needs a pair of sequences, got a single one");
  Encoding& target = params.strategy == TruncationStrategy::OnlyFirst ? first : *second;
  AK_CHECK(target.size() > to_remove, "truncation: max_length ", max_length, " needs ", to_remove,
           " tokens removed from the ", params.strategy == TruncationStrategy::OnlyFirst ? "first" : "second",
           " sequence, which has only ", target.size());
  truncate(target, target.size() - to_remove, params.direction);
}

void pad(std::vector<Encoding>& encodings, const PaddingParams& params) {
  size_t target = 0;
  if (params.length) {
    target = *params.length;
  } else {
    for (const Encoding& e : encodings) target = std::max(target, e.size());
  }
  if (params.pad_to_multiple_of > 0 && target % params.pad_to_multiple_of != 0) {
    target += params.pad_to_multiple_of - target % params.pad_to_multiple_of;
  }
  for (Encoding& e : encodings) {
    if (e.size() >= target) continue;
    const size_t count = target - e.size();
    extend(e.ids, count, params.pad_id, params.direction);
    extend(e.type_ids, count, params.pad_type_id, params.direction);
    extend(e.tokens, count, params.pad_token, params.direction);
    extend(e.attention_mask, count, int64_t{0}, params.direction);
    extend(e.special_tokens_mask, count, int64_t{1}, params.direction);
    extend(e.offsets, count, std::pair<size_t, size_t>{0, 0}, params.direction);
    extend(e.sequence_ids, count, -1, params.direction);
  }
}

}  // namespace attnkit::tokenizers
