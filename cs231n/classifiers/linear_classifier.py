"""Linear classifiers trained with minibatch stochastic gradient descent.

A linear classifier scores the classes of an example x (a row of D features) as
``x @ W`` with W of shape (D, C), and predicts the class with the highest score.
``LinearClassifier`` holds what every such classifier shares -- the training loop
and prediction; subclasses choose the loss:

- ``LinearSVM``: the multiclass SVM (hinge) loss, ``linear_svm.svm_loss_vectorized``;
- ``Softmax``: the cross-entropy loss, ``softmax.softmax_loss_vectorized``.

To learn a bias too, append a constant 1 feature to every example (the "bias
trick"); W then has one more row.
"""

import numbers

import numpy as np

from cs231n._checks import check_float, check_labels, check_ndim
from cs231n._random import generator
from cs231n.classifiers._saving import SaveLoad
from cs231n.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from cs231n.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized

# The original course code's notebooks import the loss functions through this module
# (``from cs231n.classifiers.linear_classifier import *``), so it re-exports them.
__all__ = [
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
]


class LinearClassifier(SaveLoad):
    """Base class: SGD training and prediction; subclasses implement ``loss``.

    Attributes
    ----------
    W : ndarray of shape (D, C), or None before the first call to ``train``
    """

    def __init__(self):
        self.W = None

    def train(
        self,
        X,
        y,
        learning_rate=1e-3,
        reg=1e-5,
        num_iters=100,
        batch_size=200,
        verbose=False,
        seed=None,
    ):
        """Train this classifier with stochastic gradient descent.

        Parameters
        ----------
        X : ndarray of shape (N, D), floating point training data
        y : ndarray of shape (N,), integer labels; 0 <= y[i] < C for C classes
        learning_rate : float, the step size of each update
        reg : float, regularisation strength
        num_iters : int, number of gradient steps
        batch_size : int, number of training examples (drawn with replacement) per step
        verbose : bool, print the loss every 100 iterations
        seed : int or None, seeds the weight initialisation and the minibatch
            sampling; None uses numpy's global random state (``np.random.seed``)

        Returns
        -------
        loss_history : list of float, the training loss at each iteration
        """
        y = np.asarray(y)
        self._check_train_args(X, y, num_iters, batch_size)
        num_train, dim = X.shape
        num_classes = int(np.max(y)) + 1  # assume y takes values 0...C-1
        rng = generator(seed)  # an int: a generator of its own; None: np.random
        if self.W is None:
            # lazily initialise W with small random numbers
            self.W = (0.001 * rng.standard_normal((dim, num_classes))).astype(X.dtype)
        elif self.W.shape[0] != dim or self.W.shape[1] < num_classes:
            raise ValueError(
                f"{type(self).__name__}.train: this classifier's W has shape {self.W.shape} "
                f"but the data needs ({dim}, {num_classes}) or more classes; train a new "
                "classifier for differently shaped data."
            )

        loss_history = []
        for it in range(num_iters):
            X_batch = None
            y_batch = None
            # Sample batch_size examples and their labels, with replacement (faster
            # than without, and just as good for SGD).
            # BEGIN SOLUTION a1.linear_classifier.sample_batch: a random minibatch of batch_size rows of X and their labels
            idx = rng.choice(num_train, batch_size, replace=True)  # (batch_size,)
            X_batch = X[idx]  # (batch_size, D)
            y_batch = y[idx]  # (batch_size,)
            # END SOLUTION a1.linear_classifier.sample_batch

            # evaluate loss and gradient
            loss, grad = self.loss(X_batch, y_batch, reg)
            loss_history.append(float(loss))

            # Update the weights with the gradient and the learning rate.
            # BEGIN SOLUTION a1.linear_classifier.update: one gradient descent step on the weights
            self.W -= learning_rate * grad
            # END SOLUTION a1.linear_classifier.update

            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")

        return loss_history

    def _check_train_args(self, X, y, num_iters, batch_size):
        name = f"{type(self).__name__}.train"
        check_ndim(name, "X", X, 2)
        check_float(name, "X", X)
        check_labels(name, y, X.shape[0])
        if X.shape[0] == 0:
            raise ValueError(f"{name}: X holds no training examples.")
        if np.min(y) < 0:
            raise ValueError(f"{name}: labels must be >= 0, got a minimum of {np.min(y)}.")
        if not isinstance(num_iters, numbers.Integral) or num_iters < 0:
            raise ValueError(f"{name}: num_iters must be an integer >= 0, got {num_iters!r}.")
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"{name}: batch_size must be an integer >= 1, got {batch_size!r}.")

    def predict(self, X):
        """Predict the label of each example with the trained weights.

        Parameters
        ----------
        X : ndarray of shape (N, D), floating point data

        Returns
        -------
        y_pred : ndarray of shape (N,), integer predicted labels
        """
        name = f"{type(self).__name__}.predict"
        if self.W is None:
            raise RuntimeError(f"{name}: call train(X, y) before predict.")
        check_ndim(name, "X", X, 2)
        if X.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"{name}: X has {X.shape[1]} features per example (shape {X.shape}) but W "
                f"has shape {self.W.shape}; X must be of shape (N, {self.W.shape[0]})."
            )
        y_pred = np.zeros(X.shape[0], dtype=np.intp)
        # BEGIN SOLUTION a1.linear_classifier.predict: the predicted class of every row of X
        y_pred = np.argmax(X @ self.W, axis=1)  # highest score of the (N, C) scores
        # END SOLUTION a1.linear_classifier.predict
        return y_pred

    def _state(self):
        """What ``save`` writes: the weights ``W`` of shape (D, C)."""
        return {"W": self.W}

    def _set_state(self, state):
        self.W = state["W"]

    def loss(self, X_batch, y_batch, reg):
        """Loss and gradient on a minibatch; subclasses override this.

        Parameters
        ----------
        X_batch : ndarray of shape (N, D), a minibatch of N examples
        y_batch : ndarray of shape (N,), their labels
        reg : float, regularisation strength

        Returns
        -------
        loss : float
        dW : ndarray of shape (D, C), gradient of the loss with respect to self.W
        """
        raise NotImplementedError(
            "LinearClassifier.loss: use a subclass (LinearSVM or Softmax) that defines the loss."
        )


class LinearSVM(LinearClassifier):
    """A linear classifier trained with the multiclass SVM loss."""

    def loss(self, X_batch, y_batch, reg):
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier trained with the softmax (cross-entropy) loss."""

    def loss(self, X_batch, y_batch, reg):
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg)
