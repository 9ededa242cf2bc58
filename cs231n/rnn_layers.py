"""Recurrent layers: the building blocks of the image-captioning models of assignment 3.

Every layer follows the contract of ``layers.py``:

    out, cache = <layer>_forward(inputs..., params...)
    dinputs..., dparams... = <layer>_backward(dout, cache)

A recurrent network applies one *step* function at every time step, feeding each
step the hidden state of the previous one. The step functions (``rnn_step_*``,
``lstm_step_*``) process one time step for a minibatch; the sequence functions
(``rnn_*``, ``lstm_*``) run a whole sequence by calling the step functions in a
loop, and their backward passes run the loop in reverse (backpropagation through
time). The temporal layers apply an affine map or a softmax loss at every time step
at once.

Shape letters: N minibatch, T time steps, D input dimension, H hidden dimension,
V vocabulary size (or number of outputs), M output dimension.
"""

import numpy as np

from cs231n._checks import check_ndim

# ---------------------------------------------------------------------------
# Input checks: errors that name the argument and the expected shape
# ---------------------------------------------------------------------------


__all__ = [
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "sigmoid",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
]


def _check_shape(func, name, arr, shape):
    """Raise unless ``arr`` is an ndarray of exactly ``shape`` (None matches any size)."""
    check_ndim(func, name, arr, len(shape))
    if any(want is not None and got != want for got, want in zip(arr.shape, shape)):
        expected = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{func}: {name} must have shape {expected}, got {arr.shape}.")


def _check_recurrent_params(func, x, prev_h, Wx, Wh, b, gates):
    """Check the shapes of one recurrent step: x (N, D), prev_h (N, H), Wx (D, G*H), ..."""
    check_ndim(func, "x", x, 2)
    check_ndim(func, "prev_h", prev_h, 2)
    N, D = x.shape
    H = prev_h.shape[1]
    _check_shape(func, "prev_h", prev_h, (N, H))
    _check_shape(func, "Wx", Wx, (D, gates * H))
    _check_shape(func, "Wh", Wh, (H, gates * H))
    _check_shape(func, "b", b, (gates * H,))


def _check_sequence(func, x, h0, Wx, Wh, b, gates):
    """Check the shapes of a sequence layer: x (N, T, D), h0 (N, H), Wx (D, G*H), ..."""
    check_ndim(func, "x", x, 3)
    check_ndim(func, "h0", h0, 2)
    N, T, D = x.shape
    H = h0.shape[1]
    _check_shape(func, "h0", h0, (N, H))
    _check_shape(func, "Wx", Wx, (D, gates * H))
    _check_shape(func, "Wh", Wh, (H, gates * H))
    _check_shape(func, "b", b, (gates * H,))


