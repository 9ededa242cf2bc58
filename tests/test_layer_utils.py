"""Sandwich layers: each equals its layers run in sequence (the naive layers, for the
convolutional sandwiches built on the fast ones), and its backward pass matches
numerical gradients in float64."""

import numpy as np
import pytest

from cs231n.gradient_check import rel_error
from cs231n.layer_utils import (
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import (
    affine_forward,
    batchnorm_forward,
    conv_forward_naive,
    layernorm_forward,
    max_pool_forward_naive,
    spatial_batchnorm_forward,
)
from tests.conftest import assert_grads_match


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_affine_norm_relu_forward_is_the_three_layers_in_sequence(rng, normalization):
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    out, _ = affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"}, normalization)
    a, _ = affine_forward(x, w, b)
    if normalization == "batchnorm":
        a, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})
    elif normalization == "layernorm":
        a, _ = layernorm_forward(a, gamma, beta, {})
    assert rel_error(out, np.maximum(a, 0)) < 1e-12


@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_affine_norm_relu_backward_matches_numerical_gradients(rng, normalization):
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    norm_param = {"mode": "train"} if normalization == "batchnorm" else {}
    out, cache = affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, normalization)
    dout = rng.standard_normal(out.shape)
    dx, dw, db, dgamma, dbeta = affine_norm_relu_backward(dout, cache)
    assert_grads_match(
        lambda x, w, g, be: affine_norm_relu_forward(x, w, b, g, be, norm_param, normalization)[0],
        [x, w, gamma, beta],
        lambda _: (dx, dw, dgamma, dbeta),
        dout,
        names=["x", "w", "gamma", "beta"],
        tol=1e-7,
        h=1e-4,
    )
    if normalization == "batchnorm":  # b is cancelled by the batch mean
        assert np.max(np.abs(db)) < 1e-12
    else:
        assert_grads_match(
            lambda b: affine_norm_relu_forward(x, w, b, gamma, beta, {}, normalization)[0],
            [b],
            lambda _: (db,),
            dout,
            names=["b"],
            tol=1e-7,
            h=1e-4,
        )


def test_affine_norm_relu_without_normalization(rng):
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, cache = affine_norm_relu_forward(x, w, b, None, None, None, None)
    dout = rng.standard_normal(out.shape)
    dx, dw, db, dgamma, dbeta = affine_norm_relu_backward(dout, cache)
    assert dgamma is None and dbeta is None
    assert_grads_match(
        lambda x, w, b: affine_norm_relu_forward(x, w, b, None, None, None, None)[0],
        [x, w, b],
        lambda _: (dx, dw, db),
        dout,
        names=["x", "w", "b"],
        tol=1e-8,
    )


def test_affine_norm_relu_rejects_an_unknown_normalization(rng):
    x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    with pytest.raises(ValueError, match="normalization must be None, 'batchnorm' or"):
        affine_norm_relu_forward(x, w, b, None, None, {}, "groupnorm")


# ---------------------------------------------------------------- convolutional sandwiches

CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def conv_inputs(rng):
    x = rng.standard_normal((2, 3, 8, 8))
    w, b = rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)
    return x, w, b


def test_conv_relu_forward_and_backward(rng):
    x, w, b = conv_inputs(rng)
    out, cache = conv_relu_forward(x, w, b, CONV)
    assert rel_error(out, np.maximum(conv_forward_naive(x, w, b, CONV)[0], 0)) < 1e-12
    dout = rng.standard_normal(out.shape)
    grads = conv_relu_backward(dout, cache)
    assert_grads_match(
        lambda x, w, b: conv_relu_forward(x, w, b, CONV)[0],
        [x, w, b],
        lambda _: grads,
        dout,
        names=["x", "w", "b"],
        tol=1e-8,
    )


def test_conv_relu_pool_forward_and_backward(rng):
    x, w, b = conv_inputs(rng)
    out, cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
    conv = np.maximum(conv_forward_naive(x, w, b, CONV)[0], 0)
    assert rel_error(out, max_pool_forward_naive(conv, POOL)[0]) < 1e-12
    dout = rng.standard_normal(out.shape)
    grads = conv_relu_pool_backward(dout, cache)
    assert_grads_match(
        lambda x, w, b: conv_relu_pool_forward(x, w, b, CONV, POOL)[0],
        [x, w, b],
        lambda _: grads,
        dout,
        names=["x", "w", "b"],
        tol=1e-8,
    )


def test_conv_relu_pool_pooling_first_gives_the_gradients_of_relu_first(rng):
    """The sandwich pools before the ReLU (they commute); its results must be those of
    conv - ReLU - pool from the naive layers, also where a whole window is negative."""
    from cs231n.layers import conv_backward_naive, max_pool_backward_naive, relu_backward

    x, w, b = conv_inputs(rng)
    b = np.array([-50.0, 0.0, 0.3])  # filter 0: every window negative, its gradient 0
    a, conv_cache = conv_forward_naive(x, w, b, CONV)
    s = np.maximum(a, 0)
    ref_out, pool_cache = max_pool_forward_naive(s, POOL)
    out, cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    ds = max_pool_backward_naive(dout, pool_cache)
    ref = conv_backward_naive(relu_backward(ds, a), conv_cache)
    for got, want in zip(conv_relu_pool_backward(dout, cache), ref):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.all(conv_relu_pool_backward(dout, cache)[1][0] == 0)


def test_conv_sandwiches_skip_dx_when_the_input_needs_no_gradient(rng):
    x, w, b = conv_inputs(rng)
    no_dx = dict(CONV, input_grad=False)
    out, cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
    out2, cache2 = conv_relu_pool_forward(x, w, b, no_dx, POOL)
    np.testing.assert_array_equal(out2, out)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    dx2, dw2, db2 = conv_relu_pool_backward(dout, cache2)
    assert dx.shape == x.shape and dx2 is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)
    out, cache = conv_relu_forward(x, w, b, no_dx)
    assert conv_relu_backward(rng.standard_normal(out.shape), cache)[0] is None


def test_conv_bn_relu_forward_and_backward(rng):
    x, w, b = conv_inputs(rng)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    bn_param = {"mode": "train"}
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, CONV, bn_param)
    a = conv_forward_naive(x, w, b, CONV)[0]
    ref = np.maximum(spatial_batchnorm_forward(a, gamma, beta, {"mode": "train"})[0], 0)
    assert rel_error(out, ref) < 1e-12
    dout = rng.standard_normal(out.shape)
    dx, dw, db, dgamma, dbeta = conv_bn_relu_backward(dout, cache)
    assert_grads_match(
        lambda x, w, g, be: conv_bn_relu_forward(x, w, b, g, be, CONV, bn_param)[0],
        [x, w, gamma, beta],
        lambda _: (dx, dw, dgamma, dbeta),
        dout,
        names=["x", "w", "gamma", "beta"],
        tol=1e-7,
        h=1e-4,
    )
    assert np.max(np.abs(db)) < 1e-12  # b is cancelled by the batch mean
