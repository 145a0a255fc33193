#include "tokenizers/post_processor.h"

#include "tokenizers/byte_level.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

namespace {

// Leading / trailing characters of a byte-level token that stand for spaces.
bool is_space_char(char32_t c) { return c == byte_level::byte_to_char()[' '] || unicode::is_whitespace(c); }

size_t leading_spaces(const std::string& token) {
  size_t count = 0;
  for (size_t pos = 0; pos < token.size();) {
    char32_t c;
    const int length = utf8::decode_valid(token, pos, c);
    if (!is_space_char(c)) break;
    ++count;
    pos += length;
  }
  return count;
}

size_t trailing_spaces(const std::string& token) {
  size_t count = 0;
  size_t end = token.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(token[start]) & 0xC0) == 0x80) --start;
    char32_t c;
    utf8::decode_valid(token, start, c);
    if (!is_space_char(c)) break;
    ++count;
    end = start;
  }
  return count;
}

void trim_offsets(Encoding& e, bool add_prefix_space) {
  for (size_t i = 0; i < e.size(); ++i) {
    auto& [begin, end] = e.offsets[i];
    size_t leading = leading_spaces(e.tokens[i]);
    const size_t trailing = trailing_spaces(e.tokens[i]);
    if (leading > 0) {
      // The first word's single leading space may be the inserted prefix
      // space, which has no text of its own to trim.
      const bool first = i == 0 || begin == 0;
      if (first && add_prefix_space && leading == 1) leading = 0;
      begin = std::min(begin + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = std::max(end - trailing, begin);
  }
}

void append(Encoding& out, const Encoding& part, std::optional<int64_t> type_id, int sequence_id) {
  out.ids.insert(out.ids.end(), part.ids.begin(), part.ids.end());
  if (type_id) {
    out.type_ids.insert(out.type_ids.end(), part.size(), *type_id);
  } else {
    out.type_ids.insert(out.type_ids.end(), part.type_ids.begin(), part.type_ids.end());
  }
  out.tokens.insert(out.tokens.end(), part.tokens.begin(), part.tokens.end());
  out.attention_mask.insert(out.attention_mask.end(), part.attention_mask.begin(), part.attention_mask.end());
  out.special_tokens_mask.insert(out.special_tokens_mask.end(), part.special_tokens_mask.begin(),
                                 part.special_tokens_mask.end());
  out.offsets.insert(out.offsets.end(), part.offsets.begin(), part.offsets.end());
  out.sequence_ids.insert(out.sequence_ids.end(), part.size(), sequence_id);
}

void append_special(Encoding& out, const TemplateSpecialToken& special, int64_t type_id) {
  for (size_t k = 0; k < special.ids.size(); ++k) {
    out.ids.push_back(special.ids[k]);
    out.type_ids.push_back(type_id);
    out.tokens.push_back(special.tokens[k]);
    out.attention_mask.push_back(1);
    out.special_tokens_mask.push_back(1);
    out.offsets.emplace_back(0, 0);
    out.sequence_ids.push_back(-1);
  }
}

}  // namespace

size_t PostProcessor::added_tokens(bool is_pair) const {
  if (!has_template) return 0;
  size_t count = 0;
  for (const TemplatePiece& piece : is_pair ? pair : single) {
    if (!piece.is_special) continue;
    auto it = special_tokens.find(piece.name);
    if (it != special_tokens.end()) count += it->second.ids.size();
  }
  return count;
}

Encoding PostProcessor::process(Encoding first, Encoding* second, bool add_special_tokens) const {
  if (trim_offsets) {
    tokenizers::trim_offsets(first, trim_add_prefix_space);
    if (second) tokenizers::trim_offsets(*second, trim_add_prefix_space);
  }
  Encoding out;
  if (!has_template || (!add_special_tokens && concatenate_without_special_tokens)) {
    append(out, first, std::nullopt, 0);
    if (second) append(out, *second, std::nullopt, 1);
    return out;
  }
  for (const TemplatePiece& piece : second ? pair : single) {
    if (piece.is_special) {
      if (add_special_tokens) append_special(out, special_tokens.at(piece.name), piece.type_id);
    } else if (piece.name == "A") {
      append(out, first, piece.type_id, 0);
    } else if (second) {
      append(out, *second, piece.type_id, 1);
    }
  }
  return out;
}

}  // namespace attnkit::tokenizers