# ---------------------------------------------------------------------------
# Vanilla RNN
# ---------------------------------------------------------------------------


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with a tanh nonlinearity.

    ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``

    Parameters
    ----------
    x : ndarray of shape (N, D), input data for this time step
    prev_h : ndarray of shape (N, H), hidden state from the previous time step
    Wx : ndarray of shape (D, H), input-to-hidden weights
    Wh : ndarray of shape (H, H), hidden-to-hidden weights
    b : ndarray of shape (H,), biases

    Returns
    -------
    next_h : ndarray of shape (N, H), the next hidden state
    cache : tuple of values needed by ``rnn_step_backward``
    """
    _check_recurrent_params("rnn_step_forward", x, prev_h, Wx, Wh, b, gates=1)
    next_h, cache = None, None
    # BEGIN SOLUTION a3.rnn.step_forward: the next hidden state of the vanilla RNN
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)
    cache = (x, prev_h, Wx, Wh, next_h)
    # END SOLUTION a3.rnn.step_forward
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one vanilla RNN time step.

    Parameters
    ----------
    dnext_h : ndarray of shape (N, H), gradient of the loss with respect to next_h
    cache : the cache returned by ``rnn_step_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dprev_h : ndarray of shape (N, H)
    dWx : ndarray of shape (D, H)
    dWh : ndarray of shape (H, H)
    db : ndarray of shape (H,)
    """
    dx, dprev_h, dWx, dWh, db = None, None, None, None, None
    # BEGIN SOLUTION a3.rnn.step_backward: the gradients of one RNN step
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)  # (N, H), since d tanh(a) / da = 1 - tanh(a)^2
    dx = da @ Wx.T  # (N, D)
    dprev_h = da @ Wh.T  # (N, H)
    dWx = x.T @ da  # (D, H)
    dWh = prev_h.T @ da  # (H, H)
    db = da.sum(axis=0)  # (H,)
    # END SOLUTION a3.rnn.step_backward
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole sequence of T steps.

    The hidden state starts at ``h0`` and is updated by ``rnn_step_forward`` at every
    step, using the same weights at every step.

    Parameters
    ----------
    x : ndarray of shape (N, T, D), input data for the whole sequence
    h0 : ndarray of shape (N, H), initial hidden state
    Wx : ndarray of shape (D, H), input-to-hidden weights
    Wh : ndarray of shape (H, H), hidden-to-hidden weights
    b : ndarray of shape (H,), biases

    Returns
    -------
    h : ndarray of shape (N, T, H), hidden states for every time step
    cache : values needed by ``rnn_backward``
    """
    _check_sequence("rnn_forward", x, h0, Wx, Wh, b, gates=1)
    h, cache = None, None
    # BEGIN SOLUTION a3.rnn.forward: run the RNN step over the whole sequence
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), dtype=np.result_type(x, h0, Wx))
    step_caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        step_caches.append(step_cache)
    cache = step_caches
    # END SOLUTION a3.rnn.forward
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass of a vanilla RNN over a whole sequence (backpropagation through time).

    Parameters
    ----------
    dh : ndarray of shape (N, T, H), upstream gradients of all hidden states. This is
        only the gradient flowing in from the layers above (e.g. the output affine
        layer), not the gradient passed between time steps, which you compute here.
    cache : the cache returned by ``rnn_forward``

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, H)
    dWh : ndarray of shape (H, H)
    db : ndarray of shape (H,)
    """
    check_ndim("rnn_backward", "dh", dh, 3)
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    # BEGIN SOLUTION a3.rnn.backward: backpropagation through time over the whole sequence
    N, T, H = dh.shape
    x0, _, Wx, Wh, _ = cache[0]
    D = x0.shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H, dtype=Wx.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)  # gradient arriving from step t + 1
    for t in reversed(range(T)):
        # h[:, t] feeds both the output at step t and the next step.
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t  # the weights are shared by all steps: sum their gradients
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    # END SOLUTION a3.rnn.backward
    return dx, dh0, dWx, dWh, db


# ---------------------------------------------------------------------------
# Word embeddings
# ---------------------------------------------------------------------------


