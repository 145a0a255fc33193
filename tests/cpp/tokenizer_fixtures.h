#pragma once
// Small handwritten tokenizer.json texts for the C++ tests: a BERT-style
// WordPiece tokenizer and a GPT-2-style byte-level BPE.

#include <string>

namespace attnkit::testing {

// A BERT-style tokenizer.json with a 30-token vocabulary.
extern const char* const kWordPieceJson;
// A GPT-2-style tokenizer.json: the 256 byte characters, a few merges, <|endoftext|>.
std::string byte_level_json(bool add_prefix_space = false);

}  // namespace attnkit::testing
