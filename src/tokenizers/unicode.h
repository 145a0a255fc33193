#pragma once
// Unicode properties the tokenizers need, answered by ICU (Unicode 15 in
// Debian 12's ICU 72) rather than hand-written tables. ASCII is answered
// inline: it is nearly all of the text in practice.
//
// Two families of questions, because Hugging Face's tokenizers answer them
// from two sources:
//   - White_Space, letters (L*), numbers (N*) and lowercase mappings come from
//     Rust's std / Oniguruma, which follow current Unicode: ICU's current data.
//   - BERT's punctuation (P*), non-spacing marks (Mn) and "other" (Cc, Cf, Co)
//     come from the `unicode_categories` crate, whose tables stop at Unicode
//     8.0: a Po sign added in Unicode 9 (U+2E43) is not punctuation there, and
//     a format char added in 11 (U+110CD) is not removed. The bert_* functions
//     answer "yes" only for characters already assigned in Unicode 8.0 (ICU's
//     u_charAge), so BERT vocabularies see the splits they were trained with.
#include <cstdint>
#include <string>

namespace attnkit::tokenizers::unicode {

bool is_whitespace_slow(char32_t c);
bool is_letter_slow(char32_t c);
bool is_number_slow(char32_t c);

// Unicode White_Space (what Rust's char::is_whitespace and the regex \s mean).
inline bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return is_whitespace_slow(c);
}
// General category L* (regex \p{L}).
inline bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return is_letter_slow(c);
}
// General category N* (regex \p{N}).
inline bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return is_number_slow(c);
}

// BERT's punctuation: ASCII punctuation (every printable non-alphanumeric,
// as in Google's BERT) or P* (as of Unicode 8.0, see above).
bool is_bert_punctuation(char32_t c);
// BERT's control characters, removed by clean_text: Cc, Cf, Co (Unicode 8.0)
// except \t \n \r, which count as whitespace.
bool is_bert_control(char32_t c);
// Mn (Unicode 8.0): the marks strip_accents drops after NFD.
bool is_bert_nonspacing_mark(char32_t c);

// CJK ideographs as BERT defines them (the CJK Unified Ideographs blocks and
// their extensions A-E, plus the compatibility ideographs); not Hangul, Kana.
inline bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Appends the canonical decomposition (NFD) of c to out; c itself when it has
// none. Canonical reordering across characters is not applied: the only
// caller drops the Mn marks that reordering would move.
void append_nfd(char32_t c, std::u32string& out);

// Appends the full lowercase mapping of c, without context (as Rust's
// char::to_lowercase: "İ" -> "i̇", final sigma not special).
void append_lowercase(char32_t c, std::u32string& out);

}  // namespace attnkit::tokenizers::unicode

namespace attnkit::tokenizers::unicode {
// A "word" character as the regex \w means it (Unicode: Alphabetic, marks,
// decimal digits, connector punctuation, join controls): the boundary test of
// single_word added tokens.
bool is_word_char(char32_t c);
}  // namespace attnkit::tokenizers::unicode
