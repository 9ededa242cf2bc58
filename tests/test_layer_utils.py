"""Sandwich layers: each equals its layers run in sequence, and its backward pass
matches numerical gradients in float64."""

import numpy as np
import pytest

from cs231n.gradient_check import rel_error
from cs231n.layer_utils import affine_norm_relu_backward, affine_norm_relu_forward
from cs231n.layers import affine_forward, batchnorm_forward, layernorm_forward
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
