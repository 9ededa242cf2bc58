"""Transformer layers and CaptioningTransformer: gradients against numerical ones in
float64, the defining properties of attention (weights that sum to one, masks that hide),
and against ``torch.nn`` where PyTorch is installed (it is optional)."""

import numpy as np
import pytest

from cs231n.classifiers.transformer import CaptioningTransformer
from cs231n.gradient_check import eval_numerical_gradient
from cs231n.transformer_layers import (
    DECODER_LAYER_PARAMS,
    attention_backward,
    attention_forward,
    causal_mask,
    decoder_layer_backward,
    decoder_layer_forward,
    feedforward_backward,
    feedforward_forward,
    multihead_attention_backward,
    multihead_attention_forward,
    positional_encoding,
    positional_encoding_backward,
    positional_encoding_forward,
    temporal_layernorm_backward,
    temporal_layernorm_forward,
)
from tests.conftest import assert_grads_match

ATTN = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i + 3 for i in range(7)}}


def _attention_params(rng, E):
    return {n: rng.standard_normal((E, E) if n[0] == "W" else E) / np.sqrt(E) for n in ATTN}


def _layer_params(rng, E, F):
    shapes = {"ffn_W1": (E, F), "ffn_b1": (F,), "ffn_W2": (F, E), "ffn_b2": (E,)}
    params = {}
    for name in DECODER_LAYER_PARAMS:
        shape = shapes.get(name, (E, E) if name.split("_")[-1][0] == "W" else (E,))
        params[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    return params


@pytest.mark.parametrize("dropout", [None, {"mode": "train", "p": 0.7, "seed": 3}])
def test_attention_gradients(dropout):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, n, 4)) for n in (5, 6, 6))
    mask = rng.random((5, 6)) < 0.6
    mask[:, 2] = True

    def forward(q, k, v):
        return attention_forward(q, k, v, mask, dropout)[0]

    dout = rng.standard_normal((2, 3, 5, 4))
    cache = attention_forward(q, k, v, mask, dropout)[1]
    assert_grads_match(
        forward,
        [q, k, v],
        lambda d: attention_backward(d, cache),
        dout,
        ["q", "k", "v"],
        tol=1e-8,
        relative_to="largest",  # entries of masked rows nearly cancel
    )


def test_attention_weights_are_a_distribution_and_masks_hide():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 2, 4, 3)) for _ in range(3))
    mask = causal_mask(4)
    out, cache = attention_forward(q, k, v, mask)
    weights = cache[3]
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert (weights[..., ~mask] == 0).all()
    # What a query may not see cannot change its output: change the last key and value.
    k2, v2 = k.copy(), v.copy()
    k2[:, :, -1] += 10
    v2[:, :, -1] -= 10
    out2, _ = attention_forward(q, k2, v2, mask)
    np.testing.assert_array_equal(out2[:, :, :-1], out[:, :, :-1])
    assert not np.allclose(out2[:, :, -1], out[:, :, -1])
    # One key: every query copies its value.
    out1, _ = attention_forward(q, k[:, :, :1], v[:, :, :1])
    np.testing.assert_allclose(out1, np.broadcast_to(v[:, :, :1], out1.shape), atol=1e-12)


def test_attention_refuses_a_query_that_sees_nothing():
    x = np.zeros((1, 1, 2, 2))
    with pytest.raises(ValueError, match="sees no key"):
        attention_forward(x, x, x, np.array([[True, False], [False, False]]))


def test_multihead_attention_gradients():
    rng = np.random.default_rng(2)
    E = 6
    params = _attention_params(rng, E)
    query = rng.standard_normal((2, 3, E))
    memory = rng.standard_normal((2, 4, E))
    mask = rng.random((3, 4)) < 0.7
    mask[:, 0] = True
    out, cache = multihead_attention_forward(query, memory, memory, params, 3, mask)
    dout = rng.standard_normal(out.shape)
    dquery, dkey, dvalue, grads = multihead_attention_backward(dout, cache)
    inputs = [query, memory, *(params[n] for n in ATTN)]

    def forward(*_):
        return multihead_attention_forward(query, memory, memory, params, 3, mask)[0]

    # The key bias gets no gradient at all (it adds the same number to every score of
    # a row, which the softmax ignores): checked on its own below.
    analytic = (dquery, dkey + dvalue, *(grads[n] for n in ATTN))
    keep = [i for i, name in enumerate(["query", "memory", *ATTN]) if name != "bk"]
    assert_grads_match(
        forward,
        [inputs[i] for i in keep],
        lambda d: tuple(analytic[i] for i in keep),
        dout,
        [["query", "memory", *ATTN][i] for i in keep],
        tol=1e-8,
    )
    assert np.abs(grads["bk"]).max() < 1e-12


