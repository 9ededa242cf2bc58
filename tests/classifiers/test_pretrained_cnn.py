"""Tests for the pretrained CNN of the network-visualization notebook.

Gradients (with respect to the input image, intermediate features and parameters)
against numerical gradients in float64 on a tiny network; save/load round trips
and every loading error; the shipped weights load and classify their data set.
"""

import json
import os

import numpy as np
import pytest

from cs231n.classifiers.pretrained_cnn import (
    LAYER_NAMES,
    PretrainedCNN,
    dataset_of,
    pretrained_data_dir,
    weights_path,
)
from cs231n.gradient_check import eval_numerical_gradient, rel_error
from tests.conftest import assert_grads_match

TINY = dict(input_dim=(3, 8, 8), num_filters=(4, 5, 6), hidden_dim=7, num_classes=3)


@pytest.fixture
def tiny():
    return PretrainedCNN(**TINY, dtype=np.float64, seed=0)


def test_input_gradient_matches_numerical(tiny, rng):
    X = rng.standard_normal((2, 3, 8, 8))
    scores, cache = tiny.forward(X)
    assert scores.shape == (2, 3)
    dscores = rng.standard_normal(scores.shape)
    # Numerical noise on the smallest entries of dX sets the 1e-6 tolerance.
    assert_grads_match(
        lambda x: tiny.forward(x)[0],
        [X],
        lambda d: tiny.backward(d, cache)[0],
        dscores,
        names=["X"],
        tol=1e-6,
    )


def test_gradient_convenience_is_backward(tiny, rng):
    X = rng.standard_normal((3, 3, 8, 8))
    dscores = np.zeros((3, 3))
    dscores[np.arange(3), [0, 2, 1]] = 1
    scores, cache = tiny.forward(X)
    np.testing.assert_array_equal(tiny.gradient(X, dscores), tiny.backward(dscores, cache)[0])
    np.testing.assert_array_equal(tiny.scores(X), scores)
    np.testing.assert_array_equal(tiny.predict(X), scores.argmax(axis=1))
    with pytest.raises(ValueError, match="dscores must have shape"):
        tiny.gradient(X, dscores[:2])


@pytest.mark.parametrize("start, end", [(0, 1), (1, 3), ("conv3", "fc2"), (4, 4)])
def test_partial_passes_compose_and_backprop(tiny, rng, start, end):
    X = rng.standard_normal((2, 3, 8, 8))
    s = start if isinstance(start, int) else LAYER_NAMES.index(start)
    e = end if isinstance(end, int) else LAYER_NAMES.index(end)
    inp = tiny.forward(X, end=s - 1)[0] if s > 0 else X  # the input of layer s
    out, cache = tiny.forward(inp, start=start, end=end)
    scores = tiny.forward(out, start=e + 1)[0] if e < 4 else out
    np.testing.assert_allclose(scores, tiny.forward(X)[0], rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    assert_grads_match(
        lambda x: tiny.forward(x, start=start, end=end)[0],
        [inp],
        lambda d: tiny.backward(d, cache)[0],
        dout,
        names=["input"],
        tol=1e-6,
    )


def test_loss_gradients_match_numerical(rng):
    model = PretrainedCNN(**TINY, dtype=np.float64, seed=1, reg=0.1)
    X = rng.standard_normal((4, 3, 8, 8))
    y = rng.integers(0, 3, size=4)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], False)
        assert rel_error(grads[name], num) < 1e-6, name


def test_loss_without_labels_returns_scores(tiny, rng):
    X = rng.standard_normal((5, 3, 8, 8))
    np.testing.assert_array_equal(tiny.loss(X), tiny.forward(X)[0])


