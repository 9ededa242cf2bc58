"""Fast convolution and max-pooling layers: the same maths as the naive layers, quickly.

The naive layers in ``cs231n.layers`` loop over output positions; these compute
the same outputs and gradients with the same signatures, dozens to hundreds of
times faster, so that convolutional networks train in minutes:

    out, cache = conv_forward_fast(x, w, b, conv_param)
    dx, dw, db = conv_backward_fast(dout, cache)
    out, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(dout, cache)

How. A convolution becomes ONE matrix product (GEMM) after "im2col" copies every
receptive field of the input into a column (see ``cs231n.im2col``): with the F
filters as the rows of a (F, C*HH*WW) matrix, ``filters @ cols`` is the whole
output. The bias rides along as one more filter column times a row of ones in
``cols``. Backward is two more products (``dw`` and ``dcols``) and "col2im", the
adjoint of im2col, which sums the column gradients back into image positions.
Large batches go a chunk of images at a time, so that each chunk's columns are
still in the CPU caches when the product reads them (``cols`` for a whole batch
can take hundreds of MB). A network's first layer passes ``"input_grad": False``
in ``conv_param``: its input is the images, so backward skips ``dx`` (returns None).
A layer with few taps (C * HH * WW <= 160: a first layer on colour images) can skip
the column matrix altogether: its columns would hold K copies of the input for a
product only K deep, so the copy would cost as much as the product. The compiled
kernels compute it directly from the image (see ``conv_forward_direct`` in
``cs231n/im2col_cython.pyx``) when numpy's products run on the kernels' threads
(numpy's OpenBLAS hands them over: ``cs231n._blas_threads``) or on one thread, as in
``cs231n notebooks`` and the test suite (see ``_DIRECT_TAPS`` for why only then).
Max pooling records where each maximum was in one pass, and backward routes each
upstream gradient there.

Backends. The copies (im2col, col2im, pooling) run in the compiled extension
``cs231n.im2col_cython`` (built by ``pip install``; threads: see below, and
``CS231N_KERNEL_THREADS``, 0 for all cores) when it is there,
otherwise in its pure-numpy twin ``cs231n.im2col``, which gives the same results,
only slower; a warning says so once. ``BACKEND`` names the one in use
(``"cython"`` or ``"numpy"``); set the environment variable
``CS231N_NUMPY_FALLBACK=1`` to force numpy, or switch for a block of code with
``with use_backend("numpy"): ...``.

Threads. Where numpy's BLAS is an OpenBLAS that can hand its work over (0.3.27+, as
in numpy's wheels), loading the extension makes numpy's matrix products run on the
kernels' OpenMP threads (``cs231n._blas_threads``; ``CS231N_SHARE_BLAS_THREADS=0``
keeps them apart): one team takes turns at the products and the kernels, instead of
two fighting for the cores. Unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set,
loading the extension also sets how idle threads wait: a short spin
(``GOMP_SPINCOUNT=30000``) when they share, else ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP
threads that spin after a kernel would take the cores from BLAS's own). If an OpenMP
runtime was already loaded by then (``import torch`` before ``cs231n``: PyTorch ships
its own, under the same name), the policy can no longer change; unless numpy's
products share that runtime's team, the copies then run on one thread.

Layout note. ``conv_forward_*`` return ``out`` as a transposed view of the product
(memory order F, N, H_out, W_out): a correct ``(N, F, H_out, W_out)`` array that
saves a copy; ``np.ascontiguousarray(out)`` gives C order if you need it. In the
same spirit, a directly computed layer's ``out`` is a view whose rows of W_out values
lie a few values apart in memory (the kernel computes wider rows), and
``max_pool_backward_fast`` returns ``dx`` in the memory order of the
pooling layer's input, so that the gradient reaches the convolution's backward pass
in the order it computes with.
"""

import contextlib
import os
import warnings

import numpy as np

from cs231n import _blas_threads
from cs231n import im2col as _numpy_kernels
from cs231n._checks import check_float, check_ndim
from cs231n.layers import _conv_output_size, _pool_output_size

__all__ = [
    "BACKEND",
    "use_backend",
    "conv_forward_fast",
    "conv_backward_fast",
    "conv_forward_im2col",
    "conv_backward_im2col",
    "conv_forward_strides",
    "conv_backward_strides",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "max_pool_forward_reshape",
    "max_pool_backward_reshape",
    "max_pool_forward_im2col",
    "max_pool_backward_im2col",
]

