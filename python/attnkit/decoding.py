"""attnkit.decoding: greedy and beam search, batched, over a step function.

>>> def step(tokens, rows):           # tokens (R, t) int64, rows: list of batch entries
...     out = model.decode(embed(tokens), memory_of(rows))
...     return attnkit.log_softmax(head(out[:, -1]), dim=-1)   # (R, V)
>>> attnkit.decoding.beam_search(step, batch=8, bos=1, eos=2, max_length=12, beam_size=4)
"""

from ._C.decoding import beam_search, greedy_search

__all__ = ["beam_search", "greedy_search"]
