// tokenizer.json (Hugging Face's tokenizers serialization) -> Pipeline.
//
// Only the components attnkit implements are accepted; anything else is an
// error naming the file, the field and what is supported, rather than a
// tokenizer that silently gives different ids.
#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "io/json_depth.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

namespace {

using nlohmann::json;

constexpr size_t kMaxJsonBytes = size_t{1} << 30;  // the largest real ones are ~20 MiB
constexpr int kMaxJsonDepth = 32;                  // real ones nest 5-6 deep
// The GPT-2 regex, as a Split pre-tokenizer writes it (newer GPT-2-style files).
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Reads fields of one JSON object; `path` ("model", "post_processor.single[2]")
// names it in errors.
class Fields {
 public:
  Fields(const json& object, std::string path, const std::string& source)
      : object_(object), path_(std::move(path)), source_(source) {
    AK_CHECK(object.is_object(), source, ": \"", path_, "\" must be an object, got ", object.type_name());
  }

  // The value of key, or nullptr when absent or null.
  const json* get(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const json& required(const char* key) const {
    const json* value = get(key);
    AK_CHECK(value != nullptr, source_, ": \"", name(key), "\" is missing");
    return *value;
  }
  std::string string(const char* key, const std::string& fallback) const {
    const json* value = get(key);
    if (value == nullptr) return fallback;
    AK_CHECK(value->is_string(), source_, ": \"", name(key), "\" must be a string, got ", value->type_name());
    return value->get<std::string>();
  }
  std::optional<std::string> optional_string(const char* key) const {
    if (get(key) == nullptr) return std::nullopt;
    return string(key, "");
  }
  bool boolean(const char* key, bool fallback) const {
    const json* value = get(key);
    if (value == nullptr) return fallback;
    AK_CHECK(value->is_boolean(), source_, ": \"", name(key), "\" must be true or false, got ", value->type_name());
    return value->get<bool>();
  }
  std::optional<bool> optional_boolean(const char* key) const {
    if (get(key) == nullptr) return std::nullopt;
    return boolean(key, false);
  }
  int64_t integer(const char* key, int64_t fallback, int64_t low, int64_t high) const {
    const json* value = get(key);
    if (value == nullptr) return fallback;
    return checked_integer(*value, name(key), low, high);
  }
  int64_t checked_integer(const json& value, const std::string& what, int64_t low, int64_t high) const {
    AK_CHECK(value.is_number_integer(), source_, ": \"", what, "\" must be an integer, got ", value.type_name());
    const bool fits = !value.is_number_unsigned() || value.get<uint64_t>() <= static_cast<uint64_t>(high);
    const int64_t v = fits ? value.get<int64_t>() : high + 1;
    AK_CHECK(v >= low && v <= high, source_, ": \"", what, "\" must be in ", low, "..", high, ", got ",
             value.dump().substr(0, 40));
    return v;
  }
  std::string type() const { return string("type", ""); }
  [[noreturn]] void unsupported(const std::string& what, const std::string& got, const char* supported) const {
    throw ValueError(detail::concat(source_, ": \"", what, "\" is ", got.empty() ? "missing" : "\"" + got.substr(0, 40) + "\"",
                                    "; attnkit supports ", supported));
  }
  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

 private:
  const json& object_;
  std::string path_;
  const std::string& source_;
};

Vocab read_vocab(const Fields& model) {
  const json& vocab = model.required("vocab");
  AK_CHECK(vocab.is_object(), model.source(), ": \"", model.name("vocab"),
           "\" must be an object of token: id, got ", vocab.type_name());
  Vocab out;
  for (const auto& [token, id_value] : vocab.items()) {
    // The message is built only for a bad id: vocabularies have 50k entries.
    const bool plain = id_value.is_number_unsigned() && id_value.get<uint64_t>() < uint64_t{Vocab::kMaxId};
    const int64_t id = plain ? id_value.get<int64_t>()
                             : model.checked_integer(id_value, model.name("vocab") + "[\"" + token.substr(0, 40) + "\"]",
                                                     0, Vocab::kMaxId - 1);
    AK_CHECK(out.insert(token, id), model.source(), ": \"", model.name("vocab"), "\" gives id ", id,
             " to \"", token.substr(0, 40), "\" and to \"", (out.token(id) ? out.token(id)->substr(0, 40) : ""), "\"");
  }
  AK_CHECK(out.size() > 0, model.source(), ": \"", model.name("vocab"), "\" is empty");
  return out;
}

std::vector<std::pair<std::string, std::string>> read_merges(const Fields& model) {
  std::vector<std::pair<std::string, std::string>> merges;
  const json* list = model.get("merges");
  if (list == nullptr) return merges;
  AK_CHECK(list->is_array(), model.source(), ": \"", model.name("merges"), "\" must be a list, got ",
           list->type_name());
  merges.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json& m = (*list)[i];
    const std::string what = model.name("merges") + "[" + std::to_string(i) + "]";
    if (m.is_string()) {
      // "a b": exactly one space (tokens never contain one in this format).
      const std::string line = m.get<std::string>();
      const size_t space = line.find(' ');
      AK_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                   line.find(' ', space + 1) == std::string::npos,
               model.source(), ": \"", what, "\" must be two tokens separated by one space, got \"",
               line.substr(0, 60), "\"");
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else {
      AK_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), model.source(), ": \"", what,
               "\" must be \"a b\" or [\"a\", \"b\"], got ", m.dump().substr(0, 60));
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  return merges;
}

void read_model(const json& root, const std::string& source, Pipeline& p) {
  auto it = root.find("model");
  AK_CHECK(it != root.end() && !it->is_null(), source, ": \"model\" is missing");
  const Fields model(*it, "model", source);
  std::string type = model.type();
  if (type.empty()) {  // files of old versions omit it; the fields tell
    if (model.get("merges") != nullptr) type = "BPE";
    else if (model.get("max_input_chars_per_word") != nullptr) type = "WordPiece";
  }
  if (type == "BPE") {
    const json* dropout = model.get("dropout");
    AK_CHECK(dropout == nullptr || (dropout->is_number() && dropout->get<double>() == 0.0), source,
             ": \"model.dropout\" is ", dropout ? dropout->dump().substr(0, 20) : "", "; attnkit supports null (no BPE dropout)");
    if (model.boolean("byte_fallback", false)) model.unsupported("model.byte_fallback", "true", "false");
    BpeOptions options{.unk_token = model.optional_string("unk_token"),
                       .continuing_subword_prefix = model.string("continuing_subword_prefix", ""),
                       .end_of_word_suffix = model.string("end_of_word_suffix", ""),
                       .fuse_unk = model.boolean("fuse_unk", false),
                       .ignore_merges = model.boolean("ignore_merges", false)};
    p.bpe = std::make_unique<BpeModel>(read_vocab(model), read_merges(model), std::move(options), source, 0);
  } else if (type == "WordPiece") {
    WordPieceOptions options{.unk_token = model.string("unk_token", "[UNK]"),
                             .continuing_subword_prefix = model.string("continuing_subword_prefix", "##"),
                             .max_input_chars_per_word = static_cast<size_t>(
                                 model.integer("max_input_chars_per_word", 100, 1, int64_t{1} << 30))};
    p.wordpiece = std::make_unique<WordPieceModel>(read_vocab(model), std::move(options), source);
  } else {
    model.unsupported("model.type", type, "BPE, WordPiece");
  }
}

void read_normalizer(const json& value, const std::string& path, const std::string& source, Pipeline& p) {
  const Fields n(value, path, source);
  const std::string type = n.type();
  if (type == "BertNormalizer") {
    p.normalizer = BertNormalizer(BertNormalizerOptions{.clean_text = n.boolean("clean_text", true),
                                                        .handle_chinese_chars = n.boolean("handle_chinese_chars", true),
                                                        .strip_accents = n.optional_boolean("strip_accents"),
                                                        .lowercase = n.boolean("lowercase", true)});
  } else if (type == "Sequence") {
    const json& list = n.required("normalizers");
    AK_CHECK(list.is_array() && list.size() <= 1, source, ": \"", n.name("normalizers"),
             "\": attnkit supports a Sequence of at most one normalizer (BertNormalizer)");
    if (list.size() == 1) read_normalizer(list[0], n.name("normalizers") + "[0]", source, p);
  } else {
    n.unsupported(n.name("type"), type, "BertNormalizer, or none (null)");
  }
}

void read_byte_level_pre_tokenizer(const Fields& f, Pipeline& p) {
  p.pre_tokenizer = PreTokenizerKind::ByteLevel;
  p.add_prefix_space = f.boolean("add_prefix_space", true);
  p.use_regex = f.boolean("use_regex", true);
}

void read_pre_tokenizer(const json& value, const std::string& path, const std::string& source, Pipeline& p) {
  const Fields f(value, path, source);
  const std::string type = f.type();
  const char* supported =
      "BertPreTokenizer, ByteLevel, a Sequence of one of them or of Split (GPT-2's regex) + ByteLevel, or none (null)";
  if (type == "BertPreTokenizer") {
    p.pre_tokenizer = PreTokenizerKind::Bert;
  } else if (type == "ByteLevel") {
    read_byte_level_pre_tokenizer(f, p);
  } else if (type == "Sequence") {
    const json& list = f.required("pretokenizers");
    AK_CHECK(list.is_array(), source, ": \"", f.name("pretokenizers"), "\" must be a list");
    if (list.size() == 1) {
      read_pre_tokenizer(list[0], f.name("pretokenizers") + "[0]", source, p);
      return;
    }
    // Split(GPT-2 regex, Isolated) then ByteLevel(use_regex = false) is the
    // same as ByteLevel with its regex.
    if (list.size() == 2) {
      const Fields split(list[0], f.name("pretokenizers") + "[0]", source);
      const Fields byte_level(list[1], f.name("pretokenizers") + "[1]", source);
      const json* pattern = split.get("pattern");
      const bool gpt2_split = split.type() == "Split" && pattern != nullptr && pattern->is_object() &&
                              pattern->value("Regex", "") == kGpt2Pattern &&
                              split.string("behavior", "") == "Isolated" && !split.boolean("invert", false);
      if (gpt2_split && byte_level.type() == "ByteLevel" && !byte_level.boolean("use_regex", true)) {
        read_byte_level_pre_tokenizer(byte_level, p);
        p.use_regex = true;
        return;
      }
    }
    f.unsupported(f.name("pretokenizers"), "a Sequence of " + std::to_string(list.size()), supported);
  } else {
    f.unsupported(f.name("type"), type, supported);
  }
}

TemplateSpecialToken read_template_special(const Fields& f) {
  TemplateSpecialToken t;
  const json& ids = f.required("ids");
  const json& tokens = f.required("tokens");
  AK_CHECK(ids.is_array() && tokens.is_array() && ids.size() == tokens.size(), f.source(), ": \"", f.path(),
           "\" must have lists \"ids\" and \"tokens\" of the same length");
  for (size_t k = 0; k < ids.size(); ++k) {
    t.ids.push_back(f.checked_integer(ids[k], f.name("ids"), 0, Vocab::kMaxId - 1));
    AK_CHECK(tokens[k].is_string(), f.source(), ": \"", f.name("tokens"), "\" must hold strings");
    t.tokens.push_back(tokens[k].get<std::string>());
  }
  return t;
}

std::vector<TemplatePiece> read_template(const Fields& f, const char* key, const PostProcessor& post) {
  std::vector<TemplatePiece> pieces;
  const json& list = f.required(key);
  AK_CHECK(list.is_array(), f.source(), ": \"", f.name(key), "\" must be a list of pieces");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string what = f.name(key) + "[" + std::to_string(i) + "]";
    const json& item = list[i];
    AK_CHECK(item.is_object() && item.size() == 1, f.source(), ": \"", what,
             "\" must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    const bool special = item.contains("SpecialToken");
    AK_CHECK(special || item.contains("Sequence"), f.source(), ": \"", what,
             "\" must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    const Fields piece(item.begin().value(), what, f.source());
    TemplatePiece t{.is_special = special,
                    .name = piece.string("id", ""),
                    .type_id = piece.integer("type_id", 0, 0, 1 << 16)};
    if (special) {
      AK_CHECK(post.special_tokens.count(t.name) == 1, f.source(), ": \"", what, "\" names the special token \"",
               t.name.substr(0, 40), "\", which \"", f.name("special_tokens"), "\" does not define");
    } else {
      AK_CHECK(t.name == "A" || t.name == "B", f.source(), ": \"", what, "\" must name sequence A or B, got \"",
               t.name.substr(0, 40), "\"");
    }
    pieces.push_back(std::move(t));
  }
  return pieces;
}

// BertProcessing / RobertaProcessing "cls" / "sep": ["token", id].
std::pair<std::string, int64_t> read_token_pair(const Fields& f, const char* key) {
  const json& value = f.required(key);
  AK_CHECK(value.is_array() && value.size() == 2 && value[0].is_string(), f.source(), ": \"", f.name(key),
           "\" must be [\"token\", id]");
  return {value[0].get<std::string>(), f.checked_integer(value[1], f.name(key), 0, Vocab::kMaxId - 1)};
}

void read_post_processor(const json& value, const std::string& path, const std::string& source, Pipeline& p) {
  const Fields f(value, path, source);
  const std::string type = f.type();
  PostProcessor& post = p.post_processor;
  const auto set_template = [&](const std::string& cls, int64_t cls_id, const std::string& sep, int64_t sep_id,
                                bool roberta) {
    post.has_template = true;
    post.concatenate_without_special_tokens = true;
    post.special_tokens[cls] = {{cls_id}, {cls}};
    post.special_tokens[sep] = {{sep_id}, {sep}};
    const int64_t second = roberta ? 0 : 1;
    post.single = {{true, cls, 0}, {false, "A", 0}, {true, sep, 0}};
    post.pair = {{true, cls, 0}, {false, "A", 0}, {true, sep, 0}};
    if (roberta) post.pair.push_back({true, sep, 0});
    post.pair.push_back({false, "B", second});
    post.pair.push_back({true, sep, second});
  };
  if (type == "TemplateProcessing") {
    post.has_template = true;
    if (const json* specials = f.get("special_tokens")) {
      AK_CHECK(specials->is_object(), source, ": \"", f.name("special_tokens"), "\" must be an object");
      for (const auto& [key, entry] : specials->items()) {
        post.special_tokens[key] = read_template_special(Fields(entry, f.name("special_tokens") + "." + key, source));
      }
    }
    post.single = read_template(f, "single", post);
    post.pair = read_template(f, "pair", post);
  } else if (type == "BertProcessing") {
    const auto [cls, cls_id] = read_token_pair(f, "cls");
    const auto [sep, sep_id] = read_token_pair(f, "sep");
    set_template(cls, cls_id, sep, sep_id, false);
  } else if (type == "RobertaProcessing") {
    const auto [cls, cls_id] = read_token_pair(f, "cls");
    const auto [sep, sep_id] = read_token_pair(f, "sep");
    set_template(cls, cls_id, sep, sep_id, true);
    post.trim_offsets = f.boolean("trim_offsets", true);
    post.trim_add_prefix_space = f.boolean("add_prefix_space", true);
  } else if (type == "ByteLevel") {
    post.trim_offsets = f.boolean("trim_offsets", true);
    post.trim_add_prefix_space = f.boolean("add_prefix_space", true);
  } else if (type == "Sequence") {
    const json& list = f.required("processors");
    AK_CHECK(list.is_array(), source, ": \"", f.name("processors"), "\" must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      read_post_processor(list[i], f.name("processors") + "[" + std::to_string(i) + "]", source, p);
    }
  } else {
    f.unsupported(f.name("type"), type,
                  "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, a Sequence of them, or none (null)");
  }
  // Every id the post-processor adds must decode.
  for (const auto& [key, special] : post.special_tokens) {
    for (size_t k = 0; k < special.ids.size(); ++k) {
      const int64_t id = special.ids[k];
      AK_CHECK(p.vocab().token(id) != nullptr || p.added.by_id(id) != nullptr, source, ": \"", path,
               "\" adds the special token \"", special.tokens[k].substr(0, 40), "\" with id ", id,
               ", which is not in the vocabulary");
    }
  }
}

void read_decoder(const json& value, const std::string& path, const std::string& source, Pipeline& p) {
  const Fields f(value, path, source);
  const std::string type = f.type();
  if (type == "ByteLevel") {
    p.decoder = DecoderKind::ByteLevel;
  } else if (type == "WordPiece") {
    p.decoder = DecoderKind::WordPiece;
    p.decoder_prefix = f.string("prefix", "##");
    p.decoder_cleanup = f.boolean("cleanup", true);
  } else if (type == "Sequence") {
    const json& list = f.required("decoders");
    AK_CHECK(list.is_array() && list.size() == 1, source, ": \"", f.name("decoders"),
             "\": attnkit supports a Sequence of one decoder (ByteLevel or WordPiece)");
    read_decoder(list[0], f.name("decoders") + "[0]", source, p);
  } else {
    f.unsupported(f.name("type"), type, "ByteLevel, WordPiece, or none (null)");
  }
}

void read_added_tokens(const json& root, const std::string& source, Pipeline& p) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return;
  AK_CHECK(it->is_array(), source, ": \"added_tokens\" must be a list, got ", it->type_name());
  for (size_t i = 0; i < it->size(); ++i) {
    const Fields f((*it)[i], "added_tokens[" + std::to_string(i) + "]", source);
    AddedToken t{.content = f.string("content", ""),
                 .id = f.integer("id", -1, 0, Vocab::kMaxId - 1),
                 .single_word = f.boolean("single_word", false),
                 .lstrip = f.boolean("lstrip", false),
                 .rstrip = f.boolean("rstrip", false),
                 .normalized = f.boolean("normalized", true),
                 .special = f.boolean("special", false)};
    AK_CHECK(t.id >= 0, source, ": \"", f.name("id"), "\" is missing");
    utf8::check_valid(t.content, (source + ": " + f.name("content")).c_str());
    // An added token shares its id with the model's token of the same text;
    // a different token at that id would make decode ambiguous.
    const std::string* model_token = p.vocab().token(t.id);
    AK_CHECK(model_token == nullptr || *model_token == t.content, source, ": \"", f.name("id"), "\" gives id ", t.id,
             " to \"", t.content.substr(0, 40), "\", which the model's vocabulary gives to \"",
             model_token ? model_token->substr(0, 40) : "", "\"");
    p.added.add(std::move(t));
  }
}

TruncationParams read_truncation(const Fields& f) {
  TruncationParams t;
  t.max_length = static_cast<size_t>(f.integer("max_length", 512, 0, int64_t{1} << 30));
  const std::string strategy = f.string("strategy", "LongestFirst");
  if (strategy == "LongestFirst") t.strategy = TruncationStrategy::LongestFirst;
  else if (strategy == "OnlyFirst") t.strategy = TruncationStrategy::OnlyFirst;
  else if (strategy == "OnlySecond") t.strategy = TruncationStrategy::OnlySecond;
  else f.unsupported(f.name("strategy"), strategy, "LongestFirst, OnlyFirst, OnlySecond");
  const std::string direction = f.string("direction", "Right");
  if (direction != "Right" && direction != "Left") f.unsupported(f.name("direction"), direction, "Left, Right");
  t.direction = direction == "Left" ? Direction::Left : Direction::Right;
  return t;
}

PaddingParams read_padding(const Fields& f) {
  PaddingParams pad;
  const json& strategy = f.required("strategy");
  if (strategy.is_object() && strategy.contains("Fixed")) {
    pad.length = static_cast<size_t>(f.checked_integer(strategy["Fixed"], f.name("strategy.Fixed"), 0, int64_t{1} << 30));
  } else if (!(strategy.is_string() && strategy.get<std::string>() == "BatchLongest")) {
    f.unsupported(f.name("strategy"), strategy.dump(), "\"BatchLongest\" or {\"Fixed\": n}");
  }
  const std::string direction = f.string("direction", "Right");
  if (direction != "Right" && direction != "Left") f.unsupported(f.name("direction"), direction, "Left, Right");
  pad.direction = direction == "Left" ? Direction::Left : Direction::Right;
  pad.pad_to_multiple_of = static_cast<size_t>(f.integer("pad_to_multiple_of", 0, 0, int64_t{1} << 20));
  pad.pad_id = f.integer("pad_id", 0, 0, Vocab::kMaxId - 1);
  pad.pad_type_id = f.integer("pad_type_id", 0, 0, 1 << 16);
  pad.pad_token = f.string("pad_token", "[PAD]");
  return pad;
}

}  // namespace

