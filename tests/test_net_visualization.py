"""Tests for network visualization: saliency, fooling images, class visualization, inversion.

A tiny float64 ``PretrainedCNN`` with random weights stands in for the shipped one,
so the checks are exact (numerical gradients) and fast.
"""

import numpy as np
import pytest

from cs231n.classifiers.pretrained_cnn import PretrainedCNN
from cs231n.gradient_check import eval_numerical_gradient, rel_error
from cs231n.net_visualization import (
    blur_image,
    class_visualization_update_step,
    compute_saliency_maps,
    create_class_visualization,
    feature_inversion_update_step,
    invert_features,
    jitter,
    make_fooling_image,
    tv_loss,
)
from tests.conftest import assert_grads_match


@pytest.fixture
def model():
    return PretrainedCNN(
        input_dim=(3, 8, 8),
        num_filters=(4, 5, 6),
        hidden_dim=8,
        num_classes=4,
        dtype=np.float64,
        seed=0,
        mean=[120.0, 120.0, 120.0],
        std=[60.0, 60.0, 60.0],
    )


def test_saliency_is_max_abs_numerical_gradient_over_channels(model, rng):
    X = rng.standard_normal((3, 3, 8, 8))
    y = np.array([0, 3, 1])
    saliency = compute_saliency_maps(X, y, model)
    assert saliency.shape == (3, 8, 8)
    assert np.all(saliency >= 0)
    for i in range(3):
        xi = X[i : i + 1].copy()
        grad = eval_numerical_gradient(lambda x, i=i: model.scores(x)[0, y[i]], xi, verbose=False)
        expected = np.abs(grad[0]).max(axis=0)  # (H, W)
        assert rel_error(saliency[i], expected) < 1e-6


def test_saliency_rejects_bad_shapes(model, rng):
    with pytest.raises(ValueError, match="preprocessed images"):
        compute_saliency_maps(rng.standard_normal((2, 8, 8, 3)), np.array([0, 1]), model)
    with pytest.raises(ValueError, match="y must have shape"):
        compute_saliency_maps(rng.standard_normal((2, 3, 8, 8)), np.array([0]), model)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fooling_image_is_classified_as_target(model, rng, norm):
    X = rng.standard_normal((1, 3, 8, 8))
    original = X.copy()
    target = (int(model.predict(X)[0]) + 1) % 4
    lr = 0.01 if norm == "linf" else 0.05
    X_fooling, steps = make_fooling_image(
        X, target, model, learning_rate=lr, max_iter=500, norm=norm, return_steps=True
    )
    np.testing.assert_array_equal(X, original)  # the input is left untouched
    assert model.predict(X_fooling)[0] == target
    assert 0 < steps < 500
    # It stopped as soon as the target won: one step fewer and it still loses.
    X_prev = make_fooling_image(X, target, model, learning_rate=lr, max_iter=steps - 1, norm=norm)
    assert model.predict(X_prev)[0] != target
    # Each step has length lr in its norm, so the change is at most steps * lr.
    change = X_fooling - X
    size = np.abs(change).max() if norm == "linf" else np.linalg.norm(change)
    assert size <= steps * lr + 1e-9
    if norm == "linf":  # every input value moves by lr at every step
        np.testing.assert_allclose(np.abs(make_fooling_image(X, target, model, lr, 1) - X), lr)


def test_fooling_already_target_takes_no_step(model, rng):
    X = rng.standard_normal((1, 3, 8, 8))
    predicted = int(model.predict(X)[0])
    X_fooling, steps = make_fooling_image(X, predicted, model, return_steps=True)
    assert steps == 0
    np.testing.assert_array_equal(X_fooling, X)


def test_fooling_rejects_bad_input(model, rng):
    with pytest.raises(ValueError, match="single image"):
        make_fooling_image(rng.standard_normal((2, 3, 8, 8)), 0, model)
    with pytest.raises(ValueError, match="out of range"):
        make_fooling_image(rng.standard_normal((1, 3, 8, 8)), 4, model)
    with pytest.raises(ValueError, match="norm must be"):
        make_fooling_image(rng.standard_normal((1, 3, 8, 8)), 0, model, norm="l1")


@pytest.mark.parametrize("l2_reg", [0.0, 0.1])
def test_class_visualization_step_increases_objective(model, rng, l2_reg):
    img = rng.standard_normal((1, 3, 8, 8))

    def objective(im):
        return model.scores(im)[0, 2] - l2_reg * np.sum(im * im)

    before = objective(img)
    start = img.copy()
    out = class_visualization_update_step(img, model, 2, l2_reg, learning_rate=1e-3)
    assert out is img  # updated in place
    np.testing.assert_allclose(np.linalg.norm(img - start), 1e-3)  # a normalised step
    assert objective(img) > before


def test_create_class_visualization_stays_in_image_range(model):
    img, snaps = create_class_visualization(
        1, model, num_iterations=30, learning_rate=0.5, snapshot_every=10
    )
    lo, hi = model.image_range()
    assert img.shape == (1, 3, 8, 8)
    assert np.all(img >= lo - 1e-12) and np.all(img <= hi + 1e-12)
    assert [t for t, _ in snaps] == [1, 10, 20, 30]
    # Without jitter and blur, it is plain (clipped) gradient ascent: the score rises.
    plain = dict(learning_rate=0.1, max_jitter=0, blur_every=0)
    first = create_class_visualization(1, model, num_iterations=1, **plain)
    later = create_class_visualization(1, model, num_iterations=30, **plain)
    assert model.scores(later)[0, 1] > model.scores(first)[0, 1] + 0.1


def test_jitter_is_undone_by_opposite_jitter(rng):
    X = rng.standard_normal((2, 3, 5, 7))
    J = jitter(X, 2, -1)
    assert J[0, 0, 0, 2] == X[0, 0, 1, 0]
    np.testing.assert_array_equal(jitter(J, -2, 1), X)


def test_blur_smooths_each_channel_separately(rng):
    X = rng.standard_normal((1, 3, 16, 16))
    B = blur_image(X, sigma=1.0)
    assert B.shape == X.shape
    assert B.std() < X.std()
    constant = np.stack([np.full((16, 16), c) for c in (1.0, 2.0, 3.0)])[None]
    np.testing.assert_allclose(blur_image(constant), constant)  # no mixing across channels


def test_tv_loss_value_and_gradient(rng):
    img = rng.standard_normal((1, 3, 4, 5))
    loss, dimg = tv_loss(img, 0.3)
    expected = 0.3 * (np.sum(np.diff(img, axis=2) ** 2) + np.sum(np.diff(img, axis=3) ** 2))
    np.testing.assert_allclose(loss, expected)
    assert_grads_match(
        lambda im: np.array(tv_loss(im, 0.3)[0]),
        [img],
        lambda d: tv_loss(img, 0.3)[1] * d,
        np.array(1.0),
        names=["img"],
    )


def test_feature_inversion_descends(model, rng):
    target = model.forward(rng.standard_normal((1, 3, 8, 8)), end="conv2")[0]
    img = rng.standard_normal((1, 3, 8, 8))
    loss0 = feature_inversion_update_step(img, target, "conv2", model, 1e-3, tv_weight=0.01)
    loss1 = feature_inversion_update_step(img, target, "conv2", model, 1e-3, tv_weight=0.01)
    assert loss1 < loss0
    _, losses = invert_features(
        target, "conv2", model, num_iterations=40, learning_rate=0.3, tv_weight=0.01
    )
    assert losses[-1] < 0.5 * losses[0]
