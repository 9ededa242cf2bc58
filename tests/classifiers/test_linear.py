"""Linear classifiers: SVM and softmax losses (naive == vectorised, gradients vs numerical),
and the SGD training loop of LinearClassifier / LinearSVM / Softmax."""

import numpy as np
import pytest

from cs231n.classifiers.linear_classifier import LinearClassifier, LinearSVM, Softmax
from cs231n.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from cs231n.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized
from cs231n.gradient_check import rel_error
from tests.conftest import assert_grads_match

SVM_LOSSES = [svm_loss_naive, svm_loss_vectorized]
SOFTMAX_LOSSES = [softmax_loss_naive, softmax_loss_vectorized]
ALL_LOSSES = SVM_LOSSES + SOFTMAX_LOSSES
REG = 0.1


def linear_problem(rng, N=12, D=7, C=4):
    """W (D, C), X (N, D), y (N,) in float64."""
    return rng.standard_normal((D, C)), rng.standard_normal((N, D)), rng.integers(0, C, size=N)


def svm_problem_away_from_kinks(rng, min_gap=1e-3):
    """An SVM problem on which no margin s_j - s_y + 1 lies within min_gap of 0.

    The hinge max(0, m) has a kink at m = 0, where a centered difference straddling it
    disagrees with either one-sided derivative. Perturbing one entry of W by h = 1e-5
    moves each margin by at most 2 * h * max|X| < 1e-4 < min_gap, so away from the kinks
    the loss is linear-plus-quadratic around W and the centered difference is exact up
    to rounding: the strict 1e-7 tolerance applies.
    """
    for _ in range(100):
        W, X, y = linear_problem(rng)
        scores = X @ W
        margins = scores - scores[np.arange(len(y)), y][:, None] + 1
        margins[np.arange(len(y)), y] = np.inf  # the correct class has no hinge
        if np.min(np.abs(margins)) > min_gap and np.max(np.abs(X)) < 4:
            return W, X, y
    raise AssertionError("could not draw an SVM problem away from the kinks")


def check_loss_gradient(loss_fn, W, X, y, reg):
    """Full numerical gradient of loss_fn with respect to W, at tolerance 1e-7."""
    assert_grads_match(
        lambda W_: np.array(loss_fn(W_, X, y, reg)[0]),
        [W],
        lambda _: (loss_fn(W, X, y, reg)[1],),
        np.array(1.0),
        names=["W"],
    )


@pytest.mark.parametrize("loss_fn", SVM_LOSSES)
@pytest.mark.parametrize("reg", [0.0, REG])
def test_svm_gradient_matches_numerical(rng, loss_fn, reg):
    W, X, y = svm_problem_away_from_kinks(rng)
    check_loss_gradient(loss_fn, W, X, y, reg)


@pytest.mark.parametrize("loss_fn", SOFTMAX_LOSSES)
@pytest.mark.parametrize("reg", [0.0, REG])
def test_softmax_gradient_matches_numerical(rng, loss_fn, reg):
    W, X, y = linear_problem(rng)
    check_loss_gradient(loss_fn, W, X, y, reg)


def straddles_a_kink(W, X, y, ix, h):
    """Whether moving W[ix] by -h and +h switches some hinge max(0, margin) on or off."""
    W_minus, W_plus = W.copy(), W.copy()
    W_minus[ix] -= h
    W_plus[ix] += h
    active = []
    for Wp in (W_minus, W_plus):
        scores = X @ Wp
        margins = scores - scores[np.arange(len(y)), y][:, None] + 1
        active.append(margins > 0)
    return not np.array_equal(active[0], active[1])


