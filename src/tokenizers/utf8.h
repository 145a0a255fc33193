#pragma once
// UTF-8 decoding and encoding for the tokenizers. Strict decoding (RFC 3629):
// overlong forms, surrogates and code points above U+10FFFF are invalid, as
// in Rust's str, which Hugging Face's tokenizers work on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnkit::tokenizers::utf8 {

// The code point starting at text[pos] (pos < text.size()). Returns its
// length in bytes (1-4), or 0 when the bytes there are not valid UTF-8; then
// `invalid_length` is the length of the maximal ill-formed subpart (>= 1),
// which lossy decoding replaces by one U+FFFD (Unicode 15 §3.9, as Rust's
// String::from_utf8_lossy does).
int decode(std::string_view text, size_t pos, char32_t& cp, int& invalid_length);

// Same, for text already known to be valid UTF-8.
inline int decode_valid(std::string_view text, size_t pos, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if (b0 < 0xE0) {
    cp = (char32_t{b0} & 0x1F) << 6 | (static_cast<unsigned char>(text[pos + 1]) & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    cp = (char32_t{b0} & 0x0F) << 12 | (char32_t{static_cast<unsigned char>(text[pos + 1])} & 0x3F) << 6 |
         (static_cast<unsigned char>(text[pos + 2]) & 0x3F);
    return 3;
  }
  cp = (char32_t{b0} & 0x07) << 18 | (char32_t{static_cast<unsigned char>(text[pos + 1])} & 0x3F) << 12 |
       (char32_t{static_cast<unsigned char>(text[pos + 2])} & 0x3F) << 6 |
       (static_cast<unsigned char>(text[pos + 3]) & 0x3F);
  return 4;
}

// Length of the UTF-8 sequence a valid lead byte starts.
inline int sequence_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

void append(std::string& out, char32_t cp);

// Byte offset of the first invalid sequence, or std::string_view::npos.
size_t find_invalid(std::string_view text);

// Throws attnkit::ValueError "<op>: the text is not valid UTF-8: byte 0x.. at
// offset N" when the text is not valid UTF-8.
void check_valid(std::string_view text, const char* op);

// The bytes decoded lossily: every maximal ill-formed subpart becomes U+FFFD.
std::string to_valid_lossy(std::string_view bytes);

}  // namespace attnkit::tokenizers::utf8
