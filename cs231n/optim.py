"""First-order update rules.

Every rule has the interface

    next_w, config = update(w, dw, config=None)

w : ndarray, the current weights
dw : ndarray of the same shape, the gradient of the loss with respect to w
config : dict of hyperparameters (learning rate, ...) and state that persists
         between steps (velocity, moment estimates, ...); the rule fills in
         defaults for missing keys, and the caller passes the returned dict back
         on the next step. Each parameter of a model has its own config.

The Solver calls these by name: ``Solver(model, data, update_rule="adam")``.
"""

import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``w -= learning_rate * dw``.

    config:
    - learning_rate: scalar learning rate (default 1e-2)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    config:
    - learning_rate: scalar learning rate (default 1e-2)
    - momentum: scalar in [0, 1) giving the momentum value; 0 is plain SGD (default 0.9)
    - velocity: ndarray of the shape of w, a moving average of the gradients
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
    next_w = None
    # BEGIN SOLUTION a2.fc.sgd_momentum: the velocity update and the step it takes
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    # END SOLUTION a2.fc.sgd_momentum
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: scale each step by a moving average of squared gradients.

    config:
    - learning_rate: scalar learning rate (default 1e-2)
    - decay_rate: scalar in [0, 1), decay of the squared-gradient cache (default 0.99)
    - epsilon: small scalar that avoids dividing by zero (default 1e-8)
    - cache: ndarray of the shape of w, the moving average of squared gradients
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if "cache" not in config:  # (setdefault would make a new array on every step)
        config["cache"] = np.zeros_like(w)
    next_w = None
    # BEGIN SOLUTION a2.fc.rmsprop: the moving average of squared gradients and the step it scales
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    # END SOLUTION a2.fc.rmsprop
    return next_w, config


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient and its square, with bias correction.

    config:
    - learning_rate: scalar learning rate (default 1e-3)
    - beta1: decay of the moving average of the gradient (default 0.9)
    - beta2: decay of the moving average of the squared gradient (default 0.999)
    - epsilon: small scalar that avoids dividing by zero (default 1e-8)
    - m: moving average of the gradient
    - v: moving average of the squared gradient
    - t: iteration number, incremented *before* the bias correction
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    for moment in ("m", "v"):  # (setdefault would make new arrays on every step)
        if moment not in config:
            config[moment] = np.zeros_like(w)
    config.setdefault("t", 0)
    next_w = None
    # BEGIN SOLUTION a2.fc.adam: both moment estimates, their bias correction and the step
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * dw**2
    m_hat = config["m"] / (1 - beta1 ** config["t"])
    v_hat = config["v"] / (1 - beta2 ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    # END SOLUTION a2.fc.adam
    return next_w, config
