"""Update rules against values worked out by hand from their formulas, and the Solver
on tiny problems: it overfits, restores the best parameters, rejects unknown rules,
and writes checkpoints atomically."""

import pickle

import numpy as np
import pytest

import cs231n.solver
from cs231n import optim
from cs231n.classifiers.fc_net import TwoLayerNet
from cs231n.solver import Solver

# ----------------------------------------------------------------------------- optim

W0 = np.array([1.0, -2.0, 0.5])
DW1 = np.array([0.5, 0.25, -1.0])
DW2 = np.array([-0.5, 0.25, 2.0])


def test_sgd_step_and_default_learning_rate():
    next_w, config = optim.sgd(W0.copy(), DW1, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [0.95, -2.025, 0.6])  # w - 0.1 * dw
    next_w, config = optim.sgd(W0.copy(), DW1)
    assert config["learning_rate"] == 1e-2
    np.testing.assert_allclose(next_w, [0.995, -2.0025, 0.51])


def test_sgd_momentum_two_steps():
    config = {"learning_rate": 0.1, "momentum": 0.9}
    w1, config = optim.sgd_momentum(W0.copy(), DW1, config)
    # v1 = -0.1 * dw1 = (-0.05, -0.025, 0.1); w1 = w0 + v1
    np.testing.assert_allclose(config["velocity"], [-0.05, -0.025, 0.1])
    np.testing.assert_allclose(w1, [0.95, -2.025, 0.6])
    w2, config = optim.sgd_momentum(w1, DW2, config)
    # v2 = 0.9 * v1 - 0.1 * dw2 = (-0.045 + 0.05, -0.0225 - 0.025, 0.09 - 0.2)
    np.testing.assert_allclose(config["velocity"], [0.005, -0.0475, -0.11])
    np.testing.assert_allclose(w2, [0.955, -2.0725, 0.49])
    _, defaults = optim.sgd_momentum(W0.copy(), DW1)
    assert defaults["learning_rate"] == 1e-2 and defaults["momentum"] == 0.9


def test_rmsprop_two_steps():
    config = {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 0.0}
    w1, config = optim.rmsprop(W0.copy(), DW1, config)
    # cache1 = 0.1 * dw1^2 = (0.025, 0.00625, 0.1); step = 0.01 * dw1 / sqrt(cache1)
    #        = 0.01 * sign(dw1) / sqrt(0.1) for every entry
    np.testing.assert_allclose(config["cache"], [0.025, 0.00625, 0.1])
    np.testing.assert_allclose(w1, W0 - 0.01 * np.sign(DW1) / np.sqrt(0.1))
    w2, config = optim.rmsprop(w1, DW2, config)
    # cache2 = 0.9 * cache1 + 0.1 * dw2^2 = (0.0475, 0.011875, 0.49)
    cache2 = np.array([0.0475, 0.011875, 0.49])
    np.testing.assert_allclose(config["cache"], cache2)
    np.testing.assert_allclose(w2, w1 - 0.01 * DW2 / np.sqrt(cache2))
    _, defaults = optim.rmsprop(W0.copy(), DW1)
    assert (defaults["learning_rate"], defaults["decay_rate"], defaults["epsilon"]) == (
        1e-2,
        0.99,
        1e-8,
    )


def test_adam_two_steps():
    config = {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.99, "epsilon": 0.0}
    w1, config = optim.adam(W0.copy(), DW1, config)
    # t = 1: m = 0.1 dw1, v = 0.01 dw1^2; bias correction divides them by 0.1 and 0.01,
    # so m_hat = dw1, v_hat = dw1^2 and the first step is 0.1 * sign(dw1).
    assert config["t"] == 1
    np.testing.assert_allclose(config["m"], 0.1 * DW1)
    np.testing.assert_allclose(config["v"], 0.01 * DW1**2)
    np.testing.assert_allclose(w1, W0 - 0.1 * np.sign(DW1))
    w2, config = optim.adam(w1, DW2, config)
    # t = 2: m = 0.9 * 0.1 dw1 + 0.1 dw2 = (-0.005, 0.0475, 0.11)
    #        v = 0.99 * 0.01 dw1^2 + 0.01 dw2^2 = (0.0049750, 0.00124375, 0.0499)
    #        m_hat = m / (1 - 0.81) = m / 0.19; v_hat = v / (1 - 0.9801) = v / 0.0199
    m2 = np.array([-0.005, 0.0475, 0.11])
    v2 = np.array([0.004975, 0.00124375, 0.0499])
    assert config["t"] == 2
    np.testing.assert_allclose(config["m"], m2)
    np.testing.assert_allclose(config["v"], v2)
    np.testing.assert_allclose(w2, w1 - 0.1 * (m2 / 0.19) / np.sqrt(v2 / 0.0199))
    _, defaults = optim.adam(W0.copy(), DW1)
    assert (defaults["learning_rate"], defaults["beta1"], defaults["beta2"]) == (1e-3, 0.9, 0.999)
    assert defaults["epsilon"] == 1e-8


