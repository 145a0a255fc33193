#include "tokenizers/pre_tokenizers.h"

#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

void bert_pre_tokenize(std::string_view text, std::vector<Piece>& out) {
  uint32_t word_begin = 0;
  bool in_word = false;
  uint32_t pos = 0;
  const auto size = static_cast<uint32_t>(text.size());
  while (pos < size) {
    char32_t c;
    const uint32_t length = utf8::decode_valid(text, pos, c);
    const bool space = unicode::is_whitespace(c);
    const bool punctuation = !space && unicode::is_bert_punctuation(c);
    if (space || punctuation) {
      if (in_word) out.push_back({word_begin, pos});
      in_word = false;
      if (punctuation) out.push_back({pos, pos + length});
    } else if (!in_word) {
      in_word = true;
      word_begin = pos;
    }
    pos += length;
  }
  if (in_word) out.push_back({word_begin, size});
}

namespace {

enum class CharClass : uint8_t { Letter, Number, Space, Other };

CharClass classify(char32_t c) {
  if (unicode::is_letter(c)) return CharClass::Letter;
  if (unicode::is_number(c)) return CharClass::Number;
  if (unicode::is_whitespace(c)) return CharClass::Space;
  return CharClass::Other;
}

// The class of the character at pos and its length; pos < text.size().
CharClass class_at(std::string_view text, uint32_t pos, uint32_t& length) {
  char32_t c;
  length = utf8::decode_valid(text, pos, c);
  return classify(c);
}

// End of the run of characters of class `cls` starting at pos.
uint32_t run_end(std::string_view text, uint32_t pos, CharClass cls) {
  const auto size = static_cast<uint32_t>(text.size());
  while (pos < size) {
    uint32_t length;
    if (class_at(text, pos, length) != cls) break;
    pos += length;
  }
  return pos;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
uint32_t contraction_length(std::string_view text, uint32_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  const char a = text[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  const char b = text[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

void gpt2_split(std::string_view text, std::vector<Piece>& out) {
  const auto size = static_cast<uint32_t>(text.size());
  uint32_t pos = 0;
  while (pos < size) {
    if (const uint32_t n = contraction_length(text, pos)) {
      out.push_back({pos, pos + n});
      pos += n;
      continue;
    }
    uint32_t length;
    const CharClass cls = class_at(text, pos, length);
    // " ?X+": an ASCII space joins the letter, number or other run after it.
    if (text[pos] == ' ' && pos + 1 < size) {
      uint32_t next_length;
      const CharClass next = class_at(text, pos + 1, next_length);
      if (next != CharClass::Space) {
        const uint32_t end = run_end(text, pos + 1, next);
        out.push_back({pos, end});
        pos = end;
        continue;
      }
    }
    if (cls != CharClass::Space) {
      const uint32_t end = run_end(text, pos, cls);
      out.push_back({pos, end});
      pos = end;
      continue;
    }
    // "\s+(?!\S)": the whitespace run, minus its last character when a
    // non-space follows (that character may start the next word); "\s+":
    // a lone whitespace character before a non-space.
    const uint32_t end = run_end(text, pos, CharClass::Space);
    uint32_t stop = end;
    if (end < size) {
      uint32_t last = end - 1;
      while ((static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;  // start of the last character
      if (last > pos) stop = last;
    }
    out.push_back({pos, stop});
    pos = stop;
  }
}

}  // namespace attnkit::tokenizers
