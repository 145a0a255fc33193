#pragma once
// Post-processing: what happens to an encoding after the model, as Hugging
// Face's post-processors do it.
//   - A template adds the model's special tokens around the sequences and
//     sets their type ids. BERT's is "[CLS] $A [SEP]" and, for pairs,
//     "[CLS] $A [SEP] $B:1 [SEP]:1"; RoBERTa's "<s> $A </s>" and
//     "<s> $A </s> </s> $B </s>". TemplateProcessing, BertProcessing and
//     RobertaProcessing in tokenizer.json all become a template.
//   - ByteLevel trimming (trim_offsets) moves token offsets off the spaces a
//     byte-level token starts or ends with: "Ġworld" covers "world", not
//     " world" (except the space add_prefix_space inserted before the first word).
// Without add_special_tokens the template's type ids still apply (HF's
// TemplateProcessing), except for the BERT / RoBERTa processors, which then
// just concatenate.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "attnkit/tokenizers/encoding.h"

namespace attnkit::tokenizers {

struct TemplatePiece {
  bool is_special = false;
  std::string name;  // a special token's key, or "A" / "B"
  int64_t type_id = 0;
};

struct TemplateSpecialToken {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
};

struct PostProcessor {
  // ByteLevel
  bool trim_offsets = false;
  bool trim_add_prefix_space = false;
  // Template
  bool has_template = false;
  std::vector<TemplatePiece> single, pair;
  std::unordered_map<std::string, TemplateSpecialToken> special_tokens;
  bool concatenate_without_special_tokens = false;  // BertProcessing / RobertaProcessing

  // How many tokens process() adds with add_special_tokens.
  size_t added_tokens(bool is_pair) const;
  Encoding process(Encoding first, Encoding* second, bool add_special_tokens) const;
};

}  // namespace attnkit::tokenizers