def test_multihead_is_attention_per_head():
    """With identity projections and one head, multi-head attention is attention."""
    rng = np.random.default_rng(3)
    E = 4
    params = {n: (np.eye(E) if n[0] == "W" else np.zeros(E)) for n in ATTN}
    x = rng.standard_normal((2, 3, E))
    out, _ = multihead_attention_forward(x, x, x, params, 1)
    expected, _ = attention_forward(x[:, None], x[:, None], x[:, None])
    np.testing.assert_allclose(out, expected[:, 0], atol=1e-12)


def test_positional_encoding_values_and_pass_through():
    P = positional_encoding(50, 8)
    assert P.shape == (50, 8)
    np.testing.assert_allclose(P[0], [0, 1] * 4, atol=0)  # sin(0), cos(0)
    np.testing.assert_allclose(P[:, 0], np.sin(np.arange(50)), atol=1e-12)
    np.testing.assert_allclose(P[:, 7], np.cos(np.arange(50) / 10000 ** (6 / 8)), atol=1e-12)
    assert len({tuple(row) for row in np.round(P, 8)}) == 50  # every position differs
    x = np.zeros((2, 5, 8))
    out, cache = positional_encoding_forward(x)
    np.testing.assert_array_equal(out[1], P[:5])
    dout = np.random.default_rng(0).standard_normal(out.shape)
    np.testing.assert_array_equal(positional_encoding_backward(dout, cache), dout)
    with pytest.raises(ValueError, match="even"):
        positional_encoding(4, 5)


def test_layernorm_and_feedforward_gradients():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal(x.shape)
    cache = temporal_layernorm_forward(x, gamma, beta)[1]
    assert_grads_match(
        lambda x, g, b: temporal_layernorm_forward(x, g, b)[0],
        [x, gamma, beta],
        lambda d: temporal_layernorm_backward(d, cache),
        dout,
        ["x", "gamma", "beta"],
        tol=1e-8,
        h=1e-4,
        relative_to="largest",
    )
    W1, b1, W2, b2 = (rng.standard_normal(s) for s in ((5, 7), (7,), (7, 5), (5,)))
    dropout = {"mode": "train", "p": 0.6, "seed": 1}
    cache = feedforward_forward(x, W1, b1, W2, b2, dropout)[1]
    assert_grads_match(
        lambda *a: feedforward_forward(*a, dropout)[0],
        [x, W1, b1, W2, b2],
        lambda d: feedforward_backward(d, cache),
        dout,
        ["x", "W1", "b1", "W2", "b2"],
        tol=1e-8,
    )


@pytest.mark.parametrize("dropout", [None, {"mode": "train", "p": 0.8, "seed": 5}])
def test_decoder_layer_gradients(dropout):
    rng = np.random.default_rng(5)
    E, F, T = 6, 5, 4
    params = _layer_params(rng, E, F)
    x = rng.standard_normal((2, T, E))
    memory = rng.standard_normal((2, 2, E))
    mask = causal_mask(T)
    out, cache = decoder_layer_forward(x, memory, params, 2, mask, dropout)
    dout = rng.standard_normal(out.shape)
    dx, dmemory, grads = decoder_layer_backward(dout, cache)
    names = [n for n in DECODER_LAYER_PARAMS if not n.endswith("_bk")]
    for name in ("self_bk", "cross_bk"):
        assert np.abs(grads[name]).max() < 1e-12
    assert_grads_match(
        lambda *_: decoder_layer_forward(x, memory, params, 2, mask, dropout)[0],
        [x, memory, *(params[n] for n in names)],
        lambda d: (dx, dmemory, *(grads[n] for n in names)),
        dout,
        ["x", "memory", *names],
        tol=1e-8,
        relative_to="largest",  # layer norm inside: see tests/test_layers_norm.py
    )


