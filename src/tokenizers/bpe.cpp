#include "tokenizers/bpe.h"

#include <mutex>
#include <queue>

#include "attnkit/core/error.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

BpeModel::BpeModel(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                   const std::string& source, size_t first_merge_line)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  if (options_.unk_token) {
    unk_id_ = vocab_.find(*options_.unk_token);
    AK_CHECK(unk_id_.has_value(), source, ": unk_token \"", options_.unk_token->substr(0, 40),
             "\" is not in the vocabulary");
  }
  merges_.reserve(merges.size());
  const size_t prefix_length = options_.continuing_subword_prefix.size();
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    // Merges come from merges.txt lines or tokenizer.json's list.
    const auto where = [&] {
      return first_merge_line > 0 ? "line " + std::to_string(first_merge_line + rank)
                                  : "model.merges[" + std::to_string(rank) + "]";
    };
    const auto left_id = vocab_.find(left);
    const auto right_id = vocab_.find(right);
    AK_CHECK(left_id && right_id, source, ": merge at ", where(), " (\"", left.substr(0, 40), " ",
             right.substr(0, 40), "\") refers to \"", (left_id ? right : left).substr(0, 40),
             "\", which is not in the vocabulary");
    // The right half carries the continuing-subword prefix, which the merged
    // token has only once (HF's rule).
    std::string merged = left;
    merged.append(right, right.compare(0, prefix_length, options_.continuing_subword_prefix) == 0 ? prefix_length : 0);
    const auto merged_id = vocab_.find(merged);
    AK_CHECK(merged_id.has_value(), source, ": merge at ", where(), " makes \"", merged.substr(0, 80),
             "\", which is not in the vocabulary");
    // A repeated merge keeps its first (best) rank.
    merges_.try_emplace(pair_key(*left_id, *right_id), Merge{static_cast<uint32_t>(rank), *merged_id});
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<ModelToken>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (auto id = vocab_.find(word)) {
      uint32_t chars = 0;
      for (size_t pos = 0; pos < word.size(); pos += utf8::sequence_length(static_cast<unsigned char>(word[pos]))) {
        ++chars;
      }
      out.push_back({*id, 0, chars});
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    // A full cache stops growing rather than evicting: the words seen first
    // are usually the frequent ones.
    if (cache_.size() < kCacheCapacity) {
      cache_.try_emplace(std::string(word), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    }
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<ModelToken>& out) const {
  struct Symbol {
    int64_t id;
    int32_t prev, next;
    uint32_t begin, end;  // characters of the word
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());

  // One symbol per character (with the prefix / suffix decorations).
  std::string scratch;
  uint32_t char_index = 0;
  for (size_t pos = 0; pos < word.size(); ++char_index) {
    const size_t length = utf8::sequence_length(static_cast<unsigned char>(word[pos]));
    const std::string_view ch = word.substr(pos, length);
    pos += length;
    const bool decorated = (char_index > 0 && !options_.continuing_subword_prefix.empty()) ||
                           (pos == word.size() && !options_.end_of_word_suffix.empty());
    std::optional<int64_t> id;
    if (decorated) {
      scratch.assign(char_index > 0 ? options_.continuing_subword_prefix : "");
      scratch.append(ch);
      if (pos == word.size()) scratch.append(options_.end_of_word_suffix);
      id = vocab_.find(scratch);
    } else {
      id = vocab_.find(ch);
    }
    if (!id) {
      if (!unk_id_) continue;  // dropped, as HF does without an unk token
      if (options_.fuse_unk && !symbols.empty() && symbols.back().id == *unk_id_ &&
          symbols.back().end == char_index) {
        symbols.back().end = char_index + 1;
        continue;
      }
      id = unk_id_;
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({*id, index - 1, index + 1, char_index, char_index + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // Candidate merges, lowest rank first, then leftmost. An entry goes stale
  // when either symbol has merged since; it is checked when popped.
  struct Candidate {
    uint32_t rank;
    int32_t left;
    int64_t left_id, right_id, merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) {
      queue.push({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.merged_id});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push(i);

  std::vector<bool> removed(symbols.size(), false);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    if (removed[top.left] || left.next < 0 || left.id != top.left_id || symbols[left.next].id != top.right_id) {
      continue;
    }
    Symbol& right = symbols[left.next];
    removed[left.next] = true;
    left.id = top.merged_id;
    left.end = right.end;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.left;
    if (left.prev >= 0) push(left.prev);
    push(top.left);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back({symbols[i].id, symbols[i].begin, symbols[i].end});
}

}  // namespace attnkit::tokenizers