def word_embedding_forward(x, W):
    """Word embeddings: look up the vector of every word of every sequence.

    Word i of the vocabulary is represented by row i of ``W``.

    Parameters
    ----------
    x : integer ndarray of shape (N, T), word indices, each in [0, V)
    W : ndarray of shape (V, D), one D-dimensional vector per word

    Returns
    -------
    out : ndarray of shape (N, T, D), the vectors of all the input words
    cache : values needed by ``word_embedding_backward``
    """
    check_ndim("word_embedding_forward", "x", x, 2)
    check_ndim("word_embedding_forward", "W", W, 2)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(
            f"word_embedding_forward: x must hold integer word indices, got dtype {x.dtype}."
        )
    V = W.shape[0]
    if x.size and (x.min() < 0 or x.max() >= V):
        raise ValueError(
            f"word_embedding_forward: word indices must lie in [0, {V}) for a vocabulary "
            f"of {V} words, got values from {x.min()} to {x.max()}."
        )
    out, cache = None, None
    # BEGIN SOLUTION a3.rnn.word_embedding_forward: look up the vector of every word index
    out = W[x]  # (N, T, D): fancy indexing picks row x[n, t] of W
    cache = (x, W.shape)
    # END SOLUTION a3.rnn.word_embedding_forward
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of word embeddings.

    We cannot backpropagate into the words (they are integers), so only the
    gradient of the embedding matrix is returned. A word that appears several
    times in the batch accumulates the gradient of each appearance.

    Parameters
    ----------
    dout : ndarray of shape (N, T, D), upstream gradients
    cache : the cache returned by ``word_embedding_forward``

    Returns
    -------
    dW : ndarray of shape (V, D), gradient of the embedding matrix
    """
    check_ndim("word_embedding_backward", "dout", dout, 3)
    dW = None
    # BEGIN SOLUTION a3.rnn.word_embedding_backward: accumulate the gradient of each word's vector
    x, W_shape = cache
    dW = np.zeros(W_shape, dtype=dout.dtype)
    # np.add.at accumulates over repeated indices; dW[x] += dout would keep only one.
    np.add.at(dW, x, dout)
    # END SOLUTION a3.rnn.word_embedding_backward
    return dW


# ---------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------


def sigmoid(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, computed stably.

    ``exp(-x)`` overflows for large negative x; the identity
    ``sigmoid(x) = (1 + tanh(x / 2)) / 2`` gives the same values without overflow.
    """
    return 0.5 * (1 + np.tanh(0.5 * x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.

    The activation vector a = x Wx + prev_h Wh + b (matrix products), of shape (N, 4H), is split
    into four blocks of H columns, in this order: the input gate i, the forget gate
    f, the output gate o and the block input g. Then

        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
        next_c = f ⊙ prev_c + i ⊙ g        (⊙: elementwise product)
        next_h = o ⊙ tanh(next_c)

    Parameters
    ----------
    x : ndarray of shape (N, D), input data
    prev_h : ndarray of shape (N, H), previous hidden state
    prev_c : ndarray of shape (N, H), previous cell state
    Wx : ndarray of shape (D, 4H), input-to-hidden weights
    Wh : ndarray of shape (H, 4H), hidden-to-hidden weights
    b : ndarray of shape (4H,), biases

    Returns
    -------
    next_h : ndarray of shape (N, H)
    next_c : ndarray of shape (N, H)
    cache : values needed by ``lstm_step_backward``
    """
    _check_recurrent_params("lstm_step_forward", x, prev_h, Wx, Wh, b, gates=4)
    _check_shape("lstm_step_forward", "prev_c", prev_c, prev_h.shape)
    next_h, next_c, cache = None, None, None
    # BEGIN SOLUTION a3.lstm.step_forward: the gates, the next cell state and the next hidden state
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    gates = sigmoid(a[:, : 3 * H])  # (N, 3H)
    i = gates[:, :H]  # input gate, (N, H)
    f = gates[:, H : 2 * H]  # forget gate
    o = gates[:, 2 * H :]  # output gate
    g = np.tanh(a[:, 3 * H :])  # block input
    next_c = f * prev_c + i * g  # (N, H)
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c  # (N, H)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    # END SOLUTION a3.lstm.step_forward
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM time step.

    Parameters
    ----------
    dnext_h : ndarray of shape (N, H), gradient with respect to next_h
    dnext_c : ndarray of shape (N, H), gradient with respect to next_c
    cache : the cache returned by ``lstm_step_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dprev_h : ndarray of shape (N, H)
    dprev_c : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)
    """
    dx, dprev_h, dprev_c, dWx, dWh, db = None, None, None, None, None, None
    # BEGIN SOLUTION a3.lstm.step_backward: the gradients of one LSTM step
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    do = dnext_h * tanh_c  # (N, H)
    # next_c reaches the loss directly (dnext_c) and through next_h = o * tanh(next_c).
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)  # (N, H)
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    # Back through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - tanh^2.
    da = np.concatenate(
        (di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)), axis=1
    )  # (N, 4H), blocks in the order i, f, o, g
    dx = da @ Wx.T  # (N, D)
    dprev_h = da @ Wh.T  # (N, H)
    dWx = x.T @ da  # (D, 4H)
    dWh = prev_h.T @ da  # (H, 4H)
    db = da.sum(axis=0)  # (4H,)
    # END SOLUTION a3.lstm.step_backward
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence of T steps.

    The hidden state starts at ``h0`` and the cell state at zero; the cell state is
    internal and not returned.

    Parameters
    ----------
    x : ndarray of shape (N, T, D), input data
    h0 : ndarray of shape (N, H), initial hidden state
    Wx : ndarray of shape (D, 4H), input-to-hidden weights
    Wh : ndarray of shape (H, 4H), hidden-to-hidden weights
    b : ndarray of shape (4H,), biases

    Returns
    -------
    h : ndarray of shape (N, T, H), hidden states for every time step
    cache : values needed by ``lstm_backward``
    """
    _check_sequence("lstm_forward", x, h0, Wx, Wh, b, gates=4)
    h, cache = None, None
    # BEGIN SOLUTION a3.lstm.forward: run the LSTM step over the whole sequence, from a zero cell state
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), dtype=np.result_type(x, h0, Wx))
    prev_h, prev_c = h0, np.zeros_like(h0)
    step_caches = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        step_caches.append(step_cache)
    cache = step_caches
    # END SOLUTION a3.lstm.forward
    return h, cache


def lstm_backward(dh, cache):
    """Backward pass of an LSTM over a whole sequence.

    Parameters
    ----------
    dh : ndarray of shape (N, T, H), upstream gradients of the hidden states
    cache : the cache returned by ``lstm_forward``

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)
    """
    check_ndim("lstm_backward", "dh", dh, 3)
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    # BEGIN SOLUTION a3.lstm.backward: backpropagation through time for the LSTM
    N, T, H = dh.shape
    x0, _, _, Wx, Wh = cache[0][:5]
    D = x0.shape[1]
    dx = np.zeros((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dtype=Wx.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)  # gradients arriving from step t + 1
    dprev_c = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t, :] + dprev_h, dprev_c, cache[t]
        )
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h  # c0 is a constant (zero), so its gradient is dropped
    # END SOLUTION a3.lstm.backward
    return dx, dh0, dWx, dWh, db


# ---------------------------------------------------------------------------
# Temporal layers: the same operation at every time step
# ---------------------------------------------------------------------------


def temporal_affine_forward(x, w, b):
    """An affine layer applied at every time step: ``out[:, t] = x[:, t] @ w + b``.

    Used to turn the RNN's hidden states into scores over the vocabulary.

    Parameters
    ----------
    x : ndarray of shape (N, T, D), input data
    w : ndarray of shape (D, M), weights
    b : ndarray of shape (M,), biases

    Returns
    -------
    out : ndarray of shape (N, T, M)
    cache : (x, w, b, out)
    """
    check_ndim("temporal_affine_forward", "x", x, 3)
    _check_shape("temporal_affine_forward", "w", w, (x.shape[2], None))
    _check_shape("temporal_affine_forward", "b", b, (w.shape[1],))
    N, T, D = x.shape
    M = b.shape[0]
    out = (x.reshape(N * T, D) @ w).reshape(N, T, M) + b  # (N, T, M)
    cache = (x, w, b, out)
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward pass of the temporal affine layer.

    Parameters
    ----------
    dout : ndarray of shape (N, T, M), upstream gradients
    cache : the cache returned by ``temporal_affine_forward``

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    check_ndim("temporal_affine_backward", "dout", dout, 3)
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dout_2d = dout.reshape(N * T, M)
    dx = (dout_2d @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout_2d  # (D, M)
    db = dout.sum(axis=(0, 1))  # (M,)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """A softmax loss at every time step, counting only the steps where ``mask`` is True.

    Captions in a minibatch have different lengths and are padded with <NULL> tokens
    to a common length T; the mask switches off the loss (and its gradient) at the
    padding. The loss is summed over all unmasked time steps and averaged over the
    minibatch (divided by N, not by the number of unmasked steps).

    Parameters
    ----------
    x : ndarray of shape (N, T, V), scores over the vocabulary at every time step
    y : integer ndarray of shape (N, T), ground-truth word indices, each in [0, V)
    mask : boolean ndarray of shape (N, T); mask[i, t] says whether the score
        x[i, t] counts towards the loss
    verbose : bool, print the shape of the gradient (for debugging)

    Returns
    -------
    loss : float
    dx : ndarray of shape (N, T, V), gradient of the loss with respect to x
    """
    check_ndim("temporal_softmax_loss", "x", x, 3)
    N, T, V = x.shape
    _check_shape("temporal_softmax_loss", "y", y, (N, T))
    _check_shape("temporal_softmax_loss", "mask", mask, (N, T))
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"temporal_softmax_loss: y must hold integer word indices, got {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(
            f"temporal_softmax_loss: word indices must lie in [0, {V}), "
            f"got values from {y.min()} to {y.max()}."
        )

    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T).astype(x.dtype)

    shifted = x_flat - np.max(x_flat, axis=1, keepdims=True)  # for numerical stability
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))  # (N*T, V)
    rows = np.arange(N * T)
    loss = -np.sum(mask_flat * log_probs[rows, y_flat]) / N

    dx_flat = np.exp(log_probs)  # probabilities
    dx_flat[rows, y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    dx = dx_flat.reshape(N, T, V)
    return float(loss), dx
