#pragma once
// Tokens added on top of a model's vocabulary — the special tokens ([CLS],
// <|endoftext|>) and any a user added — and how they are found in text, as
// Hugging Face's AddedVocabulary does it:
//   - they are matched before normalization and pre-tokenization, so
//     "<|endoftext|>" in a text is one token and never split by the regex;
//   - tokens with normalized=false (special tokens, usually) are matched in
//     the raw text; normalized=true ones in the normalized text, against
//     their own normalized form ("Yesterday" matches a lowercased "yesterday");
//   - matching is leftmost-longest; single_word tokens only match with no
//     word character (\w) on either side; lstrip / rstrip tokens swallow the
//     whitespace before / after them.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizers/vocab.h"

namespace attnkit::tokenizers {

class BertNormalizer;

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A special token matched in the raw text (normalized = false), as model
// folders declare [CLS], <|endoftext|>, ...
inline AddedToken special_added_token(std::string content, int64_t id) {
  AddedToken t;
  t.content = std::move(content);
  t.id = id;
  t.normalized = false;
  t.special = true;
  return t;
}

// A found added token: its id and the byte range it covers (with any
// stripped whitespace).
struct AddedMatch {
  int64_t id;
  uint32_t begin, end;
};

class AddedVocabulary {
 public:
  // Adds a token (a second token with the same content replaces the first).
  void add(AddedToken token);
  // Builds the matchers; normalized tokens are matched in their form under
  // `normalizer` (nullptr: unchanged). Call after the last add().
  void build(const BertNormalizer* normalizer);

  // The matches of the raw (normalized = false) or normalized set in `text`,
  // in order, not overlapping.
  void find(std::string_view text, bool normalized_set, std::vector<AddedMatch>& out) const;

  bool empty() const { return tokens_.empty(); }
  const AddedToken* by_id(int64_t id) const;
  const AddedToken* by_content(std::string_view content) const;
  bool is_special(int64_t id) const {
    const AddedToken* t = by_id(id);
    return t != nullptr && t->special;
  }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Matcher {
    std::vector<std::string> patterns;
    std::vector<size_t> token_index;                     // pattern -> tokens_
    std::array<std::vector<uint32_t>, 256> by_first{};  // first byte -> patterns, longest first
    bool empty() const { return patterns.empty(); }
  };
  void find_in(const Matcher& matcher, std::string_view text, std::vector<AddedMatch>& out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int64_t, size_t> by_id_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> by_content_;
  Matcher raw_, normalized_;
};

}  // namespace attnkit::tokenizers