def test_bad_inputs_are_rejected(tiny, rng):
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 8, 8\)"):
        tiny.forward(rng.standard_normal((2, 8, 8, 3)))
    with pytest.raises(TypeError, match="floating point"):
        tiny.forward(np.zeros((1, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="Unknown layer"):
        tiny.forward(rng.standard_normal((1, 3, 8, 8)), end="conv9")
    with pytest.raises(ValueError, match="comes before"):
        tiny.forward(rng.standard_normal((1, 3, 8, 8)), start=2, end=1)
    with pytest.raises(ValueError, match="mode"):
        tiny.forward(rng.standard_normal((1, 3, 8, 8)), mode="eval")
    with pytest.raises(ValueError, match="divisible by 8"):
        PretrainedCNN(input_dim=(3, 10, 10))


def test_preprocess_deprocess_round_trip(rng):
    model = PretrainedCNN(**TINY, mean=[120.0, 110.0, 100.0], std=[60.0, 50.0, 40.0])
    images = rng.integers(0, 256, size=(2, 8, 8, 3)).astype(np.float64)
    X = model.preprocess(images)
    assert X.shape == (2, 3, 8, 8) and X.dtype == np.float32
    np.testing.assert_allclose(X[1, 2, 3, 4], (images[1, 3, 4, 2] - 100) / 40, rtol=1e-6)
    np.testing.assert_allclose(model.deprocess(X), images, atol=1e-4)
    lo, hi = model.image_range()
    np.testing.assert_allclose(lo.ravel(), [-2.0, -2.2, -2.5])
    np.testing.assert_allclose(hi.ravel(), [135 / 60, 145 / 50, 155 / 40])
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        model.preprocess(np.zeros((2, 3, 8, 8)))


def test_save_load_round_trip(tmp_path, rng):
    model = PretrainedCNN(
        **TINY, seed=3, class_names=["a", "b", "c"], mean=[1, 2, 3], std=[4, 5, 6]
    )
    path = tmp_path / "w.npz"
    model.save(path, val_accuracy=0.5)
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # rights of any new file, not 0600
    loaded = PretrainedCNN.load(path, dtype=np.float64)
    assert loaded.class_names == ["a", "b", "c"]
    assert loaded.metadata["val_accuracy"] == 0.5
    assert loaded.metadata["architecture"] == model.architecture()
    for k, v in model.params.items():
        assert loaded.params[k].dtype == np.float64
        np.testing.assert_array_equal(loaded.params[k], v)
    np.testing.assert_array_equal(loaded.std, [4, 5, 6])
    X = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(loaded.scores(X), model.scores(X), rtol=1e-4, atol=1e-5)


def test_loading_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_pretrained_cnn.py"):
        PretrainedCNN.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="Unknown dataset"):
        PretrainedCNN.load(dataset="imagenet")

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        PretrainedCNN.load(garbage)

    no_meta = tmp_path / "no_meta.npz"
    np.savez(no_meta, W1=np.zeros(3))
    with pytest.raises(ValueError, match="no 'meta' entry"):
        PretrainedCNN.load(no_meta)

    good = tmp_path / "good.npz"
    PretrainedCNN(**TINY).save(good)
    arrays = dict(np.load(good))

    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez(wrong_shape, **{**arrays, "W2": np.zeros((5, 4, 5, 5), np.float32)})
    with pytest.raises(ValueError, match=r"W2 has shape \(5, 4, 5, 5\)"):
        PretrainedCNN.load(wrong_shape)

    missing = tmp_path / "missing_param.npz"
    np.savez(missing, **{k: v for k, v in arrays.items() if k != "b4"})
    with pytest.raises(ValueError, match="b4 is missing"):
        PretrainedCNN.load(missing)

    meta = json.loads(str(arrays["meta"]))
    meta["architecture"]["input_dim"] = [3, 10, 10]
    bad_arch = tmp_path / "bad_arch.npz"
    np.savez(bad_arch, **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="unsupported architecture"):
        PretrainedCNN.load(bad_arch)


def test_shipped_weights_are_small_and_complete():
    path = weights_path("embedded")
    assert path.stat().st_size < 2 * 1024 * 1024
    model = PretrainedCNN.load()
    assert model.input_dim == (3, 32, 32) and model.num_classes == 10
    assert len(model.class_names) == 10
    assert model.metadata["dataset"] == "embedded"
    assert model.metadata["val_accuracy"] > 0.8
    assert len(LAYER_NAMES) == 5


def test_shipped_weights_classify_the_embedded_set():
    from cs231n import data_utils
    from cs231n.data import embedded_cifar

    folder = embedded_cifar.ensure_embedded_cifar10(data_utils.embedded_cifar10_path())
    assert dataset_of(folder) == "embedded"
    model = PretrainedCNN.for_data(folder)
    assert model.class_names == data_utils.cifar10_class_names(folder)
    X_test, y_test = data_utils.load_CIFAR_batch(folder / "test_batch")
    acc = np.mean(model.predict(model.preprocess(X_test[:500])) == y_test[:500])
    assert acc > 0.8, f"shipped weights classify only {acc:.2f} of the embedded test images"


def test_for_data_warns_when_the_embedded_set_changed(tmp_path, monkeypatch):
    from cs231n.classifiers import pretrained_cnn

    path = tmp_path / "w.npz"
    PretrainedCNN(**TINY).save(path, dataset="embedded", generator_version=-1)
    monkeypatch.setattr(pretrained_cnn, "weights_path", lambda dataset="embedded": path)
    monkeypatch.setattr(pretrained_cnn, "dataset_of", lambda data_dir: "embedded")
    with pytest.warns(UserWarning, match="trained on version -1 of the embedded"):
        PretrainedCNN.for_data(tmp_path)


def test_pretrained_data_dir_falls_back_to_the_embedded_set(tmp_path, monkeypatch):
    from cs231n import data_utils
    from cs231n.classifiers import pretrained_cnn

    real = tmp_path / "real"
    monkeypatch.setattr(pretrained_cnn, "dataset_of", lambda data_dir: "cifar10")
    monkeypatch.setattr(pretrained_cnn, "weights_path", lambda dataset: tmp_path / dataset)
    with pytest.warns(UserWarning, match="No pretrained CNN weights for the cifar10"):
        assert pretrained_data_dir(real) == str(data_utils.embedded_cifar10_path())
    (tmp_path / "cifar10").write_bytes(b"")  # now there are CIFAR-10 weights
    assert pretrained_data_dir(real) == str(real)
