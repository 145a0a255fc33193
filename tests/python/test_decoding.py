"""attnkit.decoding from Python: greedy search over a torch-free toy model
equals a plain Python greedy loop; beam search with a wide beam finds the
likeliest sequence that exhaustive enumeration finds."""

import itertools
import math

import numpy as np

import attnkit
import attnkit.decoding as decoding

BOS, EOS, VOCAB = 1, 2, 5


def table(rng):
    """Random next-token distributions per prefix (bos included), fixed by the rng."""
    cache = {}

    def probs(prefix):
        key = tuple(prefix)
        if key not in cache:
            logits = rng.standard_normal(VOCAB) * 2
            logits[0] = logits[BOS] = -np.inf  # never pad or bos
            p = np.exp(logits - logits[np.isfinite(logits)].max())
            cache[key] = p / p.sum()
        return cache[key]

    return probs


def make_step(probs):
    def step(tokens, rows):
        t = tokens.numpy()
        out = np.stack([np.log(np.maximum(probs(list(r)), 1e-30)) for r in t]).astype(np.float32)
        return attnkit.from_numpy(out)
    return step


def test_greedy_equals_a_plain_loop(rng):
    probs = table(rng)
    got = decoding.greedy_search(make_step(probs), batch=3, bos=BOS, eos=EOS, max_length=6)
    seq = [BOS]
    while len(seq) <= 6:
        nxt = int(np.argmax(probs(seq)))
        seq.append(nxt)
        if nxt == EOS:
            break
    assert got == [seq[1:]] * 3


def test_wide_beam_finds_the_most_likely_sequence(rng):
    probs = table(rng)
    best, best_lp = None, -math.inf
    for length in range(1, 5):  # every sequence of up to 4 tokens
        for body in itertools.product([EOS, 3, 4], repeat=length):
            if EOS in body[:-1] or (body[-1] != EOS and length < 4):
                continue
            prefix, lp = [BOS], 0.0
            for tok in body:
                lp += math.log(probs(prefix)[tok])
                prefix.append(tok)
            if lp > best_lp:
                best, best_lp = list(body), lp
    got = decoding.beam_search(make_step(probs), batch=1, bos=BOS, eos=EOS, max_length=4, beam_size=40,
                               length_penalty=0.0)
    assert got[0] == best
