"""Tokenizer fixtures built locally (no downloads).

train_byte_level_bpe writes a GPT-2-style folder: a byte-level BPE trained
with Hugging Face's ``tokenizers`` on a generated multilingual corpus, with
``<|endoftext|>`` as its special token, saved both as tokenizer.json and as
GPT-2's vocab.json + merges.txt. The GPT-2 model tests import it too.

varied_strings(n, seed) generates test inputs that exercise the pre-tokenizer
and the byte map: words, numbers, punctuation runs, contractions, runs of
spaces / newlines / tabs, many scripts, emoji with ZWJ sequences and skin
tones, combining marks, control and format characters.
"""

from __future__ import annotations

import pathlib
import random

SPECIAL_TOKEN = "<|endoftext|>"

_WORDS = {
    "en": "the quick brown fox jumps over lazy dog I'm you're we've they'll she'd it's don't can't won't "
          "Hello World tokenizer attention transformer model GPT BERT learning rate 2024 3.14 1,000,000".split(),
    "fr": "le café où l'été déjà très élève naïve garçon Noël à côté".split(),
    "de": "Straße über Größe Mädchen schön Fußgänger Übermaß".split(),
    "es": "año niño señor mañana corazón acción pingüino".split(),
    "ru": "привет мир Москва язык модель внимание".split(),
    "el": "Καλημέρα κόσμε ΣΟΦΙΑ ελληνικά".split(),
    "ar": "مرحبا بالعالم اللغة العربية".split(),
    "he": "שלום עולם עברית".split(),
    "hi": "नमस्ते दुनिया हिन्दी भाषा".split(),
    "zh": "你好 世界 中文 分词器 注意力 模型".split(),
    "ja": "こんにちは 世界 日本語 カタカナ ひらがな 東京".split(),
    "ko": "안녕하세요 세계 한국어 토크나이저".split(),
    "th": "สวัสดี ภาษาไทย".split(),
    "vi": "Tiếng Việt xin chào thế giới".split(),
    "code": "def f(x): return x**2; a[i] += 1; {\"key\": [1, 2]} <div class='x'> // comment #include".split(),
}
_EMOJI = ["😀", "🤗", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🧑🏿‍💻", "✨", "🥰", "🫠"]
_PUNCT = ["!", "?", "...", "!!!", "?!", ",", ";", ":", "—", "–", "-", "(", ")", "[", "]", "«", "»", "“", "”",
          "'", "\"", "''", "'s", "'S", "'ll", "'LL", "#", "@", "$", "%", "&", "*", "/", "\\", "|", "~", "`", "^"]
_SPACES = [" ", "  ", "   ", "\n", "\n\n", "\t", " \n", "\r\n", "\u00a0", "\u3000", "\u2009", " \t ", "\u2028"]
_ODD = ["e\u0301", "n\u0303", "a\u0308\u0304", "\u200b", "\u200d", "\ufeff", "\u00ad", "\x00", "\x07", "\x1b",
        "\x7f", "\u0085", "\ufffd", "\U0001d400", "\u2167", "½", "²", "\u0663\u0664", "ﬁ", "Å", "İ", "ß"]


def _fragment(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        lang = rng.choice(list(_WORDS))
        return rng.choice(_WORDS[lang])
    if kind < 0.65:
        return str(rng.choice([rng.randint(0, 9), rng.randint(10, 99999), rng.random() * 1000]))
    if kind < 0.78:
        return rng.choice(_PUNCT)
    if kind < 0.88:
        return rng.choice(_EMOJI)
    return rng.choice(_ODD)


def varied_strings(n: int, seed: int = 0, max_fragments: int = 14) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, max_fragments)):
            parts.append(_fragment(rng))
            parts.append(rng.choice(_SPACES) if rng.random() < 0.35 else (" " if rng.random() < 0.8 else ""))
        text = "".join(parts)
        if rng.random() < 0.1:
            text = rng.choice(_SPACES) + text  # leading whitespace
        out.append(text)
    return out


def _corpus(seed: int = 1234, lines: int = 3000) -> list[str]:
    rng = random.Random(seed)
    corpus = [" ".join(words) for words in _WORDS.values()]
    corpus += varied_strings(lines, seed=seed)
    corpus += [f"{SPECIAL_TOKEN}{line}" for line in corpus[:50]]
    rng.shuffle(corpus)
    return corpus


def train_byte_level_bpe(out_dir: pathlib.Path, vocab_size: int = 2000, corpus=None) -> pathlib.Path:
    """Trains a byte-level BPE (GPT-2 style) with Hugging Face's tokenizers
    and saves tokenizer.json, vocab.json and merges.txt into out_dir.

    corpus: an iterable of training texts (default: a generated
    multilingual corpus). Returns out_dir.
    """
    from tokenizers import ByteLevelBPETokenizer

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(
        list(corpus) if corpus is not None else _corpus(),
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[SPECIAL_TOKEN],
        show_progress=False,
    )
    tokenizer.save(str(out_dir / "tokenizer.json"))
    tokenizer.save_model(str(out_dir))  # vocab.json + merges.txt
    return out_dir
