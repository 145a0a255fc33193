"""attnkit.functional's attention family against PyTorch: the score functions
(SPEC A1-A4) against plain torch compositions of their formulas, soft
attention in plain and key-value mode (A5, A6), and scaled_dot_product_attention
against torch.nn.functional.scaled_dot_product_attention, forward and every
gradient, over lengths 1, odd and prime, masks of every kind, and GQA."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import attnkit
import attnkit.functional as F
from conftest import Tol, assert_close, normal, to_attnkit, to_numpy

# fp32 through two GEMMs and a softmax: 1e-5 relative, 2e-6 absolute for
# values near zero (each output sums up to S products).
ATTENTION = Tol(1e-5, 2e-6)
ATTENTION_GRAD = Tol(1e-5, 1e-5)


def pair(rng, shape, requires_grad=True):
    """The same random values as an attnkit leaf and a torch leaf."""
    array = normal(rng, shape)
    ours = to_attnkit(array, requires_grad=requires_grad)
    theirs = torch.from_numpy(array.copy()).requires_grad_(requires_grad)
    return ours, theirs


def backward_both(ours, theirs, rng):
    upstream = normal(rng, tuple(theirs.shape))
    ours.backward(to_attnkit(upstream))
    theirs.backward(torch.from_numpy(upstream))


# ------------------------------------------------- scaled_dot_product_attention

lengths = st.sampled_from([1, 2, 3, 7, 13, 16, 31])
head_dims = st.sampled_from([1, 4, 8, 16, 24])


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 2), heads=st.integers(1, 3), queries=lengths, keys=lengths,
       dim=head_dims, value_dim=head_dims,
       mask_kind=st.sampled_from(["none", "causal", "bool", "float", "key_padding"]),
       seed=st.integers(0, 2**16))
def test_sdpa_matches_torch(batch, heads, queries, keys, dim, value_dim, mask_kind, seed):
    rng = np.random.default_rng(seed)
    q, tq = pair(rng, (batch, heads, queries, dim))
    k, tk = pair(rng, (batch, heads, keys, dim))
    v, tv = pair(rng, (batch, heads, keys, value_dim))
    kwargs_ours, kwargs_torch = {}, {}
    if mask_kind == "causal":
        kwargs_ours["is_causal"] = kwargs_torch["is_causal"] = True
    elif mask_kind == "bool":
        mask = rng.random((queries, keys)) < 0.7
        mask[:, 0] = True  # every query keeps a key: torch gives NaN otherwise
        kwargs_ours["attn_mask"] = attnkit.from_numpy(mask)
        kwargs_torch["attn_mask"] = torch.from_numpy(mask)
    elif mask_kind == "float":
        mask = normal(rng, (heads, queries, keys))
        kwargs_ours["attn_mask"] = to_attnkit(mask)
        kwargs_torch["attn_mask"] = torch.from_numpy(mask)
    elif mask_kind == "key_padding":
        keep = rng.random((batch, 1, 1, keys)) < 0.6
        keep[..., 0] = True
        kwargs_ours["attn_mask"] = attnkit.from_numpy(keep)
        kwargs_torch["attn_mask"] = torch.from_numpy(keep)
    ours = F.scaled_dot_product_attention(q, k, v, **kwargs_ours)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, **kwargs_torch)
    assert_close(ours, theirs, ATTENTION, f"sdpa forward ({mask_kind})")
    backward_both(ours, theirs, rng)
    for name, a, b in (("q", q, tq), ("k", k, tk), ("v", v, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"sdpa d{name} ({mask_kind})")


@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_gqa_matches_torch(scale, rng):
    q, tq = pair(rng, (2, 6, 5, 8))
    k, tk = pair(rng, (2, 2, 7, 8))
    v, tv = pair(rng, (2, 2, 7, 3))
    ours = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, scale=scale)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True, scale=scale)
    assert_close(ours, theirs, ATTENTION, "gqa forward")
    backward_both(ours, theirs, rng)
    for name, a, b in (("q", q, tq), ("k", k, tk), ("v", v, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"gqa d{name}")


def test_sdpa_unbatched_and_three_dim_inputs(rng):
    for shape_q, shape_k in (((5, 4), (7, 4)), ((3, 5, 4), (3, 7, 4))):
        q, tq = pair(rng, shape_q)
        k, tk = pair(rng, shape_k)
        v, tv = pair(rng, shape_k)
        assert_close(F.scaled_dot_product_attention(q, k, v),
                     TF.scaled_dot_product_attention(tq, tk, tv), ATTENTION, str(shape_q))


def test_fully_masked_rows_give_zeros_and_finite_gradients(rng):
    q, _ = pair(rng, (1, 2, 4, 8))
    k, _ = pair(rng, (1, 2, 5, 8))
    v, _ = pair(rng, (1, 2, 5, 8))
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False  # query 2 may attend nothing
    out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=attnkit.from_numpy(mask),
                                                  return_weights=True)
    out_np = to_numpy(out)
    assert (out_np[:, :, 2] == 0).all()
    assert (to_numpy(weights)[:, :, 2] == 0).all()
    assert np.isfinite(out_np).all()
    out.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(to_numpy(t.grad)).all()
    assert (to_numpy(q.grad)[:, :, 2] == 0).all()
    # The other rows equal torch's.
    tq, tk, tv = (torch.from_numpy(to_numpy(t).copy()) for t in (q, k, v))
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.from_numpy(mask))
    keep = [0, 1, 3]
    assert_close(out_np[:, :, keep], theirs.numpy()[:, :, keep], ATTENTION, "unmasked rows")


def test_return_weights_and_lse(rng):
    q, tq = pair(rng, (2, 3, 6, 8), requires_grad=False)
    k, tk = pair(rng, (2, 3, 9, 8), requires_grad=False)
    v, _ = pair(rng, (2, 3, 9, 4), requires_grad=False)
    mask = rng.random((6, 9)) < 0.6
    mask[:, 3] = True
    out, weights, lse = F.scaled_dot_product_attention(
        q, k, v, attn_mask=attnkit.from_numpy(mask), return_weights=True, return_lse=True)
    scores = (tq @ tk.transpose(-2, -1)) / math.sqrt(8)
    scores = scores.masked_fill(~torch.from_numpy(mask), float("-inf"))
    assert_close(weights, torch.softmax(scores, -1), ATTENTION, "weights")
    assert_close(lse, torch.logsumexp(scores, -1), ATTENTION, "lse")


def test_dropout_keeps_the_expected_fraction_and_repeats_with_a_seed(rng):
    q, _ = pair(rng, (1, 1, 64, 16), requires_grad=False)
    k, _ = pair(rng, (1, 1, 64, 16), requires_grad=False)
    eye = attnkit.from_numpy(np.eye(64, dtype=np.float32)[None, None].copy())
    attnkit.manual_seed(3)
    _, w = F.scaled_dot_product_attention(q, k, eye, return_weights=True)
    attnkit.manual_seed(3)
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.25)
    attnkit.manual_seed(3)
    again = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.25)
    np.testing.assert_array_equal(to_numpy(dropped), to_numpy(again))
    # out = dropout(w) @ I = dropout(w): each weight is kept (scaled by 4/3) or zeroed.
    d, w = to_numpy(dropped), to_numpy(w)
    kept = d != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(d[kept], w[kept] / 0.75, rtol=1e-5)


@pytest.mark.parametrize("path", ["fused", "reference"])
@pytest.mark.parametrize("causal", [False, True])
def test_dropout_gradients_match_torch_with_the_same_mask(path, causal, rng, monkeypatch):
    """Dropout's mask is a function of the seed: a first call with V = I reveals it (out = the
    kept, rescaled weights), a second with the same seed trains through it; torch, given that
    mask, must agree forward and backward. Both attnkit paths draw the same mask."""
    monkeypatch.setenv("ATTNKIT_SDPA", path)
    B, H, L, S, E, p = 2, 3, 37, 53, 16, 0.3
    q, tq = pair(rng, (B, H, L, E))
    k, tk = pair(rng, (B, H, S, E))
    v, tv = pair(rng, (B, H, S, 8))
    eye = attnkit.from_numpy(np.broadcast_to(np.eye(S, dtype=np.float32), (B, H, S, S)).copy())
    attnkit.manual_seed(11)
    with attnkit.no_grad():
        revealed = to_numpy(F.scaled_dot_product_attention(q, k, eye, dropout_p=p, is_causal=causal))
    attnkit.manual_seed(11)
    ours = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
    weights = torch.softmax(tq @ tk.transpose(-2, -1) / math.sqrt(E) +
                            (torch.full((L, S), float("-inf")).triu(1) if causal else 0), -1)
    keep = torch.from_numpy(revealed != 0)
    theirs = (weights * keep / (1 - p)) @ tv
    visible = np.tril(np.ones((L, S), dtype=bool)) if causal else np.ones((L, S), dtype=bool)
    assert abs(keep.numpy()[..., visible].mean() - (1 - p)) < 0.02
    assert_close(ours, theirs, ATTENTION, f"dropout forward ({path})")
    backward_both(ours, theirs, rng)
    for name, a, b in (("q", q, tq), ("k", k, tk), ("v", v, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"dropout d{name} ({path})")


def test_sdpa_errors_name_the_op():
    q = attnkit.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, attnkit.randn(1, 2, 3, 5), attnkit.randn(1, 2, 3, 4))
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=attnkit.ones(3, 3, dtype=attnkit.bool),
                                       is_causal=True)
    with pytest.raises(ValueError, match="multiple"):
        F.scaled_dot_product_attention(attnkit.randn(1, 3, 3, 4), attnkit.randn(1, 2, 3, 4),
                                       attnkit.randn(1, 2, 3, 4), enable_gqa=True)
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=attnkit.ones(3, 3, dtype=attnkit.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)


# ------------------------------------------------------- score functions

def test_score_functions_match_their_formulas(rng):
    q, tq = pair(rng, (2, 3, 5))   # (B, M, Dq)
    k, tk = pair(rng, (2, 7, 5))   # (B, N, Dk)
    checks = {
        "dot": (F.dot(q, k), tq @ tk.transpose(-2, -1)),
        "scaled_dot": (F.scaled_dot(q, k), tq @ tk.transpose(-2, -1) / math.sqrt(5)),
    }
    w, tw = pair(rng, (5, 5))
    checks["bilinear"] = (F.bilinear(q, k, w), torch.einsum("bnk,kq,bmq->bmn", tk, tw, tq))
    wk, twk = pair(rng, (6, 5))
    wq, twq = pair(rng, (6, 5))
    vv, tvv = pair(rng, (6,))
    additive_ref = torch.tanh((tk @ twk.T)[:, None, :, :] + (tq @ twq.T)[:, :, None, :]) @ tvv
    checks["additive"] = (F.additive(q, k, wk, wq, vv), additive_ref)
    for name, (ours, theirs) in checks.items():
        assert_close(ours, theirs, ATTENTION, f"{name} score")
    # Gradients of all four together.
    total = sum((ours * float(i + 1)).sum() for i, (ours, _) in enumerate(checks.values()))
    total_t = sum((theirs * float(i + 1)).sum() for i, (_, theirs) in enumerate(checks.values()))
    total.backward()
    total_t.backward()
    for name, a, b in (("q", q, tq), ("k", k, tk), ("W", w, tw), ("w_key", wk, twk),
                       ("w_query", wq, twq), ("v", vv, tvv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"score d{name}")


@pytest.mark.parametrize("mode", ["plain", "key_value"])
@pytest.mark.parametrize("score", ["dot", "scaled_dot", "additive"])
def test_attention_matches_a_torch_composition(mode, score, rng):
    q, tq = pair(rng, (2, 4, 6))
    k, tk = pair(rng, (2, 9, 6))
    v, tv = pair(rng, (2, 9, 3)) if mode == "key_value" else (None, tk)
    mask = rng.random((2, 1, 9)) < 0.7
    mask[..., 0] = True
    if score == "additive":
        wk, twk = pair(rng, (5, 6))
        wq, twq = pair(rng, (5, 6))
        vv, tvv = pair(rng, (5,))
        score_fn = lambda qq, kk: F.additive(qq, kk, wk, wq, vv)  # noqa: E731
        scores_t = torch.tanh((tk @ twk.T)[:, None] + (tq @ twq.T)[:, :, None]) @ tvv
    else:
        score_fn = score
        scores_t = tq @ tk.transpose(-2, -1) / (math.sqrt(6) if score == "scaled_dot" else 1.0)
    out, alpha = F.attention(q, k, v, score=score_fn, mask=attnkit.from_numpy(mask))
    alpha_t = torch.softmax(scores_t.masked_fill(~torch.from_numpy(mask), float("-inf")), -1)
    out_t = alpha_t @ tv
    assert_close(alpha, alpha_t, ATTENTION, "alpha")
    assert_close(out, out_t, ATTENTION, "output")
    backward_both(out, out_t, rng)
    assert_close(q.grad, tq.grad, ATTENTION_GRAD, "dq")
    assert_close(k.grad, tk.grad, ATTENTION_GRAD, "dk")


def test_attention_errors_name_the_op():
    with pytest.raises(ValueError, match="attention"):
        F.attention(attnkit.randn(2, 3), attnkit.randn(4, 3), attnkit.randn(5, 2))
    with pytest.raises(ValueError, match="score"):
        F.attention(attnkit.randn(2, 3), attnkit.randn(4, 3), score="cosine")
    with pytest.raises(ValueError, match="additive_score"):
        F.additive(attnkit.randn(2, 3), attnkit.randn(4, 3), attnkit.randn(5, 3),
                   attnkit.randn(5, 2), attnkit.randn(5))


# ------------------------------------------------------- hard attention (A7)

def test_hard_attention_argmax_reads_the_most_likely_value(rng):
    q, tq = pair(rng, (2, 3, 4))
    k, tk = pair(rng, (2, 6, 4))
    v, tv = pair(rng, (2, 6, 5))
    out, index, log_prob, alpha = F.hard_attention(q, k, v, mode="argmax")
    alpha_t = torch.softmax(tq @ tk.transpose(-2, -1) / 2.0, -1)
    assert_close(alpha, alpha_t, ATTENTION, "alpha")
    index_t = alpha_t.argmax(-1)
    np.testing.assert_array_equal(to_numpy(index), index_t.numpy())
    out_t = torch.gather(tv, 1, index_t[..., None].expand(-1, -1, 5))
    assert_close(out, out_t, ATTENTION, "chosen values")
    log_prob_t = torch.log(torch.gather(alpha_t, -1, index_t[..., None])).squeeze(-1)
    assert_close(log_prob, log_prob_t, ATTENTION, "log_prob")
    # REINFORCE: the gradient of log_prob reaches the query; the read-out reaches v only.
    reward = normal(rng, (2, 3))
    (log_prob * to_attnkit(reward)).sum().backward()
    (log_prob_t * torch.from_numpy(reward)).sum().backward()
    assert_close(q.grad, tq.grad, ATTENTION_GRAD, "d log_prob / dq")
    assert v.grad is None


def test_hard_attention_sampling_follows_alpha_and_repeats_with_a_seed():
    k = attnkit.from_numpy(np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]], dtype=np.float32))
    q = attnkit.zeros(1, 4000, 3)  # equal scores: α uniform over the 3 keys
    mask = attnkit.from_numpy(np.array([True, True, False]))
    attnkit.manual_seed(5)
    _, index, log_prob, _ = F.hard_attention(q, k, mode="sample", mask=mask)
    attnkit.manual_seed(5)
    _, again, _, _ = F.hard_attention(q, k, mode="sample", mask=mask)
    idx = to_numpy(index)
    np.testing.assert_array_equal(idx, to_numpy(again))
    assert set(np.unique(idx)) == {0, 1}  # the masked key is never chosen
    assert abs((idx == 0).mean() - 0.5) < 0.04
    np.testing.assert_allclose(to_numpy(log_prob), math.log(0.5), rtol=1e-6)


def test_gumbel_softmax_matches_torch_formula_and_straight_through(rng):
    logits, tlogits = pair(rng, (4, 7))
    attnkit.manual_seed(9)
    u = to_numpy(attnkit.rand(4, 7)).astype(np.float64)
    noise = torch.from_numpy(-np.log(-np.log(np.maximum(u, 1e-10))).astype(np.float32))
    soft_t = torch.softmax((tlogits + noise) / 0.5, -1)
    attnkit.manual_seed(9)
    soft = F.gumbel_softmax(logits, tau=0.5)
    assert_close(soft, soft_t, ATTENTION, "soft sample")
    attnkit.manual_seed(9)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    h = to_numpy(hard)
    assert ((h == 0) | (np.abs(h - 1) < 1e-6)).all() and np.allclose(h.sum(-1), 1.0)
    np.testing.assert_array_equal(h.argmax(-1), soft_t.detach().numpy().argmax(-1))
    weights = normal(rng, (4, 7))
    (hard * to_attnkit(weights)).sum().backward()
    (soft_t * torch.from_numpy(weights)).sum().backward()
    assert_close(logits.grad, tlogits.grad, ATTENTION_GRAD, "straight-through gradient")


# ------------------------------------------- fused kernel (forward and backward)

@pytest.fixture
def fused_path():
    """Forces the fused kernel for eligible calls, whatever their length."""
    import os
    previous = os.environ.get("ATTNKIT_SDPA")
    os.environ["ATTNKIT_SDPA"] = "fused"
    yield
    if previous is None:
        del os.environ["ATTNKIT_SDPA"]
    else:
        os.environ["ATTNKIT_SDPA"] = previous

@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 2), heads=st.integers(1, 3), queries=st.sampled_from([1, 3, 63, 64, 65, 130]),
       keys=st.sampled_from([1, 5, 127, 128, 129, 200]), dim=st.sampled_from([16, 64, 96]),
       mask_kind=st.sampled_from(["none", "causal", "bool", "float", "key_padding"]),
       seed=st.integers(0, 2**16))
def test_fused_matches_torch(batch, heads, queries, keys, dim, mask_kind, seed, fused_path):
    """The fused kernels (forward blocks of 48 queries x 128 keys, backward 64 x 64, online
    softmax, probabilities recomputed from the lse): sizes straddle the blocks."""
    rng = np.random.default_rng(seed)
    arrays = [normal(rng, (batch, heads, n, dim)) for n in (queries, keys, keys)]
    ours = [to_attnkit(a, requires_grad=True) for a in arrays]
    kwargs_ours, kwargs_torch = {}, {}
    if mask_kind == "causal":
        kwargs_ours["is_causal"] = kwargs_torch["is_causal"] = True
    elif mask_kind == "bool":
        mask = rng.random((queries, keys)) < 0.7
        mask[:, 0] = True
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = attnkit.from_numpy(mask), torch.from_numpy(mask)
    elif mask_kind == "float":
        mask = normal(rng, (heads, queries, keys))
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = to_attnkit(mask), torch.from_numpy(mask)
    elif mask_kind == "key_padding":
        keep = rng.random((batch, 1, 1, keys)) < 0.6
        keep[..., 0] = True
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = attnkit.from_numpy(keep), torch.from_numpy(keep)
    out, lse = F.scaled_dot_product_attention(*ours, return_lse=True, **kwargs_ours)
    tq, tk, tv = (torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv, **kwargs_torch)
    assert_close(out, theirs, ATTENTION, f"fused forward ({mask_kind})")
    backward_both(out, theirs, rng)
    for name, a, b in zip("qkv", ours, (tq, tk, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"fused d{name} ({mask_kind})")
    tq, tk = tq.detach(), tk.detach()
    scores = tq @ tk.transpose(-2, -1) / math.sqrt(dim)
    if mask_kind == "causal":
        scores = scores.masked_fill(~torch.ones(queries, keys, dtype=torch.bool).tril(), float("-inf"))
    elif mask_kind in ("bool", "key_padding"):
        scores = scores.masked_fill(~kwargs_torch["attn_mask"], float("-inf"))
    elif mask_kind == "float":
        scores = scores + kwargs_torch["attn_mask"]
    assert_close(lse, torch.logsumexp(scores, -1), Tol(1e-5, 1e-5), f"fused lse ({mask_kind})")


def test_key_batch_wider_than_the_query_batch(rng):
    """q (1, H, L, E) against k, v (B, H, S, E): the output broadcasts to B (the composed path)."""
    q, tq = pair(rng, (1, 2, 5, 8))
    k, tk = pair(rng, (3, 2, 7, 8))
    v, tv = pair(rng, (3, 2, 7, 4))
    ours = F.scaled_dot_product_attention(q, k, v)
    theirs = TF.scaled_dot_product_attention(tq, tk, tv)
    assert_close(ours, theirs, ATTENTION, "broadcast batch")
    backward_both(ours, theirs, rng)
    for name, a, b in (("q", q, tq), ("k", k, tk), ("v", v, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"broadcast d{name}")


def test_fused_gqa_and_broadcast_gradients(rng, fused_path):
    """K/V shared by several query heads (GQA) or broadcast over the batch: their gradients
    are the sums over every problem that read them."""
    for shapes, gqa in ((((2, 6, 70, 32), (2, 2, 150, 32), (2, 2, 150, 8)), True),
                        (((3, 2, 40, 16), (1, 2, 90, 16), (1, 2, 90, 16)), False)):
        pairs = [pair(rng, shape) for shape in shapes]
        ours = F.scaled_dot_product_attention(*(p[0] for p in pairs), enable_gqa=gqa, is_causal=True)
        theirs = TF.scaled_dot_product_attention(*(p[1] for p in pairs), enable_gqa=gqa, is_causal=True)
        assert_close(ours, theirs, ATTENTION, f"forward gqa={gqa}")
        backward_both(ours, theirs, rng)
        for name, (a, b) in zip("qkv", pairs):
            assert_close(a.grad, b.grad, ATTENTION_GRAD, f"d{name} gqa={gqa}")


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float"])
@pytest.mark.parametrize("heads", [None, [2], [0, 3]])
def test_weights_of_chosen_heads_from_the_lse(mask_kind, heads, rng):
    """Inference with return_weights stays on the fused kernel: weights of the chosen heads
    are recomputed from its log-sum-exp; they equal torch's softmax, and the output is
    unchanged by asking for them."""
    B, H, L, S, E = 2, 4, 70, 150, 32
    q, k, v = normal(rng, (B, H, L, E)), normal(rng, (B, 2, S, E)), normal(rng, (B, 2, S, 16))
    tq, tk = torch.from_numpy(q), torch.from_numpy(k).repeat_interleave(2, 1)
    scores = tq @ tk.transpose(-2, -1) / math.sqrt(E)
    kwargs = {"enable_gqa": True}
    if mask_kind == "causal":
        kwargs["is_causal"] = True
        scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    elif mask_kind == "bool":
        mask = rng.random((L, S)) < 0.6
        mask[:, 0] = True
        kwargs["attn_mask"] = attnkit.from_numpy(mask)
        scores = scores.masked_fill(~torch.from_numpy(mask), float("-inf"))
    elif mask_kind == "float":
        mask = normal(rng, (H, L, S))
        kwargs["attn_mask"] = to_attnkit(mask)
        scores = scores + torch.from_numpy(mask)
    with attnkit.no_grad():
        plain = F.scaled_dot_product_attention(to_attnkit(q), to_attnkit(k), to_attnkit(v), **kwargs)
        out, weights = F.scaled_dot_product_attention(to_attnkit(q), to_attnkit(k), to_attnkit(v),
                                                      return_weights=True, weights_heads=heads, **kwargs)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(plain))
    expected = torch.softmax(scores, -1)
    if heads is not None:
        expected = expected[:, heads]
    assert tuple(weights.shape) == tuple(expected.shape)
    assert_close(weights, expected, ATTENTION, f"weights ({mask_kind}, heads={heads})")


def test_weights_with_gradients_take_the_composed_path(rng):
    """Weights asked for while training carry gradients (through the composed path)."""
    q, tq = pair(rng, (2, 3, 6, 8))
    k, tk = pair(rng, (2, 3, 9, 8))
    v, tv = pair(rng, (2, 3, 9, 4))
    out, weights = F.scaled_dot_product_attention(q, k, v, return_weights=True, weights_heads=[1])
    expected = torch.softmax(tq @ tk.transpose(-2, -1) / math.sqrt(8), -1)
    theirs = expected @ tv
    assert_close(weights, expected[:, [1]], ATTENTION, "weights")
    upstream = normal(rng, (2, 1, 6, 9))
    ((out * to_attnkit(normal(np.random.default_rng(1), (2, 3, 6, 4)))).sum() +
     (weights * to_attnkit(upstream)).sum()).backward()
    ((theirs * torch.from_numpy(normal(np.random.default_rng(1), (2, 3, 6, 4)))).sum() +
     (expected[:, [1]] * torch.from_numpy(upstream)).sum()).backward()
    for name, a, b in (("q", q, tq), ("k", k, tk), ("v", v, tv)):
        assert_close(a.grad, b.grad, ATTENTION_GRAD, f"d{name} through output and weights")


def test_weights_heads_errors(rng):
    q = attnkit.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="weights_heads entry 2 is out of range for 2 heads"):
        F.scaled_dot_product_attention(q, q, q, return_weights=True, weights_heads=[2])
    with pytest.raises(ValueError, match="weights_heads needs return_weights"):
        F.scaled_dot_product_attention(q, q, q, weights_heads=[0])


def test_fused_inference_gqa_and_dead_rows(rng, fused_path):
    q, k, v = normal(rng, (2, 6, 70, 32)), normal(rng, (2, 2, 150, 32)), normal(rng, (2, 2, 150, 8))
    with attnkit.no_grad():
        out = F.scaled_dot_product_attention(to_attnkit(q), to_attnkit(k), to_attnkit(v), enable_gqa=True)
    theirs = TF.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), enable_gqa=True)
    assert_close(out, theirs, ATTENTION, "fused gqa")
    mask = np.ones((70, 150), dtype=bool)
    mask[5] = False
    with attnkit.no_grad():
        out, lse = F.scaled_dot_product_attention(to_attnkit(q), to_attnkit(k), to_attnkit(v),
                                                  attn_mask=attnkit.from_numpy(mask), enable_gqa=True,
                                                  return_lse=True)
    o, l = to_numpy(out), to_numpy(lse)
    assert (o[:, :, 5] == 0).all() and np.isneginf(l[:, :, 5]).all()
    assert np.isfinite(o).all()
