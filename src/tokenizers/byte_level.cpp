#include "tokenizers/byte_level.h"

#include "tokenizers/utf8.h"

namespace attnkit::tokenizers::byte_level {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8{};
  std::array<int16_t, 512> from_char{};  // every stand-in is below U+0200

  Tables() {
    from_char.fill(-1);
    const auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = printable(b) ? static_cast<char32_t>(b) : next++;
      utf8::append(to_utf8[b], to_char[b]);
      from_char[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::array<char32_t, 256>& byte_to_char() { return tables().to_char; }
const std::array<std::string, 256>& byte_to_utf8() { return tables().to_utf8; }

int char_to_byte(char32_t c) { return c < 512 ? tables().from_char[c] : -1; }

std::string encode(std::string_view bytes) {
  const auto& to_utf8 = tables().to_utf8;
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) out += to_utf8[static_cast<unsigned char>(b)];
  return out;
}

void decode_token(std::string_view token, std::string& out) {
  const size_t start = out.size();
  size_t pos = 0;
  while (pos < token.size()) {
    char32_t c;
    int bad;
    const int length = utf8::decode(token, pos, c, bad);
    const int byte = length == 0 ? -1 : char_to_byte(c);
    if (byte < 0) {  // not a byte-level token: its text as is
      out.resize(start);
      out.append(token);
      return;
    }
    out.push_back(static_cast<char>(byte));
    pos += length;
  }
}

}  // namespace attnkit::tokenizers::byte_level
