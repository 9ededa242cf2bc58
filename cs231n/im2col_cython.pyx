# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled kernels for the fast convolution and pooling layers.

``cs231n.fast_layers`` imports this module when it was built (``pip install``
compiles it); ``cs231n.im2col`` is its pure-numpy twin with the same functions,
the same arguments and the same results. Every kernel takes float32 or float64
arrays, releases the GIL and splits its work over threads (OpenMP) by image or
by (image, channel) plane, so no two threads ever write the same element.

Layout of the column matrix (``im2col``): row ``(c * HH + i) * WW + j`` holds,
for every output position ``(n, ho, wo)`` in column ``(n * Ho + ho) * Wo + wo``,
the input value ``x[n, c, ho * stride - pad + i, wo * stride - pad + j]`` (zero
where that falls in the padding). A filter bank reshaped to ``(F, C * HH * WW)``
times this matrix is the convolution, laid out as ``(F, N, Ho, Wo)``.
"""

from cython.parallel cimport prange
from libc.string cimport memcpy, memset
from libc.stdint cimport uint8_t, int32_t
cimport cython
from cython cimport floating

import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define CS231N_MAX_THREADS() omp_get_max_threads()
    #else
    #define CS231N_MAX_THREADS() 1
    #endif
    """
    int CS231N_MAX_THREADS() nogil

# Below this many elements a kernel runs on one thread: waking the team would
# cost more than it saves.
cdef Py_ssize_t _SERIAL_BELOW = 16384

ctypedef fused index_t:
    uint8_t
    int32_t


cdef inline int _threads(Py_ssize_t work) noexcept nogil:
    return 1 if work < _SERIAL_BELOW else CS231N_MAX_THREADS()


cdef inline Py_ssize_t _first_inside(Py_ssize_t pad, Py_ssize_t j, Py_ssize_t stride) noexcept nogil:
    """Smallest output index o with o * stride - pad + j >= 0."""
    if pad <= j:
        return 0
    return (pad - j + stride - 1) // stride


cdef inline Py_ssize_t _end_inside(Py_ssize_t W, Py_ssize_t pad, Py_ssize_t j,
                                   Py_ssize_t stride) noexcept nogil:
    """One past the largest output index o with o * stride - pad + j <= W - 1."""
    cdef Py_ssize_t last = W - 1 + pad - j
    if last < 0:
        return 0
    return last // stride + 1


cdef void _im2col_image(const floating* xn, Py_ssize_t sC, Py_ssize_t sH, Py_ssize_t sW,
                        Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                        Py_ssize_t Ho, Py_ssize_t Wo,
                        floating* cols, Py_ssize_t ld) noexcept nogil:
    """Write one image's block of columns: cols[k, 0:Ho*Wo] for every row k."""
    cdef Py_ssize_t c, i, j, ho, wo, hi, lo, hi_end, off
    cdef floating* dst
    cdef const floating* src
    for c in range(C):
        for i in range(HH):
            for j in range(WW):
                dst = cols + ((c * HH + i) * WW + j) * ld
                lo = _first_inside(pad, j, stride)
                hi_end = _end_inside(W, pad, j, stride)
                if hi_end > Wo:
                    hi_end = Wo
                if lo > hi_end:
                    lo = hi_end
                off = j - pad  # input column of output column 0
                for ho in range(Ho):
                    hi = ho * stride - pad + i
                    if hi < 0 or hi >= H:
                        memset(dst, 0, Wo * sizeof(floating))
                    else:
                        src = xn + c * sC + hi * sH
                        for wo in range(lo):
                            dst[wo] = 0
                        if sW == 1 and stride == 1:
                            memcpy(dst + lo, src + lo + off, (hi_end - lo) * sizeof(floating))
                        elif sW == 1 and stride == 2:
                            for wo in range(lo, hi_end):
                                dst[wo] = src[2 * wo + off]
                        else:
                            for wo in range(lo, hi_end):
                                dst[wo] = src[(wo * stride + off) * sW]
                        for wo in range(hi_end, Wo):
                            dst[wo] = 0
                    dst += Wo