@pytest.mark.parametrize("loss_fn", SVM_LOSSES)
def test_svm_gradient_on_image_sized_data_at_sampled_coordinates(rng, loss_fn):
    """As the notebook does: CIFAR-like shapes, a few random coordinates of W.

    Here thousands of margins are close together, and moving W[d, c] by h = 1e-5 moves
    margins by up to h * max|X| ~ 1e-3, so a centered difference can straddle a kink;
    there it measures an average of the two one-sided slopes and disagrees with the
    analytic gradient for a legitimate reason. So: every sampled coordinate that does
    not straddle a kink must agree to 1e-7, and most coordinates must be of that kind
    (otherwise the test would prove nothing).
    """
    N, D, C, reg, h = 60, 3073, 10, 5e-6, 1e-5
    X = rng.uniform(-128, 128, size=(N, D))
    W = 1e-4 * rng.standard_normal((D, C))
    y = rng.integers(0, C, size=N)
    _, grad = loss_fn(W, X, y, reg)
    clean = 0
    for _ in range(12):
        ix = (int(rng.integers(D)), int(rng.integers(C)))
        W_plus, W_minus = W.copy(), W.copy()
        W_plus[ix] += h
        W_minus[ix] -= h
        numeric = (loss_fn(W_plus, X, y, reg)[0] - loss_fn(W_minus, X, y, reg)[0]) / (2 * h)
        err = abs(numeric - grad[ix]) / max(abs(numeric) + abs(grad[ix]), 1e-8)
        if not straddles_a_kink(W, X, y, ix, h):
            clean += 1
            assert err < 1e-7, f"dW{ix}: relative error {err:.2e} away from any kink"
    assert clean >= 8, f"only {clean} of 12 sampled coordinates were away from kinks"


def test_svm_loss_by_hand():
    """Two examples, three classes, computed on paper."""
    W = np.eye(3)
    X = np.array([[1.0, 0.5, 0.0], [0.0, 0.0, 2.0]])
    y = np.array([0, 1])
    # example 0: scores (1, .5, 0), correct 1 -> margins .5, 0 -> 0.5
    # example 1: scores (0, 0, 2),  correct 0 -> margins 1, 3  -> 4
    for loss_fn in SVM_LOSSES:
        loss, _ = loss_fn(W, X, y, 0.0)
        assert loss == pytest.approx(2.25)
        loss, _ = loss_fn(W, X, y, 0.5)
        assert loss == pytest.approx(2.25 + 0.5 * 3)  # reg * sum(W * W)


def test_softmax_loss_by_hand():
    """With W = 0 every class has probability 1/C: the loss is log(C)."""
    X = np.ones((5, 3))
    y = np.arange(5) % 4
    for loss_fn in SOFTMAX_LOSSES:
        loss, dW = loss_fn(np.zeros((3, 4)), X, y, 1.0)
        assert loss == pytest.approx(np.log(4))
        # dscores = 1/4 - onehot(y); dW = X.T @ dscores / N
        onehot = np.eye(4)[y]
        np.testing.assert_allclose(dW, X.T @ (0.25 - onehot) / 5, rtol=1e-12)


@pytest.mark.parametrize(
    "naive, vectorized",
    [(svm_loss_naive, svm_loss_vectorized), (softmax_loss_naive, softmax_loss_vectorized)],
)
def test_naive_equals_vectorized(rng, naive, vectorized):
    W, X, y = linear_problem(rng, N=50, D=30, C=10)
    loss_n, grad_n = naive(W, X, y, REG)
    loss_v, grad_v = vectorized(W, X, y, REG)
    assert loss_n == pytest.approx(loss_v, rel=1e-12)
    assert rel_error(grad_n, grad_v) < 1e-10


@pytest.mark.parametrize("loss_fn", SOFTMAX_LOSSES)
def test_softmax_is_numerically_stable(rng, loss_fn):
    """Scores of 1e4 would overflow exp without subtracting the maximum."""
    W, X, y = linear_problem(rng)
    loss, grad = loss_fn(1e4 * W, X, y, 0.0)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_float32_inputs_give_float32_gradients(rng, loss_fn):
    W, X, y = linear_problem(rng)
    loss32, grad32 = loss_fn(W.astype(np.float32), X.astype(np.float32), y, REG)
    loss64, grad64 = loss_fn(W, X, y, REG)
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_losses_reject_bad_input(rng, loss_fn):
    W, X, y = linear_problem(rng)  # W (7, 4), X (12, 7)
    name = loss_fn.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: X has 6 features .* W must be of shape \(6, C\)"
    ):
        loss_fn(W, X[:, :6], y, REG)
    with pytest.raises(ValueError, match=rf"{name}: W must have 2 dimensions"):
        loss_fn(W[:, 0], X, y, REG)
    with pytest.raises(ValueError, match=r"y must have shape \(12,\)"):
        loss_fn(W, X, y[:-1], REG)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        loss_fn(W, X, y + 4, REG)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        loss_fn(W, X, y.astype(float), REG)
    with pytest.raises(TypeError, match="X must hold floating-point numbers"):
        loss_fn(W, (X > 0).astype(np.int64), y, REG)
    with pytest.raises(TypeError, match="W must be a numpy array"):
        loss_fn(W.tolist(), X, y, REG)


