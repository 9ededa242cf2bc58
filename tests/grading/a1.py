"""Grading tests for assignment 1 (kNN, SVM, softmax, two-layer net)."""

import numpy as np

from cs231n.instructor.grade import Registry

TESTS = Registry()

# A model's test grades the model, not its layers (they have their own tests): the layers
# it calls answer with the reference's values (cs231n.instructor.answers).
LAYERS = ("cs231n.layers:*", "cs231n.layer_utils:*")

# Regions graded by a test of the function that holds them (tests/course/test_grading_coverage.py).
COVERS = {
    "a1.svm.naive": ["a1.svm.naive_grad_in_loop", "a1.svm.naive_grad_finish"],
    "a1.svm.vectorized": ["a1.svm.vectorized_loss", "a1.svm.vectorized_grad"],
    "a1.linear_classifier.train.update": [
        "a1.linear_classifier.sample_batch",
        "a1.linear_classifier.update",
    ],
    "a1.linear_classifier.train.sampling": [
        "a1.linear_classifier.sample_batch",
        "a1.linear_classifier.update",
    ],
    "a1.two_layer_net.loss": ["a1.two_layer_net.forward", "a1.two_layer_net.backward"],
}


def _knn_data(rng):
    N_train, N_test, D = (
        int(rng.integers(20, 40)),
        int(rng.integers(5, 15)),
        int(rng.integers(8, 30)),
    )
    return {
        "X_train": rng.standard_normal((N_train, D)),
        "y_train": rng.integers(0, 5, N_train),
        "X_test": rng.standard_normal((N_test, D)),
    }


KNN = """
from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor
knn = KNearestNeighbor()
knn.train(X_train, y_train)
"""


@TESTS("a1.knn.two_loops", 2, hint="dists[i, j] is the L2 distance between test i and train j.")
def knn_two_loops(rng):
    return _knn_data(rng), KNN + "out = {'dists': knn.compute_distances_two_loops(X_test)}"


@TESTS("a1.knn.one_loop", 2, hint="compute one row of dists per test point with broadcasting.")
def knn_one_loop(rng):
    return _knn_data(rng), KNN + "out = {'dists': knn.compute_distances_one_loop(X_test)}"


@TESTS("a1.knn.no_loops", 3, hint="expand ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y.")
def knn_no_loops(rng):
    return _knn_data(rng), KNN + "out = {'dists': knn.compute_distances_no_loops(X_test)}"


@TESTS(
    "a1.knn.predict_labels",
    2,
    exact=True,
    hint="take the k nearest labels and break ties toward the smaller label.",
)
def knn_predict_labels(rng):
    data = _knn_data(rng)
    data["dists"] = rng.random((data["X_test"].shape[0], data["X_train"].shape[0]))
    data["k"] = int(rng.choice([1, 3, 5]))
    return data, KNN + "out = {'y_pred': knn.predict_labels(dists, k=k)}"


def _linear_data(rng):
    N, D, C = int(rng.integers(10, 30)), int(rng.integers(5, 20)), int(rng.integers(3, 8))
    return {
        "W": rng.standard_normal((D, C)) * 0.01,
        "X": rng.standard_normal((N, D)),
        "y": rng.integers(0, C, N),
        "reg": float(rng.uniform(0.0, 1.0)),
    }


for _name, _module, _func, _pts in [
    ("a1.svm.naive", "linear_svm", "svm_loss_naive", 3),
    ("a1.svm.vectorized", "linear_svm", "svm_loss_vectorized", 4),
    ("a1.softmax.naive", "softmax", "softmax_loss_naive", 3),
    ("a1.softmax.vectorized", "softmax", "softmax_loss_vectorized", 4),
]:

    def _make(rng, _module=_module, _func=_func):
        code = (
            f"from cs231n.classifiers.{_module} import {_func}\n"
            f"loss, dW = {_func}(W, X, y, reg)\nout = {{'loss': loss, 'dW': dW}}"
        )
        return _linear_data(rng), code

    # The loss and its gradient earn their points separately.
    _loss_pts = 1 if _pts == 3 else 2
    TESTS(
        _name,
        _pts,
        tol=1e-6,
        hint="check the loss and its gradient, regularisation included.",
        parts={"loss": (["loss"], _loss_pts), "gradient": (["dW"], _pts - _loss_pts)},
    )(_make)


