"""attnkit.tokenizers: GPT-2's byte-level BPE and BERT's WordPiece, in C++.

Same names and ids as Hugging Face's ``tokenizers`` package:

>>> tok = attnkit.tokenizers.Tokenizer.from_pretrained("all-MiniLM-L6-v2")  # a model folder
>>> tok.enable_truncation(256)
>>> tok.enable_padding(pad_id=tok.pad_token_id, pad_token=tok.pad_token)
>>> batch = tok.encode_batch(["Hello, world!", "A longer second sentence."])
>>> batch[0].ids, batch[0].attention_mask
>>> tok.decode(batch[0].ids)
'hello, world!'

Streaming generated ids:

>>> stream = attnkit.tokenizers.DecodeStream(skip_special_tokens=True)
>>> for id in generated:
...     text = stream.step(tok, id)
...     if text is not None:
...         print(text, end="", flush=True)

One difference from ``tokenizers``: ``Encoding.offsets`` are byte offsets
into the UTF-8 text, not character offsets.
"""

from ._C.tokenizers import DecodeStream, Encoding, Tokenizer

__all__ = ["DecodeStream", "Encoding", "Tokenizer"]
