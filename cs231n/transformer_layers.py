"""Layers of a Transformer decoder, each a forward and a backward pass in numpy.

A Transformer reads a whole sequence at once: instead of carrying a hidden state from
step to step like an RNN, every position *attends* to the positions it may see and
takes a weighted average of what they hold. The pieces, from small to large:

- ``attention_forward`` / ``attention_backward``: scaled dot-product attention,
  ``softmax(q k^T / sqrt(d)) v``, for many heads at once, with an optional mask (a
  caption must not read the words after the one it is predicting).
- ``multihead_attention_forward`` / ``_backward``: project queries, keys and values,
  split the projections into heads, attend within each head, merge, project back.
- ``positional_encoding``: attention alone ignores order, so a sinusoid table saying
  "this is position t" is added to the word vectors.
- ``temporal_layernorm_forward`` / ``_backward``: layer norm (assignment 2) at every
  position of a sequence.
- ``feedforward_forward`` / ``_backward``: the same two-layer ReLU network at every
  position.
- ``decoder_layer_forward`` / ``_backward``: self-attention over the caption,
  cross-attention to the image, feed-forward; each sub-layer wrapped as
  ``layernorm(x + dropout(sublayer(x)))`` (a residual connection, then normalisation).

Every forward returns ``(out, cache)`` and every backward takes ``(dout, cache)``, as
in ``layers.py``. Dropout uses assignment 2's ``dropout_forward``: ``dropout_param``
holds the probability ``p`` of KEEPING a unit and the ``mode``; ``None`` means no
dropout. Shapes: N sequences (the minibatch), S query positions, T key/value
positions, E features per position, H heads of d = E / H features each.
"""

import math

import numpy as np

from cs231n.layers import (
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
)
from cs231n.rnn_layers import temporal_affine_backward, temporal_affine_forward

__all__ = [
    "attention_forward",
    "attention_backward",
    "multihead_attention_forward",
    "multihead_attention_backward",
    "positional_encoding",
    "positional_encoding_forward",
    "positional_encoding_backward",
    "temporal_layernorm_forward",
    "temporal_layernorm_backward",
    "feedforward_forward",
    "feedforward_backward",
    "causal_mask",
    "decoder_layer_forward",
    "decoder_layer_backward",
    "DECODER_LAYER_PARAMS",
]


def _dropout(x, dropout_param):
    """Dropout, or the identity when ``dropout_param`` is None."""
    if dropout_param is None:
        return x, None
    return dropout_forward(x, dropout_param)


def _dropout_back(dout, cache):
    return dout if cache is None else dropout_backward(dout, cache)


def causal_mask(T):
    """The mask of a decoder: position i may attend to positions 0..i only.

    Returns
    -------
    mask : bool ndarray of shape (T, T); mask[i, j] is True when query i may see key j
    """
    return np.tril(np.ones((T, T), dtype=bool))


# -- scaled dot-product attention ---------------------------------------------------------


