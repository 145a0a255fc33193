#include "tokenizers/utf8.h"

#include <cstdio>

#include "attnkit/core/error.h"

namespace attnkit::tokenizers::utf8 {

int decode(std::string_view text, size_t pos, char32_t& cp, int& invalid_length) {
  const size_t n = text.size();
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(pos);
  invalid_length = 1;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  int length;
  // The range of the second byte depends on the lead (no overlongs, no
  // surrogates, nothing above U+10FFFF); later bytes are any continuation.
  unsigned char low = 0x80, high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF cannot start a sequence
  }
  char32_t value = b0 & (0xFF >> (length + 1));
  for (int k = 1; k < length; ++k) {
    if (pos + k >= n) return 0;
    const unsigned char b = byte(pos + k);
    const bool ok = k == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return 0;
    value = value << 6 | (b & 0x3F);
    invalid_length = k + 1;  // the prefix so far is a maximal subpart if the next byte fails
  }
  cp = value;
  return length;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t find_invalid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    char32_t cp;
    int bad;
    const int length = decode(text, pos, cp, bad);
    if (length == 0) return pos;
    pos += length;
  }
  return std::string_view::npos;
}

void check_valid(std::string_view text, const char* op) {
  const size_t bad = find_invalid(text);
  if (bad == std::string_view::npos) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[bad])));
  AK_CHECK(false, op, ": the text is not valid UTF-8: byte ", hex, " at offset ", bad, " (of ", text.size(),
           " bytes) does not start a valid sequence");
}

std::string to_valid_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp;
    int bad;
    const int length = decode(bytes, pos, cp, bad);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      pos += bad;
    } else {
      out.append(bytes.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

}  // namespace attnkit::tokenizers::utf8
