"""Softmax (cross-entropy) loss of a linear classifier.

For an example x_i with label y_i and scores s = x_i W, the softmax turns scores
into probabilities p_j = exp(s_j) / sum_k exp(s_k), and the loss is

    L_i = -log p_{y_i},

averaged over the N examples, plus the L2 regularisation ``reg * sum(W * W)``.
Subtracting max_j s_j from every score leaves the probabilities unchanged and keeps
exp from overflowing: always do it. ``softmax_loss_naive`` loops,
``softmax_loss_vectorized`` does not; they must agree.

Shape letters: N examples, D features, C classes.
"""

import numpy as np

from cs231n.classifiers._inputs import check_linear_inputs


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss and its gradient, with explicit loops.

    Parameters
    ----------
    W : ndarray of shape (D, C), weights
    X : ndarray of shape (N, D), a minibatch of data
    y : ndarray of shape (N,), labels; y[i] = c means X[i] has label c, 0 <= c < C
    reg : float, regularisation strength

    Returns
    -------
    loss : float
    dW : ndarray of shape (D, C), gradient of the loss with respect to W
    """
    check_linear_inputs("softmax_loss_naive", W, X, y)
    loss = 0.0
    dW = np.zeros_like(W)

    # BEGIN SOLUTION a1.softmax.naive: the softmax loss and its gradient, looping over the examples
    num_train, num_classes = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = X[i] @ W  # (C,)
        scores = scores - np.max(scores)  # numerical stability
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += np.log(total) - scores[y[i]]  # -log(exp(s_y) / total)
        for j in range(num_classes):
            p_j = exp_scores[j] / total
            # dL_i/ds_j = p_j - [j == y_i]; and ds_j/dW[:, j] = X[i]
            dW[:, j] += (p_j - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    # END SOLUTION a1.softmax.naive
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss and gradient, without loops.

    Inputs and outputs as ``softmax_loss_naive``.
    """
    check_linear_inputs("softmax_loss_vectorized", W, X, y)
    loss = 0.0
    dW = np.zeros_like(W)

    # BEGIN SOLUTION a1.softmax.vectorized: the softmax loss and its gradient, without loops
    N = X.shape[0]
    rows = np.arange(N)
    scores = X @ W  # (N, C)
    scores -= scores.max(axis=1, keepdims=True)  # numerical stability
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))  # (N, C)
    loss = -log_probs[rows, y].sum() / N + reg * np.sum(W * W)
    dscores = np.exp(log_probs)  # probabilities, (N, C)
    dscores[rows, y] -= 1
    dW = X.T @ dscores / N + 2 * reg * W  # (D, C)
    # END SOLUTION a1.softmax.vectorized
    return loss, dW