@TESTS(
    "a1.linear_classifier.predict", 1, exact=True, hint="predict the class with the highest score."
)
def linear_predict(rng):
    data = _linear_data(rng)
    code = (
        "from cs231n.classifiers.linear_classifier import LinearSVM\n"
        "clf = LinearSVM(); clf.W = W\nout = {'y_pred': clf.predict(X)}"
    )
    return data, code


# The training tests grade train() alone: the classifier they train has a loss of the
# probe's own, not one of the assignment's (a stubbed softmax or SVM loss costs nothing
# here): half the mean squared distance of the scores to the one-hot labels, plus
# reg * |W|^2.
_QUADRATIC = """
from cs231n.classifiers.linear_classifier import LinearClassifier
class Quadratic(LinearClassifier):
    def loss(self, X_batch, y_batch, reg):
        n = X_batch.shape[0]
        targets = np.zeros((n, self.W.shape[1]))
        targets[np.arange(n), y_batch] = 1.0
        residual = X_batch @ self.W - targets
        loss = 0.5 * np.sum(residual * residual) / n + reg * np.sum(self.W * self.W)
        return loss, X_batch.T @ residual / n + 2 * reg * self.W
"""


@TESTS(
    "a1.linear_classifier.train.update",
    1,
    tol=1e-6,
    hint="one step is W -= learning_rate * dW on a minibatch sampled with replacement.",
)
def linear_train(rng):
    """Every row the same, so any sampling draws the same batch: the steps must match."""
    data = _linear_data(rng)
    code = _QUADRATIC + (
        "clf = Quadratic(); clf.W = W.copy()\n"
        "X_one = X[:1].repeat(4, axis=0); y_one = y[:1].repeat(4)\n"
        "hist = clf.train(X_one, y_one, learning_rate=0.1, reg=reg, num_iters=3, batch_size=4)\n"
        "out = {'W': clf.W, 'loss': np.array(hist)}"
    )
    return data, code


def _check_sampling(inputs, expected, got):
    """Training must see the whole training set, a random minibatch at a time."""
    hist, W = got.get("loss"), got.get("W")
    if hist is None or hist.shape != expected["loss"].shape:
        return False, "train must return the loss of every iteration (num_iters values)"
    if W is None or W.shape != expected["W"].shape:
        return False, f"after training, self.W must have shape {expected['W'].shape}"
    X, y, B = inputs["X"], inputs["y"], inputs["B"]
    accuracy = float(np.mean(np.argmax(X[B:] @ W.astype(np.float64), axis=1) == y[B:]))
    falling = float(np.mean(hist[-10:])) / max(float(np.mean(hist[:10])), 1e-12)
    if not (accuracy >= 0.9 and falling < 0.7):
        return False, (
            f"after training, the classifier gets {accuracy:.0%} of the training set right "
            f"and its loss fell to {falling:.0%} of where it started (the reference: 100%, "
            "under 45%): each minibatch must be sampled at random from all the training "
            "rows, not taken from the start of X"
        )
    return True, ""


