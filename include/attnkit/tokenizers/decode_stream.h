#pragma once
// Streaming decode: print generated tokens as they come. Decoding tokens one
// at a time and concatenating is wrong twice over: a byte-level BPE token
// may hold half of a UTF-8 character (an emoji is often 2-3 tokens), and a
// WordPiece "##ing" must join the word before it while "world" needs a space.
//
// DecodeStream keeps a short window of ids: each step decodes the window,
// compares with what the window decoded to before the new id, and returns
// the new text — or "" while the text ends in an incomplete character
// (decoded as U+FFFD), which the next ids complete. The same algorithm as
// Hugging Face's tokenizers.decoders.DecodeStream, so the pieces concatenate
// to decode(all ids). (Text that really ends in U+FFFD is held back until
// the next id.)
#include <cstdint>
#include <string>
#include <vector>

#include "attnkit/tokenizers/tokenizer.h"

namespace attnkit::tokenizers {

// One stream per sequence being decoded (it keeps a window of ids): not to be
// shared between threads.
class DecodeStream {
 public:
  explicit DecodeStream(Tokenizer tokenizer, bool skip_special_tokens = true);

  // Feeds one id; returns the text it completes ("" when there is none yet).
  // An unknown id is an error.
  std::string step(int64_t id);

 private:
  Tokenizer tokenizer_;
  bool skip_special_tokens_;
  std::vector<int64_t> ids_;  // the window: already printed context + pending ids
  std::string prefix_;        // what ids_[0, prefix_index_) decodes to
  size_t prefix_index_ = 0;
};

}  // namespace attnkit::tokenizers