std::shared_ptr<Pipeline> load_tokenizer_json(const std::string& text, const std::string& source) {
  AK_CHECK(text.size() <= kMaxJsonBytes, source, ": ", text.size(), " bytes is over the ", kMaxJsonBytes,
           "-byte limit of a tokenizer.json");
  AK_CHECK(io::json_nesting_depth(text.data(), text.size(), kMaxJsonDepth) <= kMaxJsonDepth, source,
           ": the JSON nests deeper than ", kMaxJsonDepth, " levels");
  const json root = json::parse(text, nullptr, false);
  AK_CHECK(!root.is_discarded(), source, ": not valid JSON");
  AK_CHECK(root.is_object(), source, ": a tokenizer.json must be a JSON object, got ", root.type_name());

  auto p = std::make_shared<Pipeline>();
  read_model(root, source, *p);
  read_added_tokens(root, source, *p);
  const auto component = [&](const char* key) -> const json* {
    auto it = root.find(key);
    return it == root.end() || it->is_null() ? nullptr : &*it;
  };
  if (const json* n = component("normalizer")) read_normalizer(*n, "normalizer", source, *p);
  if (const json* t = component("pre_tokenizer")) read_pre_tokenizer(*t, "pre_tokenizer", source, *p);
  // Byte-level words are byte strings in stand-in characters: only a BPE
  // vocabulary is made of those.
  AK_CHECK(p->pre_tokenizer != PreTokenizerKind::ByteLevel || p->bpe, source,
           ": \"pre_tokenizer\" ByteLevel needs model BPE, this model is WordPiece");
  if (const json* t = component("post_processor")) read_post_processor(*t, "post_processor", source, *p);
  if (const json* d = component("decoder")) read_decoder(*d, "decoder", source, *p);
  if (const json* t = component("truncation")) p->truncation = read_truncation(Fields(*t, "truncation", source));
  if (const json* t = component("padding")) p->padding = read_padding(Fields(*t, "padding", source));
  p->added.build(p->normalizer ? &*p->normalizer : nullptr);
  return p;
}

}  // namespace attnkit::tokenizers
