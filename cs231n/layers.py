"""Layers: the building blocks of every network in the course.

Every layer is a pair of pure functions sharing one contract:

    out, cache = <layer>_forward(x, ..., params)
    dx, d<param>, ... = <layer>_backward(dout, cache)

``forward`` computes the output and keeps in ``cache`` whatever ``backward`` needs;
``backward`` receives the upstream gradient ``dout`` (same shape as ``out``) and
returns the gradient of the loss with respect to each input, each with the shape
of that input. Losses return ``(loss, dx)`` directly.

Shape letters: N batch, D features, M outputs, C classes or channels, H W spatial,
F filters, HH WW filter size.
"""

import math

import numpy as np

from cs231n._checks import check_float, check_labels, check_ndim
from cs231n._random import generator

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "svm_loss",
    "softmax_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
]


def affine_forward(x, w, b):
    """Affine (fully connected) layer: out = x w + b, each example flattened to D numbers.

    Parameters
    ----------
    x : ndarray of shape (N, d_1, ..., d_k); each example is flattened to D = d_1 * ... * d_k
    w : ndarray of shape (D, M), weights
    b : ndarray of shape (M,), biases

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : (x, w, b)
    """
    N = x.shape[0]
    D = math.prod(x.shape[1:])
    if w.ndim != 2 or w.shape[0] != D:
        raise ValueError(
            f"affine_forward: x has {D} features per example (shape {x.shape}) "
            f"but w has shape {w.shape}; w must be of shape ({D}, M)."
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine_forward: b must have shape ({w.shape[1]},), got {b.shape}.")
    out = None
    # BEGIN SOLUTION a1.two_layer_net.affine_forward: the output of the affine layer, each example flattened to a row
    out = x.reshape(N, D) @ w + b  # (N, M)
    # END SOLUTION a1.two_layer_net.affine_forward
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Parameters
    ----------
    dout : ndarray of shape (N, M), upstream gradient
    cache : (x, w, b) from ``affine_forward``

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION a1.two_layer_net.affine_backward: the gradients of the input (in its original shape), weights and biases
    N = x.shape[0]
    dx = (dout @ w.T).reshape(x.shape)  # (N, D) -> original shape
    dw = x.reshape(N, -1).T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    # END SOLUTION a1.two_layer_net.affine_backward
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: ``out = max(0, x)``, elementwise.

    Parameters
    ----------
    x : ndarray of any shape

    Returns
    -------
    out : ndarray of the same shape as ``x``
    cache : x
    """
    out = None
    # BEGIN SOLUTION a1.two_layer_net.relu_forward: the elementwise ReLU
    out = np.maximum(0, x)
    # END SOLUTION a1.two_layer_net.relu_forward
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of the ReLU: the gradient flows only where the input was positive.

    Parameters
    ----------
    dout : ndarray of any shape, upstream gradient
    cache : x, the input of the forward pass, of the same shape

    Returns
    -------
    dx : ndarray of the same shape as ``x``
    """
    x = cache
    dx = None
    # BEGIN SOLUTION a1.two_layer_net.relu_backward: the gradient passed back through the ReLU
    dx = dout * (x > 0)
    # END SOLUTION a1.two_layer_net.relu_backward
    return dx


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch.

    Parameters
    ----------
    x : ndarray of shape (N, C), class scores; x[i, j] is the score of class j for example i
    y : ndarray of shape (N,), integer labels with 0 <= y[i] < C

    Returns
    -------
    loss : float
    dx : ndarray of shape (N, C), gradient of the loss with respect to x
    """
    check_ndim("svm_loss", "x", x, 2)
    check_labels("svm_loss", y, x.shape[0], x.shape[1])
    loss, dx = None, None
    # BEGIN SOLUTION a1.two_layer_net.svm_loss: the multiclass SVM loss of the scores and its gradient
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]  # (N, 1)
    margins = np.maximum(0, x - correct + 1.0)  # (N, C)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)  # (N, C)
    dx = positive
    dx[np.arange(N), y] -= positive.sum(axis=1)
    dx /= N
    # END SOLUTION a1.two_layer_net.svm_loss
    return loss, dx


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss, averaged over the batch.

    Parameters
    ----------
    x : ndarray of shape (N, C), class scores (logits)
    y : ndarray of shape (N,), integer labels with 0 <= y[i] < C

    Returns
    -------
    loss : float
    dx : ndarray of shape (N, C), gradient of the loss with respect to x
    """
    check_ndim("softmax_loss", "x", x, 2)
    check_labels("softmax_loss", y, x.shape[0], x.shape[1])
    loss, dx = None, None
    # BEGIN SOLUTION a1.two_layer_net.softmax_loss: the softmax (cross-entropy) loss of the scores and its gradient
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), for numerical stability
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].sum() / N
    dx = np.exp(log_probs)  # probabilities, (N, C)
    dx[np.arange(N), y] -= 1
    dx /= N
    # END SOLUTION a1.two_layer_net.softmax_loss
    return loss, dx


