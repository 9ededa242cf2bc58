"""FullyConnectedNet: shapes, modes, errors, and gradients of the whole network
checked against numerical gradients in float64, for depths 2 to 4 with and without
batch norm, layer norm, dropout and regularisation.

How the network's gradients are compared: the loss is a sum of many terms, so its
numerical gradient carries float64 rounding noise of ~1e-11 in absolute terms, while
a deep network has gradient entries as small as 1e-8 (units that are nearly dead).
An elementwise relative error, as the layer tests use, would measure that noise on
those entries; here each parameter's error is measured relative to its largest
gradient entry instead (observed: at most 2e-9 over the cases; a wrong gradient gives
1e-3 or more). Weights of scale 0.3 on unit-variance inputs keep pre-activations of
order one, away from the ReLU kinks at the step h = 1e-5.
"""

import numpy as np
import pytest

from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.gradient_check import eval_numerical_gradient
from cs231n.solver import Solver

N, D, C = 10, 15, 10
HIDDEN = {2: [12], 3: [12, 16], 4: [12, 16, 8]}  # depth (number of affine layers) -> dims


def make_net(depth, **kwargs):
    np.random.seed(231)  # the weights come from numpy's global random state (seed=None)
    kwargs.setdefault("weight_scale", 0.3)
    net = FullyConnectedNet(HIDDEN[depth], input_dim=D, num_classes=C, dtype=np.float64, **kwargs)
    # Biases away from zero: with zero biases, a unit whose every input was dropped sits
    # exactly on its ReLU's kink, where the numerical gradient is meaningless.
    offsets = np.random.default_rng(depth)
    for name in net.params:
        if name.startswith("b"):
            net.params[name] += 0.1 * offsets.standard_normal(net.params[name].shape)
    return net


def data(rng):
    return rng.standard_normal((N, D)), rng.integers(C, size=N)


def numerical_grads(net, X, y, names):
    """Numerical gradient of the training loss with respect to each named parameter."""
    return {
        name: eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], False)
        for name in names
    }


def assert_model_grads_match(net, X, y, names=None, tol=1e-8):
    """Analytic against numerical gradients of the named parameters (default: all),
    each error measured relative to the parameter's largest gradient entry."""
    _, grads = net.loss(X, y)
    assert set(grads) == set(net.params)
    for name, numeric in numerical_grads(net, X, y, names or list(net.params)).items():
        assert grads[name].shape == net.params[name].shape, f"d{name} has the wrong shape"
        err = np.max(np.abs(grads[name] - numeric)) / np.max(np.abs(grads[name]) + np.abs(numeric))
        assert err < tol, (
            f"d{name}: error {err:.2e} relative to the largest entry exceeds {tol:.0e}"
        )


def test_parameters_have_the_documented_names_and_shapes():
    net = FullyConnectedNet([20, 30], input_dim=D, num_classes=C, normalization="batchnorm")
    shapes = {name: p.shape for name, p in net.params.items()}
    assert shapes == {
        "W1": (D, 20),
        "b1": (20,),
        "gamma1": (20,),
        "beta1": (20,),
        "W2": (20, 30),
        "b2": (30,),
        "gamma2": (30,),
        "beta2": (30,),
        "W3": (30, C),
        "b3": (C,),
    }
    assert all(p.dtype == np.float32 for p in net.params.values())  # the default dtype
    assert np.all(net.params["gamma1"] == 1) and np.all(net.params["beta2"] == 0)
    assert len(net.bn_params) == 2 and net.num_layers == 3


def test_initial_weights_have_the_requested_scale():
    np.random.seed(0)
    net = FullyConnectedNet([200, 300], input_dim=400, weight_scale=0.1)
    assert abs(net.params["W2"].std() - 0.1) < 0.005
    assert np.all(net.params["b2"] == 0)


def test_initial_loss_is_about_log_C(rng):
    net = make_net(3, weight_scale=1e-3)
    X, y = rng.standard_normal((50, D)), rng.integers(C, size=50)
    loss, _ = net.loss(X, y)
    assert abs(loss - np.log(C)) < 0.01


