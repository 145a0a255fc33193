"""attnkit.nn's attention modules against PyTorch: MultiheadAttention loads a
torch.nn.MultiheadAttention's state_dict unchanged and then gives the same
output, weights and gradients (inputs and every parameter) over batch_first,
bias, add_bias_kv, add_zero_attn, kdim/vdim, every mask kind, self- and
cross-attention and unbatched inputs; the score-attention modules equal a
plain torch composition of their formulas; and the Module system
(registration from Python, state dicts, train/eval, errors)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import attnkit
import attnkit.nn as nn
from conftest import Tol, assert_close, normal, to_attnkit, to_numpy

# fp32 through projections, attention and the output projection.
MHA = Tol(1e-5, 1e-5)
MHA_GRAD = Tol(1e-4, 1e-5)


def twin_mha(seed, **options):
    """A torch MultiheadAttention and an attnkit one holding its weights."""
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(**options)
    ours = nn.MultiheadAttention(**options)
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    return ours, theirs


def leaf_pair(array):
    return to_attnkit(array, requires_grad=True), torch.from_numpy(array.copy()).requires_grad_(True)


@settings(max_examples=40, deadline=None)
@given(batch_first=st.booleans(), bias=st.booleans(), add_bias_kv=st.booleans(), add_zero_attn=st.booleans(),
       cross_dims=st.sampled_from([None, (5, 7)]), heads=st.sampled_from([1, 2, 4]),
       lengths=st.sampled_from([(1, 1), (3, 5), (7, 7), (13, 2)]), batch=st.sampled_from([None, 1, 3]),
       attn_mask=st.sampled_from(["none", "bool2d", "float2d", "float3d", "causal"]),
       padding=st.sampled_from(["none", "bool", "float"]), need_weights=st.booleans(), average=st.booleans(),
       self_attention=st.booleans(), seed=st.integers(0, 2**16))
def test_multihead_attention_matches_torch(batch_first, bias, add_bias_kv, add_zero_attn, cross_dims, heads,
                                           lengths, batch, attn_mask, padding, need_weights, average,
                                           self_attention, seed):
    rng = np.random.default_rng(seed)
    E = 8
    kdim, vdim = cross_dims if cross_dims else (E, E)
    L, S = lengths
    if self_attention:
        S, kdim, vdim = L, E, E
    options = dict(embed_dim=E, num_heads=heads, bias=bias, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                   kdim=kdim, vdim=vdim, batch_first=batch_first)
    ours, theirs = twin_mha(seed, **options)

    def seq(length, features):
        if batch is None:
            return (length, features)
        return (batch, length, features) if batch_first else (length, batch, features)

    q_np = normal(rng, seq(L, E))
    q, tq = leaf_pair(q_np)
    if self_attention:
        k, tk, v, tv = q, tq, q, tq
    else:
        k, tk = leaf_pair(normal(rng, seq(S, kdim)))
        v, tv = leaf_pair(normal(rng, seq(S, vdim)))
    n = 1 if batch is None else batch
    kwargs_ours, kwargs_torch = {"need_weights": need_weights, "average_attn_weights": average}, {}
    if attn_mask == "bool2d":
        mask = rng.random((L, S)) < 0.3
        mask[:, 0] = False  # True = may not attend; key 0 stays visible: torch gives NaN otherwise
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = attnkit.from_numpy(mask), torch.from_numpy(mask)
    elif attn_mask == "float2d":
        mask = normal(rng, (L, S))
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = to_attnkit(mask), torch.from_numpy(mask)
    elif attn_mask == "float3d":
        mask = normal(rng, (n * heads if batch is not None else heads, L, S))
        kwargs_ours["attn_mask"], kwargs_torch["attn_mask"] = to_attnkit(mask), torch.from_numpy(mask)
    elif attn_mask == "causal":
        mask = np.triu(np.ones((L, S), dtype=bool), 1)
        kwargs_ours["is_causal"] = True
        kwargs_torch["attn_mask"] = torch.from_numpy(mask)  # torch needs the mask with the hint
        # With extra keys (bias_kv, zero attn) torch follows its mask when it needs weights but,
        # without, drops it for SDPA's top-left causal cut over the extended keys: two answers.
        # attnkit always follows the mask; torch is given the hint only where both agree.
        if not (add_bias_kv or add_zero_attn):
            kwargs_torch["is_causal"] = True
        if rng.random() < 0.5:
            kwargs_ours["attn_mask"] = attnkit.from_numpy(mask)
    if padding != "none":
        pad = rng.random((n, S)) < 0.3
        pad[:, 0] = False
        if padding == "float":
            pad = np.where(pad, -1e4, 0.0).astype(np.float32)
        if attn_mask in ("float2d", "float3d") and padding == "bool":
            pad = np.where(pad, -np.inf, 0.0).astype(np.float32)  # torch wants matching mask types
        if attn_mask in ("bool2d", "causal") and padding == "float":
            pad = pad != 0
        if batch is None:
            pad = pad[0]
        kwargs_ours["key_padding_mask"] = attnkit.from_numpy(pad)
        kwargs_torch["key_padding_mask"] = torch.from_numpy(pad)
    out, weights = ours(q, k, v, **kwargs_ours)
    t_out, t_weights = theirs(tq, tk, tv, need_weights=need_weights, average_attn_weights=average, **kwargs_torch)
    assert_close(out, t_out, MHA, "output")
    if need_weights:
        assert_close(weights, t_weights, MHA, "weights")
    else:
        assert weights is None
    upstream = normal(rng, tuple(t_out.shape))
    loss = (out * to_attnkit(upstream)).sum()
    t_loss = (t_out * torch.from_numpy(upstream)).sum()
    if need_weights:
        w_up = normal(rng, tuple(t_weights.shape))
        loss = loss + (weights * to_attnkit(w_up)).sum()
        t_loss = t_loss + (t_weights * torch.from_numpy(w_up)).sum()
    loss.backward()
    t_loss.backward()
    inputs = [("query", q, tq)] + ([] if self_attention else [("key", k, tk), ("value", v, tv)])
    for name, a, b in inputs:
        assert_close(a.grad, b.grad, MHA_GRAD, f"d{name}")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, t_params[name].grad, MHA_GRAD, f"d{name}")


@pytest.mark.parametrize("kdim", [None, 6])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("add_bias_kv", [True, False])
def test_state_dict_keys_shapes_and_order_match_torch(kdim, bias, add_bias_kv):
    options = dict(embed_dim=12, num_heads=3, bias=bias, add_bias_kv=add_bias_kv, kdim=kdim, vdim=kdim)
    ours, theirs = nn.MultiheadAttention(**options), torch.nn.MultiheadAttention(**options)
    mine = ours.state_dict()
    assert list(mine) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert tuple(mine[name].shape) == tuple(value.shape), name
    # And back: attnkit weights into torch.
    theirs.load_state_dict({name: torch.from_numpy(to_numpy(t).copy()) for name, t in mine.items()})


def test_initialisation_follows_torch():
    """xavier_uniform in_proj, zero biases, out_proj U(-1/√E, 1/√E): same bounds and spread."""
    E = 64
    ours = nn.MultiheadAttention(E, 4)
    w = to_numpy(ours.in_proj_weight)
    bound = math.sqrt(6.0 / (E + 3 * E))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert (to_numpy(ours.in_proj_bias) == 0).all() and (to_numpy(ours.out_proj.bias) == 0).all()
    o = to_numpy(ours.out_proj.weight)
    assert np.abs(o).max() <= 1 / math.sqrt(E)


def test_fully_masked_query_gives_zeros_not_nan(rng):
    ours = nn.MultiheadAttention(8, 2, batch_first=True)
    x = to_attnkit(normal(rng, (2, 4, 8)))
    mask = np.zeros((4, 4), dtype=bool)
    mask[1] = True  # query 1 may attend nothing
    out, weights = ours(x, x, x, attn_mask=attnkit.from_numpy(mask))
    o = to_numpy(out)
    assert np.isfinite(o).all()
    np.testing.assert_allclose(o[:, 1], np.broadcast_to(to_numpy(ours.out_proj.bias), (2, 8)))
    assert (to_numpy(weights)[:, 1] == 0).all()


def test_dropout_acts_in_training_only_and_repeats_with_a_seed(rng):
    ours = nn.MultiheadAttention(16, 4, dropout=0.5, batch_first=True)
    x = to_attnkit(normal(rng, (2, 30, 16)))
    attnkit.manual_seed(5)
    a, _ = ours(x, x, x, need_weights=False)
    attnkit.manual_seed(5)
    b, _ = ours(x, x, x, need_weights=False)
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    ours.eval()
    c, _ = ours(x, x, x, need_weights=False)
    d, _ = ours(x, x, x, need_weights=False)
    np.testing.assert_array_equal(to_numpy(c), to_numpy(d))
    assert np.abs(to_numpy(a) - to_numpy(c)).max() > 1e-3


def test_multihead_attention_errors_name_the_problem(rng):
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = attnkit.randn(4, 2, 8)
    with pytest.raises(ValueError, match=r"MultiheadAttention: query has 6 features, expected embed_dim 8"):
        mha(attnkit.randn(4, 2, 6), x, x)
    with pytest.raises(ValueError, match=r"the 2-D attn_mask must be \(L, S\) = \(4, 4\), got \(3, 4\)"):
        mha(x, x, x, attn_mask=attnkit.zeros(3, 4, dtype=attnkit.bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(2, 4\), got \(4, 2\)"):
        mha(x, x, x, key_padding_mask=attnkit.zeros(4, 2, dtype=attnkit.bool))
    with pytest.raises(ValueError, match="batch sizes differ"):
        mha(x, attnkit.randn(4, 3, 8), attnkit.randn(4, 3, 8))


def test_load_state_dict_reports_missing_unexpected_and_mis_shaped_keys():
    mha = nn.MultiheadAttention(8, 2)
    state = {name: to_numpy(t) for name, t in mha.state_dict().items()}
    broken = dict(state)
    broken["in_proj_weight"] = np.zeros((24, 7), np.float32)
    with pytest.raises(ValueError, match=r'size mismatch for "in_proj_weight": checkpoint \(24, 7\), model \(24, 8\)'):
        mha.load_state_dict(broken)
    partial = {k: v for k, v in state.items() if k != "out_proj.bias"}
    partial["extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r'Missing keys: "out_proj.bias"\. Unexpected keys: "extra.weight"'):
        mha.load_state_dict(partial)
    result = mha.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["out_proj.bias"] and result.unexpected_keys == ["extra.weight"]


# ------------------------------------------------------------ score modules

@pytest.mark.parametrize("kind", ["additive", "bilinear"])
@pytest.mark.parametrize("plain", [True, False])
def test_score_attention_modules_match_torch_compositions(kind, plain, rng):
    Dq, Dk, Dv, H = 5, 6, 3, 7
    module = nn.AdditiveAttention(Dq, Dk, H) if kind == "additive" else nn.BilinearAttention(Dq, Dk)
    params = {name: torch.from_numpy(to_numpy(t).copy()).requires_grad_(True)
              for name, t in module.named_parameters()}
    q, tq = leaf_pair(normal(rng, (2, 4, Dq)))
    k, tk = leaf_pair(normal(rng, (2, 9, Dk)))
    v, tv = (None, tk) if plain else leaf_pair(normal(rng, (2, 9, Dv)))
    mask = rng.random((2, 4, 9)) < 0.8
    mask[..., 0] = True
    out, weights = module(q, k, v, mask=attnkit.from_numpy(mask))
    if kind == "additive":  # vᵀ tanh(W x + U q)
        hidden = torch.tanh((tk @ params["w_key"].T).unsqueeze(1) + (tq @ params["w_query"].T).unsqueeze(2))
        scores = hidden @ params["v"]
    else:  # xᵀ W q
        scores = tq @ params["weight"].T @ tk.transpose(-2, -1)
    alpha = torch.softmax(scores.masked_fill(~torch.from_numpy(mask), float("-inf")), -1)
    expected = alpha @ tv
    assert_close(weights, alpha, MHA, f"{kind} weights")
    assert_close(out, expected, MHA, f"{kind} output")
    upstream = normal(rng, tuple(expected.shape))
    (out * to_attnkit(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for name, p in module.named_parameters():
        assert_close(p.grad, params[name].grad, MHA_GRAD, f"{kind} d{name}")
    assert_close(q.grad, tq.grad, MHA_GRAD, f"{kind} dquery")


def test_hard_attention_module_samples_in_training_and_argmaxes_in_eval(rng):
    module = nn.HardAttention("bilinear", query_dim=4, key_dim=4)
    q, k = to_attnkit(normal(rng, (3, 5, 4))), to_attnkit(normal(rng, (3, 8, 4)))
    module.eval()
    out, index, log_prob, weights = module(q, k)
    np.testing.assert_array_equal(to_numpy(index), to_numpy(weights).argmax(-1))
    np.testing.assert_allclose(to_numpy(out), np.take_along_axis(to_numpy(k), to_numpy(index)[..., None], 1))
    module.train()
    draws = np.stack([to_numpy(module(q, k, generator=attnkit.Generator(s))[1]) for s in range(200)])
    # Sampling follows α: each query's empirical frequencies approach its weights.
    w = to_numpy(weights)
    freq = np.stack([(draws == j).mean(0) for j in range(8)], -1)
    assert np.abs(freq - w).max() < 0.12
    # REINFORCE: log_prob carries a gradient to the score's parameters.
    _, _, log_prob, _ = module(q, k)
    log_prob.sum().backward()
    assert np.abs(to_numpy(module.score_fn.weight.grad)).sum() > 0


# ------------------------------------------------------------ Module system

class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.proj = nn.Linear(8, 3)
        self.gain = nn.Parameter(attnkit.ones(3))
        self.label = "not a parameter"

    def forward(self, x):
        return self.proj(self.attn(x, x, x, need_weights=False)[0]) * self.gain


def test_python_modules_register_children_and_parameters(rng):
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["gain", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
                     "attn.out_proj.bias", "proj.weight", "proj.bias"]
    assert len(model.parameters()) == 7 and model.label == "not a parameter"
    assert model.training and model.eval() is model and not model.attn.training and not model.proj.training
    model.train()
    assert model.attn.training
    x = to_attnkit(normal(rng, (2, 5, 8)))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    # A state dict round trip into a fresh model reproduces the output.
    other = TwoLayer()
    other.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(to_numpy(other(x)), to_numpy(model(x)))
    # Reassigning a parameter replaces it in the registry.
    model.gain = nn.Parameter(attnkit.full((3,), 2.0))
    assert to_numpy(model.state_dict()["gain"]).tolist() == [2.0, 2.0, 2.0]
    assert "TwoLayer(" in repr(model) and "(attn): MultiheadAttention(" in repr(model)


def test_linear_matches_torch(rng):
    ours = nn.Linear(5, 3)
    theirs = torch.nn.Linear(5, 3)
    ours.load_state_dict(theirs.state_dict())
    x, tx = leaf_pair(normal(rng, (2, 4, 5)))
    out, t_out = ours(x), theirs(tx)
    assert_close(out, t_out, MHA, "linear")
    out.sum().backward()
    t_out.sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, MHA_GRAD, "dweight")
    assert_close(x.grad, tx.grad, MHA_GRAD, "dx")


# ------------------------------------------------------------ KV cache

@pytest.mark.parametrize("chunks", [[1] * 23, [5, 1, 1, 9, 7], [23]])
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_kv_cache_decoding_equals_full_recomputation(chunks, kv_heads, rng):
    """Appending steps (one at a time or several) and attending each new chunk of queries to the
    cache gives torch's causal attention over the whole sequence; the storage never moves."""
    B, H, N, E = 2, 4, sum(chunks), 16
    q, k, v = normal(rng, (B, H, N, E)), normal(rng, (B, kv_heads, N, E)), normal(rng, (B, kv_heads, N, 8))
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), is_causal=True, enable_gqa=True)
    cache = nn.KVCache(B, kv_heads, capacity=32, head_dim=E, value_dim=8)
    storage = cache.keys().data_ptr()
    outputs, start = [], 0
    for size in chunks:
        sl = slice(start, start + size)
        cache.append(to_attnkit(k[:, :, sl]), to_attnkit(v[:, :, sl]))
        outputs.append(to_numpy(cache.attend(to_attnkit(q[:, :, sl]))))
        start += size
        assert cache.keys().data_ptr() == storage
    assert cache.length == N
    assert_close(np.concatenate(outputs, axis=2), expected, Tol(1e-5, 2e-6), "incremental decoding")


