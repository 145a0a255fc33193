#pragma once
// Truncation and padding of Encodings, as Hugging Face's tokenizers do them
// (utils/truncation.rs, utils/padding.rs).
//
// Truncation runs before the special tokens are added, with max_length
// reduced by the number the post-processor will add, so the final encoding
// has at most max_length tokens. For a pair, longest_first takes tokens from
// the longer sequence first, splitting max_length evenly when both are long
// (the first sequence gets the smaller half when it is odd: HF's rule);
// only_first / only_second take them from that sequence alone (an error when
// it is too short). direction left keeps the end of a sequence instead of its start.
//
// Padding runs last: to the longest encoding of the batch (length unset) or to
// a fixed length, rounded up to a multiple of pad_to_multiple_of when set.
// Padding tokens have attention_mask 0, special_tokens_mask 1, offsets (0, 0).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/tokenizers/encoding.h"

namespace attnkit::tokenizers {

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class Direction { Left, Right };

struct TruncationParams {
  size_t max_length = 512;
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  Direction direction = Direction::Right;
};

struct PaddingParams {
  std::optional<size_t> length;   // nullopt: pad to the longest in the batch
  size_t pad_to_multiple_of = 0;  // 0: no rounding
  int64_t pad_id = 0;
  int64_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
  Direction direction = Direction::Right;
};

// Cuts `encoding` to at most max_length tokens from the end `direction` names.
void truncate(Encoding& encoding, size_t max_length, Direction direction);

// Truncates a sequence, or a pair (second != nullptr), so that together they
// have at most params.max_length tokens. only_second without a second
// sequence, or a sequence too short to give up enough tokens, is an error.
void truncate_pair(Encoding& first, Encoding* second, const TruncationParams& params);

// Pads every encoding to the target length (see above); longer ones are left alone.
void pad(std::vector<Encoding>& encodings, const PaddingParams& params);

}  // namespace attnkit::tokenizers
