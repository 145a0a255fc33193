"""attnkit.models: GPT-2 and BERT from Hugging Face folders, without Python at run time.

>>> model = attnkit.models.GPT2LMHeadModel.from_pretrained("path/to/gpt2")
>>> tokens, why = model.generate(prompt_ids, max_new_tokens=50, do_sample=True, top_p=0.9, seed=1)
>>> bert = attnkit.models.BertModel.from_pretrained("path/to/minilm")
>>> hidden, pooled = bert(ids, attention_mask=mask)
>>> embedder = attnkit.models.SentenceEmbedder.from_pretrained("path/to/all-MiniLM-L6-v2")
>>> embedder.encode(["A man is eating food."])      # (1, 384), as SentenceTransformer.encode
"""

from ._C.models import (
    BertForMaskedLM,
    BertModel,
    FillMaskCandidate,
    GPT2Cache,
    GPT2LMHeadModel,
    GPT2Model,
    SentenceEmbedder,
    fill_mask,
)

__all__ = ["BertForMaskedLM", "BertModel", "FillMaskCandidate", "GPT2Cache", "GPT2LMHeadModel", "GPT2Model",
           "SentenceEmbedder", "fill_mask"]
