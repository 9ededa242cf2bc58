"""ThreeLayerConvNet: loss at initialisation, gradients of the whole network against
numerical gradients in float64 (on tiny inputs), test mode, and clear errors.

The network runs on the fast convolution and pooling layers (``cs231n.fast_layers``).
"""

import numpy as np
import pytest

from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.solver import Solver
from tests.classifiers.test_fc_net import assert_model_grads_match

C = 10


def tiny_net(**kwargs):
    np.random.seed(231)  # the weights come from numpy's global random state
    defaults = dict(
        input_dim=(3, 8, 8), num_filters=3, filter_size=3, hidden_dim=7, dtype=np.float64
    )
    return ThreeLayerConvNet(**{**defaults, **kwargs})


def test_parameters_have_the_documented_shapes():
    net = ThreeLayerConvNet()  # the course defaults: 32 filters of 7x7 on 3x32x32 images
    shapes = {name: p.shape for name, p in net.params.items()}
    assert shapes == {
        "W1": (32, 3, 7, 7),
        "b1": (32,),
        "W2": (32 * 16 * 16, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(p.dtype == np.float32 for p in net.params.values())


def test_initial_loss_is_about_log_C_and_reg_increases_it(rng):
    net = tiny_net(input_dim=(3, 16, 16), num_filters=8, filter_size=5, hidden_dim=20)
    X, y = rng.standard_normal((20, 3, 16, 16)), rng.integers(C, size=20)
    loss, _ = net.loss(X, y)
    assert abs(loss - np.log(C)) < 1e-3
    net.reg = 0.5
    loss_reg, _ = net.loss(X, y)
    squares = sum(np.sum(net.params[w] ** 2) for w in ("W1", "W2", "W3"))
    assert loss_reg == pytest.approx(loss + 0.25 * squares, rel=1e-10)


@pytest.mark.parametrize("filter_size, reg", [(3, 0.0), (5, 0.7)])
def test_gradients_match_numerical_gradients(rng, filter_size, reg):
    net = tiny_net(filter_size=filter_size, reg=reg, weight_scale=0.3)
    X, y = rng.standard_normal((2, 3, 8, 8)), rng.integers(C, size=2)
    assert_model_grads_match(net, X, y)


def test_test_mode_returns_scores(rng):
    net = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, hidden_dim=5)
    scores = net.loss(rng.standard_normal((6, 3, 8, 8)))
    assert scores.shape == (6, C)
    assert scores.dtype == np.float32


def test_overfits_a_small_training_set(rng):
    """The course's sanity check: the network memorises a few examples."""
    X, y = rng.standard_normal((20, 3, 8, 8)), rng.integers(C, size=20)
    np.random.seed(0)
    net = ThreeLayerConvNet(
        input_dim=(3, 8, 8), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=5e-2
    )
    solver = Solver(
        net,
        {"X_train": X, "y_train": y, "X_val": X[:5], "y_val": y[:5]},
        update_rule="adam",
        optim_config={"learning_rate": 2e-2},
        num_epochs=15,
        batch_size=10,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(filter_size=4)
    with pytest.raises(ValueError, match="even height and width"):
        ThreeLayerConvNet(input_dim=(3, 31, 32))
    with pytest.raises(ValueError, match=r"input_dim must be \(C, H, W\)"):
        ThreeLayerConvNet(input_dim=(32, 32))


def test_the_images_gradient_is_not_computed(rng, monkeypatch):
    """The first convolution's input is the images: the backward pass must not spend a
    product and col2im on a gradient nobody uses (conv_param["input_grad"] is False)."""
    from cs231n import fast_layers

    net = tiny_net()
    X, y = rng.standard_normal((4, 3, 8, 8)), rng.integers(0, C, 4)
    expected_loss, expected = net.loss(X, y)

    def no_col2im(*args, **kwargs):
        raise AssertionError("col2im ran: the network computed the images' gradient")

    monkeypatch.setattr(fast_layers, "_kernels", _Without(fast_layers._kernels, no_col2im))
    loss, grads = net.loss(X, y)
    assert loss == expected_loss
    for name in expected:
        np.testing.assert_array_equal(grads[name], expected[name])


class _Without:
    """The kernels module with col2im replaced."""

    def __init__(self, kernels, col2im):
        self._kernels, self.col2im = kernels, col2im

    def __getattr__(self, name):
        return getattr(self._kernels, name)