def test_kv_cache_bounds_and_shapes_are_checked(rng):
    cache = nn.KVCache(1, 2, capacity=4, head_dim=8)
    step = to_attnkit(normal(rng, (1, 2, 3, 8)))
    cache.append(step, step)
    with pytest.raises(ValueError, match=r"KVCache.append: 3 more steps exceed the capacity: 3 cached of 4"):
        cache.append(step, step)
    with pytest.raises(ValueError, match=r"KVCache.append: key must be \(1, 2, T, 8\), got \(1, 3, 1, 8\)"):
        cache.append(to_attnkit(normal(rng, (1, 3, 1, 8))), step)
    with pytest.raises(ValueError, match="4 queries need at least as many cached steps, 3 cached"):
        cache.attend(to_attnkit(normal(rng, (1, 2, 4, 8))))
    cache.truncate(1)
    assert cache.length == 1 and tuple(cache.keys().shape) == (1, 2, 1, 8)
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("path", ["fused", "reference"])
def test_causal_lower_right_matches_torch_bias(path, rng, monkeypatch):
    from torch.nn.attention.bias import causal_lower_right
    monkeypatch.setenv("ATTNKIT_SDPA", path)
    q, k, v = normal(rng, (1, 2, 5, 8)), normal(rng, (1, 2, 9, 8)), normal(rng, (1, 2, 9, 8))
    ours = attnkit.functional.scaled_dot_product_attention(to_attnkit(q), to_attnkit(k), to_attnkit(v),
                                                           is_causal=True, causal_lower_right=True)
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    theirs = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=causal_lower_right(5, 9))
    assert_close(ours, theirs, Tol(1e-5, 2e-6), "lower-right causal")
