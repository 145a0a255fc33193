// attnkit._C.tokenizers: the C++ tokenizers under the names and signatures of
// Hugging Face's `tokenizers` package (Tokenizer, Encoding, DecodeStream), so
// code and tests move between the two. One difference: Encoding.offsets are
// byte offsets into the UTF-8 text (HF's Python API gives character offsets).
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using tokenizers::DecodeStream;
using tokenizers::Direction;
using tokenizers::Encoding;
using tokenizers::Tokenizer;

Direction parse_direction(const std::string& name, const char* op) {
  if (name == "right") return Direction::Right;
  if (name == "left") return Direction::Left;
  throw ValueError(detail::concat(op, ": direction must be \"right\" or \"left\", got \"", name, "\""));
}

const char* direction_name(Direction d) { return d == Direction::Right ? "right" : "left"; }

tokenizers::TruncationStrategy parse_strategy(const std::string& name) {
  if (name == "longest_first") return tokenizers::TruncationStrategy::LongestFirst;
  if (name == "only_first") return tokenizers::TruncationStrategy::OnlyFirst;
  if (name == "only_second") return tokenizers::TruncationStrategy::OnlySecond;
  throw ValueError("enable_truncation: strategy must be longest_first, only_first or only_second, got \"" + name +
                   "\"");
}

const char* strategy_name(tokenizers::TruncationStrategy s) {
  switch (s) {
    case tokenizers::TruncationStrategy::LongestFirst: return "longest_first";
    case tokenizers::TruncationStrategy::OnlyFirst: return "only_first";
    case tokenizers::TruncationStrategy::OnlySecond: return "only_second";
  }
  return "";
}

// encode_batch's inputs: str, or a (str, str) pair, as in HF.
struct BatchInputs {
  std::vector<std::string> singles;
  std::vector<std::pair<std::string, std::string>> pairs;
};

BatchInputs read_batch(const nb::list& inputs) {
  BatchInputs out;
  for (nb::handle item : inputs) {
    if (nb::isinstance<nb::str>(item)) {
      out.singles.push_back(nb::cast<std::string>(item));
    } else if ((nb::isinstance<nb::tuple>(item) || nb::isinstance<nb::list>(item)) && nb::len(item) == 2) {
      out.pairs.emplace_back(nb::cast<std::string>(item[0]), nb::cast<std::string>(item[1]));
    } else {
      throw ValueError("encode_batch: each input must be a str or a (str, str) pair");
    }
  }
  if (!out.singles.empty() && !out.pairs.empty()) {
    throw ValueError("encode_batch: inputs must be all single texts or all pairs, not a mix");
  }
  return out;
}

// Python's DecodeStream takes the tokenizer at each step (HF's signature);
// the C++ stream is made at the first step.
struct PyDecodeStream {
  bool skip_special_tokens;
  std::optional<DecodeStream> stream;
};

}  // namespace

