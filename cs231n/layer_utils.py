"""Sandwich layers: common sequences of layers fused into one forward/backward pair.

Each sandwich keeps the layer contract of ``layers.py``: ``out, cache = *_forward(...)``
and ``dx, dw, ... = *_backward(dout, cache)``, where the cache holds the caches of
the layers inside. Building models from sandwiches keeps their code short.
"""

from cs231n.layers import affine_backward, affine_forward, relu_backward, relu_forward


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