# ---------------------------------------------------------------------------
# Normalisation: batch norm and layer norm
# ---------------------------------------------------------------------------


def _get_mode(func, param, param_name):
    """Return ``param['mode']`` ('train' or 'test'), or raise an error naming the problem."""
    if not isinstance(param, dict):
        raise TypeError(f"{func}: {param_name} must be a dict, got {type(param).__name__}.")
    if "mode" not in param:
        raise KeyError(
            f"{func}: {param_name} has no 'mode' key; set {param_name}['mode'] to "
            "'train' or 'test' before calling the layer."
        )
    mode = param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"{func}: {param_name}['mode'] must be 'train' or 'test', got {mode!r}.")
    return mode


def _check_scale_shift(func, gamma, beta, shape):
    """Raise unless ``gamma`` and ``beta`` both have ``shape``."""
    for name, arr in (("gamma", gamma), ("beta", beta)):
        if np.shape(arr) != shape:
            raise ValueError(f"{func}: {name} must have shape {shape}, got {np.shape(arr)}.")


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation: normalise each feature over the minibatch, then scale and shift.

    In train mode, each feature is normalised with the mean and variance of the
    minibatch, and exponential running averages of both are kept for test time::

        running_mean  <-  momentum · running_mean + (1 - momentum) · sample_mean
        running_var   <-  momentum · running_var  + (1 - momentum) · sample_var

    In test mode, the running averages are used instead of the batch statistics.

    Parameters
    ----------
    x : ndarray of shape (N, D), input data
    gamma : ndarray of shape (D,), scale
    beta : ndarray of shape (D,), shift
    bn_param : dict with the keys
        - mode : 'train' or 'test' (required)
        - eps : float, added to the variance for numerical stability (default 1e-5)
        - momentum : float, decay of the running averages (default 0.9)
        - running_mean : ndarray of shape (D,), created as zeros on the first call
        - running_var : ndarray of shape (D,), created as ones on the first call
        The running averages are updated in ``bn_param`` itself.

    Returns
    -------
    out : ndarray of shape (N, D)
    cache : what ``batchnorm_backward`` needs (None in test mode)
    """
    mode = _get_mode("batchnorm_forward", bn_param, "bn_param")
    check_ndim("batchnorm_forward", "x", x, 2)
    check_float("batchnorm_forward", "x", x)
    N, D = x.shape
    _check_scale_shift("batchnorm_forward", gamma, beta, (D,))
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.ones(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # BEGIN SOLUTION a2.batchnorm.forward_train: normalise with the minibatch's statistics and update the running averages
        sample_mean = x.mean(axis=0)  # (D,)
        xc = x - sample_mean  # (N, D), centred
        sample_var = (xc**2).mean(axis=0)  # (D,)
        std = np.sqrt(sample_var + eps)  # (D,)
        istd = 1.0 / std  # (D,)
        xhat = xc * istd  # (N, D), zero mean and unit variance per feature
        out = gamma * xhat + beta
        cache = (xhat, xc, istd, std, sample_var, eps, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
        # END SOLUTION a2.batchnorm.forward_train
    else:
        # BEGIN SOLUTION a2.batchnorm.forward_test: normalise with the running averages instead
        xhat = (x - running_mean) / np.sqrt(running_var + eps)  # (N, D)
        out = gamma * xhat + beta
        # END SOLUTION a2.batchnorm.forward_test

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def _check_train_cache(func, cache):
    if cache is None:
        raise ValueError(
            f"{func}: the cache is None, which the forward pass returns in test mode; "
            "backpropagate through a forward pass run with mode 'train'."
        )


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalisation, one node of the computational graph at a time.

    The forward pass is the chain ``mean -> centre -> variance -> std -> 1/std ->
    normalise -> scale and shift``; this function walks it in reverse.

    Parameters
    ----------
    dout : ndarray of shape (N, D), upstream gradient
    cache : from ``batchnorm_forward`` in train mode

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)
    """
    _check_train_cache("batchnorm_backward", cache)
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION a2.batchnorm.backward: backpropagate through the computation graph of the forward pass, step by step
    xhat, xc, istd, std, var, eps, gamma = cache
    N = dout.shape[0]
    # out = gamma * xhat + beta
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * xhat).sum(axis=0)  # (D,)
    dxhat = dout * gamma  # (N, D)
    # xhat = xc * istd: xc is used here and in the variance, istd is shared by all rows
    dxc = dxhat * istd  # (N, D)
    distd = (dxhat * xc).sum(axis=0)  # (D,)
    # istd = 1 / std
    dstd = -distd / std**2  # (D,)
    # std = sqrt(var + eps)
    dvar = 0.5 * dstd / np.sqrt(var + eps)  # (D,)
    # var = mean(xc ** 2, axis=0)
    dsq = np.ones_like(xc) * dvar / N  # (N, D)
    dxc += 2 * xc * dsq
    # xc = x - mean
    dmean = -dxc.sum(axis=0)  # (D,)
    dx = dxc.copy()
    # mean = mean(x, axis=0)
    dx += np.ones_like(dxc) * dmean / N
    # END SOLUTION a2.batchnorm.backward
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalisation in closed form.

    Working the chain rule through on paper collapses the graph to one line::

        dx = (1 / N) * istd * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    where dxhat is the gradient reaching the normalised input (dout scaled by gamma),
    istd = 1 / sqrt(var + eps), and the sums run over the batch.

    Parameters and returns are those of ``batchnorm_backward``.
    """
    _check_train_cache("batchnorm_backward_alt", cache)
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION a2.batchnorm.backward_alt: the same gradients from the simplified closed-form expression
    xhat, _, istd, _, _, _, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * xhat).sum(axis=0)  # (D,)
    dxhat = dout * gamma  # (N, D)
    dx = istd / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    # END SOLUTION a2.batchnorm.backward_alt
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalisation: normalise each example over its features, then scale and shift.

    Unlike batch norm, the statistics come from one example alone, so train and test
    behave the same and no running averages are kept.

    Parameters
    ----------
    x : ndarray of shape (N, D), input data
    gamma : ndarray of shape (D,), scale
    beta : ndarray of shape (D,), shift
    ln_param : dict with the optional key eps (default 1e-5)

    Returns
    -------
    out : ndarray of shape (N, D)
    cache : what ``layernorm_backward`` needs
    """
    check_ndim("layernorm_forward", "x", x, 2)
    check_float("layernorm_forward", "x", x)
    _check_scale_shift("layernorm_forward", gamma, beta, (x.shape[1],))
    eps = ln_param.get("eps", 1e-5)
    out, cache = None, None
    # BEGIN SOLUTION a2.layernorm.forward: normalise each example over its own features, then scale and shift
    mean = x.mean(axis=1, keepdims=True)  # (N, 1)
    xc = x - mean  # (N, D)
    var = (xc**2).mean(axis=1, keepdims=True)  # (N, 1)
    istd = 1.0 / np.sqrt(var + eps)  # (N, 1)
    xhat = xc * istd  # (N, D), zero mean and unit variance per example
    out = gamma * xhat + beta
    cache = (xhat, istd, gamma)
    # END SOLUTION a2.layernorm.forward
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass of layer normalisation.

    The closed form of batch norm with the roles of the two axes swapped: sums run
    over the D features of each example instead of over the batch.

    Parameters
    ----------
    dout : ndarray of shape (N, D), upstream gradient
    cache : from ``layernorm_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION a2.layernorm.backward: the gradients of layer normalisation
    xhat, istd, gamma = cache
    D = dout.shape[1]
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * xhat).sum(axis=0)  # (D,)
    dxhat = dout * gamma  # (N, D)
    dx = (
        istd
        / D
        * (
            D * dxhat
            - dxhat.sum(axis=1, keepdims=True)
            - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)
        )
    )
    # END SOLUTION a2.layernorm.backward
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------


