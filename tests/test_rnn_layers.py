"""Tests for cs231n/rnn_layers.py: every backward pass against numerical gradients
(float64), forward passes against reference values computed independently with
PyTorch's RNN / LSTM / Embedding modules, and the error messages."""

import numpy as np
import pytest

from cs231n.rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from tests.conftest import assert_grads_match


def randn(rng, *shape):
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------


def test_rnn_step_backward(rng):
    N, D, H = 4, 5, 6
    x, h, Wx, Wh, b = (
        randn(rng, N, D),
        randn(rng, N, H),
        randn(rng, D, H),
        randn(rng, H, H),
        randn(rng, H),
    )
    _, cache = rnn_step_forward(x, h, Wx, Wh, b)
    assert_grads_match(
        lambda *a: rnn_step_forward(*a)[0],
        [x, h, Wx, Wh, b],
        lambda dout: rnn_step_backward(dout, cache),
        randn(rng, N, H),
        names=["x", "prev_h", "Wx", "Wh", "b"],
    )


def test_rnn_backward(rng):
    N, T, D, H = 2, 5, 3, 4
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, H), randn(rng, H, H) * 0.5, randn(rng, H)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert_grads_match(
        lambda *a: rnn_forward(*a)[0],
        [x, h0, Wx, Wh, b],
        lambda dout: rnn_backward(dout, cache),
        randn(rng, N, T, H),
        names=["x", "h0", "Wx", "Wh", "b"],
    )


def test_word_embedding_backward(rng):
    N, T, V, D = 50, 3, 5, 6
    x = rng.integers(V, size=(N, T))  # many repeated words: gradients must accumulate
    W = randn(rng, V, D)
    _, cache = word_embedding_forward(x, W)
    assert_grads_match(
        lambda W: word_embedding_forward(x, W)[0],
        [W],
        lambda dout: word_embedding_backward(dout, cache),
        randn(rng, N, T, D),
        names=["W"],
    )


def test_lstm_step_backward(rng):
    N, D, H = 4, 5, 6
    x, h, c = randn(rng, N, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    dnext_h, dnext_c = randn(rng, N, H), randn(rng, N, H)
    _, _, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    grads = lstm_step_backward(dnext_h, dnext_c, cache)

    # The step has two outputs: check sum(next_h * dnext_h + next_c * dnext_c).
    def both(*a):
        next_h, next_c, _ = lstm_step_forward(*a)
        return np.stack([next_h, next_c])

    assert_grads_match(
        both,
        [x, h, c, Wx, Wh, b],
        lambda dout: grads,
        np.stack([dnext_h, dnext_c]),
        names=["x", "prev_h", "prev_c", "Wx", "Wh", "b"],
    )


def test_lstm_backward(rng):
    N, T, D, H = 2, 5, 3, 4
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert_grads_match(
        lambda *a: lstm_forward(*a)[0],
        [x, h0, Wx, Wh, b],
        lambda dout: lstm_backward(dout, cache),
        randn(rng, N, T, H),
        names=["x", "h0", "Wx", "Wh", "b"],
    )


def test_temporal_affine_backward(rng):
    N, T, D, M = 2, 3, 4, 5
    x, w, b = randn(rng, N, T, D), randn(rng, D, M), randn(rng, M)
    _, cache = temporal_affine_forward(x, w, b)
    assert_grads_match(
        lambda *a: temporal_affine_forward(*a)[0],
        [x, w, b],
        lambda dout: temporal_affine_backward(dout, cache),
        randn(rng, N, T, M),
        names=["x", "w", "b"],
    )


def test_temporal_softmax_loss_gradient(rng):
    # Small sizes keep the loss small, so the centered difference's roundoff stays ~1e-9.
    N, T, V = 3, 4, 5
    x = randn(rng, N, T, V)
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.5
    assert_grads_match(
        lambda x: temporal_softmax_loss(x, y, mask)[0],
        [x],
        lambda dout: temporal_softmax_loss(x, y, mask)[1] * dout,
        np.float64(1.0),
        names=["x"],
    )


# ---------------------------------------------------------------------------
# Forward values
# ---------------------------------------------------------------------------


def test_temporal_softmax_loss_values(rng):
    # Uniform scores: each unmasked step costs log(V); the loss is divided by N only.
    N, T, V = 4, 6, 10
    x = np.zeros((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = np.zeros((N, T), dtype=bool)
    mask[:, :3] = True
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(3 * np.log(V))
    assert np.all(dx[:, 3:] == 0), "masked steps must get no gradient"
    # Large scores must not overflow.
    loss, dx = temporal_softmax_loss(1e4 * randn(rng, N, T, V), y, mask)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))


def test_word_embedding_accumulates_repeated_words():
    W = np.arange(6, dtype=np.float64).reshape(3, 2)
    x = np.array([[1, 1, 1]])
    out, cache = word_embedding_forward(x, W)
    np.testing.assert_array_equal(out, [[[2, 3], [2, 3], [2, 3]]])
    dW = word_embedding_backward(np.ones((1, 3, 2)), cache)
    np.testing.assert_array_equal(dW, [[0, 0], [3, 3], [0, 0]])


def test_sigmoid_is_stable():
    x = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(x)
    np.testing.assert_allclose(
        s, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1.0], atol=1e-300
    )