# Raised in step with ``KERNELS_VERSION`` in im2col_cython.pyx when a kernel's arguments
# change (2: ``max_pool_backward`` takes ``out``), so that a stale build is not used.
_KERNELS_VERSION = 2
_KERNEL_NAMES = (
    "im2col",
    "col2im",
    "max_pool_forward",
    "max_pool_backward",
    "channels_first",
    "set_thread_cap",
)


def _openmp_loaded_with_spinning_threads():
    """Whether the process already holds an OpenMP runtime that may spin-wait.

    The runtime reads its wait policy once, when it is loaded. If another library
    (PyTorch ships its own libgomp) loaded it before ``OMP_WAIT_POLICY=PASSIVE`` was
    set, our kernels would share a runtime whose idle threads spin and take the cores
    from numpy's BLAS: a convnet step measured 5x slower. Linux only (reads
    /proc/self/maps); elsewhere, False.
    """
    if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" or os.environ.get(
        "GOMP_SPINCOUNT", ""
    ).strip() in ("0",):
        return False
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return False
    return any(name in maps for name in ("libgomp", "libomp.so", "libiomp5"))


_SPINNING_RUNTIME = None  # decided once, before our extension loads its runtime


def _load_compiled():
    """The compiled kernels, or None with the reason they cannot be used."""
    global _SPINNING_RUNTIME
    if _SPINNING_RUNTIME is None:
        _SPINNING_RUNTIME = _openmp_loaded_with_spinning_threads()
    # How the kernels' idle OpenMP threads wait, unless told otherwise; read by the
    # OpenMP runtime when the extension loads it. When numpy's products will run on
    # the same threads (``cs231n._blas_threads``), they spin a little before they
    # sleep: products come every fraction of a millisecond in a training step, and
    # waking a sleeping thread for each cost a fully connected net's step 15-30%
    # (1.31-1.44 ms against 1.07-1.08 with 30,000 spins; 3,000 and 300,000 were
    # slower). Otherwise they alternate with numpy's own BLAS threads and sleep at
    # once: spinning, they would take the cores from the next product.
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        if _blas_threads.can_share():
            os.environ["GOMP_SPINCOUNT"] = "30000"
        else:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        from cs231n import im2col_cython
    except ImportError as exc:
        return None, f"the compiled extension cs231n.im2col_cython is not built ({exc})"
    missing = [name for name in _KERNEL_NAMES if not hasattr(im2col_cython, name)]
    if missing:
        return None, f"the compiled extension is out of date (it lacks {', '.join(missing)})"
    if getattr(im2col_cython, "KERNELS_VERSION", 1) < _KERNELS_VERSION:
        return None, "the compiled extension is out of date (built from an older im2col_cython.pyx)"
    # Numpy's products on the kernels' threads, when its BLAS allows it (see there).
    shared = bool(_blas_threads.share(im2col_cython))
    # Too late for the wait policy when the runtime spins: unless BLAS runs on the same
    # spinning team, one thread per kernel spins nothing up. The kernels are copies, a
    # small part of a step next to the matrix products.
    spinning_apart = _SPINNING_RUNTIME and not shared
    im2col_cython.set_thread_cap(1 if spinning_apart else _kernel_threads(shared))
    _serial_after_fork(im2col_cython)
    return im2col_cython, None


_fork_hooked = []


def _serial_after_fork(kernels):
    """In a child made by ``os.fork()`` (``multiprocessing`` on Linux), run every kernel
    on one thread: the parent's OpenMP threads do not exist there, but the runtime
    still counts on them, and a team started in the child would wait for them forever."""
    if _fork_hooked or not hasattr(kernels, "set_serial") or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=lambda: kernels.set_serial(True))
    _fork_hooked.append(kernels)


def _kernel_threads(shared):
    """Threads per compiled copy kernel: ``CS231N_KERNEL_THREADS`` (0: all cores); by
    default all cores when numpy's products run on the kernels' threads, else 1.

    With BLAS on threads of its own, one thread is the default because a training step
    measured as fast or faster with it (BLAS already uses the cores for the matrix
    products, and the copies are memory-bound), and because a team of threads
    collapses when another program holds a core: the team waits at the end of each
    kernel for its slowest thread. Sharing one team with BLAS, the copies take every
    core (2 cores: max pooling 1.1-1.8x a copy of x against 1.8-3.1x on one thread, the
    64-channel convolution 1.13-1.21x its products against 1.22-1.35x).
    """
    raw = os.environ.get("CS231N_KERNEL_THREADS", "").strip()
    if not raw:
        return 0 if shared else 1
    try:
        threads = int(raw)
        if threads < 0:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"CS231N_KERNEL_THREADS={raw!r} is not a number of threads (0 for all cores); using 1.",
            RuntimeWarning,
            stacklevel=3,
        )
        return 1
    return threads


