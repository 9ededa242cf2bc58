"""Sandwich layers: common sequences of layers fused into one forward/backward pair.

Each sandwich keeps the layer contract of ``layers.py``: ``out, cache = *_forward(...)``
and ``dx, dw, ... = *_backward(dout, cache)``, where the cache holds the caches of
the layers inside. Building models from sandwiches keeps their code short.
"""

from cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)


def affine_relu_forward(x, w, b):
    """An affine layer followed by a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k), input
    w : ndarray of shape (D, M), weights, D = d_1 * ... * d_k
    b : ndarray of shape (M,), biases

    Returns
    -------
    out : ndarray of shape (N, M), output of the ReLU
    cache : (fc_cache, relu_cache), for the backward pass
    """
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    return out, cache


def affine_relu_backward(dout, cache):
    """Backward pass of the affine-ReLU sandwich.

    Parameters
    ----------
    dout : ndarray of shape (N, M), upstream gradient
    cache : (fc_cache, relu_cache) from ``affine_relu_forward``

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)  # (N, M)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db


NORMALIZATIONS = (None, "batchnorm", "layernorm")


def _check_normalization(func, normalization):
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"{func}: normalization must be None, 'batchnorm' or 'layernorm', "
            f"got {normalization!r}."
        )


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, normalization):
    """An affine layer, an optional batch or layer normalisation, then a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k), input
    w : ndarray of shape (D, M), weights, D = d_1 * ... * d_k
    b : ndarray of shape (M,), biases
    gamma, beta : ndarrays of shape (M,), scale and shift of the normalisation
        (ignored when ``normalization`` is None)
    norm_param : dict, the ``bn_param`` of batch norm or the ``ln_param`` of layer norm
    normalization : None, 'batchnorm' or 'layernorm'

    Returns
    -------
    out : ndarray of shape (N, M), output of the ReLU
    cache : (fc_cache, norm_cache, relu_cache, normalization), for the backward pass
    """
    _check_normalization("affine_norm_relu_forward", normalization)
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    norm_cache = None
    if normalization == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    elif normalization == "layernorm":
        a, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, norm_cache, relu_cache, normalization)
    return out, cache


def affine_norm_relu_backward(dout, cache):
    """Backward pass of the affine - [norm] - ReLU sandwich.

    Parameters
    ----------
    dout : ndarray of shape (N, M), upstream gradient
    cache : from ``affine_norm_relu_forward``

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    dgamma, dbeta : ndarrays of shape (M,), or None without normalisation
    """
    fc_cache, norm_cache, relu_cache, normalization = cache
    da = relu_backward(dout, relu_cache)  # (N, M)
    dgamma, dbeta = None, None
    if normalization == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward_alt(da, norm_cache)
    elif normalization == "layernorm":
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