@TESTS(
    "a1.linear_classifier.train.sampling",
    1,
    check=_check_sampling,
    hint="sample each minibatch at random (with replacement) from all num_train rows.",
)
def linear_train_sampling(rng):
    """Rows that differ: the first batch_size rows are blank (they teach nothing) and the
    rest are well separated by class. Training only on X[:batch_size] learns nothing: in
    200 draws, the reference reached 100% accuracy and its loss fell under 43% of where
    it started every time, while training on X[:batch_size] left the loss where it was
    (and chanced on 90% accuracy once)."""
    N, D, C, B = 200, 10, 4, 20
    centres = rng.standard_normal((C, D))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, C, N)
    X = centres[y] + 0.1 * rng.standard_normal((N, D))
    X[:B] = 0.0
    data = {"X": X, "y": y, "B": B}
    code = _QUADRATIC + (
        "clf = Quadratic()\n"
        "hist = clf.train(X, y, learning_rate=0.5, reg=1e-4, num_iters=100, batch_size=B)\n"
        "out = {'loss': np.array(hist), 'W': clf.W}"
    )
    return data, code


def _layer_data(rng, N=None, D=None, M=None):
    N = N or int(rng.integers(3, 8))
    D = D or int(rng.integers(4, 12))
    M = M or int(rng.integers(3, 9))
    return {
        "x": rng.standard_normal((N, 2, D)),
        "w": rng.standard_normal((2 * D, M)),
        "b": rng.standard_normal(M),
        "dout": rng.standard_normal((N, M)),
    }


@TESTS("a1.two_layer_net.affine_forward", 1)
def affine_forward(rng):
    return _layer_data(rng), (
        "from cs231n.layers import affine_forward\no, _ = affine_forward(x, w, b)\nout = {'out': o}"
    )


@TESTS("a1.two_layer_net.affine_backward", 2, hint="dx must have the shape of x, not (N, D).")
def affine_backward(rng):
    return _layer_data(rng), (
        # The cache is the API's (x, w, b), built here: this test never depends on the
        # student's affine_forward.
        "from cs231n.layers import affine_backward\n"
        "dx, dw, db = affine_backward(dout, (x, w, b))\n"
        "out = {'dx': dx, 'dw': dw, 'db': db}"
    )


@TESTS("a1.two_layer_net.relu_forward", 1)
def relu_forward(rng):
    return {"x": rng.standard_normal((5, 7))}, (
        "from cs231n.layers import relu_forward\no, _ = relu_forward(x)\nout = {'out': o}"
    )


@TESTS("a1.two_layer_net.relu_backward", 1)
def relu_backward(rng):
    return (
        {"x": rng.standard_normal((5, 7)), "dout": rng.standard_normal((5, 7))},
        # The cache is the API's: the input x (never the student's relu_forward).
        "from cs231n.layers import relu_backward\nout = {'dx': relu_backward(dout, x)}",
    )


@TESTS("a1.two_layer_net.svm_loss", 1, parts={"loss": (["loss"], 0.5), "gradient": (["dx"], 0.5)})
def svm_loss(rng):
    N, C = 9, 6
    return (
        {"x": rng.standard_normal((N, C)), "y": rng.integers(0, C, N)},
        "from cs231n.layers import svm_loss\nloss, dx = svm_loss(x, y)\n"
        "out = {'loss': loss, 'dx': dx}",
    )


@TESTS(
    "a1.two_layer_net.softmax_loss",
    1,
    parts={"loss": (["loss"], 0.5), "gradient": (["dx"], 0.5)},
)
def softmax_loss(rng):
    N, C = 9, 6
    return (
        {"x": rng.standard_normal((N, C)) * 3, "y": rng.integers(0, C, N)},
        "from cs231n.layers import softmax_loss\nloss, dx = softmax_loss(x, y)\n"
        "out = {'loss': loss, 'dx': dx}",
    )


