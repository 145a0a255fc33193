// Whole tokenizers built from small handwritten tokenizer.json texts and
// vocabulary files: encode / decode / pairs / truncation / padding / the
// streaming decoder, the folder lookup, and every error path of the loaders.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnkit/tokenizers/decode_stream.h"
#include "attnkit/tokenizers/tokenizer.h"
#include "test_support.h"
#include "tokenizer_fixtures.h"

namespace attnkit::testing {
namespace {

using namespace attnkit::tokenizers;
using Ids = std::vector<int64_t>;
using Strings = std::vector<std::string>;

std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("attnkit_tok_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// ------------------------------------------------------------ WordPiece ---

TEST(TokenizersWordPieceJson, EncodesAsBert) {
  const Tokenizer tok = Tokenizer::from_json(kWordPieceJson);
  const Encoding e = tok.encode("Hello, WORLD! Unaffable café 中文 worlds");
  EXPECT_EQ(e.tokens, (Strings{"[CLS]", "hello", ",", "world", "!", "un", "##aff", "##able", "cafe", "中", "文",
                               "world", "##s", "[SEP]"}));
  EXPECT_EQ(e.ids, (Ids{2, 5, 10, 6, 11, 7, 8, 9, 12, 13, 14, 6, 15, 3}));
  EXPECT_EQ(e.special_tokens_mask.front(), 1);
  EXPECT_EQ(e.special_tokens_mask[1], 0);
  EXPECT_EQ(e.offsets[1], (std::pair<size_t, size_t>{0, 5}));
  EXPECT_EQ(e.offsets[8], (std::pair<size_t, size_t>{24, 29}));  // "café": 5 bytes
  EXPECT_EQ(e.offsets[13], (std::pair<size_t, size_t>{0, 0}));
  EXPECT_EQ(tok.encode("zzz qqq", false).ids, (Ids{1, 1}));      // [UNK] per word
  EXPECT_EQ(tok.encode("[CLS]hello[MASK]", false).ids, (Ids{2, 5, 4}));  // special tokens are matched whole
  EXPECT_EQ(tok.encode("").ids, (Ids{2, 3}));
  EXPECT_EQ(tok.vocab_size(), 30u);
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(tok.mask_token()->id, 4);
  EXPECT_EQ(tok.unk_token()->token, "[UNK]");
  EXPECT_FALSE(tok.bos_token().has_value());
}

TEST(TokenizersWordPieceJson, PairsTruncationAndPadding) {
  Tokenizer tok = Tokenizer::from_json(kWordPieceJson);
  Encoding e = tok.encode_pair("hello world", "a b c");
  EXPECT_EQ(e.ids, (Ids{2, 5, 6, 3, 16, 26, 27, 3}));
  EXPECT_EQ(e.type_ids, (Ids{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(e.sequence_ids, (std::vector<int>{-1, 0, 0, -1, 1, 1, 1, -1}));
  EXPECT_EQ(e.offsets[5], (std::pair<size_t, size_t>{2, 3}));  // into the second text
  tok.enable_truncation(TruncationParams{6, TruncationStrategy::LongestFirst, Direction::Right});
  EXPECT_EQ(tok.encode_pair("hello world", "a b c").ids, (Ids{2, 5, 3, 16, 26, 3}));  // 3 specials + 1 + 2
  EXPECT_EQ(tok.encode("a b c d e").ids, (Ids{2, 16, 26, 27, 28, 3}));
  tok.enable_truncation(TruncationParams{2, TruncationStrategy::LongestFirst, Direction::Right});
  EXPECT_TRUE(throws_error_naming([&] { tok.encode_pair("a", "b"); }, "leaves no room for the 3 special tokens"));
  tok.no_truncation();
  tok.enable_padding(PaddingParams{std::nullopt, 4, 0, 0, "[PAD]", Direction::Right});
  const auto batch = tok.encode_batch({"hello", "a b c d e"});
  EXPECT_EQ(batch[0].ids, (Ids{2, 5, 3, 0, 0, 0, 0, 0}));
  EXPECT_EQ(batch[1].ids, (Ids{2, 16, 26, 27, 28, 29, 3, 0}));
  EXPECT_EQ(batch[0].attention_mask, (Ids{1, 1, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(tok.encode("hello").size(), 4u);  // a single encoding is padded to the multiple too
}

TEST(TokenizersWordPieceJson, TruncationAndPaddingFromTheFile) {
  nlohmann::json j = nlohmann::json::parse(kWordPieceJson);
  j["truncation"] = {{"max_length", 4}, {"strategy", "LongestFirst"}, {"stride", 0}, {"direction", "Left"}};
  j["padding"] = {{"strategy", {{"Fixed", 6}}}, {"direction", "Right"}, {"pad_to_multiple_of", nullptr},
                  {"pad_id", 0}, {"pad_type_id", 0}, {"pad_token", "[PAD]"}};
  const Tokenizer tok = Tokenizer::from_json(j.dump());
  EXPECT_EQ(tok.encode("a b c d").ids, (Ids{2, 27, 28, 3, 0, 0}));  // left truncation keeps the end
  ASSERT_TRUE(tok.padding().has_value());
  EXPECT_EQ(*tok.padding()->length, 6u);
}

TEST(TokenizersWordPieceJson, DecodeJoinsPiecesAndCleansUp) {
  const Tokenizer tok = Tokenizer::from_json(kWordPieceJson);
  EXPECT_EQ(tok.decode(Ids{2, 7, 8, 9, 6, 15, 10, 5, 11, 3}), "unaffable worlds, hello!");
  EXPECT_EQ(tok.decode(Ids{2, 5, 3}, false), "[CLS] hello [SEP]");
  // HF cleans up each token on its own (with its joining space), so only the
  // single-punctuation rules (" ." " ," " !" " ?") can ever fire: " do not"
  // and " ' " never occur inside one token.
  EXPECT_EQ(tok.decode(Ids{17, 24, 25, 22, 23}), "i do not play.");
  EXPECT_EQ(tok.decode(Ids{18, 19, 20}), "don ' t");
  EXPECT_EQ(tok.decode(Ids{15, 5}), "##s hello");                   // a leading "##" stays
  EXPECT_TRUE(throws_error_naming([&] { tok.decode(Ids{5, 30}); }, "decode: id 30 is not in the vocabulary"));
  EXPECT_TRUE(throws_error_naming([&] { tok.decode(Ids{-3}); }, "decode: id -3"));
}

TEST(TokenizersWordPieceJson, DecodeStreamJoinsContinuations) {
  const Tokenizer tok = Tokenizer::from_json(kWordPieceJson);
  DecodeStream stream(tok);
  Strings pieces;
  for (int64_t id : Ids{2, 5, 6, 15, 10, 7, 8, 9, 3}) pieces.push_back(stream.step(id));
  EXPECT_EQ(pieces, (Strings{"", "hello", " world", "s", ",", " un", "aff", "able", ""}));
  DecodeStream keep(tok, false);
  EXPECT_EQ(keep.step(2), "[CLS]");
  EXPECT_EQ(keep.step(5), " hello");
  EXPECT_TRUE(throws_error_naming([&] { keep.step(999); }, "decode: id 999"));
  EXPECT_EQ(keep.step(15), "s");  // the bad id left no trace
}

// ------------------------------------------------------- byte-level BPE ---

TEST(TokenizersByteLevelJson, EncodesWithMergesAndRoundTripsAnyText) {
  const Tokenizer tok = Tokenizer::from_json(byte_level_json());
  const Encoding e = tok.encode("hello world");
  EXPECT_EQ(e.tokens, (Strings{"hello", "Ġworld"}));
  EXPECT_EQ(e.offsets[1], (std::pair<size_t, size_t>{6, 11}));  // trimmed off the space
  EXPECT_EQ(tok.encode("hello<|endoftext|>world").tokens, (Strings{"hello", "<|endoftext|>", "w", "or", "ld"}));
  const std::string texts[] = {"", "  spaces  \n\n\ttabs", "é中😀👨‍👩‍👧", "I'm 12,345 !!", "\x01\x7F control"};
  for (const std::string& text : texts) {
    const Encoding enc = tok.encode(text);
    EXPECT_EQ(tok.decode(enc.ids), text);
  }
  const Encoding emoji = tok.encode("😀");  // four single-byte tokens, each spanning the whole character
  ASSERT_EQ(emoji.size(), 4u);
  for (const auto& offset : emoji.offsets) EXPECT_EQ(offset, (std::pair<size_t, size_t>{0, 4}));
  EXPECT_EQ(tok.decode(Ids{emoji.ids[0], emoji.ids[1]}), "\xEF\xBF\xBD");  // half an emoji: U+FFFD
  EXPECT_EQ(tok.decode(Ids{266}), "");                                     // <|endoftext|> is special
  EXPECT_EQ(tok.decode(Ids{266}, false), "<|endoftext|>");
  EXPECT_EQ(tok.eos_token()->id, 266);
}

TEST(TokenizersByteLevelJson, AddPrefixSpace) {
  const Tokenizer tok = Tokenizer::from_json(byte_level_json(true));
  const Encoding e = tok.encode("world");
  EXPECT_EQ(e.tokens, (Strings{"Ġworld"}));
  EXPECT_EQ(e.offsets[0], (std::pair<size_t, size_t>{0, 5}));
  EXPECT_EQ(tok.encode(" world").tokens, (Strings{"Ġworld"}));  // no second space
}

TEST(TokenizersByteLevelJson, DecodeStreamHoldsBackIncompleteCharacters) {
  const Tokenizer tok = Tokenizer::from_json(byte_level_json());
  const Encoding e = tok.encode("hi 😀!");
  DecodeStream stream(tok);
  Strings pieces;
  std::string joined;
  for (int64_t id : e.ids) {
    pieces.push_back(stream.step(id));
    joined += pieces.back();
  }
  EXPECT_EQ(joined, "hi 😀!");
  EXPECT_EQ(pieces, (Strings{"h", "i", " ", "", "", "", "😀", "!"}));
}

TEST(TokenizersByteLevelJson, InvalidUtf8IsAnErrorNamingTheOffset) {
  const Tokenizer tok = Tokenizer::from_json(byte_level_json());
  EXPECT_TRUE(throws_error_naming([&] { tok.encode("ok\xC3"); },
                                  "encode: the text is not valid UTF-8: byte 0xC3 at offset 2"));
  EXPECT_TRUE(throws_error_naming([&] { tok.encode_pair("fine", "\x80"); }, "byte 0x80 at offset 0"));
  EXPECT_TRUE(throws_error_naming([&] { tok.encode_batch({"a", "b\xFF"}); }, "byte 0xFF at offset 1"));
}

TEST(TokenizersByteLevelJson, BatchEqualsOneByOne) {
  const Tokenizer tok = Tokenizer::from_json(byte_level_json());
  std::vector<std::string> texts;
  for (int i = 0; i < 100; ++i) texts.push_back("hello world " + std::to_string(i * 7919) + std::string(i % 5, ' '));
  const auto batch = tok.encode_batch(texts);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i].ids, tok.encode(texts[i]).ids) << i;
}

// ---------------------------------------------------------- other files ---

TEST(TokenizersFiles, VocabTxtAloneIsBert) {
  const auto dir = scratch_dir("vocab_txt");
  write(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\r\n");
  const Tokenizer tok = Tokenizer::from_folder(dir.string());
  EXPECT_EQ(tok.model_type(), "WordPiece");
  EXPECT_EQ(tok.encode("Hello, worlds").ids, (Ids{2, 5, 8, 6, 7, 3}));  // "\r\n" line ends are fine
  EXPECT_EQ(tok.encode_pair("hello", "world").type_ids, (Ids{0, 0, 0, 1, 1}));
  write(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  EXPECT_EQ(Tokenizer::from_folder(dir.string()).encode("Hello", false).ids, (Ids{1}));  // cased: [UNK]
}

TEST(TokenizersFiles, VocabJsonAndMergesAreGpt2) {
  const auto dir = scratch_dir("gpt2_files");
  nlohmann::json vocab = nlohmann::json::parse(byte_level_json())["model"]["vocab"];
  write(dir / "vocab.json", vocab.dump());
  write(dir / "merges.txt", "#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\no r\nĠw or\nĠwor ld\nl d\nĠ Ġ\n");
  const Tokenizer tok = Tokenizer::from_folder(dir.string());
  EXPECT_EQ(tok.model_type(), "BPE");
  EXPECT_EQ(tok.encode("hello world<|endoftext|>").tokens, (Strings{"hello", "Ġworld", "<|endoftext|>"}));
  EXPECT_EQ(tok.decode(tok.encode("hello world").ids), "hello world");
}

TEST(TokenizersFiles, FolderWithoutTokenizerListsWhatItLookedFor) {
  const auto dir = scratch_dir("empty");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_folder(dir.string()); },
                                  "has no tokenizer: looked for tokenizer.json, then vocab.json + merges.txt"));
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_folder((dir / "nope").string()); }, "is not a directory"));
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_file((dir / "missing.json").string()); },
                                  "cannot open the tokenizer.json file"));
}

