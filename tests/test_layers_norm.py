"""Normalisation layers: batch norm, layer norm, spatial batch norm and spatial group norm.

Forward passes are compared with references written here from the definitions
(loops over channels and groups); every backward pass is checked against numerical
gradients in float64.

Tolerances: dx of a normalisation layer has entries close to zero (the gradient
components cancel), where the course's elementwise relative error is set by float64
rounding in the numerical gradient (~1e-11 absolute), not by the layer: over 60 random
draws it reached 1.4e-6 for a correct spatial batch norm. The checks therefore measure
the largest absolute difference relative to the largest entry of the numerical
gradient, with a step h = 1e-4 (these layers are smooth, so the O(h^2) truncation
error stays far below the rounding). Measured over 60 random draws of each test's
shapes (seeds 1000-1059): at most 1.2e-9 (layer norm), 1.1e-9 (batch norm, both
backward passes), 1.1e-10 (spatial batch norm), 9e-11 (group norm). The tolerance
1e-7 leaves a margin of 80x over the largest; a wrong gradient (a term of the chain
rule left out) gives 1e-2 or more, and ``test_the_check_catches_a_wrong_gradient``
shows it.
"""

import numpy as np
import pytest

from cs231n.gradient_check import rel_error
from cs231n.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from tests.conftest import assert_grads_match

NORM_CHECK = {"h": 1e-4, "tol": 1e-7, "relative_to": "largest"}  # see the module docstring

# ---------------------------------------------------------------- batch norm


def test_batchnorm_train_forward_normalises_then_scales_and_shifts(rng):
    x = 5.0 * rng.standard_normal((200, 3)) + 10.0
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.allclose(out.mean(axis=0), beta)
    assert np.allclose(out.std(axis=0), gamma, rtol=1e-4)  # eps makes it a hair smaller
    ref = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    assert rel_error(out, ref) < 1e-12


def test_batchnorm_running_averages_follow_the_momentum_formula(rng):
    x1, x2 = rng.standard_normal((10, 4)), 3 + 2 * rng.standard_normal((10, 4))
    gamma, beta = np.ones(4), np.zeros(4)
    bn_param = {"mode": "train", "momentum": 0.8}
    batchnorm_forward(x1, gamma, beta, bn_param)
    # First call: running_mean starts at zeros and running_var at ones.
    assert np.allclose(bn_param["running_mean"], 0.2 * x1.mean(0))
    assert np.allclose(bn_param["running_var"], 0.8 + 0.2 * x1.var(0))
    mean1, var1 = bn_param["running_mean"].copy(), bn_param["running_var"].copy()
    batchnorm_forward(x2, gamma, beta, bn_param)
    assert np.allclose(bn_param["running_mean"], 0.8 * mean1 + 0.2 * x2.mean(0))
    assert np.allclose(bn_param["running_var"], 0.8 * var1 + 0.2 * x2.var(0))


def test_batchnorm_running_averages_keep_dtype(rng):
    x = rng.standard_normal((6, 3)).astype(np.float32)
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    assert out.dtype == np.float32
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32


