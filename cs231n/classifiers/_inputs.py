"""Input checks shared by the linear classifiers' loss functions."""

from cs231n._checks import check_float, check_labels, check_ndim


def check_linear_inputs(func, W, X, y):
    """Raise a clear error unless W (D, C), X (N, D) and y (N,) fit together.

    Parameters
    ----------
    func : str, the name of the calling function, for the message
    W : ndarray of shape (D, C), floating point weights
    X : ndarray of shape (N, D), floating point data
    y : ndarray of shape (N,), integer labels in [0, C)
    """
    check_ndim(func, "W", W, 2)
    check_ndim(func, "X", X, 2)
    check_float(func, "W", W)
    check_float(func, "X", X)
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"{func}: X has {X.shape[1]} features per example (shape {X.shape}) but W has "
            f"shape {W.shape}; W must be of shape ({X.shape[1]}, C)."
        )
    check_labels(func, y, X.shape[0], W.shape[1])
