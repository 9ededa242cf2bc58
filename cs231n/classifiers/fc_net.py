"""Fully connected networks built from the modular layers of ``cs231n.layers``.

- ``TwoLayerNet`` (assignment 1): affine - ReLU - affine - softmax.
- ``FullyConnectedNet`` (assignment 2): any number of hidden layers, with optional
  batch / layer normalisation and dropout.

Every model here follows the contract the ``Solver`` relies on: a ``params`` dict
of arrays and a ``loss(X, y=None)`` method that returns class scores at test time
(``y is None``) and ``(loss, grads)`` at training time, ``grads`` having the keys
of ``params``.
"""

import numpy as np

from cs231n import layer_utils as _layer_utils
from cs231n._random import generator
from cs231n.classifiers._saving import SaveLoad
from cs231n.layer_utils import *  # noqa: F403
from cs231n.layer_utils import (
    NORMALIZATIONS,
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from cs231n.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    softmax_loss,
)

# The original course code's notebooks take their layer functions from this module
# (``from cs231n.classifiers.fc_net import *``), so it re-exports them.
__all__ = ["TwoLayerNet", "FullyConnectedNet", *_layer_utils.__all__]


class TwoLayerNet(SaveLoad):
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
        rng = generator(seed)  # an int: a generator of its own; None: np.random

        # Weights: Gaussian with standard deviation weight_scale; biases: zero.
        # BEGIN SOLUTION a1.two_layer_net.init: create W1, b1, W2, b2 with the stated scale (biases at zero)
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
        # BEGIN SOLUTION a1.two_layer_net.forward: the forward pass, from X to the class scores
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)  # (N, H)
        scores, scores_cache = affine_forward(hidden, W2, b2)  # (N, C)
        # END SOLUTION a1.two_layer_net.forward

        # If y is None, we are in test mode: return the scores.
        if y is None:
            return scores

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a1.two_layer_net.backward: the softmax loss with L2 regularisation and all four gradients
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W2"] += self.reg * W2
        grads["W1"] += self.reg * W1
        # END SOLUTION a1.two_layer_net.backward
        return loss, grads


# ---------------------------------------------------------------------------
# FullyConnectedNet (assignment 2)
# ---------------------------------------------------------------------------


