"""The CaptioningSolver: trains an image-captioning model with minibatch gradient descent.

It is the Solver of ``cs231n/solver.py`` for captioning: the same options, the same
update rules from ``cs231n.optim``, the same loop, but minibatches are drawn from a
COCO-style data dict (captions paired with image features) and there is no
accuracy to measure, only the loss.

The model must provide
- ``model.params``: dict mapping parameter names to ndarrays;
- ``model.loss(features, captions)``: returns ``(loss, grads)`` where ``grads`` has
  the keys of ``model.params`` (``CaptioningRNN`` does).

The data is a dict as returned by ``coco_utils.load_coco_data``: it needs
``train_captions`` (N_train, T) integer captions, ``train_image_idxs`` (N_train,)
saying which image each caption describes, and ``train_features`` (N_images, D);
the ``val_*`` entries are used only to measure a validation loss (see
``num_val_samples``).

Example::

    solver = CaptioningSolver(model, data, update_rule="adam",
                              optim_config={"learning_rate": 5e-3},
                              lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    plt.plot(solver.loss_history)
"""

import os
import pickle

from cs231n import optim
from cs231n._random import generator

_REQUIRED_DATA = ("train_captions", "train_image_idxs", "train_features")


class CaptioningSolver:
    """Train a captioning model on a COCO data dict; see the module docstring.

    Parameters
    ----------
    model : object with ``params`` and ``loss(features, captions)``
    data : dict from ``coco_utils.load_coco_data``
    update_rule : str, the name of a rule in ``cs231n.optim`` (default "sgd")
    optim_config : dict of hyperparameters for the update rule; each parameter gets
        its own copy, which the rule also uses to keep its state
    lr_decay : float, the learning rate is multiplied by this after each epoch
    batch_size : int, number of captions per minibatch
    num_epochs : int, number of passes over the training captions
    num_train_samples : int or None, training captions on which the loss is measured
        at the end of each epoch, into ``train_loss_history`` (default 0: not measured;
        None: all)
    num_val_samples : int or None, the same for validation captions, into
        ``val_loss_history`` (default 0: not measured; None: all)
    checkpoint_name : str or None, if given, a checkpoint is saved after every epoch
    print_every : int, print the training loss every this many iterations
    verbose : bool, print progress at all
    seed : int or None, seeds the minibatch sampling so training is reproducible
        (None: the global np.random state, as the original course code)

    Attributes
    ----------
    loss_history : list of float, the minibatch loss of every iteration
    train_loss_history, val_loss_history : lists of float, one per measurement
        (after the first iteration and at the end of every epoch)
    """

    def __init__(self, model, data, **kwargs):
        missing = [k for k in _REQUIRED_DATA if k not in data]
        if missing:
            raise KeyError(
                f"CaptioningSolver: the data dict is missing {missing}; it needs "
                f"{_REQUIRED_DATA} (load it with coco_utils.load_coco_data)."
            )
        if not hasattr(model, "params") or not hasattr(model, "loss"):
            raise TypeError(
                "CaptioningSolver: the model must have a `params` dict and a "
                "`loss(features, captions)` method."
            )
        self.model = model
        self.data = data

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 0)
        self.num_val_samples = kwargs.pop("num_val_samples", 0)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        seed = kwargs.pop("seed", None)
        self.rng = generator(seed)  # an int: a generator of its own; None: np.random

        if kwargs:
            raise ValueError(
                f"CaptioningSolver: unrecognized arguments {', '.join(sorted(kwargs))}."
            )
        if not hasattr(optim, self.update_rule) or self.update_rule.startswith("_"):
            raise ValueError(
                f'CaptioningSolver: unknown update rule "{self.update_rule}"; choose one of '
                "sgd, sgd_momentum, rmsprop, adam."
            )
        self.update_rule = getattr(optim, self.update_rule)
        self._reset()

    def _reset(self):
        """Set up the bookkeeping variables; called by __init__."""
        self.epoch = 0
        self.loss_history = []
        self.train_loss_history = []
        self.val_loss_history = []
        # One copy of optim_config per parameter: each rule keeps its state there.
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}
        # The fixed subsets of captions on which the loss is measured each epoch.
        self._eval_idx = {}
        for split, n in (("train", self.num_train_samples), ("val", self.num_val_samples)):
            if n == 0 or f"{split}_captions" not in self.data:
                continue
            total = self.data[f"{split}_captions"].shape[0]
            n = total if n is None else min(n, total)
            self._eval_idx[split] = self.rng.choice(total, n, replace=False)

    def _minibatch(self, split, idx):
        captions = self.data[f"{split}_captions"][idx]
        image_idxs = self.data[f"{split}_image_idxs"][idx]
        features = self.data[f"{split}_features"][image_idxs]
        return captions, features

    def _step(self):
        """One gradient update on a random minibatch; appends the loss to loss_history."""
        num_train = self.data["train_captions"].shape[0]
        idx = self.rng.choice(num_train, self.batch_size)
        captions, features = self._minibatch("train", idx)

        loss, grads = self.model.loss(features, captions)
        self.loss_history.append(float(loss))

        for p, w in self.model.params.items():
            if p not in grads:
                raise KeyError(f"CaptioningSolver: model.loss returned no gradient for {p!r}.")
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def check_loss(self, split, idx, batch_size=500):
        """Average loss of the model on the captions ``idx`` of ``split`` (no update)."""
        total = 0.0
        for start in range(0, len(idx), batch_size):
            batch = idx[start : start + batch_size]
            captions, features = self._minibatch(split, batch)
            loss, _ = self.model.loss(features, captions)
            total += loss * len(batch)  # the loss is averaged over the minibatch
        return total / max(len(idx), 1)

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_loss_history": self.train_loss_history,
            "val_loss_history": self.val_loss_history,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        tmp = filename + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump(checkpoint, f)
        os.replace(tmp, filename)  # never leave a half-written checkpoint

    def train(self):
        """Run the optimization."""
        num_train = self.data["train_captions"].shape[0]
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
            if (t == 0 or epoch_end) and self._eval_idx:
                self._measure()
            if epoch_end:
                self._save_checkpoint()

    def _measure(self):
        """Loss on the fixed train / val subsets, appended to the histories."""
        parts = []
        for split, history in (("train", self.train_loss_history), ("val", self.val_loss_history)):
            if split in self._eval_idx:
                history.append(self.check_loss(split, self._eval_idx[split]))
                parts.append(f"{split} loss: {history[-1]:f}")
        if self.verbose:
            print(f"(Epoch {self.epoch} / {self.num_epochs}) " + "; ".join(parts))