def test_batchnorm_test_mode_uses_running_averages_and_leaves_them_alone(rng):
    """The course's check: after many training batches, test-time outputs are normalised."""
    W1, W2 = rng.standard_normal((50, 60)), rng.standard_normal((60, 3))
    gamma, beta = np.ones(3), np.zeros(3)
    bn_param = {"mode": "train"}
    for _ in range(50):
        x = rng.standard_normal((100, 50))
        batchnorm_forward(np.maximum(0, x @ W1) @ W2, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    running = (bn_param["running_mean"].copy(), bn_param["running_var"].copy())
    a = np.maximum(0, rng.standard_normal((500, 50)) @ W1) @ W2
    out, cache = batchnorm_forward(a, gamma, beta, bn_param)
    assert cache is None
    assert np.all(np.abs(out.mean(axis=0)) < 0.15)
    assert np.all(np.abs(out.std(axis=0) - 1) < 0.15)
    ref = (a - running[0]) / np.sqrt(running[1] + 1e-5)
    assert rel_error(out, ref) < 1e-12
    assert np.array_equal(bn_param["running_mean"], running[0])
    assert np.array_equal(bn_param["running_var"], running[1])


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_matches_numerical_gradients(rng, backward):
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    assert_grads_match(
        lambda x, g, b: batchnorm_forward(x, g, b, bn_param)[0],
        [x, gamma, beta],
        lambda d: backward(d, cache),
        dout,
        names=["x", "gamma", "beta"],
        **NORM_CHECK,
    )


def test_the_check_catches_a_wrong_gradient(rng):
    """Batch norm's dx without the terms through the mean and variance fails the check."""
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)

    def forgetful_backward(d):
        dx, dgamma, dbeta = batchnorm_backward(d, cache)
        return gamma * d / np.sqrt(x.var(axis=0) + 1e-5), dgamma, dbeta

    with pytest.raises(AssertionError, match="dx: relative error"):
        assert_grads_match(
            lambda x, g, b: batchnorm_forward(x, g, b, bn_param)[0],
            [x, gamma, beta],
            forgetful_backward,
            dout,
            names=["x", "gamma", "beta"],
            **NORM_CHECK,
        )


def test_batchnorm_backward_alt_equals_the_graph_version(rng):
    N, D = 100, 500
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    dx_alt, dgamma_alt, dbeta_alt = batchnorm_backward_alt(dout, cache)
    assert rel_error(dgamma, dgamma_alt) < 1e-10
    assert rel_error(dbeta, dbeta_alt) < 1e-10
    # The two dx differ by float64 rounding only (~1e-16 absolute); entries of dx near
    # zero make the elementwise relative error of that rounding seed-dependent, so
    # compare against the size of the gradient instead.
    assert np.max(np.abs(dx - dx_alt)) / np.max(np.abs(dx)) < 1e-10


def test_batchnorm_mode_errors_name_the_problem(rng):
    x, g, b = rng.standard_normal((3, 2)), np.ones(2), np.zeros(2)
    with pytest.raises(KeyError, match="bn_param has no 'mode'"):
        batchnorm_forward(x, g, b, {})
    with pytest.raises(ValueError, match="'train' or 'test', got 'eval'"):
        batchnorm_forward(x, g, b, {"mode": "eval"})
    with pytest.raises(ValueError, match=r"gamma must have shape \(2,\)"):
        batchnorm_forward(x, np.ones(3), b, {"mode": "train"})
    _, cache = batchnorm_forward(x, g, b, {"mode": "test"})
    with pytest.raises(ValueError, match="test mode"):
        batchnorm_backward(np.ones((3, 2)), cache)
    with pytest.raises(ValueError, match="test mode"):
        batchnorm_backward_alt(np.ones((3, 2)), cache)


# ---------------------------------------------------------------- layer norm


def test_layernorm_forward_normalises_each_example(rng):
    x = 5.0 * rng.standard_normal((4, 300)) + 10.0
    gamma, beta = np.full(300, 2.0), np.full(300, 3.0)
    out, _ = layernorm_forward(x, gamma, beta, {})
    assert np.allclose(out.mean(axis=1), 3.0)
    assert np.allclose(out.std(axis=1), 2.0, rtol=1e-4)
    # Layer norm of x is batch norm of x.T: the roles of the axes swap.
    ref = ((x.T - x.mean(1)) / np.sqrt(x.var(1) + 1e-5)).T * gamma + beta
    assert rel_error(out, ref) < 1e-12


def test_layernorm_backward_matches_numerical_gradients(rng):
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    ln_param = {}
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    assert_grads_match(
        lambda x, g, b: layernorm_forward(x, g, b, ln_param)[0],
        [x, gamma, beta],
        lambda d: layernorm_backward(d, cache),
        dout,
        names=["x", "gamma", "beta"],
        **NORM_CHECK,
    )


