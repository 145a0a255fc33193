// The tokenizers' parts, one rule at a time, on handwritten inputs: UTF-8,
// GPT-2's byte map and regex split, BERT's normalizer and pre-tokenizer,
// BPE merge order, WordPiece longest match, added-token matching,
// truncation and padding. The Python tests compare whole tokenizers with
// Hugging Face's; these pin down each rule so a failure points at one.
#include <string>
#include <vector>

#include "attnkit/tokenizers/truncation_padding.h"
#include "test_support.h"
#include "tokenizers/added_vocabulary.h"
#include "tokenizers/bert_normalizer.h"
#include "tokenizers/bpe.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/utf8.h"
#include "tokenizers/wordpiece.h"

namespace attnkit::testing {
namespace {

using namespace attnkit::tokenizers;

std::vector<std::string> split_gpt2(const std::string& text) {
  std::vector<Piece> pieces;
  gpt2_split(text, pieces);
  std::vector<std::string> out;
  for (const Piece& p : pieces) out.push_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

std::vector<std::string> split_bert(const std::string& text) {
  std::vector<Piece> pieces;
  bert_pre_tokenize(text, pieces);
  std::vector<std::string> out;
  for (const Piece& p : pieces) out.push_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

std::string normalize(const std::string& text, BertNormalizerOptions options = {}) {
  NormalizedText out;
  BertNormalizer(options).normalize(text, 0, out);
  return out.text;
}

Vocab make_vocab(const std::vector<std::string>& tokens) {
  Vocab v;
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_TRUE(v.insert(tokens[i], static_cast<int64_t>(i)));
  return v;
}

using Strings = std::vector<std::string>;

// Options spelled out in full: GCC 12 warns about designated initializers
// that leave members to their defaults.
BertNormalizerOptions bert_options(bool clean_text, bool chinese, std::optional<bool> strip_accents, bool lowercase) {
  return {clean_text, chinese, strip_accents, lowercase};
}
BpeOptions bpe_options(std::optional<std::string> unk, std::string prefix, bool fuse_unk) {
  return {std::move(unk), std::move(prefix), "", fuse_unk, false};
}
AddedToken added_token(std::string content, int64_t id, bool single_word, bool lstrip, bool rstrip, bool special) {
  return {std::move(content), id, single_word, lstrip, rstrip, false, special};
}
TruncationParams truncation(size_t max_length, TruncationStrategy strategy = TruncationStrategy::LongestFirst,
                            Direction direction = Direction::Right) {
  return {max_length, strategy, direction};
}

// ------------------------------------------------------------------ UTF-8 ---

TEST(TokenizersUtf8, DecodesStrictlyAndReportsTheFirstBadByte) {
  EXPECT_EQ(utf8::find_invalid("plain ascii"), std::string::npos);
  EXPECT_EQ(utf8::find_invalid("h\xC3\xA9llo \xF0\x9F\x98\x80"), std::string::npos);  // é, 😀
  EXPECT_EQ(utf8::find_invalid("ab\xFF"), 2u);
  EXPECT_EQ(utf8::find_invalid("a\xC0\xAF"), 1u);          // overlong '/'
  EXPECT_EQ(utf8::find_invalid("ab\xED\xA0\x80"), 2u);     // a surrogate
  EXPECT_EQ(utf8::find_invalid("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(utf8::find_invalid("abc\xE2\x82"), 3u);        // truncated
  EXPECT_TRUE(throws_error_naming([] { utf8::check_valid("abc\xFF", "encode"); },
                                  "encode: the text is not valid UTF-8: byte 0xFF at offset 3"));
}

TEST(TokenizersUtf8, LossyDecodingReplacesEachMaximalBadSubpart) {
  EXPECT_EQ(utf8::to_valid_lossy("a\xE2\x82" "b"), "a\xEF\xBF\xBD" "b");             // one U+FFFD for E2 82
  EXPECT_EQ(utf8::to_valid_lossy("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");          // two bad bytes
  EXPECT_EQ(utf8::to_valid_lossy("\xF0\x9F\x98"), "\xEF\xBF\xBD");                  // a cut emoji
  EXPECT_EQ(utf8::to_valid_lossy("ok \xE4\xB8\xAD"), "ok \xE4\xB8\xAD");            // valid stays
}

// -------------------------------------------------------------- byte map ---

TEST(TokenizersByteLevel, MapIsGpt2sBijection) {
  const auto& to_char = byte_level::byte_to_char();
  EXPECT_EQ(to_char[' '], U'\u0120');   // 'Ġ'
  EXPECT_EQ(to_char['\n'], U'\u010A');  // 'Ċ'
  EXPECT_EQ(to_char[0], U'\u0100');
  EXPECT_EQ(to_char['A'], U'A');
  EXPECT_EQ(to_char[0xAD], U'\u0143');  // soft hyphen, the last unprintable Latin-1 byte
  EXPECT_EQ(to_char[0xE9], U'\u00E9');  // printable Latin-1 stands for itself
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_level::char_to_byte(to_char[b]), b);
  EXPECT_EQ(byte_level::char_to_byte(U'\u0144'), -1);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string back;
  byte_level::decode_token(byte_level::encode(all), back);
  EXPECT_EQ(back, all);
  EXPECT_EQ(byte_level::encode("a b\n"), "a\xC4\xA0" "b\xC4\x8A");
}

TEST(TokenizersByteLevel, TokensOutsideTheAlphabetDecodeAsText) {
  std::string out;
  byte_level::decode_token("hello world", out);  // ' ' is not a stand-in
  EXPECT_EQ(out, "hello world");
  out.clear();
  byte_level::decode_token("<|endoftext|>", out);
  EXPECT_EQ(out, "<|endoftext|>");
}

// ------------------------------------------------------------ GPT-2 split ---

TEST(TokenizersGpt2Split, WordsNumbersAndPunctuationTakeTheirSpace) {
  EXPECT_EQ(split_gpt2("Hello world"), (Strings{"Hello", " world"}));
  EXPECT_EQ(split_gpt2("Hello, world!"), (Strings{"Hello", ",", " world", "!"}));
  EXPECT_EQ(split_gpt2("abc123def 456"), (Strings{"abc", "123", "def", " 456"}));
  EXPECT_EQ(split_gpt2("wait... !!?"), (Strings{"wait", "...", " !!?"}));
  EXPECT_EQ(split_gpt2("日本語テキスト です"), (Strings{"日本語テキスト", " です"}));
  EXPECT_EQ(split_gpt2("x ½²"), (Strings{"x", " ½²"}));  // No is \p{N}
  EXPECT_EQ(split_gpt2(""), Strings{});
}

TEST(TokenizersGpt2Split, ContractionsAreLowercaseOnly) {
  EXPECT_EQ(split_gpt2("I'm you're we've they'll she'd it's don't"),
            (Strings{"I", "'m", " you", "'re", " we", "'ve", " they", "'ll", " she", "'d", " it", "'s", " don",
                     "'t"}));
  EXPECT_EQ(split_gpt2("IT'S"), (Strings{"IT", "'", "S"}));
  EXPECT_EQ(split_gpt2("x 's"), (Strings{"x", " '", "s"}));    // a space blocks the contraction
  EXPECT_EQ(split_gpt2("!!'s"), (Strings{"!!'", "s"}));        // inside a punctuation run
  EXPECT_EQ(split_gpt2("'"), (Strings{"'"}));
}

TEST(TokenizersGpt2Split, WhitespaceRunsLeaveTheLastSpaceToTheNextWord) {
  EXPECT_EQ(split_gpt2("a  b"), (Strings{"a", " ", " b"}));
  EXPECT_EQ(split_gpt2("a    b"), (Strings{"a", "   ", " b"}));
  EXPECT_EQ(split_gpt2("a\n\nb"), (Strings{"a", "\n", "\n", "b"}));  // the run gives its last "\n" away too
  EXPECT_EQ(split_gpt2("a\n\n b"), (Strings{"a", "\n\n", " b"}));
  EXPECT_EQ(split_gpt2("a\n b"), (Strings{"a", "\n", " b"}));
  EXPECT_EQ(split_gpt2("a \nb"), (Strings{"a", " ", "\n", "b"}));
  EXPECT_EQ(split_gpt2("x   "), (Strings{"x", "   "}));
  EXPECT_EQ(split_gpt2("\t b"), (Strings{"\t", " b"}));
  EXPECT_EQ(split_gpt2("x \u3000y"), (Strings{"x", " ", "\u3000", "y"}));  // U+3000 is \s but not ' '
  EXPECT_EQ(split_gpt2("   "), (Strings{"   "}));
}

// ----------------------------------------------------------- BERT rules ---

TEST(TokenizersBertNormalizer, AccentsLowercaseAndNonAscii) {
  EXPECT_EQ(normalize("Héllo Wörld"), "hello world");
  EXPECT_EQ(normalize("ÅNGSTRÖM façade"), "angstrom facade");
  EXPECT_EQ(normalize("ΣΑΣ Привет"), "σασ привет");       // no final sigma: HF lowercases per character
  EXPECT_EQ(normalize("İstanbul"), "istanbul");            // NFD drops the dot before lowercasing
  EXPECT_EQ(normalize("한"), "\u1112\u1161\u11AB");        // Hangul decomposes to jamo
  const auto keep_accents = bert_options(true, true, false, true);
  EXPECT_EQ(normalize("Éa", keep_accents), "éa");
  EXPECT_EQ(normalize("İ", keep_accents), "i\u0307");     // the full lowercase mapping
  const auto cased = bert_options(true, true, std::nullopt, false);  // strip_accents follows lowercase
  EXPECT_EQ(normalize("Héllo", cased), "Héllo");
}

TEST(TokenizersBertNormalizer, ControlCharactersGoWhitespaceBecomesSpace) {
  EXPECT_EQ(normalize(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(normalize("a\x07" "b\x7F" "c\u200Bd\uFEFFe\uFFFDf"), "abcdef");
  EXPECT_EQ(normalize("a\tb\nc\r\nd\u00A0e\u3000f"), "a b c  d e f");
  EXPECT_EQ(normalize("a\x0B" "b"), "ab");        // VT is Cc before it is whitespace, as in HF
  EXPECT_EQ(normalize("a\U000110CDb"), "a\U000110CDb");  // Cf added in Unicode 11: unknown to BERT's tables
  const auto raw = bert_options(false, true, std::nullopt, false);
  EXPECT_EQ(normalize("a\x07\tb", raw), "a\x07\tb");
}

TEST(TokenizersBertNormalizer, CjkIdeographsAreSpacedOut) {
  EXPECT_EQ(normalize("中文ok"), " 中  文 ok");
  // Kana and Hangul are not CJK ideographs; NFD still applies: the dakuten
  // of "が" is a Mn mark and goes, Hangul syllables become jamo.
  EXPECT_EQ(normalize("ひらがなカタカナ한글"), "ひらかなカタカナ\u1112\u1161\u11AB\u1100\u1173\u11AF");
  const auto no_cjk = bert_options(true, false, std::nullopt, true);
  EXPECT_EQ(normalize("中文", no_cjk), "中文");
}

TEST(TokenizersBertNormalizer, SpansPointBackToTheOriginalCharacter) {
  NormalizedText out;
  BertNormalizer().normalize("Xé中", 10, out);
  ASSERT_EQ(out.text, "xe 中 ");
  EXPECT_EQ(out.span(0, 1).begin, 10u);
  EXPECT_EQ(out.span(1, 2).begin, 11u);  // "e" comes from "é" at bytes 11..13
  EXPECT_EQ(out.span(1, 2).end, 13u);
  EXPECT_EQ(out.span(3, 6).begin, 13u);  // "中" at bytes 13..16
  EXPECT_EQ(out.span(3, 6).end, 16u);
}

TEST(TokenizersBertPreTokenizer, WhitespaceSplitsPunctuationIsolates) {
  EXPECT_EQ(split_bert("Hello, world!"), (Strings{"Hello", ",", "world", "!"}));
  EXPECT_EQ(split_bert("  a-b  c$d "), (Strings{"a", "-", "b", "c", "$", "d"}));
  EXPECT_EQ(split_bert("x«y»z"), (Strings{"x", "«", "y", "»", "z"}));  // Unicode P*
  EXPECT_EQ(split_bert("x\u2E43y"), (Strings{"x\u2E43y"}));            // Po since Unicode 9: not BERT's
  EXPECT_EQ(split_bert("x^y`z"), (Strings{"x", "^", "y", "`", "z"}));   // ASCII symbols count too
  EXPECT_EQ(split_bert(""), Strings{});
}

// ---------------------------------------------------------------- models ---

std::vector<std::string> bpe_tokens(const BpeModel& model, const std::string& word) {
  std::vector<ModelToken> out;
  model.tokenize(word, out);
  std::vector<std::string> tokens;
  for (const ModelToken& t : out) tokens.push_back(*model.vocab().token(t.id));
  return tokens;
}

TEST(TokenizersBpe, MergesApplyByRankNotPosition) {
  const Strings vocab = {"a", "b", "c", "ab", "bc", "abc"};
  BpeModel bc_first(make_vocab(vocab), {{"b", "c"}, {"a", "b"}, {"a", "bc"}}, {}, "test");
  EXPECT_EQ(bpe_tokens(bc_first, "abc"), Strings{"abc"});
  EXPECT_EQ(bpe_tokens(bc_first, "abab"), (Strings{"ab", "ab"}));
  BpeModel ab_first(make_vocab(vocab), {{"a", "b"}, {"b", "c"}}, {}, "test");
  EXPECT_EQ(bpe_tokens(ab_first, "abc"), (Strings{"ab", "c"}));  // "a b" wins, "ab c" has no merge
  BpeModel bc_only(make_vocab(vocab), {{"b", "c"}, {"a", "b"}}, {}, "test");
  EXPECT_EQ(bpe_tokens(bc_only, "abc"), (Strings{"a", "bc"}));
}

TEST(TokenizersBpe, EqualRanksMergeLeftmostFirstAndCacheAgrees) {
  BpeModel model(make_vocab({"a", "aa"}), {{"a", "a"}}, {}, "test");
  EXPECT_EQ(bpe_tokens(model, "aaa"), (Strings{"aa", "a"}));
  EXPECT_EQ(bpe_tokens(model, "aaa"), (Strings{"aa", "a"}));  // from the cache
  EXPECT_EQ(bpe_tokens(model, "aaaaa"), (Strings{"aa", "aa", "a"}));
  std::vector<ModelToken> out;
  model.tokenize("aaa", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].begin, 0u);
  EXPECT_EQ(out[0].end, 2u);
  EXPECT_EQ(out[1].begin, 2u);
  EXPECT_EQ(out[1].end, 3u);
}

TEST(TokenizersBpe, UnknownCharactersBecomeUnkOrAreDropped) {
  BpeModel no_unk(make_vocab({"a", "b"}), {}, {}, "test");
  EXPECT_EQ(bpe_tokens(no_unk, "axb"), (Strings{"a", "b"}));  // HF drops them without an unk token
  BpeModel unk(make_vocab({"a", "b", "<unk>"}), {}, bpe_options("<unk>", "", true), "test");
  EXPECT_EQ(bpe_tokens(unk, "axyb"), (Strings{"a", "<unk>", "b"}));
  BpeModel prefixed(make_vocab({"a", "##b", "##c", "##bc"}), {{"##b", "##c"}},
                    bpe_options(std::nullopt, "##", false), "test");
  EXPECT_EQ(bpe_tokens(prefixed, "abc"), (Strings{"a", "##bc"}));
}

TEST(TokenizersBpe, LongWordsStayFast) {
  BpeModel model(make_vocab({"a", "aa"}), {{"a", "a"}}, {}, "test");
  std::vector<ModelToken> out;
  model.tokenize(std::string(200000, 'a'), out);  // O(n log n): a quadratic merge would take minutes
  EXPECT_EQ(out.size(), 100000u);
}

TEST(TokenizersBpe, BadMergesAreErrorsNamingTheMerge) {
  EXPECT_TRUE(throws_error_naming([] { BpeModel(make_vocab({"a", "b"}), {{"a", "z"}}, {}, "m.txt", 2); },
                                  "m.txt: merge at line 2 (\"a z\") refers to \"z\", which is not in the vocabulary"));
  EXPECT_TRUE(throws_error_naming([] { BpeModel(make_vocab({"a", "b"}), {{"a", "b"}}, {}, "t.json"); },
                                  "t.json: merge at model.merges[0] makes \"ab\", which is not in the vocabulary"));
  EXPECT_TRUE(throws_error_naming([] { BpeModel(make_vocab({"a"}), {}, bpe_options("<unk>", "", false), "t.json"); },
                                  "unk_token \"<unk>\" is not in the vocabulary"));
}

std::vector<std::string> wordpiece_tokens(const WordPieceModel& model, const std::string& word) {
  std::vector<ModelToken> out;
  model.tokenize(word, out);
  std::vector<std::string> tokens;
  for (const ModelToken& t : out) tokens.push_back(*model.vocab().token(t.id) + "@" + std::to_string(t.begin));
  return tokens;
}

TEST(TokenizersWordPiece, LongestMatchFirstThenContinuations) {
  WordPieceModel model(make_vocab({"[UNK]", "un", "una", "##ff", "##aff", "##able", "##a", "##ble", "é", "##é"}),
                       WordPieceOptions{"[UNK]", "##", 9}, "test");
  EXPECT_EQ(wordpiece_tokens(model, "unaffable"), (Strings{"una@0", "##ff@3", "##able@5"}));
  EXPECT_EQ(wordpiece_tokens(model, "éé"), (Strings{"é@0", "##é@2"}));  // byte ranges
  EXPECT_EQ(wordpiece_tokens(model, "unx"), Strings{"[UNK]@0"});        // one miss: the whole word
  EXPECT_EQ(wordpiece_tokens(model, "unaffables"), Strings{"[UNK]@0"});  // 10 chars > 9
  EXPECT_TRUE(throws_error_naming([] { WordPieceModel(make_vocab({"a"}), {}, "v.txt"); },
                                  "v.txt: unk_token \"[UNK]\" is not in the vocabulary"));
}

TEST(TokenizersWordPiece, LongWordsStayFast) {
  WordPieceModel model(make_vocab({"[UNK]", "a", "##a", "##aa"}), WordPieceOptions{"[UNK]", "##", size_t{1} << 30},
                       "test");
  std::vector<ModelToken> out;
  model.tokenize(std::string(100001, 'a'), out);  // candidates bounded by the longest token, not the word
  ASSERT_EQ(out.size(), 50001u);
  EXPECT_EQ(out.back().end, 100001u);
}

// --------------------------------------------------------- added tokens ---

std::vector<std::string> added_matches(const AddedVocabulary& added, const std::string& text) {
  std::vector<AddedMatch> out;
  added.find(text, false, out);
  std::vector<std::string> found;
  for (const AddedMatch& m : out) found.push_back(std::to_string(m.id) + ":" + text.substr(m.begin, m.end - m.begin));
  return found;
}

TEST(TokenizersAddedVocabulary, LeftmostLongestWithStripAndWordRules) {
  AddedVocabulary added;
  added.add(added_token("<s>", 1, false, false, false, true));
  added.add(added_token("<s><s>", 2, false, false, false, false));
  added.add(added_token("<mask>", 3, false, true, true, false));
  added.add(added_token("cat", 4, true, false, false, false));
  added.build(nullptr);
  EXPECT_EQ(added_matches(added, "a<s><s><s>b"), (Strings{"2:<s><s>", "1:<s>"}));
  EXPECT_EQ(added_matches(added, "x  <mask>  y"), (Strings{"3:  <mask>  "}));
  EXPECT_EQ(added_matches(added, "cat concat cats cat."), (Strings{"4:cat", "4:cat"}));
  EXPECT_TRUE(added.is_special(1));
  EXPECT_FALSE(added.is_special(2));
}

// --------------------------------------------------- truncation, padding ---

Encoding sequence(size_t n, int64_t first_id) {
  Encoding e;
  for (size_t i = 0; i < n; ++i) {
    e.ids.push_back(first_id + static_cast<int64_t>(i));
    e.type_ids.push_back(0);
    e.tokens.push_back(std::string("t").append(std::to_string(first_id + static_cast<int64_t>(i))));
    e.attention_mask.push_back(1);
    e.special_tokens_mask.push_back(0);
    e.offsets.emplace_back(i, i + 1);
    e.sequence_ids.push_back(0);
  }
  return e;
}

TEST(TokenizersTruncation, LongestFirstSplitsAsHuggingFace) {
  // (n1, n2) -> (kept1, kept2) at max_length 7: HF's own table.
  const size_t cases[][4] = {{0, 8, 0, 7}, {2, 2, 2, 2}, {2, 8, 2, 5}, {4, 4, 3, 4},
                             {4, 8, 3, 4}, {8, 2, 5, 2}, {8, 4, 4, 3}, {8, 8, 3, 4}};
  for (const auto& c : cases) {
    Encoding a = sequence(c[0], 0), b = sequence(c[1], 100);
    truncate_pair(a, &b, truncation(7));
    EXPECT_EQ(a.size(), c[2]) << c[0] << "," << c[1];
    EXPECT_EQ(b.size(), c[3]) << c[0] << "," << c[1];
  }
}

TEST(TokenizersTruncation, DirectionAndOnlyStrategies) {
  Encoding a = sequence(5, 0);
  truncate_pair(a, nullptr, truncation(3, TruncationStrategy::LongestFirst, Direction::Left));
  EXPECT_EQ(a.ids, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a.offsets[0], (std::pair<size_t, size_t>{2, 3}));
  Encoding b = sequence(4, 0), c = sequence(4, 10);
  truncate_pair(b, &c, truncation(6, TruncationStrategy::OnlySecond));
  EXPECT_EQ(b.size(), 4u);
  EXPECT_EQ(c.ids, (std::vector<int64_t>{10, 11}));
  EXPECT_TRUE(throws_error_naming(
      [] {
        Encoding x = sequence(3, 0);
        truncate_pair(x, nullptr, truncation(1, TruncationStrategy::OnlySecond));
      },
      "only_second needs a pair"));
  EXPECT_TRUE(throws_error_naming(
      [] {
        Encoding x = sequence(2, 0), y = sequence(9, 0);
        truncate_pair(x, &y, truncation(4, TruncationStrategy::OnlyFirst));
      },
      "needs 7 tokens removed from the first sequence, which has only 2"));
}

TEST(TokenizersPadding, ToLongestFixedAndMultiples) {
  std::vector<Encoding> batch = {sequence(2, 0), sequence(5, 0)};
  pad(batch, PaddingParams{std::nullopt, 0, 9, 0, "<pad>", Direction::Right});
  EXPECT_EQ(batch[0].ids, (std::vector<int64_t>{0, 1, 9, 9, 9}));
  EXPECT_EQ(batch[0].attention_mask, (std::vector<int64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(batch[0].special_tokens_mask, (std::vector<int64_t>{0, 0, 1, 1, 1}));
  EXPECT_EQ(batch[0].tokens.back(), "<pad>");
  EXPECT_EQ(batch[1].size(), 5u);
  std::vector<Encoding> left = {sequence(3, 0)};
  pad(left, PaddingParams{4, 3, 0, 1, "[PAD]", Direction::Left});
  EXPECT_EQ(left[0].ids, (std::vector<int64_t>{0, 0, 0, 0, 1, 2}));  // 4 rounded up to 6
  EXPECT_EQ(left[0].type_ids, (std::vector<int64_t>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(left[0].sequence_ids, (std::vector<int>{-1, -1, -1, 0, 0, 0}));
}

}  // namespace
}  // namespace attnkit::testing
