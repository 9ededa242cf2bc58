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

import numpy as np

from cs231n._checks import check_labels, check_ndim


def affine_forward(x, w, b):
    """Affine (fully connected) layer: ``out = x.reshape(N, D) @ w + b``.

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
    D = int(np.prod(x.shape[1:]))
    if w.ndim != 2 or w.shape[0] != D:
        raise ValueError(
            f"affine_forward: x has {D} features per example (shape {x.shape}) "
            f"but w has shape {w.shape}; w must be of shape ({D}, M)."
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine_forward: b must have shape ({w.shape[1]},), got {b.shape}.")
    out = None
    # BEGIN SOLUTION a1.two_layer_net.affine_forward
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
    # BEGIN SOLUTION a1.two_layer_net.affine_backward
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
    # BEGIN SOLUTION a1.two_layer_net.relu_forward
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
    # BEGIN SOLUTION a1.two_layer_net.relu_backward
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
    # BEGIN SOLUTION a1.two_layer_net.svm_loss
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
    # BEGIN SOLUTION a1.two_layer_net.softmax_loss
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), for numerical stability
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].sum() / N
    dx = np.exp(log_probs)  # probabilities, (N, C)
    dx[np.arange(N), y] -= 1
    dx /= N
    # END SOLUTION a1.two_layer_net.softmax_loss
    return loss, dx