def _small_model(seed=0, **kwargs):
    kwargs = {"dtype": np.float64, **kwargs}
    return CaptioningTransformer(
        WORDS, input_dim=5, wordvec_dim=8, num_heads=2, num_layers=2, ffn_dim=6, seed=seed, **kwargs
    )


def _captions(rng, N=3, T=6):
    captions = rng.integers(3, len(WORDS), (N, T))
    captions[:, 0] = WORDS["<START>"]
    captions[0, 3] = WORDS["<END>"]
    captions[0, 4:] = WORDS["<NULL>"]
    return captions


@pytest.mark.parametrize("keep", [1.0, 0.9])
def test_model_gradients(keep):
    rng = np.random.default_rng(6)
    model = _small_model(dropout_keep_ratio=keep)
    features, captions = rng.standard_normal((3, 5)), _captions(rng)
    loss, grads = model.loss(features, captions)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(features, captions)[0], param, False)
        err = np.abs(numeric - grads[name]).max() / max(np.abs(numeric).max(), 1e-300)
        if name.endswith("_bk"):
            assert np.abs(grads[name]).max() < 1e-12
        else:
            assert err < 1e-8, f"{name}: relative error {err:.1e}"


def test_model_initial_loss_and_causality():
    rng = np.random.default_rng(7)
    model = _small_model()
    features, captions = rng.standard_normal((3, 5)), _captions(rng)
    loss, _ = model.loss(features, captions)
    words = (captions[:, 1:] != WORDS["<NULL>"]).sum() / 3
    assert abs(loss / words - np.log(len(WORDS))) < 1.0  # near chance at the start
    # A word never influences the scores of the positions before it.
    scores, _ = model._forward(features, captions[:, :-1], None)
    changed = captions[:, :-1].copy()
    changed[:, 3] = 4 if changed[1, 3] != 4 else 5
    scores2, _ = model._forward(features, changed, None)
    np.testing.assert_array_equal(scores2[:, :3], scores[:, :3])
    assert not np.allclose(scores2[:, 3:], scores[:, 3:])


def test_model_overfits_a_small_batch_and_samples_it():
    from cs231n.captioning_solver import CaptioningSolver

    rng = np.random.default_rng(8)
    N = 6
    captions = _captions(rng, N, 7)
    data = {
        "train_captions": captions,
        "train_image_idxs": np.arange(N),
        "train_features": rng.standard_normal((N, 5)),
        "val_captions": captions,
        "val_image_idxs": np.arange(N),
        "val_features": rng.standard_normal((N, 5)),
        "word_to_idx": WORDS,
        "idx_to_word": {i: w for w, i in WORDS.items()},
    }
    model = _small_model(dtype=np.float32)
    solver = CaptioningSolver(
        model,
        data,
        update_rule="adam",
        num_epochs=400,
        batch_size=N,
        optim_config={"learning_rate": 5e-3},
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.loss_history[-1] < 0.1, solver.loss_history[-1]
    sampled = model.sample(data["train_features"], max_length=6)
    assert sampled.shape == (N, 6) and sampled.dtype == np.int32
    np.testing.assert_array_equal(sampled[:, :2], captions[:, 1:3])


def test_model_refuses_bad_sizes():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        CaptioningTransformer(WORDS, wordvec_dim=6, num_heads=4)
    model = _small_model()
    with pytest.raises(ValueError, match="tokens"):
        model.loss(np.zeros((1, 5)), np.ones((1, 60), dtype=int))
    with pytest.raises(ValueError, match="dimension 5"):
        model.sample(np.zeros((1, 4)))


# -- against PyTorch (optional) -------------------------------------------------------------


def _torch():
    return pytest.importorskip(
        "torch", reason="PyTorch is optional; these checks run where it is installed"
    )


def _to_torch_attention(torch, mha, params, E):
    with torch.no_grad():
        mha.in_proj_weight.copy_(
            torch.from_numpy(np.concatenate([params["Wq"].T, params["Wk"].T, params["Wv"].T]))
        )
        mha.in_proj_bias.copy_(
            torch.from_numpy(np.concatenate([params["bq"], params["bk"], params["bv"]]))
        )
        mha.out_proj.weight.copy_(torch.from_numpy(params["Wo"].T))
        mha.out_proj.bias.copy_(torch.from_numpy(params["bo"]))


def test_against_torch_multihead_attention():
    torch = _torch()
    rng = np.random.default_rng(9)
    E, H = 8, 2
    params = _attention_params(rng, E)
    x, memory = rng.standard_normal((2, 4, E)), rng.standard_normal((2, 3, E))
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    _to_torch_attention(torch, mha, params, E)
    mask = causal_mask(4)
    ours, _ = multihead_attention_forward(x, x, x, params, H, mask)
    theirs, _ = mha(*(torch.from_numpy(x),) * 3, attn_mask=torch.from_numpy(~mask))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-6)
    ours, _ = multihead_attention_forward(x, memory, memory, params, H)
    theirs, _ = mha(torch.from_numpy(x), torch.from_numpy(memory), torch.from_numpy(memory))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-6)