def test_regularisation_adds_half_reg_times_squared_weights(rng):
    X, y = data(rng)
    loss0, _ = make_net(3).loss(X, y)
    net = make_net(3, reg=3.14)
    loss, _ = net.loss(X, y)
    squares = sum(np.sum(net.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert loss == pytest.approx(loss0 + 0.5 * 3.14 * squares, rel=1e-12)


# (depth, normalization, dropout_keep_ratio, reg): each normalisation at every depth,
# with and without dropout and regularisation.
CASES = [
    (2, None, 1, 0.0),
    (3, None, 0.5, 0.0),
    (3, None, 0.7, 0.7),
    (4, None, 1, 3.14),
    (2, "batchnorm", 0.5, 3.14),
    (3, "batchnorm", 1, 0.0),
    (4, "batchnorm", 1, 0.0),
    (4, "batchnorm", 0.7, 0.7),
    (2, "layernorm", 1, 3.14),
    (3, "layernorm", 0.7, 0.7),
    (4, "layernorm", 1, 0.0),
    (4, "layernorm", 0.5, 0.0),
]


@pytest.mark.parametrize("depth, normalization, keep, reg", CASES)
def test_gradients_match_numerical_gradients(rng, depth, normalization, keep, reg):
    net = make_net(depth, normalization=normalization, dropout_keep_ratio=keep, reg=reg, seed=1)
    X, y = data(rng)
    before_bn = [f"b{i}" for i in range(1, depth)] if normalization == "batchnorm" else []
    assert_model_grads_match(net, X, y, names=[n for n in net.params if n not in before_bn])
    # A bias feeding batch norm has no effect on the output (batch norm subtracts the
    # batch mean): its true gradient is zero, and its numerical one is rounding noise.
    _, grads = net.loss(X, y)
    for name, numeric in numerical_grads(net, X, y, before_bn).items():
        assert np.max(np.abs(grads[name])) < 1e-12
        assert np.max(np.abs(numeric)) < 1e-8


def test_the_gradient_check_catches_a_missing_regularisation_term(rng):
    """Negative test of assert_model_grads_match: a gradient without reg * W fails."""
    net = make_net(3, reg=0.1)
    X, y = data(rng)
    loss_fn = net.loss

    def wrong_loss(X, y=None):
        out = loss_fn(X, y)
        if y is not None:
            out[1]["W2"] -= net.reg * net.params["W2"]
        return out

    net.loss = wrong_loss
    with pytest.raises(AssertionError, match="dW2"):
        assert_model_grads_match(net, X, y)


def test_test_mode_uses_running_averages_and_no_dropout(rng):
    net = make_net(3, normalization="batchnorm", dropout_keep_ratio=0.5)
    X, y = rng.standard_normal((40, D)), rng.integers(C, size=40)
    net.loss(X, y)  # one training step updates the running averages
    assert "running_mean" in net.bn_params[0]
    running = net.bn_params[0]["running_mean"].copy()
    scores = net.loss(X)
    assert scores.shape == (40, C)
    assert np.array_equal(scores, net.loss(X))  # deterministic: no dropout at test time
    assert np.array_equal(net.bn_params[0]["running_mean"], running)
    assert all(p["mode"] == "test" for p in net.bn_params)
    assert net.dropout_param["mode"] == "test"
    net.loss(X, y)
    assert net.dropout_param["mode"] == "train"


def test_float32_network_computes_in_float32(rng):
    net = FullyConnectedNet([20], input_dim=D, num_classes=C, normalization="layernorm")
    X, y = data(rng)
    loss, grads = net.loss(X, y)
    assert net.loss(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_a_three_layer_net_overfits_fifty_examples(rng):
    """The course's sanity check: a deep enough net memorises a small training set."""
    X = rng.standard_normal((50, 3, 8, 8))
    y = rng.integers(C, size=50)
    np.random.seed(0)
    net = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, weight_scale=0.1)
    solver = Solver(
        net,
        {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]},
        update_rule="sgd",
        optim_config={"learning_rate": 5e-2},
        num_epochs=20,
        batch_size=25,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="normalization must be None, 'batchnorm' or"):
        FullyConnectedNet([10], normalization="groupnorm")
    with pytest.raises(ValueError, match="probability of KEEPING"):
        FullyConnectedNet([10], dropout_keep_ratio=0)
    with pytest.raises(ValueError, match="hidden_dims must be positive integers"):
        FullyConnectedNet([10, 0])
