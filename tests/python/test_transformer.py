"""attnkit.nn's Transformer layers against torch.nn: with identical weights
(torch's state_dict loaded unchanged), the output and every parameter's
gradient of TransformerEncoderLayer, TransformerDecoderLayer, the stacks and
the whole Transformer equal PyTorch's, post-norm and pre-norm, relu and gelu,
with causal, padding and float masks; plus the simple layers (Embedding,
LayerNorm, Dropout, positional encodings)."""

import math

import numpy as np
import pytest
import torch

import attnkit
import attnkit.nn as nn
from conftest import Tol, assert_close, normal, to_attnkit, to_numpy

# fp32 through several layers of attention, layer norm and feed-forward.
LAYERS = Tol(1e-4, 1e-5)
LAYERS_GRAD = Tol(1e-4, 2e-5)


def load_from_torch(ours, theirs):
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert list(ours.state_dict()) == list(theirs.state_dict())


def compare_gradients(ours, theirs, tol=LAYERS_GRAD):
    t_params = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(t_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad, t_params[name].grad, tol, f"d{name}")


def backward_both(ours_out, theirs_out, rng):
    upstream = normal(rng, tuple(theirs_out.shape))
    (ours_out * to_attnkit(upstream)).sum().backward()
    (theirs_out * torch.from_numpy(upstream)).sum().backward()


def pair(rng, shape):
    array = normal(rng, shape)
    return to_attnkit(array, requires_grad=True), torch.from_numpy(array.copy()).requires_grad_(True)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first, rng):
    options = dict(d_model=16, nhead=4, dim_feedforward=24, dropout=0.0, activation=activation,
                   batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(**options)
    ours = nn.TransformerEncoderLayer(**options)
    load_from_torch(ours, theirs)
    N, L = 3, 7
    x, tx = pair(rng, (N, L, 16) if batch_first else (L, N, 16))
    pad = np.zeros((N, L), dtype=bool)
    pad[1, 5:] = True
    causal = np.triu(np.ones((L, L), dtype=bool), 1)
    out = ours(x, src_mask=attnkit.from_numpy(causal), src_key_padding_mask=attnkit.from_numpy(pad))
    t_out = theirs(tx, src_mask=torch.from_numpy(causal), src_key_padding_mask=torch.from_numpy(pad))
    assert_close(out, t_out, LAYERS, "encoder layer")
    backward_both(out, t_out, rng)
    compare_gradients(ours, theirs)
    assert_close(x.grad, tx.grad, LAYERS_GRAD, "dsrc")


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, rng):
    options = dict(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, norm_first=norm_first)
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(**options)
    ours = nn.TransformerDecoderLayer(**options)
    load_from_torch(ours, theirs)
    T, S, N = 5, 9, 2
    tgt, t_tgt = pair(rng, (T, N, 16))
    memory, t_memory = pair(rng, (S, N, 16))
    memory_pad = np.zeros((N, S), dtype=bool)
    memory_pad[0, 6:] = True
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T)
    out = ours(tgt, memory, tgt_mask=tgt_mask, memory_key_padding_mask=attnkit.from_numpy(memory_pad),
               tgt_is_causal=True)
    t_out = theirs(t_tgt, t_memory, tgt_mask=torch.from_numpy(to_numpy(tgt_mask)),
                   memory_key_padding_mask=torch.from_numpy(memory_pad), tgt_is_causal=True)
    assert_close(out, t_out, LAYERS, "decoder layer")
    backward_both(out, t_out, rng)
    compare_gradients(ours, theirs)
    assert_close(memory.grad, t_memory.grad, LAYERS_GRAD, "dmemory")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(norm_first, batch_first, rng):
    options = dict(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=48,
                   dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(2)
    theirs = torch.nn.Transformer(**options)
    ours = nn.Transformer(**options)
    load_from_torch(ours, theirs)
    N, S, T = 2, 11, 6
    src, t_src = pair(rng, (N, S, 32) if batch_first else (S, N, 32))
    tgt, t_tgt = pair(rng, (N, T, 32) if batch_first else (T, N, 32))
    src_pad = np.zeros((N, S), dtype=bool)
    src_pad[1, 8:] = True
    tgt_pad = np.zeros((N, T), dtype=bool)
    tgt_pad[0, 5:] = True
    float_src_mask = normal(rng, (S, S)) * 0.5
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T)
    kwargs = dict(tgt_is_causal=True)
    out = ours(src, tgt, src_mask=to_attnkit(float_src_mask), tgt_mask=tgt_mask,
               src_key_padding_mask=attnkit.from_numpy(src_pad),
               tgt_key_padding_mask=attnkit.from_numpy(tgt_pad),
               memory_key_padding_mask=attnkit.from_numpy(src_pad), **kwargs)
    t_out = theirs(t_src, t_tgt, src_mask=torch.from_numpy(float_src_mask),
                   tgt_mask=torch.from_numpy(to_numpy(tgt_mask)),
                   src_key_padding_mask=torch.from_numpy(np.where(src_pad, -np.inf, 0).astype(np.float32)),
                   tgt_key_padding_mask=torch.from_numpy(tgt_pad),
                   memory_key_padding_mask=torch.from_numpy(src_pad), **kwargs)
    assert_close(out, t_out, LAYERS, "transformer")
    backward_both(out, t_out, rng)
    compare_gradients(ours, theirs)
    assert_close(src.grad, t_src.grad, LAYERS_GRAD, "dsrc")
    assert_close(tgt.grad, t_tgt.grad, LAYERS_GRAD, "dtgt")


