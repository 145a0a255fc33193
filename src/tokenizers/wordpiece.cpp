#include "tokenizers/wordpiece.h"

#include <algorithm>

#include "attnkit/core/error.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

WordPieceModel::WordPieceModel(Vocab vocab, WordPieceOptions options, const std::string& source)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  const auto unk = vocab_.find(options_.unk_token);
  AK_CHECK(unk.has_value(), source, ": unk_token \"", options_.unk_token.substr(0, 40),
           "\" is not in the vocabulary");
  unk_id_ = *unk;
  for (const auto& entry : vocab_.map()) longest_token_bytes_ = std::max(longest_token_bytes_, entry.first.size());
}

void WordPieceModel::tokenize(std::string_view word, std::vector<ModelToken>& out) const {
  if (word.empty()) return;
  // Character boundaries, so candidates shrink one character at a time.
  thread_local std::vector<uint32_t> bounds;
  thread_local std::string candidate;
  bounds.clear();
  for (size_t pos = 0; pos < word.size(); pos += utf8::sequence_length(static_cast<unsigned char>(word[pos]))) {
    bounds.push_back(static_cast<uint32_t>(pos));
  }
  const size_t chars = bounds.size();
  bounds.push_back(static_cast<uint32_t>(word.size()));
  const auto whole = static_cast<uint32_t>(word.size());
  if (chars > options_.max_input_chars_per_word) {
    out.push_back({unk_id_, 0, whole});
    return;
  }
  const size_t first = out.size();
  size_t start = 0;
  while (start < chars) {
    // Start from the longest candidate that could be in the vocabulary, so a
    // long word costs O(length x longest token), not O(length^2) lookups.
    const uint32_t limit = bounds[start] + static_cast<uint32_t>(std::min<size_t>(longest_token_bytes_, word.size()));
    size_t end = static_cast<size_t>(std::upper_bound(bounds.begin() + static_cast<std::ptrdiff_t>(start),
                                                      bounds.begin() + static_cast<std::ptrdiff_t>(chars) + 1, limit) -
                                     bounds.begin()) - 1;
    std::optional<int64_t> found;
    for (; end > start; --end) {
      const std::string_view piece = word.substr(bounds[start], bounds[end] - bounds[start]);
      if (start == 0) {
        found = vocab_.find(piece);
      } else {
        candidate.assign(options_.continuing_subword_prefix);
        candidate.append(piece);
        found = vocab_.find(candidate);
      }
      if (found) break;
    }
    if (!found) {
      out.resize(first);
      out.push_back({unk_id_, 0, whole});
      return;
    }
    out.push_back({*found, bounds[start], bounds[end]});
    start = end;
  }
}

}  // namespace attnkit::tokenizers
