#include "tokenizers/unicode.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

namespace attnkit::tokenizers::unicode {

namespace {

// Characters BERT's categories know: assigned by Unicode 8.0.
bool assigned_by_unicode_8(char32_t c) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(c), age);
  return age[0] < 8 || (age[0] == 8 && age[1] == 0);
}

bool in_categories(char32_t c, uint32_t mask) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & mask) != 0; }

}  // namespace

bool is_whitespace_slow(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }
bool is_letter_slow(char32_t c) { return in_categories(c, U_GC_L_MASK); }
bool is_number_slow(char32_t c) { return in_categories(c, U_GC_N_MASK); }

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return in_categories(c, U_GC_P_MASK) && assigned_by_unicode_8(c);
}

bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  return in_categories(c, U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CO_MASK) && assigned_by_unicode_8(c);
}

bool is_bert_nonspacing_mark(char32_t c) {
  if (c < 0x80) return false;
  return in_categories(c, U_GC_MN_MASK) && assigned_by_unicode_8(c);
}

void append_nfd(char32_t c, std::u32string& out) {
  if (c < 0xC0) {  // nothing below U+00C0 decomposes canonically
    out.push_back(c);
    return;
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString decomposition;
  if (U_FAILURE(status) || !nfd->getDecomposition(static_cast<UChar32>(c), decomposition)) {
    out.push_back(c);
    return;
  }
  for (int32_t i = 0; i < decomposition.length();) {
    const UChar32 d = decomposition.char32At(i);
    out.push_back(static_cast<char32_t>(d));
    i += U16_LENGTH(d);
  }
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  UChar source[2];
  int32_t source_length = 0;
  U16_APPEND_UNSAFE(source, source_length, static_cast<UChar32>(c));
  UChar lowered[8];  // full mappings are at most 3 code points
  UErrorCode status = U_ZERO_ERROR;
  const int32_t length = u_strToLower(lowered, 8, source, source_length, "", &status);
  if (U_FAILURE(status) || length > 8) {
    out.push_back(static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
    return;
  }
  for (int32_t i = 0; i < length;) {
    UChar32 d;
    U16_NEXT(lowered, i, length, d);
    out.push_back(static_cast<char32_t>(d));
  }
}

}  // namespace attnkit::tokenizers::unicode

namespace attnkit::tokenizers::unicode {
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? true : (c >= '0' && c <= '9') || c == '_';
  const auto u = static_cast<UChar32>(c);
  return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL) ||
         in_categories(c, U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK);
}
}  // namespace attnkit::tokenizers::unicode