def _choose_backend():
    if os.environ.get("CS231N_NUMPY_FALLBACK", "").strip() not in ("", "0"):
        reason = "CS231N_NUMPY_FALLBACK is set"
        compiled = None
    else:
        compiled, reason = _load_compiled()
    if compiled is not None:
        return "cython", compiled
    warnings.warn(
        f"cs231n.fast_layers: {reason}; using the pure-numpy fallback (same results, "
        "slower). To build the extension: pip install -e . (needs a C compiler and Cython).",
        RuntimeWarning,
        stacklevel=3,
    )
    return "numpy", _numpy_kernels


BACKEND, _kernels = _choose_backend()


@contextlib.contextmanager
def use_backend(name):
    """Run a block of code with the "cython" or the "numpy" kernels, then switch back.

    Example: ``with use_backend("numpy"): out, cache = conv_forward_fast(x, w, b, p)``.
    """
    global BACKEND, _kernels
    if name == "numpy":
        kernels = _numpy_kernels
    elif name == "cython":
        kernels, reason = _load_compiled()
        if kernels is None:
            raise RuntimeError(f"use_backend('cython'): {reason}.")
    else:
        raise ValueError(f"use_backend: name must be 'cython' or 'numpy', got {name!r}.")
    saved = BACKEND, _kernels
    BACKEND, _kernels = name, kernels
    try:
        yield
    finally:
        BACKEND, _kernels = saved


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------


def _check_conv(func, x, w, b, conv_param):
    """Check a convolution's inputs; return (dtype, stride, pad, H_out, W_out, input_grad)."""
    check_ndim(func, "x", x, 4)
    check_ndim(func, "w", w, 4)
    for name, arr in (("x", x), ("w", w), ("b", b)):
        check_float(func, name, arr)
    missing = [k for k in ("stride", "pad") if k not in conv_param]
    if missing:
        raise KeyError(f"{func}: conv_param is missing {missing}.")
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out, W_out = _conv_output_size(func, x.shape, w.shape, stride, pad)
    if np.shape(b) != (w.shape[0],):
        raise ValueError(f"{func}: b must have shape ({w.shape[0]},), got {np.shape(b)}.")
    input_grad = conv_param.get("input_grad", True)
    if not isinstance(input_grad, (bool, np.bool_)):
        raise TypeError(
            f"{func}: conv_param['input_grad'] must be True or False, got {input_grad!r}."
        )
    dtype = np.result_type(x, w, b)  # float32 stays float32 unless mixed with float64
    _check_kernel_dtype(func, dtype)
    return dtype, int(stride), int(pad), H_out, W_out, bool(input_grad)


def _check_kernel_dtype(func, dtype):
    if dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{func}: the fast layers compute in float32 or float64, got {np.dtype(dtype)}; "
            "convert the inputs with .astype(np.float32)."
        )


# Columns up to _KEEP_BYTES are made in one go and kept for the backward pass;
# larger ones are made a chunk of about _CHUNK_BYTES at a time, so each chunk stays
# in the CPU caches between im2col and its product, and made again in backward.
_KEEP_BYTES = 16 << 20
_CHUNK_BYTES = 4 << 20


