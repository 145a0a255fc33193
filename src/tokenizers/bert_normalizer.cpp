#include "tokenizers/bert_normalizer.h"

#include <string>

#include "tokenizers/unicode.h"

namespace attnkit::tokenizers {

void NormalizedText::assign_identity(std::string_view original, uint32_t offset) {
  text.assign(original);
  source.resize(original.size());
  size_t pos = 0;
  while (pos < original.size()) {
    const int length = utf8::sequence_length(static_cast<unsigned char>(original[pos]));
    const SourceSpan span{static_cast<uint32_t>(offset + pos), static_cast<uint32_t>(offset + pos + length)};
    for (int k = 0; k < length; ++k) source[pos + k] = span;
    pos += length;
  }
}

BertNormalizer::BertNormalizer(BertNormalizerOptions options)
    : options_(options), strip_accents_(options.strip_accents.value_or(options.lowercase)) {}

void BertNormalizer::normalize(std::string_view text, uint32_t offset, NormalizedText& out) const {
  out.text.reserve(out.text.size() + text.size() + text.size() / 4);
  out.source.reserve(out.source.size() + text.size() + text.size() / 4);
  // Scratch buffers for the multi-character steps, reused across characters.
  std::u32string decomposed, lowered;
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t c;
    const int length = utf8::decode_valid(text, pos, c);
    const SourceSpan from{static_cast<uint32_t>(offset + pos), static_cast<uint32_t>(offset + pos + length)};
    pos += length;

    if (options_.clean_text) {
      if (c == 0 || c == 0xFFFD || unicode::is_bert_control(c)) continue;
      if (unicode::is_whitespace(c)) c = ' ';
    }
    if (c < 0x80) {  // ASCII: nothing to decompose, lowercase in place
      if (options_.lowercase && c >= 'A' && c <= 'Z') c += 32;
      out.append(c, from);
      continue;
    }
    const bool chinese = options_.handle_chinese_chars && unicode::is_chinese_char(c);
    if (chinese) out.append(' ', from);

    decomposed.clear();
    if (strip_accents_) {
      unicode::append_nfd(c, decomposed);
    } else {
      decomposed.push_back(c);
    }
    for (char32_t d : decomposed) {
      if (strip_accents_ && unicode::is_bert_nonspacing_mark(d)) continue;
      if (!options_.lowercase) {
        out.append(d, from);
        continue;
      }
      lowered.clear();
      unicode::append_lowercase(d, lowered);
      for (char32_t l : lowered) out.append(l, from);
    }
    if (chinese) out.append(' ', from);
  }
}

}  // namespace attnkit::tokenizers