def attention_forward(q, k, v, mask=None, dropout_param=None):
    """Scaled dot-product attention for every head and every sequence at once.

    Each query position s scores every key position t by ``q[s] . k[t] / sqrt(d)``; a
    softmax over t turns the scores into weights that sum to one; the output at s is
    the weighted average of the values. Dividing by sqrt(d) keeps the scores' spread
    independent of d, so the softmax does not saturate as heads get wider.

    Parameters
    ----------
    q : ndarray of shape (N, H, S, d), queries
    k : ndarray of shape (N, H, T, d), keys
    v : ndarray of shape (N, H, T, d), values
    mask : bool ndarray of shape (S, T) or None; where mask[s, t] is False, query s
        gives key t no weight at all. Every query must see at least one key.
    dropout_param : dict for ``dropout_forward`` applied to the attention weights, or None

    Returns
    -------
    out : ndarray of shape (N, H, S, d)
    cache : (q, k, v, weights, dropout cache, mask); ``cache[3]`` holds the attention
        weights, of shape (N, H, S, T), to look at
    """
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            "attention_forward: q, k and v must be 4-d arrays (N, H, positions, d), got "
            f"shapes {q.shape}, {k.shape}, {v.shape}."
        )
    if k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"attention_forward: shapes do not fit: q {q.shape}, k {k.shape}, v {v.shape}; "
            "k and v must be equal and share N, H and d with q."
        )
    S, T = q.shape[2], k.shape[2]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (S, T):
            raise ValueError(f"attention_forward: mask must have shape {(S, T)}, got {mask.shape}.")
        if not mask.any(axis=1).all():
            raise ValueError(
                "attention_forward: a row of the mask is all False: that query sees no key."
            )
    out, cache = None, None
    # BEGIN SOLUTION a3.transformer.attention_forward: the attention weights (masked softmax of scaled scores) and the output
    scale = 1.0 / math.sqrt(q.shape[3])  # a Python float keeps float32 arrays float32
    scores = (q @ k.swapaxes(-1, -2)) * scale  # (N, H, S, T)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)  # stable softmax
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)  # (N, H, S, T), rows sum to 1
    dropped, drop_cache = _dropout(weights, dropout_param)
    out = dropped @ v  # (N, H, S, d)
    cache = (q, k, v, weights, drop_cache, mask)
    # END SOLUTION a3.transformer.attention_forward
    return out, cache


def attention_backward(dout, cache):
    """Backward pass of scaled dot-product attention.

    Parameters
    ----------
    dout : ndarray of shape (N, H, S, d), upstream gradient
    cache : from ``attention_forward``

    Returns
    -------
    dq : ndarray of shape (N, H, S, d)
    dk : ndarray of shape (N, H, T, d)
    dv : ndarray of shape (N, H, T, d)
    """
    dq, dk, dv = None, None, None
    # BEGIN SOLUTION a3.transformer.attention_backward: the gradients of the queries, keys and values
    q, k, v, weights, drop_cache, _ = cache
    mask_kept = None if drop_cache is None else drop_cache[1]  # None in test mode
    dropped = weights if mask_kept is None else weights * mask_kept
    dv = dropped.swapaxes(-1, -2) @ dout  # (N, H, T, d)
    dweights = _dropout_back(dout @ v.swapaxes(-1, -2), drop_cache)  # (N, H, S, T)
    # Softmax backward, row by row: ds = w * (dw - sum(dw * w)). Masked keys have
    # weight 0, so their scores get no gradient.
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    scale = 1.0 / math.sqrt(q.shape[3])  # a Python float keeps float32 arrays float32
    dq = (dscores @ k) * scale  # (N, H, S, d)
    dk = (dscores.swapaxes(-1, -2) @ q) * scale  # (N, H, T, d)
    # END SOLUTION a3.transformer.attention_backward
    return dq, dk, dv


# -- multi-head attention -----------------------------------------------------------------

ATTENTION_PARAMS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _split_heads(x, num_heads):
    """(N, L, E) -> (N, H, L, E / H): head h gets features h*d .. (h+1)*d - 1."""
    N, L, E = x.shape
    return x.reshape(N, L, num_heads, E // num_heads).transpose(0, 2, 1, 3)


def _merge_heads(x):
    """(N, H, L, d) -> (N, L, H * d), the inverse of ``_split_heads``."""
    N, H, L, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, L, H * d)