@TESTS(
    "a1.two_layer_net.loss",
    4,
    tol=1e-6,
    answer=LAYERS,
    hint="scores = affine(relu(affine(X))); loss adds 0.5 * reg * (|W1|^2 + |W2|^2).",
    parts={
        "scores and loss": (["scores", "loss"], 2),
        "gradients": (["dW1", "db1", "dW2", "db2"], 2),
    },
)
def two_layer_net(rng):
    N, D, H, C = 5, 12, 8, 4
    data = {
        "X": rng.standard_normal((N, D)),
        "y": rng.integers(0, C, N),
        "params": {
            "W1": rng.standard_normal((D, H)) * 0.3,
            "b1": rng.standard_normal(H) * 0.1,
            "W2": rng.standard_normal((H, C)) * 0.3,
            "b2": rng.standard_normal(C) * 0.1,
        },
        "reg": float(rng.uniform(0.1, 1.0)),
    }
    code = (
        "from cs231n.classifiers.fc_net import TwoLayerNet\n"
        "try:\n"
        f"    net = TwoLayerNet(input_dim={D}, hidden_dim={H}, num_classes={C}, reg=reg)\n"
        # The constructor's region has its own test: without it, the attributes the
        # API fixes (the parameters are set just below).
        "except Exception:\n"
        "    net = TwoLayerNet.__new__(TwoLayerNet)\n"
        "    net.params, net.reg, net.dtype = {}, reg, np.float64\n"
        "net.params = {k: v.copy() for k, v in params.items()}\n"
        "scores = net.loss(X)\nloss, grads = net.loss(X, y)\n"
        "out = {'scores': scores, 'loss': loss, **{'d' + k: v for k, v in grads.items()}}"
    )
    return data, code


def _check_gaussian_init(inputs, expected, got):
    """Weights drawn from N(0, weight_scale^2), per layer; zero biases; random."""
    scale = inputs["weight_scale"]
    if not np.array_equal(got.get("shapes"), expected["shapes"]):
        return (
            False,
            "W1 and W2 have the wrong shapes (W1: (input_dim, hidden_dim), W2: (hidden_dim, num_classes))",
        )
    b = got.get("b")
    if b is None or b.shape != expected["b"].shape or np.any(b != 0):
        return False, "the biases b1 and b2 must start at zero"
    for name in ("W1", "W2"):
        w = got.get(name)
        if w is None or not np.issubdtype(w.dtype, np.floating) or w.size < 100:
            return False, f"{name} was not returned as an array of weights"
        w = w.astype(np.float64).ravel()
        n = w.size
        if abs(w.mean()) > 4 * scale / np.sqrt(n):
            return False, f"{name} has mean {w.mean():.2e}: the weights must be centred on 0"
        if abs(w.std() / scale - 1) > 4 / np.sqrt(2 * n) + 0.02:
            return (
                False,
                f"{name} has standard deviation {w.std():.3g}, not weight_scale = {scale:g}",
            )
        # A Gaussian puts about 68.3% of its mass within one standard deviation (fixed
        # or alternating +-weight_scale put none or all of it there).
        inside = float(np.mean(np.abs(w) < scale))
        if abs(inside - 0.6827) > 4 * np.sqrt(0.6827 * 0.3173 / n) + 0.01:
            return False, (
                f"{inside:.1%} of {name}'s weights lie within one weight_scale of 0 (a "
                "Gaussian puts 68.3% there): draw them from a normal distribution"
            )
    if np.array_equal(got.get("W1"), got.get("W1_again")):
        return False, "two networks got the same W1: the initialisation must be random"
    return True, ""


@TESTS(
    "a1.two_layer_net.init",
    1,
    check=_check_gaussian_init,
    hint="W1 and W2 ~ weight_scale * N(0, 1); b1 and b2 zeros; use the names W1 b1 W2 b2.",
)
def two_layer_init(rng):
    data = {"weight_scale": float(rng.uniform(0.01, 0.1)), "dims": rng.integers(40, 80, 3)}
    code = (
        "from cs231n.classifiers.fc_net import TwoLayerNet\n"
        "D, H, C = (int(v) for v in dims)\n"
        "net = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=weight_scale)\n"
        "again = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=weight_scale)\n"
        "p = net.params\n"
        "out = {'shapes': np.array([p['W1'].shape, p['W2'].shape]),\n"
        "       'b': np.concatenate([p['b1'], p['b2']]), 'W1': p['W1'], 'W2': p['W2'],\n"
        "       'W1_again': again.params['W1']}"
    )
    return data, code