TEST(TokenizersFiles, DamagedVocabularyFilesNameTheFileAndLine) {
  const auto dir = scratch_dir("damaged");
  const auto vocab_txt = (dir / "vocab.txt").string();
  write(vocab_txt, "[UNK]\n[CLS]\n[SEP]\nhello\n\nworld\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_wordpiece_vocab(vocab_txt); }, "vocab.txt: line 5 is empty"));
  write(vocab_txt, "[UNK]\n[CLS]\n[SEP]\nhello\nworld\nhello\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_wordpiece_vocab(vocab_txt); },
                                  "vocab.txt: line 6 repeats the token \"hello\" of line 4"));
  write(vocab_txt, "[UNK]\n[CLS]\n[SEP]\nbad\xFF\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_wordpiece_vocab(vocab_txt); },
                                  "vocab.txt: line 4 is not valid UTF-8"));
  write(vocab_txt, "[UNK]\nhello\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_wordpiece_vocab(vocab_txt); },
                                  "the special token \"[CLS]\" is not in the vocabulary"));

  const auto vocab_json = (dir / "vocab.json").string(), merges = (dir / "merges.txt").string();
  write(merges, "#version: 0.2\na b\n");
  write(vocab_json, R"({"a": 0, "b": 1, "ab": 1})");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_bpe_files(vocab_json, merges); },
                                  "vocab.json: id 1 is given to both \"ab\" and \"b\""));
  write(vocab_json, R"({"a": 0, "b": "one"})");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_bpe_files(vocab_json, merges); },
                                  "vocab.json: the id of \"b\" must be an integer"));
  write(vocab_json, "not json");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_bpe_files(vocab_json, merges); }, "vocab.json: not valid JSON"));
  write(vocab_json, R"({"a": 0, "b": 1, "ab": 2})");
  write(merges, "#version: 0.2\na b\na c\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_bpe_files(vocab_json, merges); },
                                  "merges.txt: merge at line 3 (\"a c\") refers to \"c\""));
  write(merges, "a b\nab\n");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_bpe_files(vocab_json, merges); },
                                  "merges.txt: line 2 must be two tokens separated by one space"));
}