# Reference values computed with torch.nn.RNNCell / RNN / Embedding / LSTMCell / LSTM in
# float64 (PyTorch orders the LSTM blocks i, f, g, o; the weights were permuted to match
# our i, f, o, g), on the inputs of the course notebooks.
RNN_STEP_H = [
    [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
    [0.66854692, 0.79562378, 0.87755553, 0.92795967],
    [0.97934501, 0.99144213, 0.99646691, 0.99854353],
]
LSTM_STEP_H = [
    [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
    [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
    [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299],
]
LSTM_STEP_C = [
    [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
    [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
    [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676],
]
LSTM_FORWARD_H = [
    [
        [0.01764008, 0.01823233, 0.01882671, 0.0194232],
        [0.11287491, 0.12146228, 0.13018446, 0.13902939],
        [0.31358768, 0.33338627, 0.35304453, 0.37250975],
    ],
    [
        [0.45767879, 0.4761092, 0.4936887, 0.51041945],
        [0.6704845, 0.69350089, 0.71486014, 0.7346449],
        [0.81733511, 0.83677871, 0.85403753, 0.86935314],
    ],
]


def lin(lo, hi, *shape):
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


def test_rnn_step_forward_values():
    N, D, H = 3, 10, 4
    next_h, _ = rnn_step_forward(
        lin(-0.4, 0.7, N, D), lin(-0.2, 0.5, N, H), lin(-0.1, 0.9, D, H), lin(-0.3, 0.7, H, H),
        lin(-0.2, 0.4, H),
    )  # fmt: skip
    np.testing.assert_allclose(next_h, RNN_STEP_H, atol=1e-8)


def test_rnn_forward_matches_steps(rng):
    N, T, D, H = 2, 4, 3, 5
    x, h0, Wx, Wh, b = (
        randn(rng, N, T, D),
        randn(rng, N, H),
        randn(rng, D, H),
        randn(rng, H, H),
        randn(rng, H),
    )
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    prev = h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        np.testing.assert_allclose(h[:, t], prev, rtol=1e-12)


def test_lstm_step_forward_values():
    N, D, H = 3, 4, 5
    next_h, next_c, _ = lstm_step_forward(
        lin(-0.4, 1.2, N, D), lin(-0.3, 0.7, N, H), lin(-0.4, 0.9, N, H),
        lin(-2.1, 1.3, D, 4 * H), lin(-0.7, 2.2, H, 4 * H), lin(0.3, 0.7, 4 * H),
    )  # fmt: skip
    np.testing.assert_allclose(next_h, LSTM_STEP_H, atol=1e-8)
    np.testing.assert_allclose(next_c, LSTM_STEP_C, atol=1e-8)


def test_lstm_forward_values():
    N, D, H, T = 2, 5, 4, 3
    h, _ = lstm_forward(
        lin(-0.4, 0.6, N, T, D), lin(-0.4, 0.8, N, H), lin(-0.2, 0.9, D, 4 * H),
        lin(-0.3, 0.6, H, 4 * H), lin(0.2, 0.7, 4 * H),
    )  # fmt: skip
    np.testing.assert_allclose(h, LSTM_FORWARD_H, atol=1e-8)


def test_float32_stays_float32(rng):
    N, T, D, H = 2, 3, 4, 5
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    h, cache = lstm_forward(f32(N, T, D), f32(N, H), f32(D, 4 * H), f32(H, 4 * H), f32(4 * H))
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in lstm_backward(f32(N, T, H), cache))
    h, cache = rnn_forward(f32(N, T, D), f32(N, H), f32(D, H), f32(H, H), f32(H))
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_backward(f32(N, T, H), cache))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_shape_errors_name_the_argument(rng):
    N, D, H = 2, 3, 4
    x, h, Wh, b = randn(rng, N, D), randn(rng, N, H), randn(rng, H, H), randn(rng, H)
    with pytest.raises(ValueError, match=r"rnn_step_forward: Wx must have shape \(3, 4\)"):
        rnn_step_forward(x, h, randn(rng, D + 1, H), Wh, b)
    with pytest.raises(ValueError, match=r"lstm_step_forward: Wx must have shape \(3, 16\)"):
        lstm_step_forward(x, h, h, randn(rng, D, H), randn(rng, H, 4 * H), randn(rng, 4 * H))
    with pytest.raises(ValueError, match="rnn_forward: x must have 3 dimensions"):
        rnn_forward(x, h, randn(rng, D, H), Wh, b)


def test_word_embedding_errors():
    W = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 5\)"):
        word_embedding_forward(np.array([[0, 5]]), W)
    with pytest.raises(TypeError, match="integer word indices"):
        word_embedding_forward(np.array([[0.0, 1.0]]), W)


def test_temporal_softmax_loss_errors():
    x = np.zeros((2, 3, 4))
    mask = np.ones((2, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\)"):
        temporal_softmax_loss(x, np.zeros((2, 4), dtype=int), mask)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        temporal_softmax_loss(x, np.full((2, 3), 4), mask)
