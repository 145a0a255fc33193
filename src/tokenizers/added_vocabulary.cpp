#include "tokenizers/added_vocabulary.h"

#include <algorithm>

#include "tokenizers/bert_normalizer.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

namespace {

// The code point that ends just before byte `end` (end > 0, valid UTF-8).
char32_t char_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  char32_t c;
  utf8::decode_valid(text, start, c);
  return c;
}

size_t start_of_char_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

}  // namespace

void AddedVocabulary::add(AddedToken token) {
  if (token.content.empty()) return;  // HF ignores empty tokens
  if (auto it = by_content_.find(token.content); it != by_content_.end()) {
    by_id_.erase(tokens_[it->second].id);
    tokens_[it->second] = std::move(token);
    by_id_[tokens_[it->second].id] = it->second;
    return;
  }
  by_content_.emplace(token.content, tokens_.size());
  by_id_[token.id] = tokens_.size();
  tokens_.push_back(std::move(token));
}

void AddedVocabulary::build(const BertNormalizer* normalizer) {
  raw_ = Matcher{};
  normalized_ = Matcher{};
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    Matcher& m = t.normalized ? normalized_ : raw_;
    std::string pattern = t.content;
    if (t.normalized && normalizer != nullptr) {
      NormalizedText text;
      normalizer->normalize(t.content, 0, text);
      pattern = std::move(text.text);
    }
    if (pattern.empty()) continue;  // normalized away: can never match
    m.patterns.push_back(std::move(pattern));
    m.token_index.push_back(i);
  }
  for (Matcher* m : {&raw_, &normalized_}) {
    for (uint32_t p = 0; p < m->patterns.size(); ++p) {
      m->by_first[static_cast<unsigned char>(m->patterns[p][0])].push_back(p);
    }
    for (auto& list : m->by_first) {
      std::stable_sort(list.begin(), list.end(),
                       [&](uint32_t a, uint32_t b) { return m->patterns[a].size() > m->patterns[b].size(); });
    }
  }
}

const AddedToken* AddedVocabulary::by_id(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::by_content(std::string_view content) const {
  auto it = by_content_.find(content);
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

void AddedVocabulary::find(std::string_view text, bool normalized_set, std::vector<AddedMatch>& out) const {
  find_in(normalized_set ? normalized_ : raw_, text, out);
}

void AddedVocabulary::find_in(const Matcher& m, std::string_view text, std::vector<AddedMatch>& out) const {
  if (m.empty()) return;
  size_t previous_end = 0;  // end of the last accepted match (lstrip stops there)
  size_t pos = 0;
  while (pos < text.size()) {
    const auto& candidates = m.by_first[static_cast<unsigned char>(text[pos])];
    const uint32_t* hit = nullptr;
    for (const uint32_t& p : candidates) {
      const std::string& pattern = m.patterns[p];
      if (text.compare(pos, pattern.size(), pattern) == 0) {
        hit = &p;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[m.token_index[*hit]];
    size_t begin = pos, end = pos + m.patterns[*hit].size();
    pos = end;  // a discarded match still consumes its text, as an Aho-Corasick scan does
    if (token.single_word) {
      char32_t after = 0;
      const bool word_before = begin > 0 && unicode::is_word_char(char_before(text, begin));
      const bool word_after = end < text.size() && (utf8::decode_valid(text, end, after), unicode::is_word_char(after));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (begin > previous_end && unicode::is_whitespace(char_before(text, begin))) {
        begin = start_of_char_before(text, begin);
      }
      begin = std::max(begin, previous_end);
    }
    if (token.rstrip) {
      while (end < text.size()) {
        char32_t c;
        const int length = utf8::decode_valid(text, end, c);
        if (!unicode::is_whitespace(c)) break;
        end += length;
      }
      pos = end;
    }
    out.push_back({token.id, static_cast<uint32_t>(begin), static_cast<uint32_t>(end)});
    previous_end = end;
  }
}

}  // namespace attnkit::tokenizers