void bind_tokenizers(nb::module_& m) {
  nb::module_ t = m.def_submodule("tokenizers", "Byte-level BPE (GPT-2) and WordPiece (BERT) tokenizers");

  nb::class_<Encoding>(t, "Encoding", "The tokens of one input or pair, as tokenizers.Encoding")
      .def_ro("ids", &Encoding::ids)
      .def_ro("type_ids", &Encoding::type_ids)
      .def_ro("tokens", &Encoding::tokens)
      .def_ro("attention_mask", &Encoding::attention_mask)
      .def_ro("special_tokens_mask", &Encoding::special_tokens_mask)
      .def_ro("offsets", &Encoding::offsets, "(begin, end) byte offsets into the UTF-8 input; (0, 0) for special tokens")
      .def_prop_ro("sequence_ids",
                   [](const Encoding& e) {
                     nb::list out;
                     for (int s : e.sequence_ids) out.append(s < 0 ? nb::object(nb::none()) : nb::object(nb::int_(s)));
                     return out;
                   })
      .def_prop_ro("n_sequences",
                   [](const Encoding& e) {
                     int n = 0;
                     for (int s : e.sequence_ids) n = std::max(n, s + 1);
                     return n;
                   })
      .def("__len__", &Encoding::size)
      .def("__repr__", [](const Encoding& e) {
        return "Encoding(num_tokens=" + std::to_string(e.size()) +
               ", attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask])";
      });

  nb::class_<Tokenizer> cls(t, "Tokenizer",
                            "A tokenizer from a Hugging Face folder or tokenizer.json; same ids as tokenizers.Tokenizer");
  using Path = std::filesystem::path;  // str or os.PathLike from Python
  cls.def_static(
         "from_file", [](const Path& path) { return Tokenizer::from_file(path.string()); }, "path"_a,
         "Loads a tokenizer.json file.")
      .def_static("from_str", &Tokenizer::from_json, "json"_a, "source"_a = "tokenizer.json",
                  "Loads tokenizer.json text.")
      .def_static(
          "from_pretrained", [](const Path& folder) { return Tokenizer::from_folder(folder.string()); }, "folder"_a,
                  "Loads a model folder: tokenizer.json, else vocab.json + merges.txt, else vocab.txt.")
      .def_static(
          "from_bpe_files",
          [](const Path& vocab, const Path& merges, bool add_prefix_space) {
            tokenizers::BpeFilesOptions options;
            options.add_prefix_space = add_prefix_space;
            return Tokenizer::from_bpe_files(vocab.string(), merges.string(), options);
          },
          "vocab"_a, "merges"_a, "add_prefix_space"_a = false,
          "Byte-level BPE from GPT-2's vocab.json and merges.txt.")
      .def_static(
          "from_wordpiece_vocab",
          [](const Path& vocab, bool lowercase, std::optional<bool> strip_accents,
             bool handle_chinese_chars) {
            tokenizers::WordPieceVocabOptions o;
            o.lowercase = lowercase;
            o.strip_accents = strip_accents;
            o.handle_chinese_chars = handle_chinese_chars;
            return Tokenizer::from_wordpiece_vocab(vocab.string(), o);
          },
          "vocab"_a, "lowercase"_a = true, "strip_accents"_a = nb::none(), "handle_chinese_chars"_a = true,
          "WordPiece from BERT's vocab.txt with BERT's defaults.")
      .def(
          "encode",
          [](const Tokenizer& tok, const std::string& sequence, std::optional<std::string> pair,
             bool add_special_tokens) {
            nb::gil_scoped_release release;
            return pair ? tok.encode_pair(sequence, *pair, add_special_tokens) : tok.encode(sequence, add_special_tokens);
          },
          "sequence"_a, "pair"_a = nb::none(), "add_special_tokens"_a = true)
      .def(
          "encode_bytes",
          [](const Tokenizer& tok, nb::bytes sequence, bool add_special_tokens) {
            std::string text(sequence.c_str(), sequence.size());
            nb::gil_scoped_release release;
            return tok.encode(text, add_special_tokens);
          },
          "sequence"_a, "add_special_tokens"_a = true,
          "encode() of UTF-8 bytes (invalid UTF-8 is a ValueError naming the byte offset).")
      .def(
          "encode_batch",
          [](const Tokenizer& tok, const nb::list& inputs, bool add_special_tokens) {
            BatchInputs batch = read_batch(inputs);
            nb::gil_scoped_release release;
            return batch.pairs.empty() ? tok.encode_batch(batch.singles, add_special_tokens)
                                       : tok.encode_batch_pairs(batch.pairs, add_special_tokens);
          },
          "input"_a, "add_special_tokens"_a = true, "Encodes texts or (text, text) pairs in parallel.")
      .def(
          "decode",
          [](const Tokenizer& tok, const std::vector<int64_t>& ids, bool skip_special_tokens) {
            return tok.decode(ids, skip_special_tokens);
          },
          "ids"_a, "skip_special_tokens"_a = true)
      .def(
          "decode_batch",
          [](const Tokenizer& tok, const std::vector<std::vector<int64_t>>& sequences, bool skip_special_tokens) {
            nb::gil_scoped_release release;
            return tok.decode_batch(sequences, skip_special_tokens);
          },
          "sequences"_a, "skip_special_tokens"_a = true)
      .def("token_to_id", &Tokenizer::token_to_id, "token"_a)
      .def("id_to_token", &Tokenizer::id_to_token, "id"_a)
      .def(
          "get_vocab_size",
          [](const Tokenizer& tok, bool with_added_tokens) { return tok.vocab_size(with_added_tokens); },
          "with_added_tokens"_a = true)
      .def("num_special_tokens_to_add", &Tokenizer::num_special_tokens_to_add, "is_pair"_a)
      .def_prop_ro("model_type", &Tokenizer::model_type)
      .def(
          "enable_truncation",
          [](Tokenizer& tok, size_t max_length, size_t stride, const std::string& strategy,
             const std::string& direction) {
            if (stride != 0) throw ValueError("enable_truncation: stride (overflowing tokens) is not supported");
            tok.enable_truncation({.max_length = max_length,
                                   .strategy = parse_strategy(strategy),
                                   .direction = parse_direction(direction, "enable_truncation")});
          },
          "max_length"_a, "stride"_a = 0, "strategy"_a = "longest_first", "direction"_a = "right")
      .def("no_truncation", &Tokenizer::no_truncation)
      .def_prop_ro("truncation",
                   [](const Tokenizer& tok) -> nb::object {
                     if (!tok.truncation()) return nb::none();
                     nb::dict d;
                     d["max_length"] = tok.truncation()->max_length;
                     d["stride"] = 0;
                     d["strategy"] = strategy_name(tok.truncation()->strategy);
                     d["direction"] = direction_name(tok.truncation()->direction);
                     return d;
                   })
      .def(
          "enable_padding",
          [](Tokenizer& tok, const std::string& direction, int64_t pad_id, int64_t pad_type_id,
             const std::string& pad_token, std::optional<size_t> length, std::optional<size_t> pad_to_multiple_of) {
            tok.enable_padding({.length = length,
                                .pad_to_multiple_of = pad_to_multiple_of.value_or(0),
                                .pad_id = pad_id,
                                .pad_type_id = pad_type_id,
                                .pad_token = pad_token,
                                .direction = parse_direction(direction, "enable_padding")});
          },
          "direction"_a = "right", "pad_id"_a = 0, "pad_type_id"_a = 0, "pad_token"_a = "[PAD]",
          "length"_a = nb::none(), "pad_to_multiple_of"_a = nb::none())
      .def("no_padding", &Tokenizer::no_padding)
      .def_prop_ro("padding", [](const Tokenizer& tok) -> nb::object {
        if (!tok.padding()) return nb::none();
        const auto& p = *tok.padding();
        nb::dict d;
        d["length"] = p.length ? nb::cast(*p.length) : nb::none();
        d["pad_to_multiple_of"] = p.pad_to_multiple_of ? nb::cast(p.pad_to_multiple_of) : nb::none();
        d["pad_id"] = p.pad_id;
        d["pad_type_id"] = p.pad_type_id;
        d["pad_token"] = p.pad_token;
        d["direction"] = direction_name(p.direction);
        return d;
      });

  // pad_token / pad_token_id, ... : the special tokens a model needs, or None.
  using Getter = std::optional<tokenizers::SpecialToken> (Tokenizer::*)() const;
  const std::pair<const char*, Getter> roles[] = {
      {"unk", &Tokenizer::unk_token}, {"pad", &Tokenizer::pad_token},   {"cls", &Tokenizer::cls_token},
      {"sep", &Tokenizer::sep_token}, {"mask", &Tokenizer::mask_token}, {"bos", &Tokenizer::bos_token},
      {"eos", &Tokenizer::eos_token}};
  for (const auto& [role, getter] : roles) {
    const std::string name = std::string(role) + "_token";
    cls.def_prop_ro(name.c_str(), [getter](const Tokenizer& tok) -> std::optional<std::string> {
      auto s = (tok.*getter)();
      return s ? std::optional<std::string>(s->token) : std::nullopt;
    });
    cls.def_prop_ro((name + "_id").c_str(), [getter](const Tokenizer& tok) -> std::optional<int64_t> {
      auto s = (tok.*getter)();
      return s ? std::optional<int64_t>(s->id) : std::nullopt;
    });
  }

  nb::class_<PyDecodeStream>(t, "DecodeStream",
                             "Incremental decode of generated ids, as tokenizers.decoders.DecodeStream: step() "
                             "returns the new text, or None while a character is incomplete.")
      .def(
          "__init__",
          [](PyDecodeStream* self, bool skip_special_tokens) { new (self) PyDecodeStream{skip_special_tokens, {}}; },
          "skip_special_tokens"_a = false)
      .def(
          "step",
          [](PyDecodeStream& self, const Tokenizer& tok, int64_t id) -> std::optional<std::string> {
            if (!self.stream) self.stream.emplace(tok, self.skip_special_tokens);
            std::string text = self.stream->step(id);
            if (text.empty()) return std::nullopt;
            return text;
          },
          "tokenizer"_a, "id"_a);
}

}  // namespace attnkit::python
