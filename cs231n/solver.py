"""The Solver: trains a classification model with minibatch gradient descent.

The Solver knows nothing about layers. It relies on two documented contracts.

The model must provide
- ``model.params``: dict mapping parameter names to ndarrays;
- ``model.loss(X, y=None)``: with ``y=None``, a test-time forward pass returning
  scores of shape (N, C); with labels, a training-time pass returning
  ``(loss, grads)`` where ``grads`` has the keys of ``model.params``.

The data is a dict with ``X_train`` (N_train, d_1, ..., d_k), ``y_train`` (N_train,),
``X_val`` and ``y_val``, labels being integers in [0, C).

Example::

    solver = Solver(model, data, update_rule="sgd",
                    optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    model.params = solver.best_params   # already done at the end of train()
"""

import copy
import os
import pickle

import numpy as np

from cs231n import optim
from cs231n._random import generator

_REQUIRED_DATA = ("X_train", "y_train", "X_val", "y_val")


class Solver:
    """Train a model on a data dict; see the module docstring for the contracts.

    Parameters
    ----------
    model : object with ``params`` and ``loss`` (see module docstring)
    data : dict with X_train, y_train, X_val, y_val
    update_rule : str, the name of a rule in ``cs231n.optim`` (default "sgd")
    optim_config : dict of hyperparameters for the update rule; each parameter
        gets its own copy, which the rule also uses to keep its state
    lr_decay : float, the learning rate is multiplied by this after each epoch
    batch_size : int, minibatch size
    num_epochs : int, number of passes over the training data
    num_train_samples : int or None, training examples used to measure train accuracy
        each epoch (default 1000; None means all)
    num_val_samples : int or None, validation examples used (default None, all)
    checkpoint_name : str or None, if given, a checkpoint is saved after every epoch
    print_every : int, print the training loss every this many iterations
    verbose : bool, print progress at all
    seed : int or None, seeds the minibatch sampling so training is reproducible
    """

    def __init__(self, model, data, **kwargs):
        missing = [k for k in _REQUIRED_DATA if k not in data]
        if missing:
            raise KeyError(
                f"Solver: the data dict is missing {missing}; it needs {_REQUIRED_DATA}."
            )
        if not hasattr(model, "params") or not hasattr(model, "loss"):
            raise TypeError(
                "Solver: the model must have a `params` dict and a `loss(X, y)` method."
            )
        self.model = model
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        seed = kwargs.pop("seed", None)
        self.rng = generator(seed)  # an int: a generator of its own; None: np.random

        if kwargs:
            raise ValueError(f"Solver: unrecognized arguments {', '.join(sorted(kwargs))}.")
        if not hasattr(optim, self.update_rule) or self.update_rule.startswith("_"):
            known = ", ".join(n for n in ("sgd", "sgd_momentum", "rmsprop", "adam"))
            raise ValueError(
                f'Solver: unknown update rule "{self.update_rule}"; choose one of {known}.'
            )
        self.update_rule = getattr(optim, self.update_rule)
        self._reset()

    def _reset(self):
        """Set up the bookkeeping variables; called by __init__."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        # One copy of optim_config per parameter: each rule keeps its state there.
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _choice(self, n, size):
        return self.rng.choice(n, size)

    def _step(self):
        """One gradient update on a random minibatch; appends the loss to loss_history."""
        num_train = self.X_train.shape[0]
        batch_mask = self._choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(float(loss))

        for p, w in self.model.params.items():
            if p not in grads:
                raise KeyError(f"Solver: model.loss returned no gradient for parameter {p!r}.")
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        tmp = filename + ".tmp"
        try:
            with open(tmp, "wb") as f:
                pickle.dump(checkpoint, f)
            os.replace(tmp, filename)  # never leave a half-written checkpoint
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of examples of (X, y) the model classifies correctly.

        Parameters
        ----------
        X : ndarray of shape (N, d_1, ..., d_k)
        y : ndarray of shape (N,)
        num_samples : int or None, if given, subsample this many examples
        batch_size : int, predict in batches of this size to bound memory

        Returns
        -------
        acc : float in [0, 1]
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = self._choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]

        y_pred = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            y_pred.append(np.argmax(scores, axis=1))
        y_pred = np.concatenate(y_pred) if y_pred else np.zeros(0, dtype=int)
        return float(np.mean(y_pred == y))

    def train(self):
        """Run the optimization; at the end, model.params holds the best validation params."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()

            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for k in self.optim_configs:
                    self.optim_configs[k]["learning_rate"] = (
                        self.optim_configs[k].get("learning_rate", 1e-2) * self.lr_decay
                    )

            # Check accuracy at the first iteration, the last, and each epoch's end.
            first_it = t == 0
            last_it = t == num_iterations - 1
            if first_it or last_it or epoch_end:
                train_acc = self.check_accuracy(
                    self.X_train, self.y_train, num_samples=self.num_train_samples
                )
                val_acc = self.check_accuracy(
                    self.X_val, self.y_val, num_samples=self.num_val_samples
                )
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()

                if self.verbose:
                    print(
                        f"(Epoch {self.epoch} / {self.num_epochs}) "
                        f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
                    )

                if val_acc > self.best_val_acc:
                    self.best_val_acc = val_acc
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}

        # At the end of training, swap the best params into the model.
        self.model.params = copy.copy(self.best_params) if self.best_params else self.model.params
