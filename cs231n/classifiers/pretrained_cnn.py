"""A small pretrained convolutional network, for visualizing what a network has learned.

Assignment 3's network-visualization notebook needs a network that already works:
its saliency maps, fooling images and class visualizations all ask "how does the
class score change when the *image* changes?", i.e. the gradient of the scores with
respect to the input pixels. ``PretrainedCNN`` is that network. It is built from the
package's own layers (fast convolution and pooling, ReLU, affine), its weights ship
with the package in ``cs231n/weights/`` and ``scripts/train_pretrained_cnn.py``
retrains them.

The architecture, five layers numbered 0 to 4::

    0 conv1:  conv 3x3 (F1 filters, pad 1) - relu - 2x2 max pool     (N, F1, H/2, W/2)
    1 conv2:  conv 3x3 (F2 filters, pad 1) - relu - 2x2 max pool     (N, F2, H/4, W/4)
    2 conv3:  conv 3x3 (F3 filters, pad 1) - relu - 2x2 max pool     (N, F3, H/8, W/8)
    3 fc1:    affine (hidden_dim) - relu                             (N, hidden_dim)
    4 fc2:    affine (C) -> class scores                              (N, C)

with (F1, F2, F3) = (32, 64, 64) and hidden_dim = 128 for the shipped weights. The
network has no batch normalization or dropout, so training and test time compute the
same function and the input gradient is exactly the gradient of the test-time scores.

The interface follows the original course's ``PretrainedCNN``:

- ``out, cache = model.forward(X, start=None, end=None)`` runs layers start..end;
- ``dX, grads = model.backward(dout, cache)`` backpropagates to the input of layer
  ``start`` (the image when start is 0), also returning the parameter gradients;
- ``model.loss(X, y=None)`` is the Solver's model contract (used for training);

plus conveniences: ``scores(X)``, ``gradient(X, dscores)``, ``predict(X)``,
``preprocess(images)`` / ``deprocess(X)`` and ``class_names``.

Inputs are *preprocessed* images: ``X = (image - mean) / std`` per colour channel,
with the mean and standard deviation of the training set stored with the weights.
"""

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from cs231n._random import generator
from cs231n.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import affine_backward, affine_forward, softmax_loss

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DATASETS = ("embedded", "cifar10")
LAYER_NAMES = ("conv1", "conv2", "conv3", "fc1", "fc2")
FORMAT_VERSION = 1


def weights_path(dataset="embedded"):
    """Where the shipped weights for ``dataset`` ("embedded" or "cifar10") live."""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}.")
    return WEIGHTS_DIR / f"pretrained_cnn_{dataset}.npz"


def dataset_of(data_dir):
    """Which data set a CIFAR-10-format folder holds: "embedded" or "cifar10".

    The embedded stand-in is recognised by the generator version recorded in its
    ``batches.meta``; any other folder is taken to be the real CIFAR-10.
    """
    from cs231n.data_utils import is_embedded

    return "embedded" if is_embedded(data_dir) else "cifar10"


def pretrained_data_dir(data_dir):
    """The data folder to pair with the shipped weights.

    ``data_dir`` itself when there are weights trained on its data set; otherwise
    (real CIFAR-10 without CIFAR-10 weights) the embedded set, generated if need be,
    with a warning saying so.

    Parameters
    ----------
    data_dir : str or Path, a CIFAR-10-format folder, e.g. ``cifar10_dir()``

    Returns
    -------
    data_dir : str, a folder for which ``PretrainedCNN.for_data`` has weights
    """
    dataset = dataset_of(data_dir)
    if weights_path(dataset).is_file():
        return str(data_dir)
    from cs231n.data.embedded_cifar import ensure_embedded_cifar10
    from cs231n.data_utils import embedded_cifar10_path

    warnings.warn(
        f"No pretrained CNN weights for the {dataset} data set ({weights_path(dataset)}); "
        "using the embedded image set and the weights trained on it instead. The course "
        "repository's scripts/train_pretrained_cnn.py trains weights for real CIFAR-10.",
        stacklevel=2,
    )
    return str(ensure_embedded_cifar10(embedded_cifar10_path()))


