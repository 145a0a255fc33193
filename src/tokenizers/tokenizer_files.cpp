// The older file formats of model folders — vocab.json + merges.txt (GPT-2),
// vocab.txt (BERT) — and the folder lookup that picks one.
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "attnkit/tokenizers/tokenizer.h"
#include "io/json_depth.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

namespace {

constexpr int kMaxJsonDepth = 32;

// Calls body(line_number, line) for each line (without "\n" or "\r\n");
// a final newline does not start another line.
template <typename Body>
void for_each_line(const std::string& text, const Body& body) {
  size_t start = 0, number = 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    body(number++, line);
    start = end + 1;
  }
}

void check_line_utf8(std::string_view line, const std::string& source, size_t number) {
  const size_t bad = utf8::find_invalid(line);
  AK_CHECK(bad == std::string_view::npos, source, ": line ", number, " is not valid UTF-8 (byte ", bad + 1, ")");
}

nlohmann::json parse_json_file(const std::string& text, const std::string& source) {
  AK_CHECK(io::json_nesting_depth(text.data(), text.size(), kMaxJsonDepth) <= kMaxJsonDepth, source,
           ": the JSON nests deeper than ", kMaxJsonDepth, " levels");
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  AK_CHECK(!json.is_discarded(), source, ": not valid JSON");
  return json;
}

// special_tokens_map.json: {"bos_token": "<s>" or {"content": "<s>", ...}, ...}.
void read_special_tokens_map(const std::filesystem::path& file, Pipeline& p) {
  if (!std::filesystem::is_regular_file(file)) return;
  const nlohmann::json json = parse_json_file(read_text_file(file.string(), "special_tokens_map.json"), file.string());
  if (!json.is_object()) return;
  for (const char* role : {"bos", "eos", "unk", "sep", "pad", "cls", "mask"}) {
    auto it = json.find(std::string(role) + "_token");
    if (it == json.end()) continue;
    if (it->is_string()) {
      p.special_token_names[role] = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      p.special_token_names[role] = (*it)["content"].get<std::string>();
    }
  }
}

}  // namespace


Vocab parse_vocab_json(const std::string& text, const std::string& source) {
  const nlohmann::json json = parse_json_file(text, source);
  AK_CHECK(json.is_object(), source, ": a vocab.json must be an object of token: id, got ", json.type_name());
  Vocab vocab;
  for (const auto& [token, id] : json.items()) {
    AK_CHECK(id.is_number_unsigned() && id.get<uint64_t>() < uint64_t{Vocab::kMaxId}, source, ": the id of \"",
             token.substr(0, 40), "\" must be an integer in 0..", Vocab::kMaxId - 1, ", got ", id.dump().substr(0, 40));
    AK_CHECK(vocab.insert(token, id.get<int64_t>()), source, ": id ", id.get<int64_t>(), " is given to both \"",
             vocab.token(id.get<int64_t>()) ? vocab.token(id.get<int64_t>())->substr(0, 40) : "", "\" and \"",
             token.substr(0, 40), "\"");
  }
  AK_CHECK(vocab.size() > 0, source, ": the vocabulary is empty");
  return vocab;
}

std::vector<std::pair<std::string, std::string>> parse_merges_txt(const std::string& text, const std::string& source,
                                                                  size_t& first_merge_line) {
  std::vector<std::pair<std::string, std::string>> merges;
  first_merge_line = 1;
  for_each_line(text, [&](size_t number, std::string_view line) {
    if (number == 1 && line.substr(0, 8) == "#version") {
      first_merge_line = 2;
      return;
    }
    check_line_utf8(line, source, number);
    const size_t space = line.find(' ');
    AK_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                 line.find(' ', space + 1) == std::string_view::npos,
             source, ": line ", number, " must be two tokens separated by one space, got \"",
             std::string(line.substr(0, 60)), "\"");
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  });
  return merges;
}

Vocab parse_vocab_txt(const std::string& text, const std::string& source) {
  Vocab vocab;
  std::vector<size_t> line_of_id;
  for_each_line(text, [&](size_t number, std::string_view line) {
    check_line_utf8(line, source, number);
    AK_CHECK(!line.empty(), source, ": line ", number, " is empty; a vocab.txt has one token per line");
    const auto id = static_cast<int64_t>(number - 1);
    if (!vocab.insert(std::string(line), id)) {
      const int64_t first = *vocab.find(line);
      AK_CHECK(false, source, ": line ", number, " repeats the token \"", std::string(line.substr(0, 40)),
               "\" of line ", first + 1);
    }
  });
  AK_CHECK(vocab.size() > 0, source, ": the vocabulary is empty");
  return vocab;
}

