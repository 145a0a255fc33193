#pragma once
// Pre-tokenizers: split normalized text into the words the model sees. Both
// take valid UTF-8 and append byte ranges of `text`.
#include <cstdint>
#include <string_view>
#include <vector>

namespace attnkit::tokenizers {

struct Piece {
  uint32_t begin = 0, end = 0;  // byte range
};

// BERT (HF's BertPreTokenizer): split on whitespace, which is dropped, and
// on punctuation, each punctuation character becoming its own word:
// "Hello, world!" -> "Hello" "," "world" "!".
void bert_pre_tokenize(std::string_view text, std::vector<Piece>& out);

// GPT-2's split, the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (\s = White_Space), implemented as a scanner that takes the regex's
// leftmost-first choices at each position. The matches tile the text, so
// the scanner never skips anything. Notable cases:
//   "I'm"      -> "I" "'m"          (contractions are lowercase only: "'M" is "'" "M")
//   "a  b"     -> "a" " " " b"      (a whitespace run leaves its last space to the next word)
//   "a\n\nb"   -> "a" "\n" "\n" "b" (so does a run of newlines; only ' ' joins the word)
//   "a\n\n b"  -> "a" "\n\n" " b"
//   "x   "     -> "x" "   "         (trailing whitespace stays together)
void gpt2_split(std::string_view text, std::vector<Piece>& out);

}  // namespace attnkit::tokenizers
