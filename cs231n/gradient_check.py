"""Numerical gradients: the independent reference every backward pass is checked against.

A numerical gradient uses the centered difference

    df/dx_i  ~=  (f(x + h e_i) - f(x - h e_i)) / (2 h),

whose error is O(h^2). Compare it with an analytic gradient through the relative
error ``rel_error(a, b) = max |a - b| / max(|a| + |b|, 1e-8)``: in float64 a correct
gradient gives ~1e-7 or less; 1e-2 or more means a bug (except near kinks such as
ReLU's or the SVM hinge's, where a centered difference can straddle the kink).
"""

import numpy as np

from cs231n._random import generator

__all__ = [
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "eval_numerical_gradient_blobs",
    "grad_check_sparse",
]


def rel_error(x, y):
    """Largest relative error between two arrays (or numbers) of the same shape."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function ``f`` at ``x``.

    Parameters
    ----------
    f : callable taking one ndarray argument and returning a float
    x : ndarray of any shape, the point at which to evaluate the gradient.
        It is perturbed in place and restored before returning.
    verbose : bool, print each coordinate's gradient as it is computed
    h : float, the step of the centered difference

    Returns
    -------
    grad : ndarray of the same shape as ``x``
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)  # f(x + h)
        x[ix] = oldval - h
        fxmh = f(x)  # f(x - h)
        x[ix] = oldval  # restore
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of an array-valued ``f`` contracted with upstream ``df``.

    Returns ``d/dx sum(f(x) * df)``, the quantity a layer's backward pass computes
    from ``dout = df``.

    Parameters
    ----------
    f : callable taking one ndarray and returning an ndarray of the shape of ``df``
    x : ndarray, perturbed in place and restored
    df : ndarray, the upstream gradient
    h : float, the step of the centered difference

    Returns
    -------
    grad : ndarray of the same shape as ``x``
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = oldval - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """Numerical gradients of ``f(*inputs)`` (written into ``output``) for each input.

    Used for layers that write into a preallocated output array.
    """
    numeric_diffs = []
    for input_blob in inputs:
        diff = np.zeros_like(input_blob)
        it = np.nditer(input_blob, flags=["multi_index"], op_flags=["readwrite"])
        while not it.finished:
            idx = it.multi_index
            orig = input_blob[idx]
            input_blob[idx] = orig + h
            f(*inputs)
            pos = np.copy(output)
            input_blob[idx] = orig - h
            f(*inputs)
            neg = np.copy(output)
            input_blob[idx] = orig
            diff[idx] = np.sum(pos - neg) / (2.0 * h)
            it.iternext()
        numeric_diffs.append(diff)
    return numeric_diffs


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare ``analytic_grad`` with numerical gradients at a few random coordinates.

    Parameters
    ----------
    f : callable, scalar function of ``x``
    x : ndarray, perturbed in place and restored
    analytic_grad : ndarray of the shape of ``x``
    num_checks : int, how many random coordinates to check
    seed : int or None, to choose the same coordinates every time
    verbose : bool, print one line per coordinate (as the course notebooks do)

    Returns
    -------
    errors : list of float, the relative error at each checked coordinate
    """
    rng = generator(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.choice(m)) for m in x.shape)
        oldval = x[ix]
        x[ix] = oldval + h
        fxph = f(x)
        x[ix] = oldval - h
        fxmh = f(x)
        x[ix] = oldval
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = analytic_grad[ix]
        denom = abs(grad_numerical) + abs(grad_analytic)
        rel = abs(grad_numerical - grad_analytic) / denom if denom > 0 else 0.0
        errors.append(rel)
        if verbose:
            print(
                f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, "
                f"relative error: {rel:e}"
            )
    return errors
