"""Multiclass support vector machine (hinge) loss of a linear classifier.

For an example x_i with label y_i and scores s = x_i W, the loss is

    L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1),

averaged over the N examples, plus the L2 regularisation ``reg * sum(W * W)``.
``svm_loss_naive`` computes it with loops, ``svm_loss_vectorized`` without; the
two must agree, and both gradients must match a numerical one.

Shape letters: N examples, D features, C classes.
"""

import numpy as np

from cs231n.classifiers._inputs import check_linear_inputs


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss and its gradient, with explicit loops.

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
    check_linear_inputs("svm_loss_naive", W, X, y)
    dW = np.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i] @ W  # (C,)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # the margin is 1
            if margin > 0:
                loss += margin
                # BEGIN SOLUTION a1.svm.naive_grad_in_loop: the gradient contribution of a class whose margin is violated
                # A violated margin pushes score j down and the correct score up.
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
                # END SOLUTION a1.svm.naive_grad_in_loop

    # The loss so far is a sum over examples; average it.
    loss /= num_train
    # Add the regularisation.
    loss += reg * np.sum(W * W)

    # BEGIN SOLUTION a1.svm.naive_grad_finish: average the gradient over the examples and add the regularisation's
    dW /= num_train
    dW += 2 * reg * W
    # END SOLUTION a1.svm.naive_grad_finish
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss and gradient, without loops.

    Inputs and outputs as ``svm_loss_naive``.
    """
    check_linear_inputs("svm_loss_vectorized", W, X, y)
    loss = 0.0
    dW = np.zeros_like(W)
    N = X.shape[0]

    # BEGIN SOLUTION a1.svm.vectorized_loss: the SVM loss for the whole minibatch, without loops
    rows = np.arange(N)
    scores = X @ W  # (N, C)
    correct = scores[rows, y][:, None]  # (N, 1)
    margins = np.maximum(0, scores - correct + 1)  # (N, C)
    margins[rows, y] = 0  # the correct class contributes nothing
    loss = margins.sum() / N + reg * np.sum(W * W)
    # END SOLUTION a1.svm.vectorized_loss

    # BEGIN SOLUTION a1.svm.vectorized_grad: the gradient of that loss, without loops
    # dL/dscores: +1 for each violated margin, minus their count at the correct class.
    dscores = (margins > 0).astype(W.dtype)  # (N, C)
    dscores[rows, y] = -dscores.sum(axis=1)
    dW = X.T @ dscores / N + 2 * reg * W  # (D, C)
    # END SOLUTION a1.svm.vectorized_grad
    return loss, dW