def dropout_forward(x, dropout_param):
    """Inverted dropout: keep each unit with probability p and scale it by 1 / p.

    Scaling at train time keeps the expected activation unchanged, so test time is
    the identity.

    Parameters
    ----------
    x : ndarray of any shape, input data
    dropout_param : dict with the keys
        - p : float in (0, 1], the probability of KEEPING each unit (required)
        - mode : 'train' or 'test' (required); test mode returns x unchanged
        - seed : int, optional; when given, the mask is drawn from a generator seeded
          with it, so it repeats (for gradient checks only, not for real training);
          without it, from numpy's global random state (see cs231n._random)

    Returns
    -------
    out : ndarray of the same shape as ``x``
    cache : (dropout_param, mask); mask is None in test mode
    """
    mode = _get_mode("dropout_forward", dropout_param, "dropout_param")
    if "p" not in dropout_param:
        raise KeyError(
            "dropout_forward: dropout_param has no 'p' key; set it to the probability "
            "of keeping a unit, in (0, 1]."
        )
    p = dropout_param["p"]
    if not 0 < p <= 1:
        raise ValueError(
            f"dropout_forward: dropout_param['p'] is the probability of KEEPING a unit "
            f"and must lie in (0, 1], got {p}."
        )
    rng = generator(dropout_param.get("seed"))  # has .random(shape), like np.random

    mask, out = None, None
    if mode == "train":
        # BEGIN SOLUTION a2.dropout.forward_train: draw the mask of kept units and apply it, scaled so the expectation is unchanged
        mask = (rng.random(x.shape) < p).astype(x.dtype) / p  # like x: 0 or 1 / p
        out = x * mask
        # END SOLUTION a2.dropout.forward_train
    else:
        # BEGIN SOLUTION a2.dropout.forward_test: what dropout does at test time
        out = x
        # END SOLUTION a2.dropout.forward_test
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: the gradient flows through the kept units only.

    Parameters
    ----------
    dout : ndarray of any shape, upstream gradient
    cache : (dropout_param, mask) from ``dropout_forward``

    Returns
    -------
    dx : ndarray of the same shape as ``dout``
    """
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        # BEGIN SOLUTION a2.dropout.backward_train: the gradient through the mask used in the forward pass
        dx = dout * mask
        # END SOLUTION a2.dropout.backward_train
    else:
        dx = dout
    return dx


# ---------------------------------------------------------------------------
# Convolution and pooling (naive: clear loops over output positions)
# ---------------------------------------------------------------------------


def _conv_output_size(func, x_shape, w_shape, stride, pad):
    """Check a convolution's shapes and return its output size (H_out, W_out)."""
    N, C, H, W = x_shape
    F, Cw, HH, WW = w_shape
    if Cw != C:
        raise ValueError(
            f"{func}: x has {C} channels (shape {x_shape}) but the filters have {Cw} "
            f"(w shape {w_shape}); w must be of shape (F, {C}, HH, WW)."
        )
    if not (isinstance(stride, (int, np.integer)) and stride >= 1):
        raise ValueError(f"{func}: stride must be a positive integer, got {stride!r}.")
    if not (isinstance(pad, (int, np.integer)) and pad >= 0):
        raise ValueError(f"{func}: pad must be a non-negative integer, got {pad!r}.")
    for dim, size, fsize in (("height", H, HH), ("width", W, WW)):
        span = size + 2 * pad - fsize
        if span < 0:
            raise ValueError(
                f"{func}: the filter {dim} {fsize} exceeds the padded input {dim} "
                f"{size} + 2 * {pad}."
            )
        if span % stride != 0:
            raise ValueError(
                f"{func}: stride {stride} does not tile the input {dim}: "
                f"({dim} {size} + 2 * pad {pad} - filter {fsize}) = {span} is not a "
                f"multiple of {stride}; change the stride, the padding or the filter size."
            )
    return 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def conv_forward_naive(x, w, b, conv_param):
    """Convolutional layer, naive version: one loop over output positions.

    Each of the F filters is slid over the zero-padded input; at each position the
    output is the dot product of the filter with the receptive field, plus the bias.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input data
    w : ndarray of shape (F, C, HH, WW), filter weights
    b : ndarray of shape (F,), biases
    conv_param : dict with the keys
        - stride : int, the step between neighbouring receptive fields
        - pad : int, the number of zeros added on each side of H and W

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out) where
        H_out = 1 + (H + 2 * pad - HH) // stride and
        W_out = 1 + (W + 2 * pad - WW) // stride
    cache : (x, w, b, conv_param)
    """
    check_ndim("conv_forward_naive", "x", x, 4)
    check_ndim("conv_forward_naive", "w", w, 4)
    check_float("conv_forward_naive", "x", x)
    check_float("conv_forward_naive", "w", w)
    missing = [k for k in ("stride", "pad") if k not in conv_param]
    if missing:
        raise KeyError(f"conv_forward_naive: conv_param is missing {missing}.")
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out, W_out = _conv_output_size("conv_forward_naive", x.shape, w.shape, stride, pad)
    if np.shape(b) != (w.shape[0],):
        raise ValueError(f"conv_forward_naive: b must have shape ({w.shape[0]},), got {b.shape}.")
    out = None
    # BEGIN SOLUTION a2.conv.forward_naive: the convolution, with explicit loops over the output positions
    N = x.shape[0]
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2p, W + 2p)
    w_rows = w.reshape(F, -1)  # (F, C * HH * WW), one filter per row
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            field = x_pad[:, :, hs : hs + HH, ws : ws + WW]  # (N, C, HH, WW)
            out[:, :, i, j] = field.reshape(N, -1) @ w_rows.T + b  # (N, F)
    # END SOLUTION a2.conv.forward_naive
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of the naive convolutional layer.

    Each output position received a receptive field and all the filters; in reverse,
    it sends ``dout`` back to both, and the contributions of overlapping fields add up.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out), upstream gradient
    cache : (x, w, b, conv_param) from ``conv_forward_naive``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    x, w, b, conv_param = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION a2.conv.backward_naive: the gradients of the input, filters and biases of the convolution
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2p, W + 2p)
    w_rows = w.reshape(F, -1)  # (F, C * HH * WW)
    dx_pad = np.zeros_like(x_pad)
    dw_rows = np.zeros_like(w_rows)
    db = dout.sum(axis=(0, 2, 3))  # (F,)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            field = x_pad[:, :, hs : hs + HH, ws : ws + WW].reshape(N, -1)  # (N, C*HH*WW)
            d = dout[:, :, i, j]  # (N, F)
            dw_rows += d.T @ field
            dx_pad[:, :, hs : hs + HH, ws : ws + WW] += (d @ w_rows).reshape(N, C, HH, WW)
    dw = dw_rows.reshape(w.shape)
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]  # drop the padding
    # END SOLUTION a2.conv.backward_naive
    return dx, dw, db


