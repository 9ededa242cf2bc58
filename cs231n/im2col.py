"""im2col / col2im and max-pooling kernels in pure numpy.

This module is the pure-numpy twin of the compiled ``cs231n.im2col_cython``: the
same functions, with the same arguments, giving the same results (bit for bit on
finite inputs). ``cs231n.fast_layers`` uses it when the extension is not built.

The idea of im2col: a convolution is a sum over each receptive field of the input,
so if every receptive field is copied out ("unfolded") into a column, the whole
convolution becomes ONE matrix product with the filters laid out as rows.

Layout of the column matrix: row ``(c * HH + i) * WW + j`` holds, for every output
position ``(n, ho, wo)`` in column ``(n * Ho + ho) * Wo + wo``, the input value
``x[n, c, ho * stride - pad + i, wo * stride - pad + j]`` (zero in the padding).
Instead of looping over output positions, the code below loops over the HH * WW
filter offsets ``(i, j)``: for a fixed offset, the values over all output positions
form one strided slice of the padded input, copied in one numpy operation.
"""

import numpy as np


def _out_size(H, W, HH, WW, pad, stride):
    return (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1


def im2col(x, HH, WW, pad, stride, ones_row=False, out=None):
    """Unfold every receptive field of ``x`` into a column.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    HH, WW : filter height and width
    pad : zero padding on every side
    stride : step between receptive fields
    ones_row : if True, append a row of ones (so a bias can ride along in the product)
    out : optional ndarray to write into, shape (C * HH * WW + ones_row, N * Ho * Wo),
        dtype of ``x``, rows contiguous (a column slice of a larger buffer will do)

    Returns
    -------
    cols : ndarray of shape (C * HH * WW + ones_row, N * Ho * Wo), dtype of ``x``
    """
    N, C, H, W = x.shape
    Ho, Wo = _out_size(H, W, HH, WW, pad, stride)
    K = C * HH * WW
    shape = (K + int(ones_row), N * Ho * Wo)
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    elif out.shape != shape or out.dtype != x.dtype or out.strides[-1] != out.itemsize:
        raise ValueError(
            f"im2col: out must be an array of shape {shape} and dtype {x.dtype} with "
            f"contiguous rows, got shape {out.shape}, dtype {out.dtype}."
        )
    cols = out
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H+2p, W+2p)
    # View the first K rows as (C, HH, WW, N, Ho, Wo) so each offset is one slice
    # (a view, not a copy, since the rows are contiguous).
    cols6 = cols[:K].reshape(C, HH, WW, N, Ho, Wo)
    for i in range(HH):
        for j in range(WW):
            rows, columns = slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride)
            cols6[:, i, j] = x_pad[:, :, rows, columns].transpose(1, 0, 2, 3)  # (C, N, Ho, Wo)
    if ones_row:
        cols[K] = 1
    return cols


def col2im(cols, N, C, H, W, HH, WW, pad, stride, out=None):
    """Fold columns back into an image batch, summing overlapping receptive fields.

    The adjoint of ``im2col``: rows beyond ``C * HH * WW`` (a ones row) are ignored.

    Parameters
    ----------
    cols : ndarray of shape (>= C * HH * WW, N * Ho * Wo), float32 or float64
    N, C, H, W : shape of the image batch to rebuild
    HH, WW, pad, stride : as given to ``im2col``
    out : optional C-ordered ndarray of shape (N, C, H, W) and the dtype of ``cols``
        to write into

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``cols``
    """
    Ho, Wo = _out_size(H, W, HH, WW, pad, stride)
    K = C * HH * WW
    if cols.shape[0] < K or cols.shape[1] != N * Ho * Wo:
        raise ValueError(
            f"col2im: cols has shape {cols.shape}, expected ({K}, {N * Ho * Wo}) "
            f"for images {(N, C, H, W)}."
        )
    cols6 = cols[:K].reshape(C, HH, WW, N, Ho, Wo)
    dx_pad = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    # Each input element receives its terms in (i, j) order, like the compiled kernel.
    for i in range(HH):
        for j in range(WW):
            rows, columns = slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride)
            dx_pad[:, :, rows, columns] += cols6[:, i, j]  # (C, N, Ho, Wo)
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].transpose(1, 0, 2, 3)  # (N, C, H, W)
    if out is None:
        return np.ascontiguousarray(dx)
    if out.shape != (N, C, H, W) or out.dtype != cols.dtype or not out.flags.c_contiguous:
        raise ValueError(
            f"col2im: out must be a C-ordered array of shape {(N, C, H, W)} and dtype {cols.dtype}."
        )
    out[...] = dx
    return out


