"""Loading CIFAR-10 for the assignments.

The notebooks read CIFAR-10 in its official "python version" format: a folder
``cifar-10-batches-py/`` holding five training batches (``data_batch_1`` ...
``data_batch_5``), one ``test_batch`` and ``batches.meta``, each a pickled dict.
A batch holds ``b'data'``, a uint8 array of shape (N, 3072) whose rows are images
stored as a 32x32 red plane, then green, then blue, and ``b'labels'``, a list of N
class indices; ``batches.meta`` holds ``b'label_names'``.

Where the data lives:

- ``data_root()`` is the folder data sets are kept in (see its docstring).
- ``cifar10_dir()`` returns the real CIFAR-10 folder when it has been downloaded
  (``cs231n data download cifar10``) and otherwise the *embedded* stand-in: a small
  synthetic 10-class image set in the same format that the package generates once,
  offline, in a few seconds. Both are read by the same loaders.

Typical use in a notebook::

    from cs231n.data_utils import get_CIFAR10_data
    data = get_CIFAR10_data(num_training=9000, num_validation=1000, num_test=1000)
    data["X_train"].shape  # (9000, 3, 32, 32)
"""

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np

CIFAR10_FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
HOW_TO_GET = (
    "Download the real CIFAR-10 with `cs231n data download cifar10` (or "
    "datasets/get_datasets.sh), or call cifar10_dir() to use the embedded stand-in set."
)


# ----------------------------------------------------------------------------------------
# Where the data lives
# ----------------------------------------------------------------------------------------


def data_root():
    """The folder that holds the course's data sets.

    In order: the environment variable ``CS231N_DATA_DIR`` if set; the ``datasets/``
    folder of the checkout (the repository or a student release) the package was
    installed from in editable mode; else ``~/.cache/cs231n``.

    Returns
    -------
    root : pathlib.Path (not necessarily existing yet)
    """
    env = os.environ.get("CS231N_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = _checkout_root()
    if checkout is not None:
        return checkout / "datasets"
    return Path.home() / ".cache" / "cs231n"


def _checkout_root():
    """The checkout holding this package, recognised by its own files, or None.

    A folder beside the package merely named ``datasets`` is not enough: in a normal
    install the package's parent is ``site-packages``, where ``datasets`` is another
    package (Hugging Face's). A checkout has our ``pyproject.toml`` (project
    ``cs231n``) and ``datasets/get_datasets.sh``.
    """
    root = Path(__file__).resolve().parents[1]
    if not (root / "datasets" / "get_datasets.sh").is_file():
        return None
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return root if re.search(r'(?m)^name\s*=\s*"cs231n"\s*$', pyproject) else None


def real_cifar10_path():
    """Where the real CIFAR-10 is (or would be) placed: data_root()/cifar-10-batches-py."""
    return data_root() / CIFAR10_FOLDER


def embedded_cifar10_path():
    """Where the embedded stand-in set is generated: data_root()/embedded/cifar-10-batches-py."""
    return data_root() / "embedded" / CIFAR10_FOLDER


def is_complete(path):
    """True when path holds every file of the CIFAR-10 python layout (non-empty)."""
    path = Path(path)
    names = [*TRAIN_FILES, TEST_FILE, META_FILE]
    return all((path / n).is_file() and (path / n).stat().st_size > 0 for n in names)


def is_embedded(path):
    """True when path is a folder holding the generated (embedded) stand-in set."""
    from cs231n.data import embedded_cifar

    return embedded_cifar.embedded_version(path) is not None


def cifar10_dir(announce=True):
    """The CIFAR-10 folder to use: the real set if present, else the embedded one.

    The embedded set is generated on first use (deterministic, a few seconds) and
    kept for later calls.

    Parameters
    ----------
    announce : bool
        Print one line saying which set is used (and how to get the real one).

    Returns
    -------
    path : str, a folder in the CIFAR-10 python layout, for load_CIFAR10
    """
    real = real_cifar10_path()
    if is_complete(real) and not is_embedded(real):
        if announce:
            print(f"Using the real CIFAR-10 data set at {real}.")
        return str(real)

    if real.exists() and not is_embedded(real):
        missing = [n for n in [*TRAIN_FILES, TEST_FILE, META_FILE] if not (real / n).is_file()]
        warnings.warn(
            f"{real} is incomplete (missing or empty: {', '.join(missing) or 'some files'}), "
            "so the embedded stand-in is used; fix it with `cs231n data download cifar10 --force`.",
            stacklevel=2,
        )

    from cs231n.data import embedded_cifar

    target = embedded_cifar10_path()
    if announce and not embedded_cifar.is_current(target):
        print("Generating the embedded CIFAR-10 stand-in (first use, a few seconds)...")
    path = embedded_cifar.ensure_embedded_cifar10(target)
    if announce:
        print(
            f"Using the EMBEDDED stand-in for CIFAR-10 (synthetic shapes and textures, "
            f"10 classes) at {path}; for the real data run `cs231n data download cifar10`."
        )
    return str(path)


# ----------------------------------------------------------------------------------------
# Reading the pickled batches
# ----------------------------------------------------------------------------------------


def _unpickle(filename):
    """Load one pickle of the official set, turning every failure into a clear error."""
    path = Path(filename)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 file {path} not found. {HOW_TO_GET}")
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (EOFError, pickle.UnpicklingError) as exc:
        if not isinstance(exc, EOFError) and "truncated" not in str(exc):
            raise _corrupt(path, exc) from exc
        raise ValueError(
            f"CIFAR-10 file {path} is truncated (the pickle ends early): the download or "
            f"copy was incomplete. Fetch it again with `cs231n data download cifar10 --force`."
        ) from exc
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise _corrupt(path, exc) from exc


def _corrupt(path, exc):
    return ValueError(
        f"CIFAR-10 file {path} is corrupt and cannot be unpickled "
        f"({type(exc).__name__}: {exc}). Fetch it again with "
        f"`cs231n data download cifar10 --force`."
    )


def _get(d, key):
    """d[b'key'], accepting str keys too (batches re-pickled under Python 3)."""
    if key in d:
        return d[key]
    return d.get(key.decode())


def _read_batch(filename):
    """The raw uint8 rows (N, 3072) and labels (N,) of one batch, checked."""
    d = _unpickle(filename)
    if not isinstance(d, dict):
        raise ValueError(
            f"CIFAR-10 file {filename} holds a {type(d).__name__}, expected a dict with "
            "keys b'data' and b'labels'."
        )
    data, labels = _get(d, b"data"), _get(d, b"labels")
    if data is None or labels is None:
        raise ValueError(
            f"CIFAR-10 file {filename} lacks b'data' or b'labels' (keys: {sorted(d)}): "
            "it is not a CIFAR-10 batch."
        )
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise ValueError(
            f"CIFAR-10 file {filename}: b'data' must be a uint8 array of shape (N, 3072), "
            f"got {data.dtype} of shape {data.shape}."
        )
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"CIFAR-10 file {filename}: b'labels' must be {data.shape[0]} integers (one per "
            f"image), got {labels.dtype} of shape {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"CIFAR-10 file {filename}: labels must lie in 0..9, got values from "
            f"{labels.min()} to {labels.max()}."
        )
    return data, labels.astype(np.int64)