class PretrainedCNN:
    """Three conv-relu-pool blocks and two affine layers; see the module docstring.

    Parameters
    ----------
    input_dim : (C, H, W), the shape of one image; H and W divisible by 8
    num_filters : (F1, F2, F3), filters in the three convolutional layers
    hidden_dim : int, units in the hidden affine layer
    num_classes : int, C
    weight_scale : float or None; None draws weights with He initialization
        (std = sqrt(2 / fan_in)), a float uses that standard deviation everywhere
    reg : float, L2 regularization strength (training only)
    dtype : numpy float type of the parameters and computations; float64 for
        gradient checks
    seed : int or None, seeds the random initialization
    class_names : list of C str, or None
    mean, std : ndarray of shape (C_in,), the per-channel statistics used by
        ``preprocess``; default mean 0 and std 1 (no normalization)
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=(32, 64, 64),
        hidden_dim=128,
        num_classes=10,
        weight_scale=None,
        reg=0.0,
        dtype=np.float32,
        seed=None,
        class_names=None,
        mean=None,
        std=None,
    ):
        C, H, W = (int(d) for d in input_dim)
        if H % 8 or W % 8:
            raise ValueError(f"PretrainedCNN: H and W must be divisible by 8, got {input_dim}.")
        if len(num_filters) != 3:
            raise ValueError(f"PretrainedCNN: num_filters must have 3 entries, got {num_filters}.")
        self.input_dim = (C, H, W)
        self.num_filters = tuple(int(f) for f in num_filters)
        self.hidden_dim = int(hidden_dim)
        self.num_classes = int(num_classes)
        self.reg = reg
        self.dtype = np.dtype(dtype)
        self.class_names = list(class_names) if class_names is not None else None
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"PretrainedCNN: {len(self.class_names)} class names for {num_classes} classes."
            )
        self.mean = np.zeros(C) if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = np.ones(C) if std is None else np.asarray(std, dtype=np.float64)
        self.metadata = {}

        rng = generator(seed)  # an int: a generator of its own; None: np.random
        self.params = {}
        for name, shape in self.param_shapes().items():
            if name.startswith("b"):
                self.params[name] = np.zeros(shape, dtype=self.dtype)
                continue
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            std = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
            self.params[name] = (std * rng.standard_normal(shape)).astype(self.dtype)

        self.conv_param = {"stride": 1, "pad": 1}  # 3x3 filters keep H and W
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

    # ------------------------------------------------------------------ shapes

    def param_shapes(self):
        """The shape of every parameter, W1..W5 and b1..b5, for this architecture."""
        C, H, W = self.input_dim
        F1, F2, F3 = self.num_filters
        flat = F3 * (H // 8) * (W // 8)  # features after three 2x2 pools
        return {
            "W1": (F1, C, 3, 3),
            "b1": (F1,),
            "W2": (F2, F1, 3, 3),
            "b2": (F2,),
            "W3": (F3, F2, 3, 3),
            "b3": (F3,),
            "W4": (flat, self.hidden_dim),
            "b4": (self.hidden_dim,),
            "W5": (self.hidden_dim, self.num_classes),
            "b5": (self.num_classes,),
        }

    def architecture(self):
        """A JSON-able description of the architecture, stored with the weights."""
        return {
            "input_dim": list(self.input_dim),
            "num_filters": list(self.num_filters),
            "hidden_dim": self.hidden_dim,
            "num_classes": self.num_classes,
        }

    def astype(self, dtype):
        """Cast the parameters (in place) to ``dtype``; returns the model."""
        self.dtype = np.dtype(dtype)
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}
        return self

    # ------------------------------------------------------------ forward pass

    def _layer_index(self, layer, default):
        if layer is None:
            return default
        if isinstance(layer, str):
            if layer not in LAYER_NAMES:
                raise ValueError(f"Unknown layer {layer!r}: choose one of {LAYER_NAMES}.")
            return LAYER_NAMES.index(layer)
        if not 0 <= int(layer) < len(LAYER_NAMES):
            raise ValueError(f"Layer index {layer} out of range 0..{len(LAYER_NAMES) - 1}.")
        return int(layer)

    def _check_input(self, X, start):
        if start == 0 and (X.ndim != 4 or X.shape[1:] != self.input_dim):
            shape = ", ".join(map(str, self.input_dim))
            raise ValueError(
                f"PretrainedCNN: expected images of shape (N, {shape}), got {X.shape}. "
                "Use model.preprocess(images) to turn (N, H, W, C) images into network inputs."
            )
        if not np.issubdtype(np.asarray(X).dtype, np.floating):
            raise TypeError(f"PretrainedCNN: X must be floating point, got {X.dtype}.")

    def forward(self, X, start=None, end=None, mode="test"):
        """Run layers ``start`` to ``end`` (inclusive) of the network.

        Parameters
        ----------
        X : ndarray, the input of layer ``start``; for start=0, preprocessed images of
            shape (N, C, H, W)
        start, end : int or layer name ("conv1", ..., "fc2"); default the whole network
        mode : "test" or "train"; accepted for compatibility with the original
            course code. This network computes the same function in both modes.

        Returns
        -------
        out : ndarray, the output of layer ``end``; for the last layer the class scores
            of shape (N, num_classes)
        cache : what ``backward`` needs
        """
        if mode not in ("test", "train"):
            raise ValueError(
                f'PretrainedCNN.forward: mode must be "test" or "train", not {mode!r}.'
            )
        start = self._layer_index(start, 0)
        end = self._layer_index(end, len(LAYER_NAMES) - 1)
        if end < start:
            raise ValueError(f"PretrainedCNN.forward: end layer {end} comes before start {start}.")
        self._check_input(X, start)
        p = self.params
        out = np.asarray(X).astype(self.dtype, copy=False)
        caches = []
        for i in range(start, end + 1):
            w, b = p[f"W{i + 1}"], p[f"b{i + 1}"]
            if i < 3:  # conv - relu - pool
                out, c = conv_relu_pool_forward(out, w, b, self.conv_param, self.pool_param)
            elif i == 3:  # affine - relu; flattens (N, F3, H/8, W/8) to (N, flat)
                out, c = affine_relu_forward(out, w, b)
            else:  # affine: class scores
                out, c = affine_forward(out, w, b)
            caches.append(c)
        return out, (start, end, caches)

    def backward(self, dout, cache):
        """Backpropagate from the output of ``forward`` to its input.

        Parameters
        ----------
        dout : ndarray, upstream gradient, shaped like the ``out`` of ``forward``
        cache : the cache returned by ``forward``

        Returns
        -------
        dX : ndarray shaped like the ``X`` given to ``forward``: for a forward pass
            from layer 0, the gradient with respect to the image, (N, C, H, W)
        grads : dict, the gradients of the parameters of the layers run
        """
        start, end, caches = cache
        grads = {}
        d = dout
        for i in range(end, start - 1, -1):
            c = caches[i - start]
            if i < 3:
                d, dw, db = conv_relu_pool_backward(d, c)
            elif i == 3:
                d, dw, db = affine_relu_backward(d, c)
            else:
                d, dw, db = affine_backward(d, c)
            grads[f"W{i + 1}"], grads[f"b{i + 1}"] = dw, db
        return d, grads

    def loss(self, X, y=None):
        """The Solver's model contract: scores at test time, (loss, grads) in training.

        Parameters
        ----------
        X : ndarray of shape (N, C, H, W), preprocessed images
        y : ndarray of shape (N,) of int labels, or None

        Returns
        -------
        scores : ndarray of shape (N, num_classes), if y is None; otherwise
        loss : float, softmax loss plus 0.5 * reg * sum of squared weights
        grads : dict with the keys of ``self.params``
        """
        scores, cache = self.forward(X)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        _, grads = self.backward(dscores, cache)
        for i in range(1, 6):
            w = self.params[f"W{i}"]
            loss += 0.5 * self.reg * float(np.sum(w * w))
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * w
        return loss, grads

    # ------------------------------------------------------------ conveniences

    def scores(self, X):
        """Class scores of shape (N, num_classes) for preprocessed images X (N, C, H, W)."""
        return self.forward(X)[0]

    def gradient(self, X, dscores):
        """The gradient with respect to the images X (N, C, H, W) of sum(scores * dscores).

        For example ``dscores[i, y[i]] = 1`` (zeros elsewhere) gives the gradient of
        each image's score for class y[i].
        """
        scores, cache = self.forward(X)
        if np.shape(dscores) != scores.shape:
            raise ValueError(f"dscores must have shape {scores.shape}, got {np.shape(dscores)}.")
        return self.backward(np.asarray(dscores, dtype=scores.dtype), cache)[0]

    def predict(self, X, batch_size=200):
        """Predicted labels of shape (N,) for preprocessed images X (N, C, H, W)."""
        preds = [
            np.argmax(self.scores(X[i : i + batch_size]), axis=1)
            for i in range(0, X.shape[0], batch_size)
        ]
        return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)

    def preprocess(self, images):
        """Images (N, H, W, C) with values in [0, 255] -> network inputs (N, C, H, W).

        Subtracts the training set's per-channel mean and divides by its std.
        """
        images = np.asarray(images, dtype=np.float64)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[3] != self.input_dim[0]:
            raise ValueError(
                f"preprocess: expected images of shape (N, H, W, {self.input_dim[0]}), "
                f"got {images.shape}."
            )
        X = (images - self.mean) / self.std  # (N, H, W, C)
        return X.transpose(0, 3, 1, 2).astype(self.dtype)  # (N, C, H, W)

    def deprocess(self, X, clip=True):
        """Network inputs (N, C, H, W) -> images (N, H, W, C) of floats in [0, 255].

        The inverse of ``preprocess``; with ``clip`` the result is clipped to [0, 255]
        so it can be shown with ``plt.imshow(img.astype(np.uint8))``.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 3:
            X = X[None]
        images = X.transpose(0, 2, 3, 1) * self.std + self.mean  # (N, H, W, C)
        return np.clip(images, 0, 255) if clip else images

    def image_range(self):
        """(lo, hi), each of shape (1, C, 1, 1): the inputs that [0, 255] pixels map to."""
        lo = ((0.0 - self.mean) / self.std).reshape(1, -1, 1, 1)
        hi = ((255.0 - self.mean) / self.std).reshape(1, -1, 1, 1)
        return lo, hi

    # ------------------------------------------------------------ save / load

    def save(self, path, **metadata):
        """Write the weights to a compressed .npz, atomically, with JSON metadata.

        The parameters are stored as float32; ``metadata`` (JSON-able) is stored with
        the architecture, class names and normalization statistics.
        """
        path = Path(path)
        meta = dict(metadata)
        meta.update(
            format_version=FORMAT_VERSION,
            architecture=self.architecture(),
            class_names=self.class_names,
        )
        arrays = {k: v.astype(np.float32) for k, v in self.params.items()}
        arrays["mean"] = self.mean.astype(np.float64)
        arrays["std"] = self.std.astype(np.float64)
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, **arrays)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it normal rights
            os.replace(tmp, path)  # readers see the old file or the new one, never half
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path=None, dataset="embedded", dtype=np.float32):
        """Load pretrained weights.

        Parameters
        ----------
        path : str or Path or None; None loads the weights shipped for ``dataset``
        dataset : "embedded" (the stand-in image set) or "cifar10"; used when path is None
        dtype : numpy float type for the parameters (float64 for gradient checks)

        Returns
        -------
        model : PretrainedCNN with ``metadata`` (dict) read from the file

        Raises
        ------
        FileNotFoundError if the file does not exist; ValueError if it is not a
        weights file of this architecture.
        """
        path = Path(path) if path is not None else weights_path(dataset)
        if not path.is_file():
            hint = "" if dataset == "embedded" else f" --dataset {dataset}"
            raise FileNotFoundError(
                f"No pretrained CNN weights at {path}. Train them with "
                f"`python scripts/train_pretrained_cnn.py{hint}`."
            )
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except Exception as exc:
            raise ValueError(f"{path} is not a readable .npz weights file: {exc}") from exc
        if "meta" not in arrays:
            raise ValueError(f"{path} has no 'meta' entry: it is not a PretrainedCNN weights file.")
        meta = json.loads(str(arrays.pop("meta")))
        arch = meta.get("architecture")
        if not isinstance(arch, dict):
            raise ValueError(f"{path}: its metadata has no architecture description.")
        try:
            model = cls(
                input_dim=arch["input_dim"],
                num_filters=arch["num_filters"],
                hidden_dim=arch["hidden_dim"],
                num_classes=arch["num_classes"],
                dtype=dtype,
                class_names=meta.get("class_names"),
                mean=arrays.get("mean"),
                std=arrays.get("std"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: unsupported architecture {arch}: {exc}") from exc
        for name, shape in model.param_shapes().items():
            if name not in arrays:
                raise ValueError(f"{path}: parameter {name} is missing.")
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{path}: parameter {name} has shape {arrays[name].shape} but the "
                    f"architecture {arch} needs {shape}."
                )
            model.params[name] = arrays[name].astype(model.dtype)
        model.metadata = meta
        return model

    @classmethod
    def for_data(cls, data_dir, dtype=np.float32):
        """The shipped weights trained on the data set in ``data_dir`` (embedded or CIFAR-10).

        Warns if the embedded set in ``data_dir`` was made by another version of its
        generator than the one the weights were trained on.
        """
        dataset = dataset_of(data_dir)
        model = cls.load(dataset=dataset, dtype=dtype)
        if dataset == "embedded":
            from cs231n.data.embedded_cifar import embedded_version

            trained_on = model.metadata.get("generator_version")
            if trained_on is not None and trained_on != embedded_version(data_dir):
                warnings.warn(
                    f"The pretrained CNN was trained on version {trained_on} of the embedded "
                    f"image set, but {data_dir} holds version {embedded_version(data_dir)}; "
                    "retrain it with `python scripts/train_pretrained_cnn.py`.",
                    stacklevel=2,
                )
        return model