def test_against_torch_decoder_layer_and_gradients():
    torch = _torch()
    rng = np.random.default_rng(10)
    E, F, H, T = 8, 12, 2, 5
    params = _layer_params(rng, E, F)
    layer = torch.nn.TransformerDecoderLayer(
        E, H, dim_feedforward=F, dropout=0.0, batch_first=True, dtype=torch.float64
    )
    _to_torch_attention(
        torch, layer.self_attn, {k[5:]: v for k, v in params.items() if k.startswith("self_")}, E
    )
    _to_torch_attention(
        torch,
        layer.multihead_attn,
        {k[6:]: v for k, v in params.items() if k.startswith("cross_")},
        E,
    )
    with torch.no_grad():
        layer.linear1.weight.copy_(torch.from_numpy(params["ffn_W1"].T))
        layer.linear1.bias.copy_(torch.from_numpy(params["ffn_b1"]))
        layer.linear2.weight.copy_(torch.from_numpy(params["ffn_W2"].T))
        layer.linear2.bias.copy_(torch.from_numpy(params["ffn_b2"]))
        for i in (1, 2, 3):
            getattr(layer, f"norm{i}").weight.copy_(torch.from_numpy(params[f"ln{i}_gamma"]))
            getattr(layer, f"norm{i}").bias.copy_(torch.from_numpy(params[f"ln{i}_beta"]))
    x, memory = rng.standard_normal((2, T, E)), rng.standard_normal((2, 1, E))
    mask = causal_mask(T)
    ours, cache = decoder_layer_forward(x, memory, params, H, mask)
    tx = torch.from_numpy(x).requires_grad_()
    tm = torch.from_numpy(memory).requires_grad_()
    theirs = layer(tx, tm, tgt_mask=torch.from_numpy(~mask))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-6)
    dout = rng.standard_normal(ours.shape)
    theirs.backward(torch.from_numpy(dout))
    dx, dmemory, grads = decoder_layer_backward(dout, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(dmemory, tm.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(grads["ffn_W1"], layer.linear1.weight.grad.numpy().T, atol=1e-6)


def test_against_torch_positional_encoding():
    torch = _torch()
    E, T = 8, 20
    position = torch.arange(T, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, E, 2, dtype=torch.float64) * (-np.log(10000.0) / E))
    expected = torch.zeros(T, E, dtype=torch.float64)
    expected[:, 0::2] = torch.sin(position * div)
    expected[:, 1::2] = torch.cos(position * div)
    np.testing.assert_allclose(positional_encoding(T, E), expected.numpy(), atol=1e-6)


def test_float32_stays_float32():
    """A float64 scalar (np.sqrt of an int) silently made every array float64, at half speed."""
    rng = np.random.default_rng(11)
    model = _small_model(dtype=np.float32)
    loss, grads = model.loss(rng.standard_normal((3, 5)), _captions(rng))
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    q = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    out, cache = attention_forward(q, q, q, causal_mask(3))
    assert out.dtype == np.float32
    assert {g.dtype for g in attention_backward(out, cache)} == {np.dtype(np.float32)}
