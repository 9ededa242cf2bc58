"""TwoLayerNet: initialisation, forward scores, loss with regularisation, gradients vs numerical."""

import numpy as np
import pytest

from cs231n.classifiers.fc_net import TwoLayerNet
from tests.conftest import assert_grads_match

N, D, H, C = 5, 6, 8, 4


def reference_forward(params, X):
    """affine - ReLU - affine, written out independently of cs231n.layers."""
    hidden = np.maximum(0, X.reshape(len(X), -1) @ params["W1"] + params["b1"])
    return hidden @ params["W2"] + params["b2"]


def net_away_from_kinks(rng, reg, min_gap=1e-3):
    """A float64 net and data whose hidden pre-activations keep clear of the ReLU kink.

    Perturbing one parameter by h = 1e-5 moves a pre-activation by at most h * max|X|,
    far less than min_gap, so no centered difference straddles the kink at 0 and the
    strict 1e-7 tolerance applies.
    """
    for _ in range(100):
        model = TwoLayerNet(
            input_dim=D,
            hidden_dim=H,
            num_classes=C,
            weight_scale=0.5,
            reg=reg,
            seed=int(rng.integers(2**31)),  # drawn from the test's own generator
        )
        for name in ("b1", "b2"):  # nonzero biases, so their gradients are really checked
            model.params[name] = 0.1 * rng.standard_normal(model.params[name].shape)
        X = rng.standard_normal((N, 2, 3))  # multi-dimensional input, flattened to D = 6
        y = rng.integers(0, C, size=N)
        pre = X.reshape(N, D) @ model.params["W1"] + model.params["b1"]
        if np.min(np.abs(pre)) > min_gap:
            return model, X, y
    raise AssertionError("could not draw a network away from the ReLU kinks")


def test_initialisation_shapes_scale_and_seed():
    model = TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=10, weight_scale=1e-2, seed=0)
    p = model.params
    assert sorted(p) == ["W1", "W2", "b1", "b2"]
    assert p["W1"].shape == (300, 200) and p["b1"].shape == (200,)
    assert p["W2"].shape == (200, 10) and p["b2"].shape == (10,)
    assert np.all(p["b1"] == 0) and np.all(p["b2"] == 0)
    assert 0.009 < p["W1"].std() < 0.011 and abs(p["W1"].mean()) < 1e-3
    assert 0.008 < p["W2"].std() < 0.012
    assert all(v.dtype == np.float64 for v in p.values())
    again = TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=10, weight_scale=1e-2, seed=0)
    assert np.array_equal(again.params["W1"], p["W1"])


def test_default_dimensions_match_cifar():
    model = TwoLayerNet(seed=0)
    assert model.params["W1"].shape == (3 * 32 * 32, 100)
    assert model.params["W2"].shape == (100, 10)


def test_float32_option():
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, dtype=np.float32, seed=0)
    assert all(v.dtype == np.float32 for v in model.params.values())
    scores = model.loss(np.ones((2, D)))
    assert scores.dtype == np.float32


def test_scores_at_test_time(rng):
    model, X, _ = net_away_from_kinks(rng, reg=0.0)
    scores = model.loss(X)
    assert scores.shape == (N, C)
    np.testing.assert_allclose(scores, reference_forward(model.params, X), rtol=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_is_softmax_plus_half_l2(rng, reg):
    model, X, y = net_away_from_kinks(rng, reg=reg)
    scores = reference_forward(model.params, X)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    data_loss = -np.mean(np.log(probs[np.arange(N), y]))
    W1, W2 = model.params["W1"], model.params["W2"]
    expected = data_loss + 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert sorted(grads) == sorted(model.params)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_numerical(rng, reg):
    """Errors relative to each gradient's largest entry: over 300 draws of this check the
    worst was 1.7e-9 (57x under the tolerance), while the elementwise error of near-zero
    entries reached 7.7e-7 (it measures rounding; an order-dependent draw once gave
    1.2e-7 against a 1e-7 elementwise tolerance)."""
    model, X, y = net_away_from_kinks(rng, reg=reg)
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        # param is perturbed in place, so model.loss sees each perturbation
        assert_grads_match(
            lambda _: np.array(model.loss(X, y)[0]),
            [param],
            lambda _, name=name: (grads[name],),
            np.array(1.0),
            names=[name],
            relative_to="largest",
        )


def test_initial_loss_is_log_num_classes():
    """Tiny weights give near-uniform probabilities: the loss starts near log(C)."""
    model = TwoLayerNet(input_dim=50, hidden_dim=20, num_classes=10, weight_scale=1e-5, seed=1)
    X = np.random.default_rng(2).standard_normal((30, 50))
    loss, _ = model.loss(X, np.arange(30) % 10)
    assert loss == pytest.approx(np.log(10), abs=1e-6)


def test_wrong_input_shape_fails_clearly(rng):
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, seed=0)
    with pytest.raises(
        ValueError, match=r"x has 5 features per example .* w must be of shape \(5, M\)"
    ):
        model.loss(rng.standard_normal((3, 5)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        model.loss(rng.standard_normal((3, D)), np.array([0, 1, 4]))
