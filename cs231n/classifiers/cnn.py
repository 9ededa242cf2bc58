"""Convolutional networks built from the layers of ``cs231n.layers`` and the fast
convolution and pooling of ``cs231n.fast_layers``.

- ``ThreeLayerConvNet`` (assignment 2): conv - ReLU - 2x2 max pool - affine - ReLU -
  affine - softmax.

The model follows the contract the ``Solver`` relies on: a ``params`` dict of arrays
and a ``loss(X, y=None)`` method that returns class scores at test time (``y is
None``) and ``(loss, grads)`` at training time, ``grads`` having the keys of
``params``.
"""

import numpy as np

from cs231n import layer_utils as _layer_utils
from cs231n._random import generator
from cs231n.classifiers._saving import SaveLoad
from cs231n.layer_utils import *  # noqa: F403
from cs231n.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import affine_backward, affine_forward, softmax_loss

# The original course code's notebooks take their layer functions from this module
# (``from cs231n.classifiers.cnn import *``), so it re-exports them.
__all__ = ["ThreeLayerConvNet", *_layer_utils.__all__]


class ThreeLayerConvNet(SaveLoad):
    """A three-layer convolutional network::

        conv - ReLU - 2x2 max pool - affine - ReLU - affine - softmax

    The convolution has F filters of size filter_size x filter_size, stride 1 and
    zero padding (filter_size - 1) // 2, so it preserves the height and width of
    its input ("same" convolution); the pooling then halves them. Learnable
    parameters live in ``self.params``:

    - ``W1`` (F, C, filter_size, filter_size), ``b1`` (F,): the convolution;
    - ``W2`` (F * H/2 * W/2, hidden_dim), ``b2`` (hidden_dim,): the hidden affine layer;
    - ``W3`` (hidden_dim, num_classes), ``b3`` (num_classes,): the output layer.

    Parameters
    ----------
    input_dim : (C, H, W), the shape of one input image; H and W must be even
    num_filters : int, F, the number of convolutional filters
    filter_size : int, odd, the height and width of each filter
    hidden_dim : int, the size of the hidden affine layer
    num_classes : int, the number of classes
    weight_scale : float, standard deviation of the Gaussian initial weights
    reg : float, L2 regularisation strength; the loss adds 0.5 * reg * sum(W ** 2)
        over W1, W2 and W3
    dtype : numpy float type of the parameters and computations (float64 for
        gradient checks)
    seed : int or None, seeds the initial weights; None draws them from numpy's global
        random state (``np.random.seed``), as everywhere in the package
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
        seed=None,
    ):
        if len(input_dim) != 3:
            raise ValueError(f"ThreeLayerConvNet: input_dim must be (C, H, W), got {input_dim}.")
        C, H, W = input_dim
        if filter_size % 2 != 1:
            raise ValueError(
                "ThreeLayerConvNet: filter_size must be odd so that padding "
                f"(filter_size - 1) // 2 preserves the input size, got {filter_size}."
            )
        if H % 2 or W % 2:
            raise ValueError(
                f"ThreeLayerConvNet: the 2x2 pooling needs an even height and width, "
                f"got input_dim {input_dim}."
            )
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        rng = generator(seed)  # an int: a generator of its own; None: np.random

        # Weights: Gaussian with standard deviation weight_scale (drawn from rng); biases: zero.
        # BEGIN SOLUTION a2.cnn.init: create the weights and biases of the three layers, in self.params
        F = num_filters
        self.params["W1"] = weight_scale * rng.standard_normal((F, C, filter_size, filter_size))
        self.params["b1"] = np.zeros(F)
        pooled_dim = F * (H // 2) * (W // 2)  # size of the flattened pooled feature maps
        self.params["W2"] = weight_scale * rng.standard_normal((pooled_dim, hidden_dim))
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * rng.standard_normal((hidden_dim, num_classes))
        self.params["b3"] = np.zeros(num_classes)
        # END SOLUTION a2.cnn.init

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients, for a minibatch.

        Parameters
        ----------
        X : ndarray of shape (N, C, H, W), input images
        y : ndarray of shape (N,) or None; y[i] is the integer label of X[i]

        Returns
        -------
        If y is None, a test-time forward pass:
        scores : ndarray of shape (N, num_classes)

        Otherwise, a training-time forward and backward pass:
        loss : float, the data loss plus the regularisation loss
        grads : dict with the keys of ``self.params``
        """
        X = X.astype(self.dtype, copy=False)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]

        # A "same" convolution with stride 1, then 2x2 max pooling with stride 2.
        filter_size = W1.shape[2]
        # The images need no gradient: with input_grad False the fast backward pass
        # returns dx = None and skips its cost, as PyTorch does for the input batch.
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2, "input_grad": False}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        scores = None
        # BEGIN SOLUTION a2.cnn.forward: the forward pass, from the images to the class scores
        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)  # (N, hidden_dim)
        scores, scores_cache = affine_forward(hidden, W3, b3)  # (N, num_classes)
        # END SOLUTION a2.cnn.forward

        if y is None:
            return scores

        loss, grads = 0.0, {}
        # BEGIN SOLUTION a2.cnn.backward: the loss with L2 regularisation, and the gradient of every parameter
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss
        if self.reg:  # with reg = 0 the penalty and its gradient are zero: skip the work
            loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, pool_cache)
        if self.reg:
            grads["W1"] += self.reg * W1
            grads["W2"] += self.reg * W2
            grads["W3"] += self.reg * W3
        # END SOLUTION a2.cnn.backward
        return loss, grads