# --------------------------------------------------------------------------- training


def separable_data(rng, N=300, D=10, C=3):
    """Well-separated Gaussian blobs plus a constant bias feature; X (N, D + 1)."""
    centers = 4 * rng.standard_normal((C, D))
    y = rng.integers(0, C, size=N)
    X = centers[y] + rng.standard_normal((N, D))
    return np.hstack([X, np.ones((N, 1))]), y


@pytest.mark.parametrize("cls", [LinearSVM, Softmax])
def test_training_learns_separable_data(rng, cls):
    X, y = separable_data(rng)
    clf = cls()
    history = clf.train(X, y, learning_rate=1e-2, reg=1e-4, num_iters=300, batch_size=50, seed=0)
    assert len(history) == 300
    assert clf.W.shape == (11, 3)
    assert np.mean(history[-20:]) < 0.5 * history[0]
    assert np.mean(clf.predict(X) == y) > 0.95


@pytest.mark.parametrize("cls", [LinearSVM, Softmax])
def test_loss_method_uses_the_matching_loss(rng, cls):
    X, y = separable_data(rng, N=20)
    clf = cls()
    clf.train(X, y, num_iters=0, seed=1)  # only initialises W
    expected = svm_loss_vectorized if cls is LinearSVM else softmax_loss_vectorized
    loss, grad = clf.loss(X, y, 0.3)
    loss_ref, grad_ref = expected(clf.W, X, y, 0.3)
    assert loss == loss_ref and np.array_equal(grad, grad_ref)


def test_initial_weights_are_small_and_lazy(rng):
    X, y = separable_data(rng)
    clf = Softmax()
    assert clf.W is None
    clf.train(X, y, num_iters=0, seed=3)
    assert 0.0005 < np.std(clf.W) < 0.002  # 0.001 * randn
    W0 = clf.W.copy()
    clf.train(X, y, num_iters=0)  # training again continues from the same W
    assert np.array_equal(clf.W, W0)


def test_seed_makes_training_reproducible(rng):
    X, y = separable_data(rng)
    runs = [LinearSVM().train(X, y, num_iters=20, seed=7) for _ in range(2)]
    assert runs[0] == runs[1]
    other = LinearSVM().train(X, y, num_iters=20, seed=8)
    assert other != runs[0]
    np.random.seed(5)
    a = LinearSVM().train(X, y, num_iters=20)
    np.random.seed(5)
    b = LinearSVM().train(X, y, num_iters=20)
    assert a == b  # seed=None follows numpy's global random state, as the original


def test_minibatches_are_sampled_with_replacement(rng, monkeypatch):
    X, y = separable_data(rng, N=5)
    clf = LinearSVM()
    sizes = []

    def spy(X_batch, y_batch, reg):
        sizes.append(X_batch.shape[0])
        return svm_loss_vectorized(clf.W, X_batch, y_batch, reg)

    monkeypatch.setattr(clf, "loss", spy)
    clf.train(X, y, num_iters=3, batch_size=12, seed=0)  # more than N: needs replacement
    assert sizes == [12, 12, 12]


def test_training_and_prediction_reject_bad_input(rng):
    X, y = separable_data(rng, N=20)
    with pytest.raises(RuntimeError, match=r"Softmax.predict: call train\(X, y\) before predict"):
        Softmax().predict(X)
    clf = LinearSVM()
    with pytest.raises(ValueError, match=r"LinearSVM.train: y must have shape \(20,\)"):
        clf.train(X, y[:-1])
    with pytest.raises(TypeError, match="LinearSVM.train: X must hold floating-point numbers"):
        clf.train(X.astype(np.int32), y)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        clf.train(X, y, batch_size=0)
    with pytest.raises(ValueError, match="num_iters must be an integer >= 0"):
        clf.train(X, y, num_iters=-1)
    clf.train(X, y, num_iters=1, seed=0)
    with pytest.raises(ValueError, match=r"X has 10 features .* must be of shape \(N, 11\)"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="train a new classifier"):
        clf.train(X[:, :10], y)
    with pytest.raises(NotImplementedError, match="use a subclass"):
        LinearClassifier().train(X, y, num_iters=1)