// ------------------------------------------------------ tokenizer.json errors ---

std::string with(const char* field, const nlohmann::json& value) {
  nlohmann::json j = nlohmann::json::parse(kWordPieceJson);
  j[field] = value;
  return j.dump();
}

TEST(TokenizersJsonErrors, UnsupportedKindsNameTheFieldAndTheAlternatives) {
  const auto loads = [](const std::string& text) { return [text] { Tokenizer::from_json(text, "m/tokenizer.json"); }; };
  EXPECT_TRUE(throws_error_naming(loads(with("model", {{"type", "Unigram"}, {"vocab", nlohmann::json::array()}})),
                                  "m/tokenizer.json: \"model.type\" is \"Unigram\"; attnkit supports BPE, WordPiece"));
  EXPECT_TRUE(throws_error_naming(loads(with("normalizer", {{"type", "Precompiled"}})),
                                  "\"normalizer.type\" is \"Precompiled\"; attnkit supports BertNormalizer"));
  EXPECT_TRUE(throws_error_naming(loads(with("pre_tokenizer", {{"type", "Metaspace"}})),
                                  "\"pre_tokenizer.type\" is \"Metaspace\"; attnkit supports BertPreTokenizer"));
  EXPECT_TRUE(throws_error_naming(loads(with("decoder", {{"type", "Metaspace"}})), "\"decoder.type\" is \"Metaspace\""));
  EXPECT_TRUE(throws_error_naming(loads(with("post_processor", {{"type", "Foo"}})), "\"post_processor.type\" is \"Foo\""));
  EXPECT_TRUE(throws_error_naming(loads(with("truncation", {{"max_length", 5}, {"strategy", "Sideways"}})),
                                  "\"truncation.strategy\" is \"Sideways\""));
  EXPECT_TRUE(throws_error_naming(loads(with("padding", {{"strategy", "Random"}})), "\"padding.strategy\" is"));
  EXPECT_TRUE(throws_error_naming(loads(with("pre_tokenizer", {{"type", "ByteLevel"}})),
                                  "\"pre_tokenizer\" ByteLevel needs model BPE, this model is WordPiece"));
  EXPECT_TRUE(throws_error_naming(loads("{\"model\": "), "m/tokenizer.json: not valid JSON"));
  EXPECT_TRUE(throws_error_naming(loads("[1]"), "must be a JSON object, got array"));
  EXPECT_TRUE(throws_error_naming(loads("{}"), "\"model\" is missing"));
  EXPECT_TRUE(throws_error_naming(loads(std::string(5000, '[') + std::string(5000, ']')), "nests deeper than 32"));
}

