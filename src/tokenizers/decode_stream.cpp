#include "attnkit/tokenizers/decode_stream.h"

namespace attnkit::tokenizers {

namespace {
bool ends_with_replacement_char(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

DecodeStream::DecodeStream(Tokenizer tokenizer, bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)), skip_special_tokens_(skip_special_tokens) {}

std::string DecodeStream::step(int64_t id) {
  ids_.push_back(id);
  std::string text;
  try {
    text = tokenizer_.decode(ids_, skip_special_tokens_);
  } catch (...) {
    ids_.pop_back();  // an unknown id leaves the stream as it was
    throw;
  }
  if (text.size() <= prefix_.size() || ends_with_replacement_char(text)) return {};
  // Decoders only ever extend what a prefix of the ids decoded to; if one
  // did not (a cleanup rule rewriting across tokens), emit what differs.
  size_t common = 0;
  while (common < prefix_.size() && text[common] == prefix_[common]) ++common;
  std::string fresh = text.substr(common);
  // The window keeps the ids since the last complete piece as context, so
  // WordPiece can tell "##ing" from a new word.
  const size_t new_prefix_index = ids_.size() - prefix_index_;
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(ids_, skip_special_tokens_);
  prefix_index_ = new_prefix_index;
  return fresh;
}

}  // namespace attnkit::tokenizers
