"""One meaning of ``seed`` everywhere (cs231n/_random.py): an int seeds a generator of the
object's own — its draws repeat and numpy's global random state is left alone — and None
draws from the global state, so ``np.random.seed`` makes a run repeatable."""

import numpy as np
import pytest

from cs231n._random import generator
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n.classifiers.linear_classifier import Softmax
from cs231n.classifiers.pretrained_cnn import PretrainedCNN
from cs231n.classifiers.rnn import CaptioningRNN
from cs231n.classifiers.transformer import CaptioningTransformer
from cs231n.gradient_check import grad_check_sparse
from cs231n.layers import dropout_forward

WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}
X = np.random.default_rng(5).standard_normal((20, 6))
Y = np.arange(20) % 3


def _train_softmax(seed):
    clf = Softmax()
    clf.train(X, Y, num_iters=3, batch_size=5, seed=seed, verbose=False)
    return clf.W


def _grad_check(seed):
    x = np.zeros((4, 5))
    errors = grad_check_sparse(
        lambda v: float(np.sum(v * v)), x, 2 * x, 3, seed=seed, verbose=False
    )
    # The coordinates chosen show through the order of x's perturbation; record them.
    chosen = []
    grad_check_sparse(
        lambda v: chosen.append(np.argmax(v)) or 0.0, x, x, 3, seed=seed, verbose=False
    )
    return np.array(chosen + errors)


DRAWS = {
    "TwoLayerNet": lambda seed: TwoLayerNet(6, 5, 3, seed=seed).params["W1"],
    "FullyConnectedNet weights": lambda seed: FullyConnectedNet([5], 6, 3, seed=seed).params["W1"],
    "FullyConnectedNet dropout": lambda seed: FullyConnectedNet(
        [50], 6, 3, dropout_keep_ratio=0.5, seed=seed, dtype=np.float64
    ).loss(X),
    "ThreeLayerConvNet": lambda seed: ThreeLayerConvNet((1, 4, 4), 2, 3, 4, 3, seed=seed).params[
        "W1"
    ],
    "CaptioningRNN": lambda seed: CaptioningRNN(WORDS, 4, 3, 5, seed=seed).params["Wx"],
    "CaptioningTransformer": lambda seed: CaptioningTransformer(
        WORDS, 4, 4, 2, 1, seed=seed
    ).params["W_proj"],
    "PretrainedCNN": lambda seed: PretrainedCNN(
        input_dim=(3, 8, 8), num_filters=(2, 2, 2), hidden_dim=4, num_classes=3, seed=seed
    ).params["W1"],
    "LinearClassifier.train": _train_softmax,
    "dropout_forward": lambda seed: dropout_forward(
        np.ones((4, 6)), {"mode": "train", "p": 0.5, **({} if seed is None else {"seed": seed})}
    )[0],
    "grad_check_sparse": _grad_check,
}


@pytest.mark.parametrize("name", DRAWS)
def test_an_int_seed_repeats_and_leaves_the_global_state_alone(name):
    draw = DRAWS[name]
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    first = draw(123)
    assert np.array_equal(np.random.get_state()[1], before), "the global state was used"
    assert np.array_equal(first, draw(123))
    assert not np.array_equal(first, draw(124))


@pytest.mark.parametrize("name", DRAWS)
def test_none_follows_numpys_global_state(name):
    draw = DRAWS[name]
    np.random.seed(7)
    first = draw(None)
    np.random.seed(7)
    assert np.array_equal(first, draw(None))


def test_a_seed_must_be_an_int():
    with pytest.raises(TypeError, match="int or None"):
        generator(1.5)
    with pytest.raises(TypeError, match="int or None"):
        generator(True)