def multihead_attention_forward(
    query, key, value, params, num_heads, mask=None, dropout_param=None
):
    """Multi-head attention: H attentions side by side, each on its own projection.

    Queries, keys and values are projected by affine layers (E -> E), split into H
    heads of d = E / H features, attended head by head (each head can look for
    something different), merged back to E features, and projected once more.

    Parameters
    ----------
    query : ndarray of shape (N, S, E), the positions that ask
    key : ndarray of shape (N, T, E), the positions that are looked up
    value : ndarray of shape (N, T, E), what the looked-up positions hold
    params : dict of Wq, Wk, Wv, Wo of shape (E, E) and bq, bk, bv, bo of shape (E,)
    num_heads : int H, dividing E
    mask : bool ndarray of shape (S, T) or None (see ``attention_forward``)
    dropout_param : dict for dropout on the attention weights, or None

    Returns
    -------
    out : ndarray of shape (N, S, E)
    cache : what ``multihead_attention_backward`` needs
    """
    if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
        raise ValueError(
            "multihead_attention_forward: query, key and value must be (N, L, E) arrays."
        )
    E = query.shape[2]
    if E % num_heads:
        raise ValueError(
            f"multihead_attention_forward: num_heads={num_heads} must divide the "
            f"embedding dimension E={E}."
        )
    missing = [name for name in ATTENTION_PARAMS if name not in params]
    if missing:
        raise KeyError(f"multihead_attention_forward: params lacks {missing}.")
    out, cache = None, None
    # BEGIN SOLUTION a3.transformer.multihead_forward: project, split into heads, attend, merge and project back
    q, q_cache = temporal_affine_forward(query, params["Wq"], params["bq"])  # (N, S, E)
    k, k_cache = temporal_affine_forward(key, params["Wk"], params["bk"])  # (N, T, E)
    v, v_cache = temporal_affine_forward(value, params["Wv"], params["bv"])  # (N, T, E)
    heads, attn_cache = attention_forward(
        _split_heads(q, num_heads),
        _split_heads(k, num_heads),
        _split_heads(v, num_heads),
        mask,
        dropout_param,
    )  # (N, H, S, d)
    out, o_cache = temporal_affine_forward(_merge_heads(heads), params["Wo"], params["bo"])
    cache = (q_cache, k_cache, v_cache, attn_cache, o_cache, num_heads)
    # END SOLUTION a3.transformer.multihead_forward
    return out, cache


def multihead_attention_backward(dout, cache):
    """Backward pass of multi-head attention.

    Parameters
    ----------
    dout : ndarray of shape (N, S, E), upstream gradient
    cache : from ``multihead_attention_forward``

    Returns
    -------
    dquery : ndarray of shape (N, S, E)
    dkey : ndarray of shape (N, T, E)
    dvalue : ndarray of shape (N, T, E)
    grads : dict of the gradients of Wq, bq, Wk, bk, Wv, bv, Wo, bo

    In self-attention the same array is query, key and value: its gradient is the
    sum of the three.
    """
    dquery, dkey, dvalue, grads = None, None, None, {}
    # BEGIN SOLUTION a3.transformer.multihead_backward: the same steps backwards, with every parameter's gradient
    q_cache, k_cache, v_cache, attn_cache, o_cache, num_heads = cache
    dmerged, grads["Wo"], grads["bo"] = temporal_affine_backward(dout, o_cache)
    dq, dk, dv = attention_backward(_split_heads(dmerged, num_heads), attn_cache)
    dquery, grads["Wq"], grads["bq"] = temporal_affine_backward(_merge_heads(dq), q_cache)
    dkey, grads["Wk"], grads["bk"] = temporal_affine_backward(_merge_heads(dk), k_cache)
    dvalue, grads["Wv"], grads["bv"] = temporal_affine_backward(_merge_heads(dv), v_cache)
    # END SOLUTION a3.transformer.multihead_backward
    return dquery, dkey, dvalue, grads


# -- positional encoding ------------------------------------------------------------------


def positional_encoding(max_len, embed_dim):
    """The sinusoid table that tells a Transformer where each position is.

    ``P[t, 2i] = sin(t / 10000^(2i / E))`` and ``P[t, 2i + 1] = cos(t / 10000^(2i / E))``:
    each pair of columns is a clock of its own frequency, from one turn every 2*pi
    positions down to one turn every 10000 * 2*pi, so nearby positions get similar rows
    and any offset is a fixed rotation of every pair.

    Parameters
    ----------
    max_len : int, the number of positions
    embed_dim : int E, even

    Returns
    -------
    P : float64 ndarray of shape (max_len, E)
    """
    if embed_dim % 2:
        raise ValueError(f"positional_encoding: embed_dim must be even, got {embed_dim}.")
    P = None
    # BEGIN SOLUTION a3.transformer.positional_encoding: the table of sines and cosines
    position = np.arange(max_len)[:, None]  # (max_len, 1)
    frequency = 10000.0 ** (-np.arange(0, embed_dim, 2) / embed_dim)  # (E / 2,)
    P = np.zeros((max_len, embed_dim))
    P[:, 0::2] = np.sin(position * frequency)
    P[:, 1::2] = np.cos(position * frequency)
    # END SOLUTION a3.transformer.positional_encoding
    return P