def _conv_chunks(N, bytes_per_image):
    """Split the batch into chunks of images; return the (n0, n1) ranges and the largest size."""
    if N * bytes_per_image <= _KEEP_BYTES:
        per_chunk = N
    else:
        per_chunk = max(1, min(N, _CHUNK_BYTES // max(1, bytes_per_image)))
    return [(n0, min(N, n0 + per_chunk)) for n0 in range(0, N, per_chunk)], per_chunk


def _filters_then_biases(w, b, dtype):
    """The (F, K + 1) matrix of the filters as rows, then the biases in the last column."""
    F = w.shape[0]
    w_aug = np.empty((F, w[0].size + 1), dtype=dtype)
    w_aug[:, :-1] = w.reshape(F, -1)
    w_aug[:, -1] = b
    return w_aug


def conv_forward_im2col(x, w, b, conv_param):
    """Convolutional layer by im2col and matrix products, a chunk of images at a time.

    For each chunk of images (sized so its columns stay in the CPU caches), im2col
    unfolds the receptive fields into ``cols`` (K + 1, B * P) with a last row of
    ones, and ``w_aug @ cols`` (w_aug: the filters as rows, then the biases) writes
    that chunk's columns of the output.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    w : ndarray of shape (F, C, HH, WW), filters
    b : ndarray of shape (F,), biases
    conv_param : dict with the keys ``stride`` and ``pad`` (ints), as for the naive
        layer, and optionally ``input_grad`` (default True; see ``conv_backward_fast``)

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out), dtype of the inputs (see the layout
        note in the module docstring)
    cache : (x, w_shape, w_aug, stride, pad, input_grad, chunks, per_chunk, kept_cols,
        kernels) for
        ``conv_backward_im2col``; ``kept_cols`` is None when the columns were made in
        chunks (backward makes them again rather than keep them all in memory)
    """
    dtype, stride, pad, H_out, W_out, input_grad = _check_conv(
        "conv_forward_im2col", x, w, b, conv_param
    )
    x = x.astype(dtype, copy=False)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    K, P = C * HH * WW, H_out * W_out
    kernels = _kernels
    w_aug = _filters_then_biases(w, b, dtype)
    chunks, per_chunk = _conv_chunks(N, (K + 1) * P * dtype.itemsize)
    res = np.empty((F, N * P), dtype=dtype)  # the output, in (F, N, H_out, W_out) order
    buf = np.empty((K + 1, per_chunk * P), dtype=dtype)
    for n0, n1 in chunks:
        cols = kernels.im2col(x[n0:n1], HH, WW, pad, stride, True, out=buf[:, : (n1 - n0) * P])
        np.matmul(w_aug, cols, out=res[:, n0 * P : n1 * P])  # (F, (n1 - n0) * P)
    out = res.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)  # (N, F, H_out, W_out) view
    # With one chunk, keep its columns for the backward pass; otherwise recompute them.
    kept_cols = buf if len(chunks) == 1 else None
    cache = (x, w.shape, w_aug, stride, pad, input_grad, chunks, per_chunk, kept_cols, kernels)
    return out, cache


def _check_dout(func, dout, shape):
    check_ndim(func, "dout", dout, 4)
    if dout.shape != shape:
        raise ValueError(
            f"{func}: dout has shape {dout.shape}, but the forward pass produced {shape}."
        )


def conv_backward_im2col(dout, cache):
    """Backward pass of ``conv_forward_im2col``, a chunk of images at a time.

    With ``d`` the chunk of ``dout`` as a (F, B * P) matrix: ``d @ cols.T`` adds the
    chunk's part to dw (and to db through the row of ones), ``w.T @ d`` gives the
    gradient of the columns, which col2im sums back into the chunk's images of dx.
    If the forward pass was told ``input_grad=False``, dx is not computed: that skips
    one of the two products and col2im.

    Parameters
    ----------
    dout : ndarray of shape (N, F, H_out, W_out), upstream gradient
    cache : from ``conv_forward_im2col``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None if ``conv_param["input_grad"]`` was False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    x, w_shape, w_aug, stride, pad, input_grad, chunks, per_chunk, kept_cols, kernels = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w_shape
    K = C * HH * WW
    _check_dout("conv_backward_im2col", dout, (N, F) + _out_hw(x.shape, w_shape, stride, pad))
    P = dout.shape[2] * dout.shape[3]
    dtype = w_aug.dtype
    w_rows_T = w_aug[:, :K].T  # (K, F)
    dx = np.empty((N, C, H, W), dtype=dtype) if input_grad else None
    dw_aug = np.empty((F, K + 1), dtype=dtype)  # dw, then db in the last column
    dw_part = np.empty((F, K + 1), dtype=dtype)
    buf = kept_cols if kept_cols is not None else np.empty((K + 1, per_chunk * P), dtype=dtype)
    dcols = np.empty((K, per_chunk * P), dtype=dtype) if input_grad else None
    d_buf = np.empty((F, per_chunk * P), dtype=dtype)
    for n0, n1 in chunks:
        m = (n1 - n0) * P
        cols = buf[:, :m]
        if kept_cols is None:
            kernels.im2col(x[n0:n1], HH, WW, pad, stride, True, out=cols)
        d = _chunk_rows(dout[n0:n1].astype(dtype, copy=False), d_buf[:, :m], kernels)
        if n0 == 0:
            np.matmul(d, cols.T, out=dw_aug)  # (F, K + 1)
        else:
            np.matmul(d, cols.T, out=dw_part)
            dw_aug += dw_part
        if input_grad:
            np.matmul(w_rows_T, d, out=dcols[:, :m])  # (K, m)
            kernels.col2im(dcols[:, :m], n1 - n0, C, H, W, HH, WW, pad, stride, out=dx[n0:n1])
    dw = dw_aug[:, :K].reshape(w_shape)
    db = dw_aug[:, K].copy()
    return dx, dw, db


def _chunk_rows(d, buf, kernels):
    """A chunk of dout, (B, F, H_out, W_out), as the (F, B * H_out * W_out) matrix ``d``.

    A view when ``dout`` came in the forward output's memory order (F first), which
    is what an elementwise layer such as ReLU hands back; otherwise a copy into ``buf``.
    """
    B, F, Ho, Wo = d.shape
    s = d.strides
    if s[3] == d.itemsize and s[2] == Wo * s[3] and s[0] == Ho * s[2]:
        return d.transpose(1, 0, 2, 3).reshape(F, B * Ho * Wo)  # a view
    return kernels.channels_first(d, out=buf)


def _out_hw(x_shape, w_shape, stride, pad):
    return (
        (x_shape[2] + 2 * pad - w_shape[2]) // stride + 1,
        (x_shape[3] + 2 * pad - w_shape[3]) // stride + 1,
    )


def conv_forward_strides(x, w, b, conv_param):
    """Convolutional layer by im2col in numpy alone, through a strided view.

    ``np.lib.stride_tricks.sliding_window_view`` shows every receptive field of the
    padded input without copying; one reshape copies them into columns. Same
    arguments and results as ``conv_forward_im2col``; never uses compiled code.

    Returns
    -------
    out : ndarray of shape (N, F, H_out, W_out)
    cache : (x_shape, w_shape, w_rows, stride, pad, input_grad, cols) for
        ``conv_backward_strides``
    """
    dtype, stride, pad, H_out, W_out, input_grad = _check_conv(
        "conv_forward_strides", x, w, b, conv_param
    )
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x.astype(dtype, copy=False), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    fields = np.lib.stride_tricks.sliding_window_view(x_pad, (HH, WW), axis=(2, 3))
    fields = fields[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, HH, WW), a view
    cols = fields.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, -1)  # (K, N*P), a copy
    w_rows = w.reshape(F, -1).astype(dtype, copy=False)  # (F, K)
    res = w_rows @ cols + b.astype(dtype, copy=False)[:, None]  # (F, N * P)
    out = res.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)  # (N, F, H_out, W_out) view
    cache = (x.shape, w.shape, w_rows, stride, pad, input_grad, cols)
    return out, cache


def conv_backward_strides(dout, cache):
    """Backward pass of ``conv_forward_strides`` (numpy col2im); dx is None without input_grad."""
    (N, C, H, W), w_shape, w_rows, stride, pad, input_grad, cols = cache
    F, _, HH, WW = w_shape
    _check_dout("conv_backward_strides", dout, (N, F) + _out_hw((N, C, H, W), w_shape, stride, pad))
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1).astype(cols.dtype, copy=False)
    dw = (dout_rows @ cols.T).reshape(w_shape)  # (F, C, HH, WW)
    db = dout_rows.sum(axis=1)  # (F,)
    if not input_grad:
        return None, dw, db
    dcols = w_rows.T @ dout_rows  # (K, N * P)
    dx = _numpy_kernels.col2im(dcols, N, C, H, W, HH, WW, pad, stride)
    return dx, dw, db


# Layers with at most this many taps (C * HH * WW: a first layer on 3 colour
# channels, filters up to 7x7) can be computed directly by the compiled kernels,
# without a column matrix: im2col writes K copies of the input for a product only K
# deep, and costs as much as the product. Core for core the direct kernels are
# faster (CPU time on one core, to the im2col route's matrix products: a 3x3 stride-2
# layer on 3 channels, forward 0.74-0.84x against 1.4-1.5x by im2col, backward
# 0.82-0.97x against 1.3x; a 7x7 layer, 0.70-1.0x against 0.93-1.1x).
#
# But they need the cores to themselves between two products. A multi-threaded
# OpenBLAS keeps its idle workers busy-waiting, without yielding, for a while after
# every product, so in a training step (products every few milliseconds) a second
# thread of ours would find no free core and the direct kernels would run at one
# core's speed, slower than im2col plus a product on BLAS's own threads (measured:
# ThreeLayerConvNet's step, median 18.4-19.9 ms against 17.6-17.7 ms). So they are
# used when numpy's products run on our threads (``cs231n._blas_threads``: numpy's
# OpenBLAS hands its work to our OpenMP team) or on one thread (the notebook runner
# and the test suite set OPENBLAS_NUM_THREADS=1; anyone can). The same step then
# took 11.5-12.4 ms against 15.9-16.2 ms by im2col on 2 cores.
_DIRECT_TAPS = 160


def _blas_on_one_thread():
    """Whether numpy's BLAS was told to use one thread, as OpenBLAS reads it when it loads."""
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            return value == "1"
    return os.cpu_count() == 1


_BLAS_ON_ONE_THREAD = _blas_on_one_thread()


def _goes_direct(kernels, taps):
    """Whether a layer with this many taps is computed directly (see above).

    Only with the compiled kernels, and when numpy's products run on our threads, or
    on one thread while no other library's OpenMP runtime spins (``import torch``
    first, with our kernels' threads capped at one).
    """
    if taps > _DIRECT_TAPS or not hasattr(kernels, "conv_forward_direct"):
        return False
    return _blas_threads.active() or (_BLAS_ON_ONE_THREAD and not _SPINNING_RUNTIME)


def _conv_forward_direct(x, w, b, conv_param):
    """Convolutional layer computed directly from the images (compiled kernels only).

    Same arguments, results and cache as ``conv_forward_im2col``, without the column
    matrix: each image is split into its phase planes and every filter offset reads
    one contiguous run of them (see ``conv_forward_direct`` in
    ``cs231n/im2col_cython.pyx``). The output is a view whose rows of W_out values
    are a few values apart in memory (the kernel computes wider rows).
    """
    dtype, stride, pad, H_out, W_out, input_grad = _check_conv(
        "conv_forward_fast", x, w, b, conv_param
    )
    x = x.astype(dtype, copy=False)
    F, C, HH, WW = w.shape
    K = C * HH * WW
    kernels = _kernels
    w_aug = _filters_then_biases(w, b, dtype)
    res = kernels.conv_forward_direct(x, w_aug, HH, WW, pad, stride)  # (F, N, H_out, W_out)
    out = res.transpose(1, 0, 2, 3)  # (N, F, H_out, W_out) view
    # The cache is the im2col route's, so that conv_backward_im2col takes it too (it
    # makes the columns a chunk at a time, since none were kept).
    chunks, per_chunk = _conv_chunks(x.shape[0], (K + 1) * H_out * W_out * dtype.itemsize)
    cache = (x, w.shape, w_aug, stride, pad, input_grad, chunks, per_chunk, None, kernels)
    return out, cache


def _conv_backward_direct(dout, cache):
    """Backward pass computed directly (compiled kernels only); see ``_conv_forward_direct``."""
    x, w_shape, w_aug, stride, pad, input_grad, _, _, _, kernels = cache
    F, C, HH, WW = w_shape
    _check_dout("conv_backward_fast", dout, (x.shape[0], F) + _out_hw(x.shape, w_shape, stride, pad))
    dout = dout.astype(w_aug.dtype, copy=False)
    dx, dw_aug = kernels.conv_backward_direct(x, dout, w_aug, HH, WW, pad, stride, input_grad)
    return dx, dw_aug[:, :-1].reshape(w_shape), dw_aug[:, -1].copy()


def conv_forward_fast(x, w, b, conv_param):
    """Convolutional layer, fast: ``conv_forward_im2col`` on the active backend.

    Same arguments and results as ``conv_forward_naive``; see the module docstring.
    A layer with few taps (C * HH * WW <= 160, a network's first layer) is computed
    directly, without the column matrix, when the compiled kernels are in use and
    numpy's products run on their threads or on one thread (``_goes_direct``).
    """
    check_ndim("conv_forward_fast", "w", w, 4)
    taps = w.shape[1] * w.shape[2] * w.shape[3]
    if _goes_direct(_kernels, taps):
        return _conv_forward_direct(x, w, b, conv_param)
    return conv_forward_im2col(x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    """Backward pass of ``conv_forward_fast``: returns ``dx, dw, db``.

    A network's first layer needs no ``dx``: its input is the images, which are not
    learnt. ``conv_param["input_grad"] = False`` in the forward pass says so; the
    backward pass then returns ``dx = None`` and skips a third of its products and all
    of col2im, as PyTorch does for an input without ``requires_grad``. The naive layers
    ignore the key and always compute ``dx``.
    """
    if not (isinstance(cache, tuple) and len(cache) == 10):
        return conv_backward_im2col(dout, cache)  # which says what is wrong with it
    w_shape, kernels = cache[1], cache[-1]
    taps = w_shape[1] * w_shape[2] * w_shape[3]
    if _goes_direct(kernels, taps):
        return _conv_backward_direct(dout, cache)
    return conv_backward_im2col(dout, cache)


# ---------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------


def _check_pool(func, x, pool_param):
    """Check a pooling layer's inputs; return (PH, PW, stride, H_out, W_out)."""
    check_ndim(func, "x", x, 4)
    check_float(func, "x", x)
    _check_kernel_dtype(func, x.dtype)
    H_out, W_out = _pool_output_size(func, x.shape, pool_param)
    PH, PW, stride = (int(pool_param[k]) for k in ("pool_height", "pool_width", "stride"))
    return PH, PW, stride, H_out, W_out


def _argmax_dtype(PH, PW):
    """Smallest integer type that holds an index inside a PH x PW window."""
    return np.uint8 if PH * PW <= 256 else np.int32


def _pools_tile(x_shape, PH, PW, stride):
    """True when the windows cover the input exactly, side by side, without overlap."""
    return PH == PW == stride and x_shape[2] % PH == 0 and x_shape[3] % PW == 0


def _check_pool_dout(func, dout, out_shape):
    check_ndim(func, "dout", dout, 4)
    if dout.shape != out_shape:
        raise ValueError(
            f"{func}: dout has shape {dout.shape}, but the forward pass produced {out_shape}."
        )


def max_pool_forward_reshape(x, pool_param):
    """Max pooling when the pools tile the input, by one reshape (numpy only).

    With ``pool_height == pool_width == stride`` dividing H and W, the windows of
    ``x`` are the axes 3 and 5 of ``x.reshape(N, C, H_out, PH, W_out, PW)``.

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out)
    cache : (x_shape, pool_param, argmax) for ``max_pool_backward_reshape``; ``argmax``
        is the position ``i * PW + j`` of the first maximum inside each window
    """
    PH, PW, stride, H_out, W_out = _check_pool("max_pool_forward_reshape", x, pool_param)
    if not _pools_tile(x.shape, PH, PW, stride):
        raise ValueError(
            "max_pool_forward_reshape: the pools must tile the input (pool_height == "
            f"pool_width == stride dividing H and W); got a {PH}x{PW} pool, stride {stride} "
            f"on {x.shape[2]}x{x.shape[3]}. Use max_pool_forward_im2col or _fast."
        )
    N, C, _, _ = x.shape
    windows = x.reshape(N, C, H_out, PH, W_out, PW).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, H_out, W_out, PH * PW)  # a copy, one window per row
    argmax = windows.argmax(axis=-1).astype(_argmax_dtype(PH, PW))  # (N, C, H_out, W_out)
    out = np.take_along_axis(windows, argmax[..., None].astype(np.intp), axis=-1)[..., 0]
    return out, (x.shape, pool_param, argmax)


def max_pool_backward_reshape(dout, cache):
    """Backward pass of ``max_pool_forward_reshape``: returns ``dx`` of shape (N, C, H, W)."""
    (N, C, H, W), pool_param, argmax = cache
    _check_pool_dout("max_pool_backward_reshape", dout, argmax.shape)
    PH, PW = pool_param["pool_height"], pool_param["pool_width"]
    H_out, W_out = argmax.shape[2:]
    dwin = np.zeros((N, C, H_out, W_out, PH * PW), dtype=dout.dtype)
    np.put_along_axis(dwin, argmax[..., None].astype(np.intp), dout[..., None], axis=-1)
    dx = dwin.reshape(N, C, H_out, W_out, PH, PW).transpose(0, 1, 2, 4, 3, 5)
    return dx.reshape(N, C, H, W)  # a copy, in C order


def max_pool_forward_im2col(x, pool_param):
    """Max pooling for any pools (overlapping or not), through im2col.

    Each channel is treated as an image with one channel, so each column of
    ``im2col`` is one window; the maximum is taken down the columns.

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out)
    cache : (x_shape, pool_param, argmax, kernels) for ``max_pool_backward_im2col``
    """
    PH, PW, stride, H_out, W_out = _check_pool("max_pool_forward_im2col", x, pool_param)
    N, C, H, W = x.shape
    kernels = _kernels
    cols = kernels.im2col(x.reshape(N * C, 1, H, W), PH, PW, 0, stride)  # (PH*PW, N*C*P)
    argmax = cols.argmax(axis=0)  # (N * C * P,)
    out = cols[argmax, np.arange(cols.shape[1])].reshape(N, C, H_out, W_out)
    argmax = argmax.astype(_argmax_dtype(PH, PW)).reshape(N, C, H_out, W_out)
    return out, (x.shape, pool_param, argmax, kernels)


def max_pool_backward_im2col(dout, cache):
    """Backward pass of ``max_pool_forward_im2col``: returns ``dx`` of shape (N, C, H, W)."""
    (N, C, H, W), pool_param, argmax, kernels = cache
    _check_pool_dout("max_pool_backward_im2col", dout, argmax.shape)
    PH, PW, stride = (int(pool_param[k]) for k in ("pool_height", "pool_width", "stride"))
    dcols = np.zeros((PH * PW, argmax.size), dtype=dout.dtype)
    dcols[argmax.ravel(), np.arange(argmax.size)] = dout.ravel()
    dx = kernels.col2im(dcols, N * C, 1, H, W, PH, PW, 0, stride)  # (N*C, 1, H, W)
    return dx.reshape(N, C, H, W)


def max_pool_forward_fast(x, pool_param):
    """Max pooling, fast. Same arguments and results as ``max_pool_forward_naive``.

    With the compiled backend: one threaded pass over ``x`` that records each
    window's maximum and where it was. With numpy: the reshape path when the pools
    tile the input, the im2col path otherwise.

    Returns
    -------
    out : ndarray of shape (N, C, H_out, W_out)
    cache : for ``max_pool_backward_fast``
    """
    PH, PW, stride, H_out, W_out = _check_pool("max_pool_forward_fast", x, pool_param)
    if BACKEND == "numpy":
        if _pools_tile(x.shape, PH, PW, stride):
            out, cache = max_pool_forward_reshape(x, pool_param)
            return out, ("reshape", cache)
        out, cache = max_pool_forward_im2col(x, pool_param)
        return out, ("im2col", cache)
    N, C, H, W = x.shape
    argmax = np.empty((N, C, H_out, W_out), dtype=_argmax_dtype(PH, PW))
    out = _kernels.max_pool_forward(x, PH, PW, stride, argmax)
    return out, ("kernel", (x.shape, _channel_major(x), pool_param, argmax, _kernels))


def _channel_major(x):
    """True when x (N, C, H, W) is laid out channel by channel, as ``conv_forward_*`` return it."""
    return x.transpose(1, 0, 2, 3).flags.c_contiguous and x.shape[0] > 1 and x.shape[1] > 1


def max_pool_backward_fast(dout, cache):
    """Backward pass of ``max_pool_forward_fast``: returns ``dx`` of shape (N, C, H, W)."""
    path, inner = cache
    if path == "reshape":
        return max_pool_backward_reshape(dout, inner)
    if path == "im2col":
        return max_pool_backward_im2col(dout, inner)
    (N, C, H, W), channel_major, pool_param, argmax, kernels = inner
    _check_pool_dout("max_pool_backward_fast", dout, argmax.shape)
    PH, PW, stride = (int(pool_param[k]) for k in ("pool_height", "pool_width", "stride"))
    # dx in the layout of the forward input: after a convolution, the ReLU between them
    # then sees one layout in both its arrays, and the convolution's backward pass
    # takes the gradient as it is, without reordering it.
    dx = None
    if channel_major:
        dx = np.empty((C, N, H, W), dtype=dout.dtype).transpose(1, 0, 2, 3)
    return kernels.max_pool_backward(dout, argmax, H, W, PH, PW, stride, out=dx)