def test_layernorm_checks_parameter_shapes(rng):
    with pytest.raises(ValueError, match=r"beta must have shape \(5,\)"):
        layernorm_forward(rng.standard_normal((2, 5)), np.ones(5), np.zeros(4), {})


# ---------------------------------------------------------------- spatial batch norm


def test_spatial_batchnorm_forward_normalises_each_channel(rng):
    N, C, H, W = 10, 3, 4, 5
    x = 4 * rng.standard_normal((N, C, H, W)) + 10
    gamma, beta = np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for c in range(C):  # reference: one channel at a time, over N, H and W
        xc = x[:, c]
        ref = gamma[c] * (xc - xc.mean()) / np.sqrt(xc.var() + 1e-5) + beta[c]
        assert rel_error(out[:, c], ref) < 1e-12


def test_spatial_batchnorm_test_mode_after_training(rng):
    N, C, H, W = 10, 4, 11, 12
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(C), np.zeros(C)
    for _ in range(50):
        x = 2.3 * rng.standard_normal((N, C, H, W)) + 13
        spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert bn_param["running_mean"].shape == (C,)
    bn_param["mode"] = "test"
    x = 2.3 * rng.standard_normal((N, C, H, W)) + 13
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert np.all(np.abs(out.mean(axis=(0, 2, 3))) < 0.1)
    assert np.all(np.abs(out.std(axis=(0, 2, 3)) - 1) < 0.1)


def test_spatial_batchnorm_backward_matches_numerical_gradients(rng):
    N, C, H, W = 2, 3, 4, 5
    x = 5 * rng.standard_normal((N, C, H, W)) + 12
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    dout = rng.standard_normal((N, C, H, W))
    bn_param = {"mode": "train"}
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert_grads_match(
        lambda x, g, b: spatial_batchnorm_forward(x, g, b, bn_param)[0],
        [x, gamma, beta],
        lambda d: spatial_batchnorm_backward(d, cache),
        dout,
        names=["x", "gamma", "beta"],
        **NORM_CHECK,
    )


# ---------------------------------------------------------------- spatial group norm


def test_spatial_groupnorm_forward_matches_a_loop_over_groups(rng):
    N, C, H, W, G = 2, 6, 4, 5, 3
    x = 4 * rng.standard_normal((N, C, H, W)) + 10
    gamma = rng.standard_normal((1, C, 1, 1))
    beta = rng.standard_normal((1, C, 1, 1))
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, {})
    ref = np.empty_like(x)
    size = C // G
    for n in range(N):
        for g in range(G):
            block = x[n, g * size : (g + 1) * size]  # (C // G, H, W)
            ref[n, g * size : (g + 1) * size] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    ref = gamma * ref + beta
    assert rel_error(out, ref) < 1e-12


def test_spatial_groupnorm_backward_matches_numerical_gradients(rng):
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * rng.standard_normal((N, C, H, W)) + 12
    gamma = rng.standard_normal((1, C, 1, 1))
    beta = rng.standard_normal((1, C, 1, 1))
    dout = rng.standard_normal((N, C, H, W))
    gn_param = {}
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    assert_grads_match(
        lambda x, g, b: spatial_groupnorm_forward(x, g, b, G, gn_param)[0],
        [x, gamma, beta],
        lambda d: spatial_groupnorm_backward(d, cache),
        dout,
        names=["x", "gamma", "beta"],
        **NORM_CHECK,
    )


def test_spatial_groupnorm_errors_name_the_problem(rng):
    x = rng.standard_normal((2, 6, 3, 3))
    g, b = np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1))
    with pytest.raises(ValueError, match="dividing the number of channels C = 6, got G = 4"):
        spatial_groupnorm_forward(x, g, b, 4, {})
    with pytest.raises(ValueError, match=r"gamma must have shape \(1, 6, 1, 1\)"):
        spatial_groupnorm_forward(x, np.ones(6), b, 3, {})