def _rows_to_images(rows, dtype, out=None):
    """(N, 3072) rows, planes R then G then B -> (N, 32, 32, 3) images of dtype."""
    images = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    if out is None:
        return images.astype(dtype)
    out[...] = images
    return out


def load_CIFAR_batch(filename, dtype=np.float64):
    """Load one batch file of CIFAR-10.

    Parameters
    ----------
    filename : str or Path, e.g. ".../cifar-10-batches-py/data_batch_1"
    dtype : the floating type of the returned images (np.float32 halves memory)

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 3), values in [0, 255]
    Y : ndarray of shape (N,), int64 labels in 0..9
    """
    rows, labels = _read_batch(filename)
    return _rows_to_images(rows, dtype), labels


def load_CIFAR10(root, dtype=np.float64):
    """Load all of CIFAR-10 from a folder in the python layout.

    Parameters
    ----------
    root : str or Path, the ``cifar-10-batches-py`` folder (e.g. ``cifar10_dir()``)
    dtype : the floating type of the images; np.float32 halves memory

    Returns
    -------
    Xtr : ndarray of shape (N_train, 32, 32, 3), the five training batches in order
    Ytr : ndarray of shape (N_train,), int64
    Xte : ndarray of shape (N_test, 32, 32, 3)
    Yte : ndarray of shape (N_test,), int64
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {root} not found. {HOW_TO_GET}")
    missing = [n for n in [*TRAIN_FILES, TEST_FILE] if not (root / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 folder {root} is incomplete: missing {', '.join(missing)}. {HOW_TO_GET}"
        )
    batches = [_read_batch(root / n) for n in TRAIN_FILES]
    # Fill one preallocated array so peak memory is the result, not twice it.
    Xtr = np.empty((sum(len(r) for r, _ in batches), 32, 32, 3), dtype=dtype)
    start = 0
    for rows, _ in batches:
        _rows_to_images(rows, dtype, out=Xtr[start : start + len(rows)])
        start += len(rows)
    Ytr = np.concatenate([labels for _, labels in batches])
    del batches
    Xte, Yte = load_CIFAR_batch(root / TEST_FILE, dtype=dtype)
    return Xtr, Ytr, Xte, Yte


def cifar10_class_names(root=None):
    """The 10 class names stored in ``batches.meta`` (default: the set cifar10_dir() picks).

    Returns
    -------
    names : list of 10 str
    """
    root = Path(root) if root is not None else Path(cifar10_dir(announce=False))
    meta = _unpickle(root / META_FILE)
    names = _get(meta, b"label_names") if isinstance(meta, dict) else None
    if names is None or len(names) != 10:
        raise ValueError(f"{root / META_FILE} does not hold 10 b'label_names'.")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


# ----------------------------------------------------------------------------------------
# The splits the notebooks use
# ----------------------------------------------------------------------------------------


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"get_CIFAR10_data: {name} must be a non-negative int, got {value!r}.")


def get_CIFAR10_data(
    num_training=49000,
    num_validation=1000,
    num_test=1000,
    subtract_mean=True,
    dtype=np.float64,
    cifar10_dir=None,
):
    """Load CIFAR-10 and split it into train / validation / test, channels first.

    The validation images are the training images right after the first
    num_training; the test images are the first num_test of the test batch. When
    the data set is smaller than asked (the embedded set has 10,000 training and
    2,000 test images), num_training and num_test shrink to fit, with a warning.

    Parameters
    ----------
    num_training, num_validation, num_test : int, the sizes of the three splits
    subtract_mean : bool, subtract the mean training image from every split
    dtype : floating type of the images; np.float32 halves memory
    cifar10_dir : str or Path, the data folder (default: ``cifar10_dir()``, which
        prints which data set is used)

    Returns
    -------
    data : dict with
        X_train (num_training, 3, 32, 32), y_train (num_training,),
        X_val (num_validation, 3, 32, 32), y_val (num_validation,),
        X_test (num_test, 3, 32, 32), y_test (num_test,); labels int64.
    """
    for name, value in [
        ("num_training", num_training),
        ("num_validation", num_validation),
        ("num_test", num_test),
    ]:
        _check_count(name, value)
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"get_CIFAR10_data: dtype must be a floating type, got {np.dtype(dtype)}.")
    root = cifar10_dir if cifar10_dir is not None else _default_cifar10_dir()
    X_train, y_train, X_test, y_test = load_CIFAR10(root, dtype=dtype)

    if num_validation >= len(X_train):
        raise ValueError(
            f"get_CIFAR10_data: num_validation={num_validation} leaves no training images; "
            f"the data set at {root} has {len(X_train)}."
        )
    if num_training + num_validation > len(X_train):
        new = len(X_train) - num_validation
        warnings.warn(
            f"get_CIFAR10_data: the data set at {root} has {len(X_train)} training images, "
            f"fewer than num_training + num_validation = {num_training + num_validation}; "
            f"num_training shrunk from {num_training} to {new}.",
            stacklevel=2,
        )
        num_training = new
    if num_test > len(X_test):
        warnings.warn(
            f"get_CIFAR10_data: the data set at {root} has {len(X_test)} test images; "
            f"num_test shrunk from {num_test} to {len(X_test)}.",
            stacklevel=2,
        )
        num_test = len(X_test)

    X_val = X_train[num_training : num_training + num_validation]
    y_val = y_train[num_training : num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]

    if subtract_mean:  # in place: the slices are views of arrays this function owns
        mean_image = X_train.mean(axis=0)  # (32, 32, 3)
        X_train -= mean_image
        X_val -= mean_image
        X_test -= mean_image

    def channels_first(X):  # (N, 32, 32, 3) -> (N, 3, 32, 32), contiguous
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))

    return {
        "X_train": channels_first(X_train),
        "y_train": y_train.copy(),
        "X_val": channels_first(X_val),
        "y_val": y_val.copy(),
        "X_test": channels_first(X_test),
        "y_test": y_test.copy(),
    }


_default_cifar10_dir = cifar10_dir  # the parameter of get_CIFAR10_data shadows the function
