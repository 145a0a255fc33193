#pragma once
// The result of tokenizing one input (or one pair of inputs), field for
// field as in Hugging Face's tokenizers.Encoding. All vectors have one entry
// per token, in order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnkit::tokenizers {

struct Encoding {
  std::vector<int64_t> ids;                  // vocabulary ids, what a model's embedding takes
  std::vector<int64_t> type_ids;             // segment ids: 0 for the first sequence, 1 for a pair's second (BERT)
  std::vector<std::string> tokens;           // the vocabulary strings ("##ing", "Ġworld", "[CLS]")
  std::vector<int64_t> attention_mask;       // 1 for real tokens, 0 for padding
  std::vector<int64_t> special_tokens_mask;  // 1 for tokens the post-processor or padding added
  // Byte offsets [begin, end) into the input the token came from (a pair's
  // second sequence: into the second input); (0, 0) for added special and
  // padding tokens. A token holding part of a multi-byte character (byte-level
  // BPE) spans the whole character, as in Hugging Face.
  std::vector<std::pair<size_t, size_t>> offsets;
  // Which input each token came from: 0, 1, or -1 for special and padding tokens.
  std::vector<int> sequence_ids;

  size_t size() const { return ids.size(); }
};

}  // namespace attnkit::tokenizers