def test_epsilon_guards_zero_gradients():
    for rule in (optim.rmsprop, optim.adam):
        next_w, _ = rule(W0.copy(), np.zeros(3))
        np.testing.assert_array_equal(next_w, W0)


# ---------------------------------------------------------------------------- solver


def tiny_data(rng, N=50, D=12, C=3):
    X = rng.standard_normal((N, 3, 2, 2))  # D = 12, flattened by the affine layer
    y = rng.integers(0, C, size=N)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


@pytest.mark.parametrize("rule, lr", [("sgd_momentum", 0.2), ("rmsprop", 1e-2), ("adam", 1e-2)])
def test_solver_overfits_a_tiny_training_set(rng, rule, lr):
    """50 random labels are memorised by a network with enough hidden units."""
    data = tiny_data(rng)
    model = TwoLayerNet(input_dim=12, hidden_dim=100, num_classes=3, weight_scale=0.1, seed=0)
    solver = Solver(
        model,
        data,
        update_rule=rule,
        optim_config={"learning_rate": lr},
        num_epochs=60,
        batch_size=25,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 60 * 2  # two minibatches per epoch


class PeakModel:
    """A stand-in model whose validation accuracy peaks in the middle of training.

    One parameter t grows by 1 per SGD step (its gradient is -1, the learning rate 1).
    It predicts class 1 while 3 <= t <= 4 and class 0 otherwise, so with every
    validation label 1 the accuracy is 1 only at the epochs where t is 3 or 4.
    """

    def __init__(self):
        self.params = {"t": np.array([0.0])}

    def loss(self, X, y=None):
        t = self.params["t"][0]
        scores = np.zeros((len(X), 2))
        scores[:, 1 if 3 <= t <= 4 else 0] = 1.0
        if y is None:
            return scores
        return 0.0, {"t": np.array([-1.0])}


def test_solver_restores_the_best_parameters():
    X = np.zeros((10, 1))
    y = np.ones(10, dtype=int)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    model = PeakModel()
    solver = Solver(
        model,
        data,
        update_rule="sgd",
        optim_config={"learning_rate": 1.0},
        batch_size=10,  # one step per epoch
        num_epochs=8,
        verbose=False,
        seed=0,
    )
    solver.train()
    # accuracy is checked after each epoch, where t = 1, 2, ..., 8: it is 1 at t = 3 and 4
    assert solver.val_acc_history == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    assert solver.best_params["t"].tolist() == [3.0]
    assert model.params["t"].tolist() == [3.0]  # not the final t = 8
    assert solver.check_accuracy(X, y) == 1.0


def test_solver_rejects_an_unknown_update_rule(rng):
    model = TwoLayerNet(input_dim=12, hidden_dim=5, num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r'unknown update rule "sgdd"; choose one of sgd, '):
        Solver(model, tiny_data(rng), update_rule="sgdd")
    with pytest.raises(ValueError, match="unrecognized arguments lr"):
        Solver(model, tiny_data(rng), lr=0.1)


def test_solver_writes_a_checkpoint_per_epoch(rng, tmp_path):
    data = tiny_data(rng)
    model = TwoLayerNet(input_dim=12, hidden_dim=5, num_classes=3, seed=0)
    prefix = tmp_path / "ck"
    solver = Solver(
        model, data, num_epochs=2, batch_size=25, checkpoint_name=str(prefix), verbose=False
    )
    solver.train()
    names = sorted(p.name for p in tmp_path.iterdir())
    # saved after the first iteration (epoch 0) and after each epoch; no temporary file left
    assert names == ["ck_epoch_0.pkl", "ck_epoch_1.pkl", "ck_epoch_2.pkl"]
    with open(tmp_path / "ck_epoch_2.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 2
    assert checkpoint["loss_history"] == solver.loss_history
    assert checkpoint["model"].params.keys() == model.params.keys()


def test_a_failed_checkpoint_write_leaves_the_old_file_intact(rng, tmp_path, monkeypatch):
    """If writing fails half-way (disk full, interrupt), the previous checkpoint survives."""
    data = tiny_data(rng)
    model = TwoLayerNet(input_dim=12, hidden_dim=5, num_classes=3, seed=0)
    target = tmp_path / "ck_epoch_0.pkl"  # the first file the solver writes
    target.write_bytes(b"previous checkpoint")

    def failing_dump(obj, f):
        f.write(b"half a pick")
        raise OSError("No space left on device")

    monkeypatch.setattr(cs231n.solver.pickle, "dump", failing_dump)
    solver = Solver(
        model,
        data,
        num_epochs=1,
        batch_size=25,
        checkpoint_name=str(tmp_path / "ck"),
        verbose=False,
    )
    with pytest.raises(OSError, match="No space left"):
        solver.train()
    assert target.read_bytes() == b"previous checkpoint"