class FullyConnectedNet(SaveLoad):
    """A fully connected network with any number of hidden layers.

    With L - 1 hidden layers the architecture is::

        {affine - [batch/layer norm] - ReLU - [dropout]} x (L - 1) - affine - softmax

    where normalisation and dropout are optional. Learnable parameters live in
    ``self.params``: ``W1 .. WL`` and ``b1 .. bL`` for the affine layers, and
    ``gamma1 .. gamma(L-1)``, ``beta1 .. beta(L-1)`` for the normalisation layers
    (the output layer is not normalised).

    Parameters
    ----------
    hidden_dims : list of int, the size of each hidden layer
    input_dim : int, D, the size of the input
    num_classes : int, C, the number of classes
    dropout_keep_ratio : float in (0, 1], the probability of KEEPING a unit in each
        dropout layer; 1 means no dropout
    normalization : None, 'batchnorm' or 'layernorm'
    reg : float, L2 regularisation strength; the loss adds 0.5 * reg * sum(W ** 2)
        over the weight matrices (not the biases, gammas or betas)
    weight_scale : float, standard deviation of the Gaussian initial weights
    dtype : numpy float type of the parameters and computations (float32 to train
        fast, float64 for gradient checks)
    seed : int or None; an int seeds the initial weights (a generator of the model's
        own) and makes the dropout masks the same on every call (for gradient checks);
        None draws both from numpy's global random state (``np.random.seed``)
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
    ):
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                "FullyConnectedNet: normalization must be None, 'batchnorm' or "
                f"'layernorm', got {normalization!r}."
            )
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(
                "FullyConnectedNet: dropout_keep_ratio is the probability of KEEPING a "
                f"unit and must lie in (0, 1] (1 disables dropout), got {dropout_keep_ratio}."
            )
        hidden_dims = list(hidden_dims)
        if not all(isinstance(h, (int, np.integer)) and h > 0 for h in hidden_dims):
            raise ValueError(
                f"FullyConnectedNet: hidden_dims must be positive integers, got {hidden_dims}."
            )
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        rng = generator(seed)  # an int: a generator of its own; None: np.random

        # Layer i maps dims[i - 1] to dims[i]: weights Gaussian with standard deviation
        # weight_scale (drawn from rng), biases zero; normalised layers get gamma = 1 and
        # beta = 0.
        # BEGIN SOLUTION a2.fc_net.init: create the weights, biases and (with normalisation) gamma and beta of every layer
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * rng.standard_normal((dims[i - 1], dims[i]))
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        # END SOLUTION a2.fc_net.init

        # One dropout_param shared by every dropout layer; the mode is set per call.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # One bn_param (or ln_param) per normalisation layer: each keeps its own
        # running averages. Batch norm's mode is set per call.
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def _state(self):
        """What ``save`` writes: the parameters and, with batch norm, each layer's
        running mean and variance (``running_mean1``, ``running_var1``, ...), which the
        test-time forward pass uses. Before training they hold their starting values."""
        state = dict(self.params)
        if self.normalization == "batchnorm":
            for i, bn_param in enumerate(self.bn_params, start=1):
                gamma = self.params.get(f"gamma{i}")
                if gamma is None:
                    continue
                state[f"running_mean{i}"] = bn_param.get("running_mean", np.zeros_like(gamma))
                state[f"running_var{i}"] = bn_param.get("running_var", np.ones_like(gamma))
        return state

    def _set_state(self, state):
        state = {k: v.astype(self.dtype) for k, v in state.items()}
        for i, bn_param in enumerate(self.bn_params, start=1):
            for stat in ("running_mean", "running_var"):
                if f"{stat}{i}" in state:
                    bn_param[stat] = state.pop(f"{stat}{i}")
        self.params = state

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray of shape (N, d_1, ..., d_k), input data, d_1 * ... * d_k = D
        y : ndarray of shape (N,) or None; y[i] is the integer label of X[i]

        Returns
        -------
        If y is None, a test-time forward pass (batch norm uses its running averages,
        dropout is the identity):
        scores : ndarray of shape (N, C)

        Otherwise, a training-time forward and backward pass:
        loss : float, the data loss plus the regularisation loss
        grads : dict with the keys of ``self.params``
        """
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        scores = None
        # BEGIN SOLUTION a2.fc_net.forward: the forward pass through every layer, keeping each layer's cache
        L = self.num_layers
        caches = []  # caches[i - 1] = (sandwich cache, dropout cache) of hidden layer i
        hidden = X
        for i in range(1, L):
            norm_param = self.bn_params[i - 1] if self.normalization else None
            hidden, cache = affine_norm_relu_forward(
                hidden,
                self.params[f"W{i}"],
                self.params[f"b{i}"],
                self.params.get(f"gamma{i}"),
                self.params.get(f"beta{i}"),
                norm_param,
                self.normalization,
            )  # (N, dims[i])
            dropout_cache = None
            if self.use_dropout:
                hidden, dropout_cache = dropout_forward(hidden, self.dropout_param)
            caches.append((cache, dropout_cache))
        scores, scores_cache = affine_forward(hidden, self.params[f"W{L}"], self.params[f"b{L}"])
        # END SOLUTION a2.fc_net.forward

        # If y is None, we are in test mode: return the scores.
        if y is None:
            return scores

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a2.fc_net.backward: the regularised loss, then the layers' backward passes in reverse order
        data_loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{i}"] for i in range(1, L + 1)]
        loss = data_loss
        if self.reg:  # with reg = 0 the penalty and its gradient are zero: skip the work
            loss += 0.5 * self.reg * sum(np.sum(W * W) for W in weights)
        dhidden, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for i in range(L - 1, 0, -1):
            cache, dropout_cache = caches[i - 1]
            if self.use_dropout:
                dhidden = dropout_backward(dhidden, dropout_cache)
            dhidden, dW, db, dgamma, dbeta = affine_norm_relu_backward(dhidden, cache)
            grads[f"W{i}"], grads[f"b{i}"] = dW, db
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        if self.reg:
            for i in range(1, L + 1):
                grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
        # END SOLUTION a2.fc_net.backward
        return loss, grads
