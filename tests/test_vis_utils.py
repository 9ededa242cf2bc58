"""Visualisation helpers: grid layouts and figures (drawn off-screen: conftest selects Agg)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cs231n.vis_utils import (
    plot_class_samples,
    show_weight_templates,
    vis_grid,
    vis_nn,
    visualize_grid,
)


def test_visualize_grid_layout_and_scaling(rng):
    Xs = rng.standard_normal((5, 4, 3, 2))  # 5 images -> a 3 x 3 grid
    grid = visualize_grid(Xs, ubound=255.0, padding=1)
    assert grid.shape == (3 * 4 + 2, 3 * 3 + 2, 2)
    first = grid[0:4, 0:3]
    assert first.min() == 0 and first.max() == pytest.approx(255.0)
    fifth = grid[5:9, 4:7]  # row 1, column 1
    expected = 255.0 * (Xs[4] - Xs[4].min()) / (Xs[4].max() - Xs[4].min())
    np.testing.assert_allclose(fifth, expected)
    assert np.all(grid[4, :] == 0) and np.all(grid[10:, 4:] == 0)  # padding and empty cells


def test_visualize_grid_constant_image_does_not_divide_by_zero():
    grid = visualize_grid(np.ones((1, 2, 2, 3)))
    assert np.all(grid == 0)


def test_vis_grid_and_vis_nn_share_one_scale(rng):
    Xs = rng.uniform(0, 10, size=(4, 3, 3, 1))
    grid = vis_grid(Xs)
    assert grid.shape == (2 * 4, 2 * 4, 1)
    assert grid.min() == 0 and grid.max() == 1
    rows = [[Xs[0], Xs[1], Xs[2]], [Xs[3], Xs[0], Xs[1]]]
    table = vis_nn(rows)
    assert table.shape == (2 * 4, 3 * 4, 1)
    with pytest.raises(ValueError, match="every row must hold 3 images"):
        vis_nn([[Xs[0], Xs[1], Xs[2]], [Xs[3]]])
    with pytest.raises(ValueError, match=r"Xs must be an array of images \(N, H, W, C\)"):
        vis_grid(Xs[0])


def test_plot_class_samples_returns_a_figure(rng):
    X = rng.integers(0, 256, size=(40, 8, 8, 3)).astype(np.float64)
    y = np.arange(40) % 4
    fig = plot_class_samples(X, y, ["a", "b", "c", "d"], samples_per_class=3, seed=0)
    assert len(fig.axes) == 12
    assert [ax.get_title() for ax in fig.axes[:4]] == ["a", "b", "c", "d"]
    plt.close(fig)


def test_show_weight_templates(rng):
    names = [f"class{i}" for i in range(10)]
    W = rng.standard_normal((3072, 10))
    fig = show_weight_templates(W, names)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == names
    assert shown[0].images[0].get_array().shape == (32, 32, 3)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"W must have shape \(3072, 10\)"):
        show_weight_templates(W[:100], names)
    # a bias row (the bias trick) is dropped; channels-first columns are transposed
    W_bias = np.vstack([W, np.ones((1, 10))])
    fig = show_weight_templates(W_bias, names, image_shape=(3, 32, 32))
    assert fig.axes[0].images[0].get_array().shape == (32, 32, 3)
    plt.close(fig)
