"""``save(path)`` / ``load(path)`` of every trainable model: round trips, and refusals."""

import pickle

import numpy as np
import pytest

from cs231n.classifiers import KNearestNeighbor, LinearSVM, Softmax
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n.classifiers.rnn import CaptioningRNN

WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4}


def _trained_linear(cls, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 7))
    y = rng.integers(0, 3, 40)
    model = cls()
    model.train(X, y, learning_rate=1e-2, reg=1e-3, num_iters=5, batch_size=10, seed=seed)
    return model, X


def _models():
    """(name, factory(seed) -> model, input for a test-time prediction)."""
    rng = np.random.default_rng(0)
    X_fc = rng.standard_normal((4, 6))
    X_cnn = rng.standard_normal((2, 3, 8, 8))
    return [
        ("TwoLayerNet", lambda s: TwoLayerNet(6, 5, 3, weight_scale=0.1, seed=s), X_fc),
        (
            "FullyConnectedNet+batchnorm",
            lambda s: _seeded(s, FullyConnectedNet, [5, 4], 6, 3, normalization="batchnorm"),
            X_fc,
        ),
        (
            "ThreeLayerConvNet",
            lambda s: _seeded(s, ThreeLayerConvNet, (3, 8, 8), 4, 3, 5, 3),
            X_cnn,
        ),
    ]


def _seeded(seed, cls, *args, **kwargs):
    """Models whose initialisation draws from numpy's global random state."""
    np.random.seed(seed)
    return cls(*args, dtype=np.float64, **kwargs)


def _predict(model, X):
    return model.loss(X)


@pytest.mark.parametrize("name,make,X", _models(), ids=[m[0] for m in _models()])
def test_params_models_round_trip(tmp_path, name, make, X):
    model = make(1)
    if name.startswith("FullyConnectedNet"):
        # Train-mode passes give the batch-norm layers running statistics to save.
        y = np.array([0, 1, 2, 1])
        for _ in range(3):
            model.loss(X, y)
    path = tmp_path / "best_model.npy"
    model.save(path)
    assert path.is_file() and not list(tmp_path.glob("*.tmp"))  # the exact name, no leftovers

    other = make(2)
    assert not np.allclose(_predict(other, X), _predict(model, X))
    assert other.load(path) is True
    np.testing.assert_array_equal(_predict(other, X), _predict(model, X))
    for key, value in model.params.items():
        np.testing.assert_array_equal(other.params[key], value)
        assert other.params[key].dtype == model.params[key].dtype


def test_batchnorm_running_statistics_are_saved(tmp_path):
    model = FullyConnectedNet([5], 6, 3, normalization="batchnorm", seed=0)
    X = np.random.default_rng(3).standard_normal((8, 6)) * 4 + 2
    model.loss(X, np.zeros(8, dtype=int))
    model.save(tmp_path / "bn.npz")
    fresh = FullyConnectedNet([5], 6, 3, normalization="batchnorm", seed=0)
    fresh.load(tmp_path / "bn.npz")
    np.testing.assert_array_equal(
        fresh.bn_params[0]["running_mean"], model.bn_params[0]["running_mean"]
    )
    np.testing.assert_array_equal(
        fresh.bn_params[0]["running_var"], model.bn_params[0]["running_var"]
    )


@pytest.mark.parametrize("cls", [Softmax, LinearSVM])
def test_linear_classifiers_round_trip(tmp_path, cls):
    model, X = _trained_linear(cls, 0)
    model.save(tmp_path / "best_softmax.npy")
    fresh = cls()
    fresh.load(tmp_path / "best_softmax.npy")
    np.testing.assert_array_equal(fresh.W, model.W)
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))


def test_captioning_rnn_round_trip(tmp_path):
    model = CaptioningRNN(WORDS, input_dim=6, wordvec_dim=4, hidden_dim=5, cell_type="lstm", seed=0)
    model.save(tmp_path / "rnn.npz")
    other = CaptioningRNN(WORDS, input_dim=6, wordvec_dim=4, hidden_dim=5, cell_type="lstm", seed=1)
    other.load(tmp_path / "rnn.npz")
    features = np.random.default_rng(0).standard_normal((2, 6))
    np.testing.assert_array_equal(
        other.sample(features, max_length=4), model.sample(features, max_length=4)
    )


def test_untrained_linear_classifier_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="nothing to save yet"):
        Softmax().save(tmp_path / "w.npy")
    assert not list(tmp_path.iterdir())


def test_wrong_model_kind_is_refused(tmp_path):
    model, _ = _trained_linear(Softmax, 0)
    model.save(tmp_path / "m.npy")
    with pytest.raises(ValueError, match="holds a saved Softmax, not a LinearSVM"):
        LinearSVM().load(tmp_path / "m.npy")


def test_wrong_sizes_are_refused_and_the_model_is_unchanged(tmp_path):
    TwoLayerNet(6, 5, 3, seed=0).save(tmp_path / "small.npz")
    big = TwoLayerNet(6, 9, 3, seed=0)
    before = {k: v.copy() for k, v in big.params.items()}
    with pytest.raises(ValueError, match=r"W1 has shape \(6, 5\) in the file and \(6, 9\) here"):
        big.load(tmp_path / "small.npz")
    for key, value in before.items():
        np.testing.assert_array_equal(big.params[key], value)


def test_other_layers_are_refused(tmp_path):
    FullyConnectedNet([5], 6, 3, seed=0).save(tmp_path / "one.npz")
    with pytest.raises(ValueError, match="missing W3, b3"):
        FullyConnectedNet([5, 4], 6, 3, seed=0).load(tmp_path / "one.npz")


def test_a_pickle_is_never_loaded(tmp_path):
    """The original course code saved ``np.save(path, params_dict)``: a pickle. Loading one
    could run code, so it is refused with a clear message, and nothing in it runs."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.save(tmp_path / "evil.npy", np.array({"W": Evil()}, dtype=object), allow_pickle=True)
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"W": Evil()}, f)
    for name in ("evil.npy", "evil.pkl"):
        with pytest.raises(ValueError, match="not a .*saved model|not a model saved"):
            Softmax().load(tmp_path / name)
    assert not marker.exists()


def test_missing_file_and_plain_array_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved model at"):
        Softmax().load(tmp_path / "nope.npy")
    np.save(tmp_path / "plain.npy", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="single array"):
        Softmax().load(tmp_path / "plain.npy")


def test_knn_round_trip(tmp_path):
    rng = np.random.default_rng(12)
    X, y = rng.standard_normal((30, 5)), rng.integers(0, 3, 30)
    knn = KNearestNeighbor()
    knn.train(X, y)
    knn.save(tmp_path / "knn.npz")
    other = KNearestNeighbor()
    other.train(rng.standard_normal((4, 5)), np.zeros(4, dtype=int))  # any size is replaced
    other.load(tmp_path / "knn.npz")
    X_test = rng.standard_normal((7, 5))
    np.testing.assert_array_equal(other.predict(X_test, k=3), knn.predict(X_test, k=3))
    with pytest.raises(ValueError, match="nothing to save yet"):
        KNearestNeighbor().save(tmp_path / "empty.npz")
