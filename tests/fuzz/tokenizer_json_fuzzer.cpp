// libFuzzer target: any byte string as a tokenizer.json, optionally
// followed by "\n---\n" and a text. Loading must succeed or throw
// attnkit::Error; a tokenizer that loads then encodes that text (or the
// input's last 64 bytes; valid UTF-8 or not) alone and as a pair, with the
// file's truncation and padding and without, decodes the ids and streams
// them through DecodeStream. Crashes, hangs, leaks and sanitizer reports
// are bugs. The seed corpus holds a small WordPiece and a small byte-level
// BPE tokenizer.json.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attnkit/core/error.h"
#include "attnkit/tokenizers/decode_stream.h"
#include "attnkit/tokenizers/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attnkit::tokenizers;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find("\n---\n");
  const std::string json = input.substr(0, separator);
  const std::string text = separator != std::string::npos ? input.substr(separator + 5)
                                                          : input.substr(size > 64 ? size - 64 : 0);
  try {
    Tokenizer tok = Tokenizer::from_json(json, "fuzz.json");
    try {
      const Encoding e = tok.encode_pair(text, "second " + text.substr(0, 8));
      (void)e;
    } catch (const attnkit::Error&) {
    }
    try {
      tok.no_padding();
      tok.no_truncation();
      const Encoding e = tok.encode(text);
      const std::string decoded = tok.decode(e.ids, false);
      DecodeStream stream(tok, false);
      std::string streamed;
      for (int64_t id : e.ids) streamed += stream.step(id);
      (void)decoded;
      (void)streamed;
    } catch (const attnkit::Error&) {
    }
  } catch (const attnkit::Error&) {
  }
  return 0;
}
