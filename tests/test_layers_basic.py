"""The assignment-1 layers of cs231n.layers and cs231n.layer_utils against numerical gradients.

affine, ReLU, the SVM and softmax losses, and the affine-ReLU sandwich. Checks near a
kink (ReLU at 0, the hinge at margin 0) are avoided by drawing inputs that keep a gap
from it much wider than the step h of the centered difference.
"""

import numpy as np
import pytest

from cs231n.classifiers.linear_svm import svm_loss_vectorized
from cs231n.classifiers.softmax import softmax_loss_vectorized
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from cs231n.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from tests.conftest import assert_grads_match

ONE = np.array(1.0)  # the upstream gradient of a scalar loss


def away_from_zero(rng, shape, gap=1e-2):
    """Standard normal values with |value| >= gap: no ReLU kink within reach of h = 1e-5."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < gap, np.sign(x + 1e-300) * gap * 2, x)


def test_affine_forward_by_hand():
    x = np.arange(6, dtype=np.float64).reshape(2, 1, 3)  # two examples of 3 features
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([0.5, -0.5])
    out, _ = affine_forward(x, w, b)
    # example 0: (0, 1, 2) -> (0 + 2, 1 + 2) + b; example 1: (3, 4, 5) -> (8, 9) + b
    np.testing.assert_array_equal(out, [[2.5, 2.5], [8.5, 8.5]])


def test_affine_gradients(rng):
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    _, cache = affine_forward(x, w, b)
    assert_grads_match(
        lambda x, w, b: affine_forward(x, w, b)[0],
        [x, w, b],
        lambda d: affine_backward(d, cache),
        dout,
        names=["x", "w", "b"],
    )


def test_affine_rejects_mismatched_weights(rng):
    with pytest.raises(ValueError, match=r"x has 6 features .* w must be of shape \(6, M\)"):
        affine_forward(rng.standard_normal((4, 2, 3)), np.zeros((5, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        affine_forward(rng.standard_normal((4, 6)), np.zeros((6, 2)), np.zeros(3))


def test_relu_forward_and_gradient(rng):
    x = away_from_zero(rng, (5, 7))
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    assert_grads_match(
        lambda x: relu_forward(x)[0],
        [x],
        lambda d: relu_backward(d, cache),
        rng.standard_normal((5, 7)),
        names=["x"],
    )


def test_affine_relu_sandwich(rng):
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    pre = x @ w + b
    assert np.min(np.abs(pre)) > 1e-3, "drawn too close to the ReLU kink"
    out, cache = affine_relu_forward(x, w, b)
    np.testing.assert_allclose(out, np.maximum(0, pre), rtol=1e-12)
    assert_grads_match(
        lambda x, w, b: affine_relu_forward(x, w, b)[0],
        [x, w, b],
        lambda d: affine_relu_backward(d, cache),
        rng.standard_normal((4, 5)),
        names=["x", "w", "b"],
    )


def scores_away_from_hinge_kinks(rng, N=8, C=5, gap=1e-3):
    """Scores (N, C) and labels whose margins x_j - x_y + 1 all keep |margin| > gap."""
    for _ in range(100):
        x = rng.standard_normal((N, C))
        y = rng.integers(0, C, size=N)
        margins = x - x[np.arange(N), y][:, None] + 1
        margins[np.arange(N), y] = np.inf
        if np.min(np.abs(margins)) > gap:
            return x, y
    raise AssertionError("could not draw scores away from the hinge kinks")


@pytest.mark.parametrize("loss", [svm_loss, softmax_loss])
def test_loss_gradients(rng, loss):
    x, y = scores_away_from_hinge_kinks(rng)
    _, dx = loss(x, y)
    assert_grads_match(lambda x: np.array(loss(x, y)[0]), [x], lambda _: (dx,), ONE, names=["x"])


def test_loss_values_by_hand():
    x = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    # SVM, margin 1: example 0 (correct score 2): max(0, 1 - 2 + 1) + max(0, 0 - 2 + 1) = 0;
    # example 1 (correct score 0): 1 + 1 = 2; the mean is 1.
    assert svm_loss(x, y)[0] == pytest.approx(1.0)
    # softmax: example 0 -log(e^2 / (e^2 + e + 1)); example 1 -log(1/3)
    expected = (-np.log(np.exp(2) / (np.exp(2) + np.e + 1)) + np.log(3)) / 2
    assert softmax_loss(x, y)[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    "layer_loss, linear_loss",
    [(svm_loss, svm_loss_vectorized), (softmax_loss, softmax_loss_vectorized)],
)
def test_loss_layers_agree_with_the_linear_classifier_losses(rng, layer_loss, linear_loss):
    """The loss of scores X @ W is the linear classifier's loss with reg = 0; dW = X.T dx."""
    W = rng.standard_normal((6, 4))
    X = rng.standard_normal((10, 6))
    y = rng.integers(0, 4, size=10)
    loss, dx = layer_loss(X @ W, y)
    loss_lin, dW = linear_loss(W, X, y, 0.0)
    assert loss == pytest.approx(loss_lin, rel=1e-12)
    np.testing.assert_allclose(X.T @ dx, dW, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", [svm_loss, softmax_loss])
def test_losses_reject_bad_labels(rng, loss):
    x = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        loss(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        loss(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        loss(x[0], np.array([0]))