def im2col(const floating[:, :, :, :] x, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad,
           Py_ssize_t stride, bint ones_row=False):
    """Unfold every receptive field of ``x`` into a column.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64, any strides
    HH, WW : filter height and width
    pad : zero padding on every side
    stride : step between receptive fields
    ones_row : if True, append a row of ones (so a bias can ride along in the product)

    Returns
    -------
    cols : ndarray of shape (C * HH * WW + ones_row, N * Ho * Wo), dtype of ``x``
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t K = C * HH * WW, P = Ho * Wo, n, e
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    dtype = np.float32 if floating is float else np.float64
    out = np.empty((K + ones_row, N * P), dtype=dtype)
    cdef floating[:, ::1] cols = out
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* cp = &cols[0, 0]
    cdef Py_ssize_t ld = N * P
    cdef int nt = _threads(K * N * P)
    with nogil:
        for n in prange(N, schedule="static", num_threads=nt):
            _im2col_image(xp + n * sN, sC, sH, sW, C, H, W, HH, WW, pad, stride, Ho, Wo,
                          cp + n * P, ld)
            if ones_row:
                for e in range(P):
                    cp[K * ld + n * P + e] = 1
    return out


cdef void _col2im_image(const floating* cols, Py_ssize_t ld,
                        Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                        Py_ssize_t Ho, Py_ssize_t Wo, floating* dxn) noexcept nogil:
    """Sum one image's columns back into its (C, H, W) block (zeroed here first).

    Every input element receives its terms in (i, j) order, as in the numpy twin,
    so both give bit-identical sums.
    """
    cdef Py_ssize_t c, i, j, ho, wo, hi, lo, hi_end, off
    cdef const floating* src
    cdef floating* dst
    memset(dxn, 0, C * H * W * sizeof(floating))
    for c in range(C):
        for i in range(HH):
            for j in range(WW):
                src = cols + ((c * HH + i) * WW + j) * ld
                lo = _first_inside(pad, j, stride)
                hi_end = _end_inside(W, pad, j, stride)
                if hi_end > Wo:
                    hi_end = Wo
                if lo > hi_end:
                    lo = hi_end
                off = j - pad
                for ho in range(Ho):
                    hi = ho * stride - pad + i
                    if 0 <= hi < H:
                        dst = dxn + (c * H + hi) * W
                        if stride == 1:
                            for wo in range(lo, hi_end):
                                dst[wo + off] += src[wo]
                        else:
                            for wo in range(lo, hi_end):
                                dst[wo * stride + off] += src[wo]
                    src += Wo


def col2im(const floating[:, :] cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride):
    """Fold columns back into an image batch, summing overlapping receptive fields.

    The adjoint of ``im2col``: rows beyond ``C * HH * WW`` (a ones row) are ignored.

    Parameters
    ----------
    cols : ndarray of shape (>= C * HH * WW, N * Ho * Wo), float32 or float64, rows contiguous
    N, C, H, W : shape of the image batch to rebuild
    HH, WW, pad, stride : as given to ``im2col``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``cols``
    """
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t P = Ho * Wo, n
    if cols.shape[0] < C * HH * WW or cols.shape[1] != N * P:
        raise ValueError(f"col2im: cols has shape {tuple(cols.shape)[:2]}, expected "
                         f"({C * HH * WW}, {N * P}) for images {(N, C, H, W)}.")
    if cols.strides[1] != sizeof(floating):
        raise ValueError("col2im: the rows of cols must be contiguous.")
    cdef Py_ssize_t ld = cols.strides[0] // sizeof(floating)
    dtype = np.float32 if floating is float else np.float64
    out = np.empty((N, C, H, W), dtype=dtype)
    cdef floating[:, :, :, ::1] dx = out
    cdef const floating* cp = &cols[0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        for n in prange(N, schedule="static", num_threads=nt):
            _col2im_image(cp + n * P, ld, C, H, W, HH, WW, pad, stride, Ho, Wo,
                          dp + n * C * H * W)
    return out


cdef inline bint _beats(floating v, floating m) noexcept nogil:
    """True if v replaces the running max m (NaN wins, like np.max)."""
    return v > m or v != v


def max_pool_forward(const floating[:, :, :, :] x, Py_ssize_t PH, Py_ssize_t PW,
                     Py_ssize_t stride, index_t[:, :, :, ::1] argmax):
    """Max pooling with the position of each maximum, in one pass over ``x``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64, any strides
    PH, PW, stride : pool height, width and step
    argmax : ndarray of shape (N, C, Ho, Wo), uint8 or int32, filled here with the
        index ``i * PW + j`` inside its window of the first maximum

    Returns
    -------
    out : ndarray of shape (N, C, Ho, Wo), dtype of ``x``
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H - PH) // stride + 1, Wo = (W - PW) // stride + 1
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    if tuple(argmax.shape)[:4] != (N, C, Ho, Wo):
        raise ValueError(f"max_pool_forward: argmax must have shape {(N, C, Ho, Wo)}.")
    dtype = np.float32 if floating is float else np.float64
    result = np.empty((N, C, Ho, Wo), dtype=dtype)
    cdef floating[:, :, :, ::1] out = result
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef index_t* ap = &argmax[0, 0, 0, 0]
    cdef Py_ssize_t plane, ho, wo, i, j, best
    cdef const floating* xc
    cdef const floating* r0
    cdef const floating* r1
    cdef floating m, v
    cdef floating* orow
    cdef index_t* arow
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        for plane in prange(N * C, schedule="static", num_threads=nt):
            xc = xp + (plane // C) * sN + (plane % C) * sC
            for ho in range(Ho):
                orow = op + (plane * Ho + ho) * Wo
                arow = ap + (plane * Ho + ho) * Wo
                if PH == 2 and PW == 2 and stride == 2 and sW == 1:
                    r0 = xc + 2 * ho * sH
                    r1 = r0 + sH
                    for wo in range(Wo):
                        m = r0[2 * wo]
                        best = 0
                        v = r0[2 * wo + 1]
                        if _beats(v, m):
                            m = v
                            best = 1
                        v = r1[2 * wo]
                        if _beats(v, m):
                            m = v
                            best = 2
                        v = r1[2 * wo + 1]
                        if _beats(v, m):
                            m = v
                            best = 3
                        orow[wo] = m
                        arow[wo] = <index_t>best
                else:
                    for wo in range(Wo):
                        r0 = xc + ho * stride * sH + wo * stride * sW
                        m = r0[0]
                        best = 0
                        for i in range(PH):
                            for j in range(PW):
                                v = r0[i * sH + j * sW]
                                if _beats(v, m):
                                    m = v
                                    best = i * PW + j
                        orow[wo] = m
                        arow[wo] = <index_t>best
    return result


def max_pool_backward(const floating[:, :, :, :] dout, const index_t[:, :, :, ::1] argmax,
                      Py_ssize_t H, Py_ssize_t W, Py_ssize_t PH, Py_ssize_t PW,
                      Py_ssize_t stride):
    """Route each upstream gradient to the maximum of its window.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), float32 or float64, any strides
    argmax : ndarray of shape (N, C, Ho, Wo) from ``max_pool_forward``
    H, W : input height and width
    PH, PW, stride : as given to ``max_pool_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``dout``; overlapping windows add up
    """
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1], Ho = dout.shape[2], Wo = dout.shape[3]
    if tuple(argmax.shape)[:4] != (N, C, Ho, Wo):
        raise ValueError("max_pool_backward: dout and argmax must have the same shape.")
    cdef Py_ssize_t sN = dout.strides[0] // sizeof(floating)
    cdef Py_ssize_t sC = dout.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = dout.strides[2] // sizeof(floating)
    cdef Py_ssize_t sW = dout.strides[3] // sizeof(floating)
    dtype = np.float32 if floating is float else np.float64
    result = np.empty((N, C, H, W), dtype=dtype)
    cdef floating[:, :, :, ::1] dx = result
    cdef const floating* gp = &dout[0, 0, 0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    cdef const index_t* ap = &argmax[0, 0, 0, 0]
    cdef Py_ssize_t plane, ho, wo, k
    cdef const floating* g
    cdef const index_t* a
    cdef floating* d
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        for plane in prange(N * C, schedule="static", num_threads=nt):
            d = dp + plane * H * W
            memset(d, 0, H * W * sizeof(floating))
            g = gp + (plane // C) * sN + (plane % C) * sC
            a = ap + plane * Ho * Wo
            for ho in range(Ho):
                for wo in range(Wo):
                    k = a[ho * Wo + wo]
                    d[(ho * stride + k // PW) * W + wo * stride + k % PW] += g[ho * sH + wo * sW]
    return result
