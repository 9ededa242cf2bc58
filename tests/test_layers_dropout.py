"""Inverted dropout: train mode keeps the mean, test mode is the identity, and the
backward pass matches numerical gradients for a fixed mask."""

import numpy as np
import pytest

from cs231n.layers import dropout_backward, dropout_forward
from tests.conftest import assert_grads_match


def test_test_mode_is_the_identity(rng):
    x = rng.standard_normal((20, 30))
    out, _ = dropout_forward(x, {"mode": "test", "p": 0.3})
    assert np.array_equal(out, x)


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_mode_keeps_a_fraction_p_and_preserves_the_mean(rng, p, seed):
    n = 500 * 500
    x = rng.standard_normal((500, 500)) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
    kept = out != 0
    assert np.allclose(out[kept], x[kept] / p)  # survivors are scaled by 1 / p
    # The kept fraction has standard deviation sqrt(p (1 - p) / n), about 1e-3 here, and
    # the mean of out / mean of x a relative one of about sqrt((1 - p) / (p n)) (the
    # spread of x adds under 1%). Bounds of six standard deviations: a correct layer fails
    # them with probability ~1e-9 on any seed, while keeping 1 - p instead of p, or
    # forgetting the 1 / p, misses them by a hundred standard deviations or more.
    frac_sd = np.sqrt(p * (1 - p) / n)
    mean_sd = np.sqrt((1 - p) / (p * n)) * 1.01
    assert abs(kept.mean() - p) < 6 * frac_sd
    assert abs(out.mean() - x.mean()) / x.mean() < 6 * mean_sd


def test_seed_makes_the_mask_repeatable(rng):
    x = rng.standard_normal((50, 40)) + 1
    a, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
    b, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
    c, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 4})
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_keep_probability_one_keeps_everything(rng):
    x = rng.standard_normal((10, 10))
    out, _ = dropout_forward(x, {"mode": "train", "p": 1.0})
    assert np.array_equal(out, x)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((10, 10)).astype(np.float32)
    out, cache = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 0})
    assert out.dtype == np.float32
    assert dropout_backward(np.ones_like(x), cache).dtype == np.float32


def test_backward_matches_numerical_gradient_with_fixed_seed(rng):
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal((10, 10))
    param = {"mode": "train", "p": 0.2, "seed": 123}
    _, cache = dropout_forward(x, param)
    assert_grads_match(
        lambda x: dropout_forward(x, param)[0],
        [x],
        lambda d: dropout_backward(d, cache),
        dout,
        names=["x"],
        tol=1e-8,
    )


def test_backward_in_test_mode_passes_the_gradient_through(rng):
    dout = rng.standard_normal((4, 5))
    _, cache = dropout_forward(rng.standard_normal((4, 5)), {"mode": "test", "p": 0.5})
    assert np.array_equal(dropout_backward(dout, cache), dout)


def test_bad_parameters_are_named(rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(KeyError, match="dropout_param has no 'mode'"):
        dropout_forward(x, {"p": 0.5})
    with pytest.raises(KeyError, match="no 'p' key"):
        dropout_forward(x, {"mode": "train"})
    for p in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="probability of KEEPING"):
            dropout_forward(x, {"mode": "train", "p": p})
    with pytest.raises(ValueError, match="'train' or 'test', got 'Train'"):
        dropout_forward(x, {"mode": "Train", "p": 0.5})
