#pragma once
// Text after normalization, with the way back: for every byte of the
// normalized text, the byte range of the original character it came from.
// This is what lets an Encoding report offsets into the caller's input even
// after lowercasing, accent stripping or inserted spaces (Hugging Face's
// NormalizedString keeps the same alignments).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

struct SourceSpan {
  uint32_t begin = 0, end = 0;  // byte range in the original text
};

struct NormalizedText {
  std::string text;
  std::vector<SourceSpan> source;  // one per byte of text

  void clear() {
    text.clear();
    source.clear();
  }
  void append(char32_t c, SourceSpan from) {
    const size_t before = text.size();
    utf8::append(text, c);
    source.insert(source.end(), text.size() - before, from);
  }
  // Copies original[begin, end) unchanged (no normalizer), `offset` being
  // where `original` starts in the caller's input.
  void assign_identity(std::string_view original, uint32_t offset);

  // The original byte range covered by normalized bytes [begin, end).
  SourceSpan span(size_t begin, size_t end) const {
    if (begin >= end) return {};
    return {source[begin].begin, source[end - 1].end};
  }
};

}  // namespace attnkit::tokenizers
