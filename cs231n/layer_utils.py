"""Sandwich layers: common sequences of layers fused into one forward/backward pair.

Each sandwich keeps the layer contract of ``layers.py``: ``out, cache = *_forward(...)``
and ``dx, dw, ... = *_backward(dout, cache)``, where the cache holds the caches of
the layers inside. Building models from sandwiches keeps their code short.
"""

from cs231n import fast_layers as _fast_layers
from cs231n import layers as _layers
from cs231n.fast_layers import *  # noqa: F403
from cs231n.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n.layers import *  # noqa: F403
from cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

# The original course code's notebooks take every layer function from this module, or
# from the model modules that star-import it (``from cs231n.classifiers.fc_net import *``):
# the star imports above and this list keep those imports working; what this module
# itself uses is imported by name.
__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_norm_relu_forward",
    "affine_norm_relu_backward",
    "conv_relu_forward",
    "conv_relu_backward",
    "conv_bn_relu_forward",
    "conv_bn_relu_backward",
    "conv_relu_pool_forward",
    "conv_relu_pool_backward",
    *_layers.__all__,
    *(name for name in _fast_layers.__all__ if name not in ("BACKEND", "use_backend")),
]


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


# ---------------------------------------------------------------------------
# Convolutional sandwiches (assignment 2), built on the fast layers
# ---------------------------------------------------------------------------


def conv_relu_forward(x, w, b, conv_param):
    """A convolutional layer followed by a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input
    w : ndarray of shape (F, C, HH, WW), filter weights
    b : ndarray of shape (F,), biases
    conv_param : dict with stride and pad, as for ``conv_forward_naive``

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out), output of the ReLU
    cache : (conv_cache, relu_cache), for the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)  # (N, F, H_out, W_out)
    out, relu_cache = relu_forward(a)
    cache = (conv_cache, relu_cache)
    return out, cache


def conv_relu_backward(dout, cache):
    """Backward pass of the conv-ReLU sandwich.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out), upstream gradient
    cache : (conv_cache, relu_cache) from ``conv_relu_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None if ``conv_param["input_grad"]`` was False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """A convolutional layer, spatial batch normalisation, then a ReLU.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input
    w : ndarray of shape (F, C, HH, WW), filter weights
    b : ndarray of shape (F,), biases
    gamma, beta : ndarrays of shape (F,), scale and shift of the batch norm
    conv_param : dict with stride and pad
    bn_param : dict, as for ``spatial_batchnorm_forward`` (mode required)

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out)
    cache : (conv_cache, bn_cache, relu_cache), for the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)  # (N, F, H_out, W_out)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    cache = (conv_cache, bn_cache, relu_cache)
    return out, cache


def conv_bn_relu_backward(dout, cache):
    """Backward pass of the conv-batchnorm-ReLU sandwich.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out), upstream gradient
    cache : (conv_cache, bn_cache, relu_cache) from ``conv_bn_relu_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None if ``conv_param["input_grad"]`` was False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    dgamma, dbeta : ndarrays of shape (F,)
    """
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """A convolutional layer, a ReLU, then max pooling.

    Max pooling and the ReLU commute: both keep the order of numbers, so the largest
    of four rectified numbers is the rectified largest, ``max(relu(a)) ==
    relu(max(a))``, and the gradients agree too. This sandwich pools first and
    rectifies the pooled output, a quarter of the numbers for 2x2 pooling.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input
    w : ndarray of shape (F, C, HH, WW), filter weights
    b : ndarray of shape (F,), biases
    conv_param : dict with stride and pad (and optionally ``input_grad``, see
        ``conv_backward_fast``)
    pool_param : dict with pool_height, pool_width and stride

    Returns
    -------
    out : ndarray of shape (N, F, H_pool, W_pool), output of the pooling layer
    cache : (conv_cache, pool_cache, relu_cache), for the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)  # (N, F, H_out, W_out)
    p, pool_cache = max_pool_forward_fast(a, pool_param)  # (N, F, H_pool, W_pool)
    out, relu_cache = relu_forward(p)
    cache = (conv_cache, pool_cache, relu_cache)
    return out, cache


def conv_relu_pool_backward(dout, cache):
    """Backward pass of the conv-ReLU-pool sandwich.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_pool, W_pool), upstream gradient
    cache : (conv_cache, pool_cache, relu_cache) from ``conv_relu_pool_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None if ``conv_param["input_grad"]`` was False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    conv_cache, pool_cache, relu_cache = cache
    dp = relu_backward(dout, relu_cache)  # (N, F, H_pool, W_pool)
    da = max_pool_backward_fast(dp, pool_cache)  # (N, F, H_out, W_out)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db