def positional_encoding_forward(x, dropout_param=None):
    """Add the positional encoding to a sequence of vectors, then dropout.

    Parameters
    ----------
    x : ndarray of shape (N, T, E)
    dropout_param : dict for ``dropout_forward``, or None

    Returns
    -------
    out : ndarray of shape (N, T, E), of x's dtype
    cache : the dropout cache
    """
    N, T, E = x.shape
    out = x + positional_encoding(T, E).astype(x.dtype)
    return _dropout(out, dropout_param)


def positional_encoding_backward(dout, cache):
    """The table is a constant: the gradient passes through (and through dropout)."""
    return _dropout_back(dout, cache)


# -- layer norm and feed-forward at every position ------------------------------------------


def temporal_layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm (assignment 2) of every position's E features.

    Parameters
    ----------
    x : ndarray of shape (N, T, E); gamma, beta : ndarrays of shape (E,)

    Returns
    -------
    out : ndarray of shape (N, T, E)
    cache : for ``temporal_layernorm_backward``
    """
    N, T, E = x.shape
    out, cache = layernorm_forward(x.reshape(N * T, E), gamma, beta, {"eps": eps})
    return out.reshape(N, T, E), (cache, x.shape)


def temporal_layernorm_backward(dout, cache):
    """Returns dx (N, T, E), dgamma (E,), dbeta (E,)."""
    ln_cache, shape = cache
    dx, dgamma, dbeta = layernorm_backward(dout.reshape(-1, shape[2]), ln_cache)
    return dx.reshape(shape), dgamma, dbeta


def feedforward_forward(x, W1, b1, W2, b2, dropout_param=None):
    """Affine - ReLU - dropout - affine, the same at every position.

    Parameters
    ----------
    x : ndarray of shape (N, T, E)
    W1 : ndarray of shape (E, F), b1 : (F,); W2 : (F, E), b2 : (E,)
    dropout_param : dict for ``dropout_forward``, or None

    Returns
    -------
    out : ndarray of shape (N, T, E)
    cache : for ``feedforward_backward``
    """
    hidden, cache1 = temporal_affine_forward(x, W1, b1)  # (N, T, F)
    relu = np.maximum(hidden, 0)
    dropped, drop_cache = _dropout(relu, dropout_param)
    out, cache2 = temporal_affine_forward(dropped, W2, b2)
    return out, (cache1, hidden > 0, drop_cache, cache2)


def feedforward_backward(dout, cache):
    """Returns dx (N, T, E), dW1, db1, dW2, db2."""
    cache1, active, drop_cache, cache2 = cache
    ddropped, dW2, db2 = temporal_affine_backward(dout, cache2)
    dhidden = _dropout_back(ddropped, drop_cache) * active
    dx, dW1, db1 = temporal_affine_backward(dhidden, cache1)
    return dx, dW1, db1, dW2, db2


# -- a decoder layer ----------------------------------------------------------------------

# The parameters of one decoder layer, by name: self-attention over the caption,
# cross-attention to the image, the feed-forward network and three layer norms.
DECODER_LAYER_PARAMS = (
    *(f"self_{name}" for name in ATTENTION_PARAMS),
    *(f"cross_{name}" for name in ATTENTION_PARAMS),
    "ffn_W1",
    "ffn_b1",
    "ffn_W2",
    "ffn_b2",
    "ln1_gamma",
    "ln1_beta",
    "ln2_gamma",
    "ln2_beta",
    "ln3_gamma",
    "ln3_beta",
)


def _sub(params, prefix):
    return {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}


def decoder_layer_forward(x, memory, params, num_heads, mask=None, dropout_param=None):
    """One Transformer decoder layer (post-norm, as in the original Transformer).

    ::

        x = layernorm1(x + dropout(self_attention(x, x, x, mask)))
        x = layernorm2(x + dropout(cross_attention(x, memory, memory)))
        x = layernorm3(x + dropout(feedforward(x)))

    Parameters
    ----------
    x : ndarray of shape (N, T, E), the caption so far
    memory : ndarray of shape (N, M, E), what the decoder reads from (the image)
    params : dict with the keys of ``DECODER_LAYER_PARAMS``
    num_heads : int
    mask : bool ndarray of shape (T, T) for the self-attention, or None
    dropout_param : dict for every dropout of the layer, or None

    Returns
    -------
    out : ndarray of shape (N, T, E)
    cache : for ``decoder_layer_backward``
    """
    missing = [name for name in DECODER_LAYER_PARAMS if name not in params]
    if missing:
        raise KeyError(f"decoder_layer_forward: params lacks {missing}.")
    p = params
    a, self_cache = multihead_attention_forward(
        x, x, x, _sub(p, "self_"), num_heads, mask, dropout_param
    )
    a, drop1 = _dropout(a, dropout_param)
    x1, ln1 = temporal_layernorm_forward(x + a, p["ln1_gamma"], p["ln1_beta"])
    c, cross_cache = multihead_attention_forward(
        x1, memory, memory, _sub(p, "cross_"), num_heads, None, dropout_param
    )
    c, drop2 = _dropout(c, dropout_param)
    x2, ln2 = temporal_layernorm_forward(x1 + c, p["ln2_gamma"], p["ln2_beta"])
    f, ffn_cache = feedforward_forward(
        x2, p["ffn_W1"], p["ffn_b1"], p["ffn_W2"], p["ffn_b2"], dropout_param
    )
    f, drop3 = _dropout(f, dropout_param)
    out, ln3 = temporal_layernorm_forward(x2 + f, p["ln3_gamma"], p["ln3_beta"])
    cache = (self_cache, drop1, ln1, cross_cache, drop2, ln2, ffn_cache, drop3, ln3)
    return out, cache


def decoder_layer_backward(dout, cache):
    """Backward pass of a decoder layer.

    Returns
    -------
    dx : ndarray of shape (N, T, E)
    dmemory : ndarray of shape (N, M, E)
    grads : dict with the keys of ``DECODER_LAYER_PARAMS``
    """
    self_cache, drop1, ln1, cross_cache, drop2, ln2, ffn_cache, drop3, ln3 = cache
    grads = {}
    # Each residual block y = norm(x + f(x)) sends its gradient to x twice: through
    # the shortcut and through f.
    dsum3, grads["ln3_gamma"], grads["ln3_beta"] = temporal_layernorm_backward(dout, ln3)
    dx2, grads["ffn_W1"], grads["ffn_b1"], grads["ffn_W2"], grads["ffn_b2"] = feedforward_backward(
        _dropout_back(dsum3, drop3), ffn_cache
    )
    dx2 = dx2 + dsum3
    dsum2, grads["ln2_gamma"], grads["ln2_beta"] = temporal_layernorm_backward(dx2, ln2)
    dx1, dmem_k, dmem_v, cross_grads = multihead_attention_backward(
        _dropout_back(dsum2, drop2), cross_cache
    )
    dx1 = dx1 + dsum2
    dmemory = dmem_k + dmem_v
    dsum1, grads["ln1_gamma"], grads["ln1_beta"] = temporal_layernorm_backward(dx1, ln1)
    dq, dk, dv, self_grads = multihead_attention_backward(_dropout_back(dsum1, drop1), self_cache)
    dx = dq + dk + dv + dsum1
    grads.update({f"self_{k}": v for k, v in self_grads.items()})
    grads.update({f"cross_{k}": v for k, v in cross_grads.items()})
    return dx, dmemory, grads