std::shared_ptr<Pipeline> load_bpe_files(const std::string& vocab_json_path, const std::string& merges_txt_path,
                                         bool add_prefix_space, const std::string& special_token) {
  auto p = std::make_shared<Pipeline>();
  Vocab vocab = parse_vocab_json(read_text_file(vocab_json_path, "vocab.json"), vocab_json_path);
  size_t first_line = 1;
  const auto merges = parse_merges_txt(read_text_file(merges_txt_path, "merges.txt"), merges_txt_path, first_line);
  const std::optional<int64_t> special_id = vocab.find(special_token);
  p->bpe = std::make_unique<BpeModel>(std::move(vocab), merges, BpeOptions{}, merges_txt_path, first_line);
  p->pre_tokenizer = PreTokenizerKind::ByteLevel;
  p->add_prefix_space = add_prefix_space;
  p->decoder = DecoderKind::ByteLevel;
  p->post_processor.trim_offsets = true;
  p->post_processor.trim_add_prefix_space = add_prefix_space;
  if (special_id) {
    p->added.add(special_added_token(special_token, *special_id));
  }
  p->added.build(nullptr);
  return p;
}

std::shared_ptr<Pipeline> load_wordpiece_vocab(const std::string& vocab_txt_path,
                                               const BertNormalizerOptions& normalizer, const std::string& unk,
                                               const std::string& cls, const std::string& sep, const std::string& pad,
                                               const std::string& mask) {
  auto p = std::make_shared<Pipeline>();
  Vocab vocab = parse_vocab_txt(read_text_file(vocab_txt_path, "vocab.txt"), vocab_txt_path);
  for (const std::string* name : {&cls, &sep}) {
    AK_CHECK(vocab.contains(*name), vocab_txt_path, ": the special token \"", name->substr(0, 40),
             "\" is not in the vocabulary");
  }
  // The special tokens are matched whole in the raw text, as BertTokenizerFast does.
  for (const std::string* name : {&pad, &unk, &cls, &sep, &mask}) {
    if (auto id = vocab.find(*name)) {
      p->added.add(special_added_token(*name, *id));
    }
  }
  PostProcessor& post = p->post_processor;
  post.has_template = true;
  post.special_tokens[cls] = {{*vocab.find(cls)}, {cls}};
  post.special_tokens[sep] = {{*vocab.find(sep)}, {sep}};
  post.single = {{true, cls, 0}, {false, "A", 0}, {true, sep, 0}};
  post.pair = {{true, cls, 0}, {false, "A", 0}, {true, sep, 0}, {false, "B", 1}, {true, sep, 1}};
  WordPieceOptions options;
  options.unk_token = unk;
  p->wordpiece = std::make_unique<WordPieceModel>(std::move(vocab), std::move(options), vocab_txt_path);
  p->normalizer = BertNormalizer(normalizer);
  p->pre_tokenizer = PreTokenizerKind::Bert;
  p->decoder = DecoderKind::WordPiece;
  p->added.build(&*p->normalizer);
  return p;
}

Tokenizer Tokenizer::from_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path folder(dir);
  AK_CHECK(fs::is_directory(folder), "from_folder: ", dir, " is not a directory");
  std::shared_ptr<Pipeline> p;
  if (fs::is_regular_file(folder / "tokenizer.json")) {
    const std::string path = (folder / "tokenizer.json").string();
    p = load_tokenizer_json(read_text_file(path, "tokenizer.json"), path);
  } else if (fs::is_regular_file(folder / "vocab.json") && fs::is_regular_file(folder / "merges.txt")) {
    p = load_bpe_files((folder / "vocab.json").string(), (folder / "merges.txt").string(), false, "<|endoftext|>");
  } else if (fs::is_regular_file(folder / "vocab.txt")) {
    BertNormalizerOptions normalizer;
    // tokenizer_config.json says whether the model is cased (BertTokenizer's arguments).
    const fs::path config = folder / "tokenizer_config.json";
    if (fs::is_regular_file(config)) {
      const nlohmann::json json = parse_json_file(read_text_file(config.string(), "tokenizer_config.json"), config.string());
      if (json.is_object()) {
        if (auto it = json.find("do_lower_case"); it != json.end() && it->is_boolean()) normalizer.lowercase = *it;
        if (auto it = json.find("strip_accents"); it != json.end() && it->is_boolean()) normalizer.strip_accents = bool(*it);
        if (auto it = json.find("tokenize_chinese_chars"); it != json.end() && it->is_boolean()) {
          normalizer.handle_chinese_chars = *it;
        }
      }
    }
    p = load_wordpiece_vocab((folder / "vocab.txt").string(), normalizer, "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]");
  } else {
    AK_CHECK(false, "from_folder: ", dir,
             " has no tokenizer: looked for tokenizer.json, then vocab.json + merges.txt (byte-level BPE), then "
             "vocab.txt (WordPiece)");
  }
  read_special_tokens_map(folder / "special_tokens_map.json", *p);
  return Tokenizer(std::move(p));
}

}  // namespace attnkit::tokenizers
