"""CaptioningRNN: the loss against reference values computed independently (PyTorch
nn.RNN / nn.LSTM in float64), its gradients end to end against numerical gradients,
sampling (shapes, <END> handling), and the errors."""

import numpy as np
import pytest

from cs231n.classifiers.rnn import CaptioningRNN
from cs231n.gradient_check import eval_numerical_gradient, rel_error

VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "sat": 5}


def make_model(cell_type, D=4, W=5, H=6, seed=231):
    return CaptioningRNN(
        VOCAB,
        input_dim=D,
        wordvec_dim=W,
        hidden_dim=H,
        cell_type=cell_type,
        dtype=np.float64,
        seed=seed,
    )


@pytest.mark.parametrize(
    "cell_type, feature_range, expected",
    [("rnn", (-1.5, 0.3), 9.83235591002739), ("lstm", (-0.5, 1.7), 9.824459354432268)],
)
def test_loss_matches_reference(cell_type, feature_range, expected):
    # The course's fixed-value check; the expected losses were computed with PyTorch
    # (nn.RNN / nn.LSTM with the gate blocks permuted from i, f, o, g to i, f, g, o).
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    model = CaptioningRNN(word_to_idx, D, W, H, cell_type, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(*feature_range, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % len(word_to_idx)).reshape(N, T)
    loss, _ = model.loss(features, captions)
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_loss_gradients(cell_type, rng):
    N, T = 3, 6
    model = make_model(cell_type)
    # Weights of order one (the default word vectors are tiny, so dWx would be
    # tiny too and its relative error would measure rounding noise).
    for k, v in model.params.items():
        model.params[k] = 0.5 * rng.standard_normal(v.shape)
    features = rng.standard_normal((N, 4))
    captions = rng.integers(1, len(VOCAB), size=(N, T))
    captions[0, 4:] = VOCAB["<NULL>"]  # padding: masked out of the loss
    loss, grads = model.loss(features, captions)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(
            lambda _: model.loss(features, captions)[0], param, verbose=False
        )
        # Elementwise relative error (the course asks for ~5e-6 or less: small entries
        # of a sum over many time steps carry rounding noise) and the error relative
        # to the largest entry, which rounding noise cannot reach.
        err = rel_error(grads[name], numeric)
        assert err < 1e-5, f"{cell_type} d{name}: relative error {err:.2e}"
        scaled = np.abs(grads[name] - numeric).max() / np.abs(numeric).max()
        assert scaled < 1e-8, f"{cell_type} d{name}: error {scaled:.2e} of the largest entry"


def test_padding_does_not_count(rng):
    model = make_model("lstm")
    features = rng.standard_normal((2, 4))
    captions = np.array([[1, 3, 5, 2, 0, 0], [1, 4, 2, 0, 0, 0]])
    loss, _ = model.loss(features, captions)
    # Changing what follows <NULL> targets in the inputs cannot change the loss.
    longer = np.concatenate([captions, np.zeros((2, 3), dtype=int)], axis=1)
    assert model.loss(features, longer)[0] == pytest.approx(loss)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sample_shapes_and_end(cell_type, rng):
    model = make_model(cell_type)
    features = rng.standard_normal((7, 4))
    captions = model.sample(features, max_length=12)
    assert captions.shape == (7, 12)
    assert np.issubdtype(captions.dtype, np.integer)
    assert captions.min() >= 0 and captions.max() < len(VOCAB)
    for row in captions:  # after an <END>, only <NULL> padding
        ends = np.flatnonzero(row == VOCAB["<END>"])
        if ends.size:
            assert np.all(row[ends[0] + 1 :] == VOCAB["<NULL>"])


def test_sample_stops_at_end():
    # Make <END> the most likely word after one step: only the bias of <END> is large
    # once the hidden state has seen a word.
    model = make_model("rnn")
    model.params["W_vocab"][:] = 0
    model.params["b_vocab"][:] = 0
    model.params["b_vocab"][VOCAB["<END>"]] = 1.0
    captions = model.sample(np.zeros((2, 4)), max_length=5)
    np.testing.assert_array_equal(captions, [[2, 0, 0, 0, 0]] * 2)
    # A caption that never produces <END> fills every step.
    model.params["b_vocab"][VOCAB["cat"]] = 2.0
    np.testing.assert_array_equal(model.sample(np.zeros((1, 4)), max_length=4), [[3, 3, 3, 3]])


def test_greedy_sample_is_argmax_of_teacher_forced_scores(rng):
    # Feeding the sampled caption back with teacher forcing, every sampled word must be
    # the argmax of the model's scores at that step: sample and loss agree.
    from cs231n.rnn_layers import lstm_forward, temporal_affine_forward

    model = make_model("lstm", seed=3)
    features = rng.standard_normal((5, 4))
    sampled = model.sample(features, max_length=6)
    p = model.params
    inputs = np.concatenate([np.full((5, 1), VOCAB["<START>"]), sampled[:, :-1]], axis=1)
    h, _ = lstm_forward(
        p["W_embed"][inputs], features @ p["W_proj"] + p["b_proj"], p["Wx"], p["Wh"], p["b"]
    )
    scores, _ = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    predicted = scores.argmax(axis=2)
    for i in range(5):
        for t in range(6):
            if t > 0 and sampled[i, t - 1] == VOCAB["<END>"]:
                break  # after <END> the row is padding
            assert sampled[i, t] == predicted[i, t]


def test_errors():
    with pytest.raises(ValueError, match="cell_type"):
        CaptioningRNN(VOCAB, cell_type="gru")
    with pytest.raises(ValueError, match="<NULL>"):
        CaptioningRNN({"<START>": 0, "<END>": 1})
    model = make_model("rnn")
    with pytest.raises(ValueError, match="features of dimension 4"):
        model.loss(np.zeros((2, 5)), np.ones((2, 3), dtype=int))
    with pytest.raises(ValueError, match="2 feature vectors but 3 captions"):
        model.loss(np.zeros((2, 4)), np.ones((3, 3), dtype=int))
    with pytest.raises(ValueError, match="<START>"):
        CaptioningRNN({"<NULL>": 0, "cat": 1}, input_dim=4).sample(np.zeros((1, 4)))