def _windows(x, PH, PW, stride):
    """All pooling windows of ``x`` as a view of shape (N, C, Ho, Wo, PH, PW)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (PH, PW), axis=(2, 3))
    return windows[:, :, ::stride, ::stride]


def max_pool_forward(x, PH, PW, stride, argmax):
    """Max pooling with the position of each maximum.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    PH, PW, stride : pool height, width and step
    argmax : ndarray of shape (N, C, Ho, Wo), uint8 or int32, filled here with the
        index ``i * PW + j`` inside its window of the first maximum

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo), dtype of ``x``
    """
    N, C, H, W = x.shape
    Ho, Wo = (H - PH) // stride + 1, (W - PW) // stride + 1
    if argmax.shape != (N, C, Ho, Wo):
        raise ValueError(f"max_pool_forward: argmax must have shape {(N, C, Ho, Wo)}.")
    flat = _windows(x, PH, PW, stride).reshape(N, C, Ho, Wo, PH * PW)  # a copy
    argmax[...] = flat.argmax(axis=-1)
    return flat.max(axis=-1)


def max_pool_backward(dout, argmax, H, W, PH, PW, stride, out=None):
    """Route each upstream gradient to the maximum of its window.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), float32 or float64
    argmax : ndarray of shape (N, C, Ho, Wo) from ``max_pool_forward``
    H, W : input height and width
    PH, PW, stride : as given to ``max_pool_forward``
    out : optional ndarray of shape (N, C, H, W) and the dtype of ``dout`` to write
        into, each (H, W) plane contiguous (e.g. the layout of the forward input)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``dout``; overlapping windows add up
    """
    N, C, Ho, Wo = dout.shape
    if argmax.shape != dout.shape:
        raise ValueError("max_pool_backward: dout and argmax must have the same shape.")
    if out is None:
        dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    elif (
        out.shape != (N, C, H, W)
        or out.dtype != dout.dtype
        or (W > 1 and out.strides[3] != out.itemsize)
        or (H > 1 and out.strides[2] != W * out.itemsize)
    ):
        raise ValueError(
            f"max_pool_backward: out must be an array of shape {(N, C, H, W)} and dtype "
            f"{dout.dtype} with contiguous (H, W) planes."
        )
    else:
        dx = out
        dx[...] = 0
    i, j = np.divmod(argmax.astype(np.intp), PW)  # (N, C, Ho, Wo) each
    rows = np.arange(Ho)[:, None] * stride + i  # input row of each maximum
    cols = np.arange(Wo) * stride + j  # input column of each maximum
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    # Windows that overlap can share a maximum: np.add.at adds every term.
    np.add.at(dx, (n, c, rows, cols), dout)
    return dx


def channels_first(x, out=None):
    """Copy an (N, C, H, W) batch into a C-ordered (C, N * H * W) matrix.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    out : optional ndarray of shape (C, N * H * W), dtype of ``x``, rows contiguous

    Returns
    -------
    rows : ndarray of shape (C, N * H * W): row c holds channel c of every image
    """
    N, C, H, W = x.shape
    shape = (C, N * H * W)
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    elif out.shape != shape or out.dtype != x.dtype or out.strides[-1] != out.itemsize:
        raise ValueError(
            f"channels_first: out must be an array of shape {shape} and dtype {x.dtype} "
            f"with contiguous rows, got shape {out.shape}, dtype {out.dtype}."
        )
    out.reshape(C, N, H, W)[...] = x.transpose(1, 0, 2, 3)  # a view: the rows are contiguous
    return out