def _pool_output_size(func, x_shape, pool_param):
    """Check a pooling layer's parameters and return its output size (H_out, W_out)."""
    missing = [k for k in ("pool_height", "pool_width", "stride") if k not in pool_param]
    if missing:
        raise KeyError(f"{func}: pool_param is missing {missing}.")
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H, W = x_shape
    for name, value in (("pool_height", ph), ("pool_width", pw), ("stride", stride)):
        if not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}.")
    for dim, size, psize in (("height", H, ph), ("width", W, pw)):
        if psize > size:
            raise ValueError(f"{func}: the pool {dim} {psize} exceeds the input {dim} {size}.")
        if (size - psize) % stride != 0:
            raise ValueError(
                f"{func}: the pooling windows do not tile the input {dim}: "
                f"({dim} {size} - pool {psize}) = {size - psize} is not a multiple of "
                f"stride {stride}."
            )
    return 1 + (H - ph) // stride, 1 + (W - pw) // stride


def max_pool_forward_naive(x, pool_param):
    """Max pooling, naive version: the largest value of each window, channel by channel.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input data
    pool_param : dict with the keys pool_height, pool_width and stride (ints)

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out) where
        H_out = 1 + (H - pool_height) // stride and
        W_out = 1 + (W - pool_width) // stride
    cache : (x, pool_param)
    """
    check_ndim("max_pool_forward_naive", "x", x, 4)
    H_out, W_out = _pool_output_size("max_pool_forward_naive", x.shape, pool_param)
    out = None
    # BEGIN SOLUTION a2.pool.forward_naive: the maximum of every pooling window
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _ = x.shape
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            window = x[:, :, hs : hs + ph, ws : ws + pw]  # (N, C, ph, pw)
            out[:, :, i, j] = window.max(axis=(2, 3))
    # END SOLUTION a2.pool.forward_naive
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Backward pass of naive max pooling: each window's gradient goes to its maximum.

    When a window holds several equal maxima, the first one (in row-major order)
    receives the gradient.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H_out, W_out), upstream gradient
    cache : (x, pool_param) from ``max_pool_forward_naive``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    """
    x, pool_param = cache
    dx = None
    # BEGIN SOLUTION a2.pool.backward_naive: route each upstream gradient to the position of its window's maximum
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            window = x[:, :, hs : hs + ph, ws : ws + pw].reshape(N, C, -1)  # (N, C, ph*pw)
            first_max = window.argmax(axis=2)  # (N, C)
            is_max = np.arange(ph * pw) == first_max[:, :, None]  # (N, C, ph*pw), one-hot
            routed = is_max * dout[:, :, i, j][:, :, None]  # (N, C, ph*pw)
            dx[:, :, hs : hs + ph, ws : ws + pw] += routed.reshape(N, C, ph, pw)
    # END SOLUTION a2.pool.backward_naive
    return dx


# ---------------------------------------------------------------------------
# Normalisation for convolutional layers: spatial batch norm and group norm
# ---------------------------------------------------------------------------


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalisation: batch norm of each channel over N, H and W.

    Every position of a feature map is an example of that channel's feature, so
    reshaping to (N * H * W, C) turns this into ordinary batch norm.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input data
    gamma : ndarray of shape (C,), scale
    beta : ndarray of shape (C,), shift
    bn_param : dict, as for ``batchnorm_forward`` (mode required; eps, momentum,
        running_mean and running_var of shape (C,))

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    cache : what ``spatial_batchnorm_backward`` needs
    """
    check_ndim("spatial_batchnorm_forward", "x", x, 4)
    out, cache = None, None
    # BEGIN SOLUTION a2.spatial_batchnorm.forward: batch normalisation per channel, over the batch and both spatial axes
    N, C, H, W = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(-1, C)  # (N * H * W, C)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    # END SOLUTION a2.spatial_batchnorm.forward
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalisation.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H, W), upstream gradient
    cache : from ``spatial_batchnorm_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dgamma : ndarray of shape (C,)
    dbeta : ndarray of shape (C,)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION a2.spatial_batchnorm.backward: its gradients, reusing the vanilla batch norm backward
    N, C, H, W = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)  # (N * H * W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    # END SOLUTION a2.spatial_batchnorm.backward
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Spatial group normalisation: normalise each example over groups of channels.

    The C channels are split into G groups of C // G consecutive channels; each
    example's group is normalised over its channels and positions, as layer norm
    normalises an example over its features. Then each channel is scaled and shifted.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), input data
    gamma : ndarray of shape (1, C, 1, 1), scale
    beta : ndarray of shape (1, C, 1, 1), shift
    G : int, the number of groups; must divide C
    gn_param : dict with the optional key eps (default 1e-5)

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    cache : what ``spatial_groupnorm_backward`` needs
    """
    check_ndim("spatial_groupnorm_forward", "x", x, 4)
    check_float("spatial_groupnorm_forward", "x", x)
    N, C, H, W = x.shape
    if not (isinstance(G, (int, np.integer)) and G >= 1) or C % G != 0:
        raise ValueError(
            f"spatial_groupnorm_forward: the number of groups G must be a positive "
            f"integer dividing the number of channels C = {C}, got G = {G!r}."
        )
    _check_scale_shift("spatial_groupnorm_forward", gamma, beta, (1, C, 1, 1))
    eps = gn_param.get("eps", 1e-5)
    out, cache = None, None
    # BEGIN SOLUTION a2.groupnorm.forward: normalise each example over the channels of each group
    xg = x.reshape(N, G, -1)  # (N, G, C // G * H * W), one row per example and group
    mean = xg.mean(axis=2, keepdims=True)  # (N, G, 1)
    xc = xg - mean
    var = (xc**2).mean(axis=2, keepdims=True)  # (N, G, 1)
    istd = 1.0 / np.sqrt(var + eps)  # (N, G, 1)
    xhat = (xc * istd).reshape(N, C, H, W)
    out = gamma * xhat + beta
    cache = (xhat, istd, gamma, G)
    # END SOLUTION a2.groupnorm.forward
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of spatial group normalisation.

    The layer-norm closed form, with sums over each (example, group) row.

    Parameters
    ----------
    dout : ndarray of shape (N, C, H, W), upstream gradient
    cache : from ``spatial_groupnorm_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dgamma : ndarray of shape (1, C, 1, 1)
    dbeta : ndarray of shape (1, C, 1, 1)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION a2.groupnorm.backward: the gradients of group normalisation
    xhat, istd, gamma, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)
    dxhat = (dout * gamma).reshape(N, G, -1)  # (N, G, M) with M = C // G * H * W
    xhat_g = xhat.reshape(N, G, -1)  # (N, G, M)
    M = dxhat.shape[2]
    dx = (
        istd
        / M
        * (
            M * dxhat
            - dxhat.sum(axis=2, keepdims=True)
            - xhat_g * (dxhat * xhat_g).sum(axis=2, keepdims=True)
        )
    )
    dx = dx.reshape(N, C, H, W)
    # END SOLUTION a2.groupnorm.backward
    return dx, dgamma, dbeta
