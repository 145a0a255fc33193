#pragma once
// Byte-pair-encoding model (Sennrich et al. 2016; GPT-2's byte-level variant,
// Radford et al. 2019), as Hugging Face's BPE model applies it.
//
// A word starts as one symbol per character; then, repeatedly, the adjacent
// pair whose merge has the lowest rank (its line in merges.txt) is merged,
// the leftmost first among equal ranks, until no adjacent pair has a merge.
// Characters missing from the vocabulary become unk_token when there is one
// (consecutive ones fused into one when fuse_unk) and are dropped otherwise —
// HF's behaviour; byte-level vocabularies contain all 256 byte characters, so
// nothing is dropped there.
//
// Words of up to kMaxCachedWordBytes bytes are cached (lookups are shared
// across threads), so frequent words cost one hash lookup.
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizers/vocab.h"

namespace attnkit::tokenizers {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // prepended to non-initial symbols ("" for GPT-2)
  std::string end_of_word_suffix;         // appended to the last symbol ("" for GPT-2)
  bool fuse_unk = false;
  bool ignore_merges = false;  // a word that is itself in the vocabulary is one token
};

class BpeModel {
 public:
  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kCacheCapacity = 100000;

  // merges: pairs of tokens, rank = position. Both halves and their
  // concatenation must be in the vocabulary; a violation is an error naming
  // `source` and the merge: its line (first_merge_line + index) in a
  // merges.txt, or its index in tokenizer.json's list (first_merge_line 0).
  BpeModel(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& source, size_t first_merge_line = 0);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the tokens of `word` (valid UTF-8). Token ranges count
  // characters of `word`: for a byte-level word, bytes of the original text.
  void tokenize(std::string_view word, std::vector<ModelToken>& out) const;

  const Vocab& vocab() const { return vocab_; }
  const BpeOptions& options() const { return options_; }
  size_t num_merges() const { return merges_.size(); }

 private:
  struct Merge {
    uint32_t rank;
    int64_t merged_id;
  };
  static uint64_t pair_key(int64_t left, int64_t right) {
    return static_cast<uint64_t>(left) << 32 | static_cast<uint32_t>(right);
  }
  void merge_word(std::string_view word, std::vector<ModelToken>& out) const;

  Vocab vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  BpeOptions options_;
  std::optional<int64_t> unk_id_;

  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<ModelToken>, StringHash, std::equal_to<>> cache_;
};

}  // namespace attnkit::tokenizers