def test_transformer_defaults_and_state_dict_keys_match_torch():
    ours, theirs = nn.Transformer(), torch.nn.Transformer()
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(reference)
    for name, value in reference.items():
        assert tuple(mine[name].shape) == tuple(value.shape), name
    # Xavier-uniform matrices, as torch's _reset_parameters.
    w = to_numpy(mine["encoder.layers.0.linear1.weight"])
    bound = math.sqrt(6 / (512 + 2048))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_stacks_copy_their_template_layer_as_torch_does(rng):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    stack = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(8))
    assert len(stack.layers) == 3
    first = to_numpy(stack.state_dict()["layers.0.linear1.weight"])
    np.testing.assert_array_equal(first, to_numpy(layer.linear1.weight))
    np.testing.assert_array_equal(to_numpy(stack.state_dict()["layers.2.linear1.weight"]), first)
    torch_stack = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0), 3,
                                              norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    load_from_torch(stack, torch_stack)
    x, tx = pair(rng, (4, 2, 8))
    assert_close(stack(x, is_causal=False), torch_stack(tx), LAYERS, "encoder stack")


def test_decoder_keeps_cross_attention_for_inspection(rng):
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    layer.keep_attention = True
    with attnkit.no_grad():
        layer(to_attnkit(normal(rng, (2, 3, 8))), to_attnkit(normal(rng, (2, 5, 8))))
    weights = to_numpy(layer.cross_attention)
    assert weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


# ------------------------------------------------------------ simple layers

def test_embedding_layer_norm_dropout_match_torch(rng):
    torch.manual_seed(3)
    t_emb, emb = torch.nn.Embedding(10, 4, padding_idx=0), nn.Embedding(10, 4, padding_idx=0)
    load_from_torch(emb, t_emb)
    idx = np.array([[0, 3, 9], [1, 0, 2]])
    out = emb(attnkit.from_numpy(idx))
    t_out = t_emb(torch.from_numpy(idx))
    assert_close(out, t_out, Tol(0, 0), "embedding")
    backward_both(out, t_out, rng)
    compare_gradients(emb, t_emb, Tol(1e-6, 1e-6))
    assert (to_numpy(emb.weight.grad)[0] == 0).all()

    t_norm, norm = torch.nn.LayerNorm([3, 4], eps=1e-3), nn.LayerNorm([3, 4], eps=1e-3)
    x, tx = pair(rng, (2, 3, 4))
    load_from_torch(norm, t_norm)
    assert_close(norm(x), t_norm(tx), Tol(1e-5, 1e-6), "layer norm")

    drop = nn.Dropout(0.25)
    y = to_numpy(drop(attnkit.ones(4000)))
    assert abs((y == 0).mean() - 0.25) < 0.03 and np.allclose(y[y != 0], 1 / 0.75)
    drop.eval()
    assert (to_numpy(drop(attnkit.ones(10))) == 1).all()


def test_positional_encodings(rng):
    pe = nn.SinusoidalPositionalEncoding(6, max_len=20, batch_first=True)
    table = to_numpy(pe.pe)
    pos, i = 7, 2
    assert table[pos, i] == pytest.approx(math.sin(pos / 10000 ** (i / 6)), abs=1e-6)
    assert table[pos, i + 1] == pytest.approx(math.cos(pos / 10000 ** (i / 6)), abs=1e-6)
    x = normal(rng, (2, 5, 6))
    np.testing.assert_allclose(to_numpy(pe(to_attnkit(x), offset=3)), x + table[3:8], rtol=1e-6)
    assert "pe" in pe.state_dict()
    learned = nn.LearnedPositionalEncoding(6, max_len=8)
    y = learned(to_attnkit(normal(rng, (5, 2, 6))))
    y.sum().backward()
    grad = to_numpy(learned.weight.grad)
    assert (grad[:5] == 2).all() and (grad[5:] == 0).all()
    with pytest.raises(ValueError, match="positions 6..11 exceed max_len 8"):
        learned(to_attnkit(normal(rng, (5, 2, 6))), offset=6)
