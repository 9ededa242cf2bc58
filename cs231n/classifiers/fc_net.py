"""Fully connected networks built from the modular layers of ``cs231n.layers``.

- ``TwoLayerNet`` (assignment 1): affine - ReLU - affine - softmax.

Every model here follows the contract the ``Solver`` relies on: a ``params`` dict
of arrays and a ``loss(X, y=None)`` method that returns class scores at test time
(``y is None``) and ``(loss, grads)`` at training time, ``grads`` having the keys
of ``params``.
"""

import numpy as np

from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from cs231n.layers import affine_backward, affine_forward, softmax_loss


class TwoLayerNet:
    """A two-layer fully connected network with ReLU and softmax loss.

    The architecture is affine - ReLU - affine - softmax, with hidden dimension H,
    input dimension D and C classes. Learnable parameters live in ``self.params``:

    - ``W1`` (D, H) first layer weights, ``b1`` (H,) first layer biases;
    - ``W2`` (H, C) second layer weights, ``b2`` (C,) second layer biases.

    The optimisation is left to a ``Solver``.

    Parameters
    ----------
    input_dim : int, D, the size of the input
    hidden_dim : int, H, the size of the hidden layer
    num_classes : int, C, the number of classes
    weight_scale : float, standard deviation of the Gaussian initial weights
    reg : float, L2 regularisation strength; the loss adds 0.5 * reg * sum(W ** 2)
        for each weight matrix (the biases are not regularised)
    dtype : numpy float type of the parameters (float64 for gradient checks)
    seed : int or None, seeds the initial weights; None uses numpy's global random
        state (``np.random.seed``)
    """

    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float64,
        seed=None,
    ):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        # np.random has the Generator method used below (standard_normal).
        rng = np.random.default_rng(seed) if seed is not None else np.random

        # Weights: Gaussian with standard deviation weight_scale; biases: zero.
        # BEGIN SOLUTION a1.two_layer_net.init
        self.params["W1"] = weight_scale * rng.standard_normal((input_dim, hidden_dim))
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * rng.standard_normal((hidden_dim, num_classes))
        self.params["b2"] = np.zeros(num_classes)
        # END SOLUTION a1.two_layer_net.init
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray of shape (N, d_1, ..., d_k), input data, d_1 * ... * d_k = D
        y : ndarray of shape (N,) or None; y[i] is the integer label of X[i]

        Returns
        -------
        If y is None, a test-time forward pass:
        scores : ndarray of shape (N, C), scores[i, c] is the score of class c for X[i]

        Otherwise, a training-time forward and backward pass:
        loss : float, the data loss plus the regularisation loss
        grads : dict with the keys of ``self.params``, the gradient of the loss with
            respect to each parameter
        """
        X = X.astype(self.dtype, copy=False)
        scores = None
        # BEGIN SOLUTION a1.two_layer_net.forward
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)  # (N, H)
        scores, scores_cache = affine_forward(hidden, W2, b2)  # (N, C)
        # END SOLUTION a1.two_layer_net.forward

        # If y is None, we are in test mode: return the scores.
        if y is None:
            return scores

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a1.two_layer_net.backward
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W2"] += self.reg * W2
        grads["W1"] += self.reg * W1
        # END SOLUTION a1.two_layer_net.backward
        return loss, grads


# ---------------------------------------------------------------------------
# FullyConnectedNet (assignment 2) goes below this line.
# ---------------------------------------------------------------------------
