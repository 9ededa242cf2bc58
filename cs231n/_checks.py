"""Input checks shared by the package: errors a student can act on.

Each check raises ``ValueError`` (or ``TypeError``) with a message naming the
function, the argument, what was expected and what was received.
"""

import numpy as np


def check_ndim(func, name, arr, ndim):
    """Raise unless ``arr`` is an ndarray with ``ndim`` dimensions."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy array, got {type(arr).__name__}.")
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name} must have {ndim} dimensions, got shape {arr.shape}.")


def check_float(func, name, arr):
    """Raise unless ``arr`` holds floating-point numbers."""
    if not np.issubdtype(np.asarray(arr).dtype, np.floating):
        raise TypeError(
            f"{func}: {name} must hold floating-point numbers, got dtype {arr.dtype}; "
            f"convert it with {name}.astype(np.float64) (or np.float32)."
        )


def check_labels(func, y, N, C=None):
    """Raise unless ``y`` is an integer vector of N labels in [0, C)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != N:
        raise ValueError(f"{func}: y must have shape ({N},) to match the scores, got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{func}: y must hold integer class labels, got dtype {y.dtype}.")
    if C is not None and N > 0 and (y.min() < 0 or y.max() >= C):
        raise ValueError(
            f"{func}: labels must lie in [0, {C}), got values from {y.min()} to {y.max()}."
        )