TEST(TokenizersJsonErrors, InconsistentContentsAreErrors) {
  nlohmann::json j = nlohmann::json::parse(kWordPieceJson);
  j["model"]["vocab"]["dup"] = 5;
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); }, "gives id 5 to"));
  j = nlohmann::json::parse(kWordPieceJson);
  j["model"]["vocab"]["neg"] = -1;
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); }, "model.vocab[\"neg\"]\" must be in 0.."));
  j = nlohmann::json::parse(kWordPieceJson);
  j["model"]["unk_token"] = "<unk>";
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); }, "unk_token \"<unk>\" is not in the vocabulary"));
  j = nlohmann::json::parse(kWordPieceJson);
  j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<s>";
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); },
                                  "names the special token \"<s>\", which \"post_processor.special_tokens\" does not define"));
  j = nlohmann::json::parse(kWordPieceJson);
  j["post_processor"]["special_tokens"]["[CLS]"]["ids"] = {999};
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); }, "with id 999, which is not in the vocabulary"));
  j = nlohmann::json::parse(kWordPieceJson);
  j["added_tokens"][0]["id"] = 5;
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(j.dump()); },
                                  "gives id 5 to \"[PAD]\", which the model's vocabulary gives to \"hello\""));
  nlohmann::json bpe = nlohmann::json::parse(byte_level_json());
  bpe["model"]["merges"].push_back("h zz");
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(bpe.dump(), "g.json"); },
                                  "g.json: merge at model.merges[10] (\"h zz\") refers to \"zz\""));
  bpe = nlohmann::json::parse(byte_level_json());
  bpe["model"]["dropout"] = 0.1;
  EXPECT_TRUE(throws_error_naming([&] { Tokenizer::from_json(bpe.dump()); }, "\"model.dropout\" is 0.1"));
}

TEST(TokenizersJsonErrors, NewerGpt2LayoutsLoad) {
  // Split(GPT-2 regex) + ByteLevel(use_regex=false) and merges as pairs.
  nlohmann::json j = nlohmann::json::parse(byte_level_json());
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  const Tokenizer tok = Tokenizer::from_json(j.dump());
  EXPECT_EQ(tok.encode("hello world").tokens, (Strings{"hello", "Ġworld"}));
}

}  // namespace
}  // namespace attnkit::testing
