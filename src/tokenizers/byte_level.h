#pragma once
// GPT-2's byte-level alphabet. Byte-level BPE works on bytes, but its
// vocabulary is stored as text, so every byte is given a printable stand-in:
// the printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
// themselves and the other 68 (controls, space, soft hyphen, ...) are mapped,
// in byte order, to U+0100, U+0101, ... — so ' ' is 'Ġ' (U+0120) and '\n' is
// 'Ċ' (U+010A). The map is a bijection between the 256 bytes and 256 code
// points, so any byte string, valid UTF-8 or not, has a text form and back.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnkit::tokenizers::byte_level {

// The stand-in code point of each byte.
const std::array<char32_t, 256>& byte_to_char();

// The UTF-8 encoding of each byte's stand-in (1 or 2 bytes), for building
// words without per-character conversions.
const std::array<std::string, 256>& byte_to_utf8();

// The byte a stand-in code point represents, or -1 when c is not one.
int char_to_byte(char32_t c);

// The text form of raw bytes.
std::string encode(std::string_view bytes);

// Inverse of encode for one token: its bytes appended to out. A token with a
// character outside the alphabet (an added token such as "<|endoftext|>" is
// inside it, but a hand-added "hello world" is not) contributes its own
// UTF-8 bytes unchanged, as in Hugging Face's ByteLevel decoder.
void decode_token(std::string_view token, std::string& out);

}  // namespace attnkit::tokenizers::byte_level
