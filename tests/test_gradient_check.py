"""The gradient checker itself: it agrees with known gradients and catches wrong ones."""

import numpy as np
import pytest

from cs231n.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from tests.conftest import assert_grads_match


def test_rel_error_basics():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(3), np.ones(4))


def test_scalar_gradient_of_a_known_function(rng):
    x = rng.standard_normal((4, 5))
    grad = eval_numerical_gradient(lambda z: np.sum(np.sin(z)), x, verbose=False)
    assert rel_error(grad, np.cos(x)) < 1e-7


def test_array_gradient_restores_input(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    dout = rng.standard_normal((3, 4))
    grad = eval_numerical_gradient_array(np.tanh, x, dout)
    assert np.array_equal(x, before)
    assert rel_error(grad, dout * (1 - np.tanh(x) ** 2)) < 1e-8


def test_checker_catches_a_wrong_gradient(rng):
    """A backward pass off by a factor of 2 on one element must fail the check."""
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))

    def wrong_backward(d):
        g = d * np.cos(x)
        g[0, 0] *= 2
        return (g,)

    assert_grads_match(np.sin, [x], lambda d: (d * np.cos(x),), dout)
    with pytest.raises(AssertionError, match="relative error"):
        assert_grads_match(np.sin, [x], wrong_backward, dout)


def test_sparse_check_reports_small_and_large_errors(rng):
    x = rng.standard_normal((5, 6))
    f = lambda z: np.sum(z**2)
    good = grad_check_sparse(f, x, 2 * x, num_checks=5, seed=0, verbose=False)
    bad = grad_check_sparse(f, x, 3 * x, num_checks=5, seed=0, verbose=False)
    assert max(good) < 1e-8
    assert min(bad) > 0.1
