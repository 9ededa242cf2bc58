# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled kernels for the fast convolution and pooling layers.

``cs231n.fast_layers`` imports this module when it was built (``pip install``
compiles it); ``cs231n.im2col`` is its pure-numpy twin with the same functions,
the same arguments and the same results (bit for bit). Every kernel takes float32
or float64 arrays of any strides, releases the GIL and splits its work over
threads (OpenMP) so that no two threads ever write the same element.

Layout of the column matrix (``im2col``): row ``(c * HH + i) * WW + j`` holds,
for every output position ``(n, ho, wo)`` in column ``(n * Ho + ho) * Wo + wo``,
the input value ``x[n, c, ho * stride - pad + i, wo * stride - pad + j]`` (zero
where that falls in the padding). A filter bank reshaped to ``(F, C * HH * WW)``
times this matrix is the convolution, laid out as ``(F, N, Ho, Wo)``. Both
``im2col`` and ``col2im`` go one (image, channel) plane at a time through its
"phase planes" (see below), so that every row they copy or sum is contiguous.
"""

from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset
from libc.stdint cimport uint8_t, int32_t
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

# The short inner loops of the phase kernels (rows of Wo values, often 16), in C so
# that ``restrict`` tells the compiler the arrays do not overlap: it then vectorises
# them without a run-time overlap check on every row, which cost more than the row.
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #define CS231N_NO_MEMCPY __attribute__((optimize("no-tree-loop-distribute-patterns")))
    #else
    #define CS231N_NO_MEMCPY
    #endif
    #include <string.h>
    #define CS231N_MEMCPY_FROM 128  /* bytes: shorter rows are copied inline */
    #define CS231N_PHASE_LOOPS(T, S)                                                   \
    CS231N_NO_MEMCPY                                                                    \
    static void cs231n_copy_rows_##S(T *restrict dst, Py_ssize_t ldd,                   \
                                     const T *restrict src, Py_ssize_t lds,             \
                                     Py_ssize_t rows, Py_ssize_t n) {                   \
        if (n * sizeof(T) >= CS231N_MEMCPY_FROM) { /* the library's wide copy */        \
            for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)               \
                memcpy(dst, src, n * sizeof(T));                                        \
            return;                                                                     \
        }                                                                               \
        /* 64 and 32 bytes (a row of 16 or 8 floats, or 8 or 4 doubles) in fixed-size   \
           moves, which the compiler inlines: 20% less time for such rows. */           \
        if (n * sizeof(T) == 64) {                                                      \
            for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)               \
                memcpy(dst, src, 64);                                                   \
            return;                                                                     \
        }                                                                               \
        if (n * sizeof(T) == 32) {                                                      \
            for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)               \
                memcpy(dst, src, 32);                                                   \
            return;                                                                     \
        }                                                                               \
        for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)                   \
            for (Py_ssize_t w = 0; w < n; w++) dst[w] = src[w];                         \
    }                                                                                   \
    static void cs231n_add_rows_##S(T *restrict dst, Py_ssize_t ldd,                    \
                                    const T *restrict src, Py_ssize_t lds,              \
                                    Py_ssize_t rows, Py_ssize_t n) {                    \
        for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)                   \
            for (Py_ssize_t w = 0; w < n; w++) dst[w] += src[w];                        \
    }                                                                                   \
    static void cs231n_deinterleave_##S(T *restrict even, T *restrict odd,              \
                                        const T *restrict src, Py_ssize_t half) {       \
        for (Py_ssize_t m = 0; m < half; m++) {                                         \
            even[m] = src[2 * m];                                                       \
            odd[m] = src[2 * m + 1];                                                    \
        }                                                                               \
    }                                                                                   \
    static void cs231n_interleave_##S(T *restrict dst, const T *restrict even,          \
                                      const T *restrict odd, Py_ssize_t half) {         \
        for (Py_ssize_t m = 0; m < half; m++) {                                         \
            dst[2 * m] = even[m];                                                       \
            dst[2 * m + 1] = odd[m];                                                    \
        }                                                                               \
    }
    CS231N_PHASE_LOOPS(float, f)
    CS231N_PHASE_LOOPS(double, d)
    """
    void cs231n_copy_rows_f(float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t,
                            Py_ssize_t) nogil
    void cs231n_copy_rows_d(double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t,
                            Py_ssize_t) nogil
    void cs231n_add_rows_f(float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t,
                           Py_ssize_t) nogil
    void cs231n_add_rows_d(double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t,
                           Py_ssize_t) nogil
    void cs231n_deinterleave_f(float*, float*, const float*, Py_ssize_t) nogil
    void cs231n_deinterleave_d(double*, double*, const double*, Py_ssize_t) nogil
    void cs231n_interleave_f(float*, const float*, const float*, Py_ssize_t) nogil
    void cs231n_interleave_d(double*, const double*, const double*, Py_ssize_t) nogil

ctypedef fused index_t:
    uint8_t
    int32_t

# The version of the kernels' arguments, checked by ``cs231n.fast_layers`` (which
# falls back to numpy, saying so, when the build is older than the source it expects).
KERNELS_VERSION = 2

# Below this many elements a kernel runs on one thread: waking the team would
# cost more than it saves.
cdef Py_ssize_t _SERIAL_BELOW = 32768


# At most this many threads per kernel (0: no cap, as many as OpenMP offers).
# ``cs231n.fast_layers`` sets 1 when another library (PyTorch) started the process's
# OpenMP runtime before us, with threads that spin-wait and would starve numpy's BLAS.
cdef int _thread_cap = 0


def set_thread_cap(int n):
    """Run every kernel on at most ``n`` threads; 0 removes the cap."""
    global _thread_cap
    if n < 0:
        raise ValueError(f"set_thread_cap: n must be >= 0, got {n}")
    _thread_cap = n


def get_thread_cap():
    """The cap set by ``set_thread_cap`` (0: none)."""
    return _thread_cap


# Every kernel on the calling thread alone: set in a child made by ``fork()``, where
# the OpenMP threads of the parent's team are gone but the runtime still counts on them
# (a team started there would wait for them forever).
cdef bint _serial = False


def set_serial(bint serial):
    """Run every kernel, copies and direct convolutions alike, on the calling thread."""
    global _serial
    _serial = serial


# Numpy's BLAS on our threads. A multi-threaded OpenBLAS (pthreads build) runs its
# products on its own worker threads, which busy-wait for a while after every product;
# between two products our kernels then find no free core. OpenBLAS 0.3.27 and later
# can hand its parallel work to the caller's threads instead (its "threads callback"):
# ``cs231n._blas_threads`` installs the function below, and BLAS and the kernels share
# one OpenMP team. OpenBLAS hands over ``numjobs`` jobs that wait on each other, so
# they must all run at once, each on its own thread. The integer each job receives
# indexes OpenBLAS's per-thread state (a status word and a packing buffer) of which
# its own workers use the lowest entries: the jobs take the highest ones, and one
# call at a time (a lock) so that no two jobs ever share an entry.
cdef extern from *:
    """
    #include <pthread.h>
    typedef void (*cs231n_blas_job)(int, void *, int);
    static pthread_mutex_t cs231n_blas_lock = PTHREAD_MUTEX_INITIALIZER;
    static int cs231n_blas_slots = 0;     /* OpenBLAS's per-thread entries */
    static long long cs231n_blas_calls = 0;
    static long long cs231n_blas_spawned = 0;

    typedef struct { cs231n_blas_job job; int slot; void *data; int arg; } cs231n_blas_task;

    static void *cs231n_blas_task_run(void *p) {
        cs231n_blas_task *t = (cs231n_blas_task *)p;
        t->job(t->slot, t->data, t->arg);
        return NULL;
    }

    static void cs231n_run_blas_jobs(int sync, cs231n_blas_job job, int numjobs,
                                     size_t size, void *data, int arg) {
        int base, ran = 0;
        (void)sync;  /* OpenBLAS always waits for its jobs */
        pthread_mutex_lock(&cs231n_blas_lock);
        cs231n_blas_calls++;
        base = cs231n_blas_slots - numjobs;
        if (base < 0) base = 0;
        if (numjobs == 1) {
            job(base, data, arg);
            ran = 1;
        }
    #ifdef _OPENMP
        else if (!omp_in_parallel()) {
            #pragma omp parallel num_threads(numjobs)
            {
                if (omp_get_num_threads() == numjobs) { /* else: a short team, below */
                    int t = omp_get_thread_num();
                    job(base + t, (char *)data + t * size, arg);
                    if (t == 0) ran = 1;
                }
            }
        }
    #endif
        if (!ran) { /* no team of numjobs threads (nested, or capped): one thread each */
            cs231n_blas_task tasks[numjobs];
            pthread_t threads[numjobs];
            int started[numjobs];
            int t;
            for (t = 0; t < numjobs; t++) {
                started[t] = 0;
                tasks[t].job = job;
                tasks[t].slot = base + t;
                tasks[t].data = (char *)data + t * size;
                tasks[t].arg = arg;
            }
            for (t = 1; t < numjobs; t++)
                started[t] = pthread_create(&threads[t], NULL, cs231n_blas_task_run,
                                            &tasks[t]) == 0;
            cs231n_blas_spawned++;
            cs231n_blas_task_run(&tasks[0]);
            for (t = 1; t < numjobs; t++) {
                if (started[t]) pthread_join(threads[t], NULL);
                /* Out of threads: run it late (jobs that wait on each other then wait
                   forever; a process that cannot start a thread has worse troubles). */
                else cs231n_blas_task_run(&tasks[t]);
            }
        }
        pthread_mutex_unlock(&cs231n_blas_lock);
    }

    static size_t cs231n_blas_jobs_address(void) {
    #ifdef _OPENMP
        return (size_t)&cs231n_run_blas_jobs;
    #else
        return 0;  /* no OpenMP team to share */
    #endif
    }
    """
    size_t cs231n_blas_jobs_address() nogil
    int cs231n_blas_slots
    long long cs231n_blas_calls
    long long cs231n_blas_spawned


def blas_jobs_address(int slots):
    """The address of the threads callback for an OpenBLAS with ``slots`` per-thread
    entries (its MAX_THREADS), or 0 when the kernels were built without OpenMP."""
    global cs231n_blas_slots
    if slots < 1:
        raise ValueError(f"blas_jobs_address: slots must be >= 1, got {slots}")
    cs231n_blas_slots = slots
    return cs231n_blas_jobs_address()


def blas_jobs_counts():
    """(calls handed to the callback, calls that needed threads of their own)."""
    return cs231n_blas_calls, cs231n_blas_spawned


cdef inline int _threads(Py_ssize_t work) noexcept nogil:
    cdef int n = CS231N_MAX_THREADS()
    if work < _SERIAL_BELOW or _serial:
        return 1
    if 0 < _thread_cap < n:
        return _thread_cap
    return n


cdef inline int _grain(Py_ssize_t tasks, int threads) noexcept nogil:
    """Tasks handed out at a time: about 8 hand-outs per thread.

    Threads take work as they become free (dynamic schedule), so on a busy machine
    a thread that starts late does not leave the others waiting with work undone.
    """
    cdef Py_ssize_t grain = tasks // (8 * threads)
    return <int>grain if grain > 1 else 1


def _check_buffer(name, arr, shape, dtype):
    if arr.shape != shape or arr.dtype != dtype or arr.strides[len(shape) - 1] != arr.itemsize:
        raise ValueError(f"{name} must be an array of shape {shape} and dtype {np.dtype(dtype)} "
                         f"with contiguous rows, got shape {arr.shape}, dtype {arr.dtype}.")


# ---------------------------------------------------------------------------- phase planes
#
# A strided convolution reads every ``stride``-th input column, so a copy row by row
# would gather with a stride and check the padding at every element. Instead, each
# (image, channel) plane is first split, zero padding included, into its phase
# planes: phase (a, b) holds the padded input at rows r * stride + a and columns
# k * stride + b. Filter offset (i, j) then reads phase (i % stride, j % stride) from
# row i // stride and column j // stride on, every output row a contiguous run of
# Wo values: a plain copy (im2col) or a plain sum (col2im), without a branch. With
# stride 1 there is a single phase: the zero-padded plane.


cdef struct _Phases:
    Py_ssize_t s  # the stride: s * s phase planes
    Py_ssize_t Hq, Wq  # rows and columns of each phase plane


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline _Phases _phases_of(Py_ssize_t H, Py_ssize_t W, Py_ssize_t HH, Py_ssize_t WW,
                               Py_ssize_t pad, Py_ssize_t stride, Py_ssize_t Ho,
                               Py_ssize_t Wo) noexcept nogil:
    cdef _Phases g
    g.s = stride
    # Large enough for every phase row and column some output reads, and for every
    # input value (so that col2im can read each one back).
    g.Hq = max(Ho + (HH - 1) // stride, _ceil_div(H + pad, stride))
    g.Wq = max(Wo + (WW - 1) // stride, _ceil_div(W + pad, stride))
    return g


cdef inline Py_ssize_t _phases_size(_Phases g) noexcept nogil:
    return g.s * g.s * g.Hq * g.Wq


cdef inline Py_ssize_t _phase_offset(_Phases g, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    """Where filter offset (i, j) starts reading in the phase planes of one channel:
    phase (i % s, j % s), row i // s, column j // s."""
    return (((i % g.s) * g.s + j % g.s) * g.Hq + i // g.s) * g.Wq + j // g.s


cdef inline floating* _phase_at(floating* q, _Phases g, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    return q + _phase_offset(g, i, j)


cdef void _split_phases(const floating* xc, Py_ssize_t sH, Py_ssize_t sW, Py_ssize_t H,
                        Py_ssize_t W, Py_ssize_t pad, _Phases g, floating* q) noexcept nogil:
    """Write the image values of one (H, W) plane into its phase planes q.

    q[a, b, r, k] = x[r*s + a - pad, k*s + b - pad]; the padding around the image
    is not written (the caller keeps it zero).
    """
    cdef Py_ssize_t h, w, hp, b, m, half
    cdef const floating* src
    cdef floating* row  # phase row (a, 0, r): phase b of that row is row + b * Hq * Wq
    cdef floating* even
    cdef floating* odd
    cdef Py_ssize_t plane = g.Hq * g.Wq
    for h in range(H):
        hp = h + pad
        row = q + ((hp % g.s) * g.s * g.Hq + hp // g.s) * g.Wq
        src = xc + h * sH
        if g.s == 1:
            if sW == 1:
                memcpy(row + pad, src, W * sizeof(floating))
            else:
                for w in range(W):
                    row[pad + w] = src[w * sW]
        elif g.s == 2 and sW == 1:
            # Input columns 2m and 2m + 1 go to the two phases, side by side.
            even = row + (pad % 2) * plane + pad // 2
            odd = row + ((pad + 1) % 2) * plane + (pad + 1) // 2
            half = W // 2
            if floating is float:
                cs231n_deinterleave_f(even, odd, src, half)
            else:
                cs231n_deinterleave_d(even, odd, src, half)
            if W % 2:
                even[half] = src[W - 1]
        else:
            for w in range(W):
                b = (w + pad) % g.s
                row[b * plane + (w + pad) // g.s] = src[w * sW]


cdef void _merge_phases(const floating* q, _Phases g, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t pad, floating* dx) noexcept nogil:
    """The inverse of ``_split_phases``: dx[h, w] = q[a, b, r, k] for the image's values."""
    cdef Py_ssize_t h, w, hp, m, half
    cdef const floating* row
    cdef const floating* even
    cdef const floating* odd
    cdef floating* dst
    cdef Py_ssize_t plane = g.Hq * g.Wq
    for h in range(H):
        hp = h + pad
        row = q + ((hp % g.s) * g.s * g.Hq + hp // g.s) * g.Wq
        dst = dx + h * W
        if g.s == 1:
            memcpy(dst, row + pad, W * sizeof(floating))
        elif g.s == 2:
            even = row + (pad % 2) * plane + pad // 2
            odd = row + ((pad + 1) % 2) * plane + (pad + 1) // 2
            half = W // 2
            if floating is float:
                cs231n_interleave_f(dst, even, odd, half)
            else:
                cs231n_interleave_d(dst, even, odd, half)
            if W % 2:
                dst[W - 1] = even[half]
        else:
            for w in range(W):
                dst[w] = row[((w + pad) % g.s) * plane + (w + pad) // g.s]


cdef void _im2col_from_phases(floating* q, _Phases g, Py_ssize_t HH, Py_ssize_t WW,
                              Py_ssize_t Ho, Py_ssize_t Wo, floating* dst,
                              Py_ssize_t ld) noexcept nogil:
    """Rows (c, i, j) of one image's block: each output row is one copy from a phase."""
    cdef Py_ssize_t i, j, ho
    cdef const floating* src
    cdef floating* row
    for i in range(HH):
        for j in range(WW):
            src = _phase_at(q, g, i, j)
            row = dst + (i * WW + j) * ld
            if floating is float:
                cs231n_copy_rows_f(row, Wo, src, g.Wq, Ho, Wo)
            else:
                cs231n_copy_rows_d(row, Wo, src, g.Wq, Ho, Wo)


cdef void _col2im_into_phases(const floating* cols, Py_ssize_t ld, _Phases g, Py_ssize_t HH,
                              Py_ssize_t WW, Py_ssize_t Ho, Py_ssize_t Wo,
                              floating* q) noexcept nogil:
    """Sum rows (c, *, *) of one image's block into the phase planes q (zeroed here).

    Every value receives its terms in (i, j) order, as in the numpy twin, so both
    give bit-identical sums.
    """
    cdef Py_ssize_t i, j, ho, wo
    cdef const floating* src
    cdef floating* dst
    memset(q, 0, _phases_size(g) * sizeof(floating))
    for i in range(HH):
        for j in range(WW):
            src = cols + (i * WW + j) * ld
            dst = _phase_at(q, g, i, j)
            if floating is float:
                cs231n_add_rows_f(dst, g.Wq, src, Wo, Ho, Wo)
            else:
                cs231n_add_rows_d(dst, g.Wq, src, Wo, Ho, Wo)


def _phase_scratch(_Phases g, int threads, dtype):
    """One zeroed block of phase planes per thread."""
    return np.zeros((threads, _phases_size(g)), dtype=dtype)


# ---------------------------------------------------------------------------- im2col


def im2col(const floating[:, :, :, :] x, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad,
           Py_ssize_t stride, bint ones_row=False, out=None):
    """Unfold every receptive field of ``x`` into a column.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64, any strides
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
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t K = C * HH * WW, P = Ho * Wo, t, n, c, e
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    dtype = np.float32 if floating is float else np.float64
    shape = (K + ones_row, N * P)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    else:
        _check_buffer("im2col: out", out, shape, dtype)
    if N * P == 0:
        return out
    cdef floating[:, :] cols = out
    cdef Py_ssize_t ld = cols.strides[0] // sizeof(floating)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* cp = &cols[0, 0]
    cdef floating* ones
    cdef int nt = _threads(K * N * P)
    cdef _Phases g = _phases_of(H, W, HH, WW, pad, stride, Ho, Wo)
    cdef floating[:, ::1] scratch = _phase_scratch(g, nt, dtype)  # padding stays zero
    cdef floating* q
    with nogil:
        # One task per (image, channel): split its plane into phases, then copy out
        # its HH * WW rows of P columns.
        for t in prange(N * C, schedule="dynamic", chunksize=_grain(N * C, nt),
                        num_threads=nt):
            n = t // C
            c = t % C
            q = &scratch[threadid(), 0]
            _split_phases(xp + n * sN + c * sC, sH, sW, H, W, pad, g, q)
            _im2col_from_phases(q, g, HH, WW, Ho, Wo, cp + c * HH * WW * ld + n * P, ld)
            if ones_row and c == 0:
                ones = cp + K * ld + n * P
                for e in range(P):
                    ones[e] = 1
    return out


# ---------------------------------------------------------------------------- col2im


def col2im(const floating[:, :] cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
           Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride, out=None):
    """Fold columns back into an image batch, summing overlapping receptive fields.

    The adjoint of ``im2col``: rows beyond ``C * HH * WW`` (a ones row) are ignored.

    Parameters
    ----------
    cols : ndarray of shape (>= C * HH * WW, N * Ho * Wo), float32 or float64, rows contiguous
    N, C, H, W : shape of the image batch to rebuild
    HH, WW, pad, stride : as given to ``im2col``
    out : optional C-ordered ndarray of shape (N, C, H, W) and the dtype of ``cols``
        to write into

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``cols``
    """
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t P = Ho * Wo, K = C * HH * WW, t, n, c
    if cols.shape[0] < K or cols.shape[1] != N * P:
        raise ValueError(f"col2im: cols has shape {tuple(cols.shape)[:2]}, expected "
                         f"({K}, {N * P}) for images {(N, C, H, W)}.")
    if cols.strides[1] != sizeof(floating):
        raise ValueError("col2im: the rows of cols must be contiguous.")
    dtype = np.float32 if floating is float else np.float64
    if out is None:
        out = np.empty((N, C, H, W), dtype=dtype)
    elif out.shape != (N, C, H, W) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"col2im: out must be a C-ordered array of shape {(N, C, H, W)} "
                         f"and dtype {np.dtype(dtype)}.")
    if out.size == 0:
        return out
    cdef floating[:, :, :, ::1] dx = out
    cdef Py_ssize_t ld = cols.strides[0] // sizeof(floating)
    cdef const floating* cp = &cols[0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    cdef int nt = _threads(K * N * P)
    cdef _Phases g = _phases_of(H, W, HH, WW, pad, stride, Ho, Wo)
    cdef floating[:, ::1] scratch = _phase_scratch(g, nt, dtype)
    cdef floating* q
    with nogil:
        # One task per (image, channel): sum into its phases, then into its plane,
        # which no other task writes.
        for t in prange(N * C, schedule="dynamic", chunksize=_grain(N * C, nt),
                        num_threads=nt):
            n = t // C
            c = t % C
            q = &scratch[threadid(), 0]
            _col2im_into_phases(cp + c * HH * WW * ld + n * P, ld, g, HH, WW, Ho, Wo, q)
            _merge_phases(q, g, H, W, pad, dp + t * H * W)
    return out


# ---------------------------------------------------------------------------- direct convolution
#
# For a layer with few taps K = C * HH * WW (a network's first layer: 3 colour
# channels, 3x3 filters, K = 27), im2col writes K copies of the input for a product
# that is only K deep: the copy costs as much as the product. These kernels skip
# the column matrix. Each image is split into its phase planes (as above), and for
# filter offset k the values every output position reads form ONE contiguous run of
# the phase planes, starting at ``off[k]``, provided each output row is computed
# "wide": Wq positions instead of Wo, the last Wq - Wo of them junk that is dropped
# (forward) or given a zero gradient (backward). The convolution of one image is
# then a small matrix product whose rows are runs of the phase planes,
#
#     out_wide[f, l] = b[f] + sum_k w[f, k] * q[off[k] + l],   l < L = Ho * Wq,
#
# computed in registers, a block of filters (forward: 4, 5 or 6, whichever pads F
# the least; 25 filters go 5 by 5) by DNV vectors of positions at a time, with GCC's
# vector extensions (on x86-64 Linux, cloned for AVX2 + FMA and chosen when the CPU
# has it). Backward is the same loops transposed: dw[f, k] is a
# dot product of the upstream gradient (made wide, zero in the junk) with the run
# off[k], and the phase planes' gradient gets the run off[k] of sum_f w[f, k] d[f, :].
# The sums run in another order than a BLAS product, so results agree with the
# im2col path to rounding, not bit for bit. (Junk positions read image values that a
# zero gradient then multiplies: an infinite or NaN pixel can spread a NaN into dw
# where the im2col path would not have one. Finite inputs give exact results.)
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define CS231N_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define CS231N_CLONES
    #endif
    #define CS231N_DFB 4  /* filters per register block of the backward kernels */
    #define CS231N_DNV 2  /* vectors of positions per register block */
    #define CS231N_DKB 4  /* taps per register block of the dx kernel */
    #define CS231N_DW_L1 32768  /* bytes: a block of d larger than this goes in chunks */
    typedef float cs231n_vf __attribute__((vector_size(32)));
    typedef double cs231n_vd __attribute__((vector_size(32)));

    /* The forward kernel, with FB filters per register block (4, 5 or 6: FB * DNV
       accumulators, DNV vectors of positions and one broadcast fit AVX2's 16 registers).
       o[f * ldo + l] = wp[bias] + sum_k wp[k] * q[off[k] + l] for f < F, l < L;
       wp: the filters packed (ceil(F / FB), K + 1, FB), zero past F. */
    #define CS231N_DIRECT_FWD(T, VT, S, FB)                                                \\
    CS231N_CLONES                                                                          \\
    static void cs231n_direct_fwd_##S##FB(const T *restrict q,                             \\
                                          const Py_ssize_t *restrict off, Py_ssize_t K,    \\
                                          const T *restrict wp, Py_ssize_t F, Py_ssize_t L, \\
                                          T *restrict o, Py_ssize_t ldo) {                 \\
        enum { V = sizeof(VT) / sizeof(T), LB = CS231N_DNV * V };                          \\
        for (Py_ssize_t f0 = 0; f0 < F; f0 += FB, wp += (K + 1) * FB) {                    \\
            int nf = F - f0 < FB ? (int)(F - f0) : FB;                                     \\
            for (Py_ssize_t l0 = 0; l0 < L; l0 += LB) {                                    \\
                VT acc[FB][CS231N_DNV];                                                    \\
                for (int f = 0; f < FB; f++)                                               \\
                    for (int v = 0; v < CS231N_DNV; v++)                                   \\
                        acc[f][v] = (VT){0} + wp[K * FB + f];                              \\
                for (Py_ssize_t k = 0; k < K; k++) {                                       \\
                    const T *src = q + off[k] + l0;                                        \\
                    const T *wk = wp + k * FB;                                             \\
                    VT xv[CS231N_DNV];                                                     \\
                    for (int v = 0; v < CS231N_DNV; v++)                                   \\
                        memcpy(&xv[v], src + v * V, sizeof(VT));                           \\
                    for (int f = 0; f < FB; f++)                                           \\
                        for (int v = 0; v < CS231N_DNV; v++)                               \\
                            acc[f][v] += wk[f] * xv[v];                                    \\
                }                                                                          \\
                /* Straight to the output; the last block of a row only up to L. */        \\
                for (int f = 0; f < nf; f++) {                                             \\
                    T *dst = o + (f0 + f) * ldo + l0;                                      \\
                    if (l0 + LB <= L) {                                                    \\
                        for (int v = 0; v < CS231N_DNV; v++)                               \\
                            memcpy(dst + v * V, &acc[f][v], sizeof(VT));                   \\
                    } else {                                                               \\
                        T tail[LB];                                                        \\
                        for (int v = 0; v < CS231N_DNV; v++)                               \\
                            memcpy(tail + v * V, &acc[f][v], sizeof(VT));                  \\
                        memcpy(dst, tail, (L - l0) * sizeof(T));                           \\
                    }                                                                      \\
                }                                                                          \\
            }                                                                              \\
        }                                                                                  \\
    }
    #define CS231N_DIRECT(T, VT, S)                                                        \\
    /* dw[f, k] += sum_l d[f, l] * q[off[k] + l], dw[f, K] += sum_l d[f, l];              \\
       d: (Fr, Lr) with Fr = nfb * DFB, dw: (Fr, K + 1). When DFB rows of d are larger than \\
       the L1 cache, the positions go a chunk at a time, so that a block of d stays there \\
       for all the taps. */                                                               \\
    CS231N_CLONES                                                                          \\
    static void cs231n_direct_dw_##S(const T *restrict q, const Py_ssize_t *restrict off,  \\
                                     Py_ssize_t K, const T *restrict d, Py_ssize_t nfb,    \\
                                     Py_ssize_t Lr, T *restrict dw) {                      \\
        enum { V = sizeof(VT) / sizeof(T), LB = CS231N_DNV * V };                          \\
        /* Equal chunks of whole register blocks, each small enough for the L1 cache. */ \\
        Py_ssize_t chunks = (CS231N_DFB * Lr * sizeof(T) + CS231N_DW_L1 - 1) / CS231N_DW_L1; \\
        Py_ssize_t lc = ((Lr + chunks - 1) / chunks + LB - 1) / LB * LB;                    \\
        for (Py_ssize_t c0 = 0; c0 < Lr; c0 += lc) {                                       \\
            Py_ssize_t c1 = Lr - c0 < lc ? Lr : c0 + lc;                                   \\
            for (Py_ssize_t fb = 0; fb < nfb; fb++) {                                      \\
                const T *db = d + fb * CS231N_DFB * Lr;                                    \\
                T *dwb = dw + fb * CS231N_DFB * (K + 1);                                   \\
                for (Py_ssize_t k = 0; k <= K; k++) {                                      \\
                    VT acc[CS231N_DFB][CS231N_DNV];                                        \\
                    for (int f = 0; f < CS231N_DFB; f++)                                   \\
                        for (int v = 0; v < CS231N_DNV; v++) acc[f][v] = (VT){0};          \\
                    for (Py_ssize_t l0 = c0; l0 < c1; l0 += LB) {                          \\
                        VT xv[CS231N_DNV], dv;                                             \\
                        for (int v = 0; v < CS231N_DNV; v++) {                             \\
                            if (k < K) memcpy(&xv[v], q + off[k] + l0 + v * V, sizeof(VT)); \\
                            else xv[v] = (VT){0} + 1;  /* the bias: a run of ones */       \\
                        }                                                                  \\
                        for (int f = 0; f < CS231N_DFB; f++)                               \\
                            for (int v = 0; v < CS231N_DNV; v++) {                         \\
                                memcpy(&dv, db + f * Lr + l0 + v * V, sizeof(VT));         \\
                                acc[f][v] += dv * xv[v];                                   \\
                            }                                                              \\
                    }                                                                      \\
                    for (int f = 0; f < CS231N_DFB; f++) {                                 \\
                        VT s = acc[f][0];                                                  \\
                        for (int v = 1; v < CS231N_DNV; v++) s += acc[f][v];               \\
                        T t = 0;                                                           \\
                        for (int e = 0; e < V; e++) t += s[e];                             \\
                        dwb[f * (K + 1) + k] += t;                                         \\
                    }                                                                      \\
                }                                                                          \\
            }                                                                              \\
        }                                                                                  \\
    }                                                                                      \\
    /* dq[off[k] + l] += sum_f wt[f, k] * d[f, l] for k < K; wt: (Fr, Kr), Kr a multiple   \\
       of DKB, zero beyond K. */                                                            \\
    CS231N_CLONES                                                                           \\
    static void cs231n_direct_dx_##S(T *dq, const Py_ssize_t *restrict off, Py_ssize_t K,   \\
                                     Py_ssize_t Kr, const T *restrict wt, Py_ssize_t Fr,    \\
                                     const T *restrict d, Py_ssize_t Lr) {                  \\
        enum { V = sizeof(VT) / sizeof(T), LB = CS231N_DNV * V };                           \\
        for (Py_ssize_t l0 = 0; l0 < Lr; l0 += LB) {                                        \\
            for (Py_ssize_t k0 = 0; k0 < K; k0 += CS231N_DKB) {                             \\
                VT acc[CS231N_DKB][CS231N_DNV];                                             \\
                for (int k = 0; k < CS231N_DKB; k++)                                        \\
                    for (int v = 0; v < CS231N_DNV; v++) acc[k][v] = (VT){0};               \\
                for (Py_ssize_t f = 0; f < Fr; f++) {                                       \\
                    VT dv[CS231N_DNV];                                                      \\
                    for (int v = 0; v < CS231N_DNV; v++)                                    \\
                        memcpy(&dv[v], d + f * Lr + l0 + v * V, sizeof(VT));               \\
                    const T *wf = wt + f * Kr + k0;                                         \\
                    for (int k = 0; k < CS231N_DKB; k++)                                    \\
                        for (int v = 0; v < CS231N_DNV; v++)                                \\
                            acc[k][v] += wf[k] * dv[v];                                     \\
                }                                                                           \\
                for (int k = 0; k < CS231N_DKB && k0 + k < K; k++) {                        \\
                    T *dst = dq + off[k0 + k] + l0;                                         \\
                    for (int v = 0; v < CS231N_DNV; v++) {                                  \\
                        VT t;                                                               \\
                        memcpy(&t, dst + v * V, sizeof(VT));                                \\
                        t += acc[k][v];                                                     \\
                        memcpy(dst + v * V, &t, sizeof(VT));                                \\
                    }                                                                       \\
                }                                                                           \\
            }                                                                               \\
        }                                                                                   \\
    }
    CS231N_DIRECT(float, cs231n_vf, f)
    CS231N_DIRECT(double, cs231n_vd, d)
    CS231N_DIRECT_FWD(float, cs231n_vf, f, 4)
    CS231N_DIRECT_FWD(float, cs231n_vf, f, 5)
    CS231N_DIRECT_FWD(float, cs231n_vf, f, 6)
    CS231N_DIRECT_FWD(double, cs231n_vd, d, 4)
    CS231N_DIRECT_FWD(double, cs231n_vd, d, 5)
    CS231N_DIRECT_FWD(double, cs231n_vd, d, 6)
    /* Rows of n values from src (row stride lds) to dst (row stride ldd), as a loop the
       compiler vectorises: a library memcpy per short row cost more than the copy. */
    #define CS231N_STRIDED_COPY(T, S)                                                      \\
    CS231N_NO_MEMCPY                                                                       \\
    static void cs231n_strided_copy_##S(T *restrict dst, Py_ssize_t ldd,                   \\
                                        const T *restrict src, Py_ssize_t lds,             \\
                                        Py_ssize_t rows, Py_ssize_t n) {                   \\
        for (Py_ssize_t r = 0; r < rows; r++, dst += ldd, src += lds)                      \\
            for (Py_ssize_t w = 0; w < n; w++) dst[w] = src[w];                            \\
    }
    CS231N_STRIDED_COPY(float, f)
    CS231N_STRIDED_COPY(double, d)
    """
    int DFB "CS231N_DFB"
    int DNV "CS231N_DNV"
    int DKB "CS231N_DKB"
    void cs231n_direct_fwd_f4(const float*, const Py_ssize_t*, Py_ssize_t, const float*,
                              Py_ssize_t, Py_ssize_t, float*, Py_ssize_t) nogil
    void cs231n_direct_fwd_f5(const float*, const Py_ssize_t*, Py_ssize_t, const float*,
                              Py_ssize_t, Py_ssize_t, float*, Py_ssize_t) nogil
    void cs231n_direct_fwd_f6(const float*, const Py_ssize_t*, Py_ssize_t, const float*,
                              Py_ssize_t, Py_ssize_t, float*, Py_ssize_t) nogil
    void cs231n_direct_fwd_d4(const double*, const Py_ssize_t*, Py_ssize_t, const double*,
                              Py_ssize_t, Py_ssize_t, double*, Py_ssize_t) nogil
    void cs231n_direct_fwd_d5(const double*, const Py_ssize_t*, Py_ssize_t, const double*,
                              Py_ssize_t, Py_ssize_t, double*, Py_ssize_t) nogil
    void cs231n_direct_fwd_d6(const double*, const Py_ssize_t*, Py_ssize_t, const double*,
                              Py_ssize_t, Py_ssize_t, double*, Py_ssize_t) nogil
    void cs231n_direct_dw_f(const float*, const Py_ssize_t*, Py_ssize_t, const float*,
                            Py_ssize_t, Py_ssize_t, float*) nogil
    void cs231n_direct_dw_d(const double*, const Py_ssize_t*, Py_ssize_t, const double*,
                            Py_ssize_t, Py_ssize_t, double*) nogil
    void cs231n_direct_dx_f(float*, const Py_ssize_t*, Py_ssize_t, Py_ssize_t, const float*,
                            Py_ssize_t, const float*, Py_ssize_t) nogil
    void cs231n_direct_dx_d(double*, const Py_ssize_t*, Py_ssize_t, Py_ssize_t, const double*,
                            Py_ssize_t, const double*, Py_ssize_t) nogil
    void cs231n_strided_copy_f(float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t,
                               Py_ssize_t) nogil
    void cs231n_strided_copy_d(double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t,
                               Py_ssize_t) nogil


cdef int _fwd_block(Py_ssize_t F) noexcept nogil:
    """Filters per register block of the direct forward kernel: 4, 5 or 6.

    Whichever pads F with the fewest zero filters, the larger on a tie (more products
    per value loaded): a first layer of 25 filters goes 5 by 5, where blocks of 4 would
    compute 3 filters of zeros (12% more products).
    """
    cdef int best = 4, b
    for b in range(5, 7):
        if _ceil_div(F, b) * b <= _ceil_div(F, best) * best:
            best = b
    return best


cdef inline void _direct_fwd(int fb, const floating* q, const Py_ssize_t* off, Py_ssize_t K,
                             const floating* wp, Py_ssize_t F, Py_ssize_t L, floating* o,
                             Py_ssize_t ldo) noexcept nogil:
    """The direct forward kernel with fb (4, 5 or 6) filters per register block."""
    if floating is float:
        if fb == 5:
            cs231n_direct_fwd_f5(q, off, K, wp, F, L, o, ldo)
        elif fb == 6:
            cs231n_direct_fwd_f6(q, off, K, wp, F, L, o, ldo)
        else:
            cs231n_direct_fwd_f4(q, off, K, wp, F, L, o, ldo)
    else:
        if fb == 5:
            cs231n_direct_fwd_d5(q, off, K, wp, F, L, o, ldo)
        elif fb == 6:
            cs231n_direct_fwd_d6(q, off, K, wp, F, L, o, ldo)
        else:
            cs231n_direct_fwd_d4(q, off, K, wp, F, L, o, ldo)


# Images per block in the direct backward pass (one thread per block, which adds up
# its images' shares of dw).
cdef Py_ssize_t _DW_BLOCK = 8


cdef inline int _compute_threads(Py_ssize_t tasks) noexcept nogil:
    """Threads for a direct kernel: as many as OpenMP offers, at most one per task.

    Not capped like the copies: these kernels are arithmetic, in the place of a matrix
    product that BLAS would run on every core.
    """
    cdef Py_ssize_t n = CS231N_MAX_THREADS()
    return <int>min(n, tasks) if tasks > 0 and not _serial else 1


cdef struct _Direct:
    _Phases g
    Py_ssize_t C, HH, WW, Ho, Wo
    Py_ssize_t plane  # one channel's phase planes: s * s * Hq * Wq values
    Py_ssize_t L, Lr  # wide positions Ho * Wq, rounded up to whole register blocks
    Py_ssize_t qsize  # the phase planes of all channels, and room to read a block past them


cdef _Direct _direct_of(Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t HH,
                        Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride, Py_ssize_t vec):
    cdef _Direct d
    d.C, d.HH, d.WW = C, HH, WW
    d.Ho = (H + 2 * pad - HH) // stride + 1
    d.Wo = (W + 2 * pad - WW) // stride + 1
    d.g = _phases_of(H, W, HH, WW, pad, stride, d.Ho, d.Wo)
    d.plane = _phases_size(d.g)
    d.L = d.Ho * d.g.Wq
    d.Lr = _ceil_div(d.L, DNV * vec) * DNV * vec
    # The last run starts at most (WW - 1) // s + ((HH - 1) // s) * Wq past the last
    # plane's start and reads Lr values; the planes are at least that tall.
    d.qsize = C * d.plane + (d.Lr - d.L) + d.g.Wq
    return d


def _aligned_zeros(shape, dtype, align=64):
    """A C-ordered array of zeros whose first element is aligned to ``align`` bytes."""
    itemsize = np.dtype(dtype).itemsize
    size = int(np.prod(shape))
    raw = np.zeros(size + align // itemsize, dtype=dtype)
    skip = (-raw.ctypes.data % align) // itemsize
    return raw[skip : skip + size].reshape(shape)


cdef _direct_offsets(_Direct d):
    """off[k]: where tap k = (c, i, j) starts reading in the phase planes of all channels."""
    off_arr = np.empty(d.C * d.HH * d.WW, dtype=np.intp)
    cdef Py_ssize_t[::1] off = off_arr
    cdef Py_ssize_t c, i, j, k = 0
    for c in range(d.C):
        for i in range(d.HH):
            for j in range(d.WW):
                off[k] = c * d.plane + _phase_offset(d.g, i, j)
                k += 1
    return off_arr


def _direct_check(x, w_aug, HH, WW, name):
    if w_aug.ndim != 2 or w_aug.shape[1] != x.shape[1] * HH * WW + 1 or w_aug.dtype != x.dtype:
        raise ValueError(f"{name}: w_aug must be (F, C * HH * WW + 1) of x's dtype, got "
                         f"{w_aug.shape} {w_aug.dtype} for x {x.shape} {x.dtype}.")


def conv_forward_direct(const floating[:, :, :, :] x, w_aug, Py_ssize_t HH, Py_ssize_t WW,
                        Py_ssize_t pad, Py_ssize_t stride):
    """A convolution computed directly from the image (no column matrix).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64, any strides
    w_aug : ndarray of shape (F, C * HH * WW + 1), dtype of ``x``: the filters as rows,
        then the biases
    HH, WW, pad, stride : filter size, zero padding and stride

    Returns
    -------
    res : ndarray of shape (F, N, Ho, Wo), dtype of ``x``: the output, filter first (as
        ``w_aug @ im2col(x)`` gives it). A view: each of its rows of Wo values is
        followed in memory by the Wq - Wo junk values of the wide row.
    """
    dtype = np.float32 if floating is float else np.float64
    _direct_check(np.asarray(x), w_aug, HH, WW, "conv_forward_direct")
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w_aug.shape[0], K = C * HH * WW
    cdef _Direct d = _direct_of(C, H, W, HH, WW, pad, stride, 32 // sizeof(floating))
    cdef int fb = _fwd_block(F)
    cdef Py_ssize_t nfb = _ceil_div(F, fb), Fr = nfb * fb
    # The filters in register blocks: wp[b, k, f] = w_aug[b * fb + f, k], zero rows past F.
    wpad = np.zeros((Fr, K + 1), dtype=dtype)
    wpad[:F] = w_aug
    cdef floating[:, :, ::1] wp = np.ascontiguousarray(
        wpad.reshape(nfb, fb, K + 1).transpose(0, 2, 1))
    cdef Py_ssize_t[::1] off = _direct_offsets(d)
    wide = np.empty((F, N, d.Ho, d.g.Wq), dtype=dtype)
    if wide.size == 0:
        return wide[..., :d.Wo]
    cdef floating[:, :, :, ::1] res = wide
    cdef int nt = _compute_threads(N)
    cdef floating[:, ::1] qs = np.zeros((nt, d.qsize), dtype=dtype)  # padding stays zero
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef Py_ssize_t n, c
    cdef floating* q
    with nogil:
        for n in prange(N, schedule="dynamic", num_threads=nt):
            q = &qs[threadid(), 0]
            for c in range(C):
                _split_phases(xp + n * sN + c * sC, sH, sW, H, W, pad, d.g, q + c * d.plane)
            _direct_fwd(fb, q, &off[0], K, &wp[0, 0, 0], F, d.L, &res[0, n, 0, 0], N * d.L)
    return wide[..., :d.Wo]


def conv_backward_direct(const floating[:, :, :, :] x, const floating[:, :, :, :] dout, w_aug,
                         Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                         bint input_grad=True):
    """The gradients of ``conv_forward_direct``, computed directly (no column matrix).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), the forward pass's input, any strides
    dout : ndarray of shape (N, F, Ho, Wo), dtype of ``x``, any strides
    w_aug, HH, WW, pad, stride : as given to ``conv_forward_direct``
    input_grad : if False, dx is not computed (None is returned for it)

    Returns
    -------
    dx : C-ordered ndarray of shape (N, C, H, W), or None
    dw_aug : ndarray of shape (F, C * HH * WW + 1): dw as rows, then db in the last column
    """
    dtype = np.float32 if floating is float else np.float64
    _direct_check(np.asarray(x), w_aug, HH, WW, "conv_backward_direct")
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w_aug.shape[0], K = C * HH * WW
    cdef _Direct d = _direct_of(C, H, W, HH, WW, pad, stride, 32 // sizeof(floating))
    got = (dout.shape[0], dout.shape[1], dout.shape[2], dout.shape[3])
    if got != (N, F, d.Ho, d.Wo):
        raise ValueError(f"conv_backward_direct: dout has shape {got}, "
                         f"expected {(N, F, d.Ho, d.Wo)}.")
    cdef Py_ssize_t nfb = _ceil_div(F, DFB), Fr = nfb * DFB
    cdef Py_ssize_t[::1] off = _direct_offsets(d)
    # For dx, the taps in (j, c, i) order, i fastest: one after the other, they read and
    # write dq a row (or a channel) apart rather than one value apart.
    order = np.arange(K).reshape(C, HH, WW).transpose(2, 0, 1).reshape(-1)
    cdef Py_ssize_t[::1] off_dx = np.ascontiguousarray(np.asarray(off)[order])
    cdef Py_ssize_t Kr = _ceil_div(K, DKB) * DKB
    wtpad = np.zeros((Fr, Kr), dtype=dtype)  # the weights of the taps in that order
    wtpad[:F, :K] = w_aug[:, order]
    cdef floating[:, ::1] wt = wtpad
    # The images go in fixed blocks of _DW_BLOCK, one thread per block; the blocks'
    # shares of dw are added up at the end in a fixed order: the same dw however the
    # blocks were shared among threads.
    cdef Py_ssize_t nblk = _ceil_div(N, _DW_BLOCK), vlen = Fr * (K + 1)
    cdef int nt = _compute_threads(nblk)
    sums = np.zeros(nblk * vlen, dtype=dtype)
    dx_arr = np.empty((N, C, H, W), dtype=dtype) if input_grad else None
    if N == 0 or F == 0:
        return dx_arr, np.zeros((F, K + 1), dtype=dtype)
    cdef floating[::1] sp = sums
    cdef floating* dxp = NULL
    cdef floating[:, :, :, ::1] dxv
    if input_grad and dx_arr.size:
        dxv = dx_arr
        dxp = &dxv[0, 0, 0, 0]
    cdef floating[:, ::1] qs = np.zeros((nt, d.qsize), dtype=dtype)
    cdef floating[:, ::1] dqs = np.zeros((nt, d.qsize if input_grad else 1), dtype=dtype)
    # The wide upstream gradient, junk staying zero; its rows (whole register blocks)
    # aligned to 64 bytes: loads of d that straddled cache lines made the dw kernel
    # 1.5x slower, depending on where the allocator happened to put it.
    cdef floating[:, ::1] ds = _aligned_zeros((nt, Fr * d.Lr), dtype)
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    cdef Py_ssize_t tN = dout.strides[0] // sizeof(floating), tF = dout.strides[1] // sizeof(floating)
    cdef Py_ssize_t tH = dout.strides[2] // sizeof(floating), tW = dout.strides[3] // sizeof(floating)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* gp = &dout[0, 0, 0, 0]
    cdef Py_ssize_t blk, n, c, f, ho, wo
    cdef floating* q
    cdef floating* dq
    cdef floating* dd
    cdef const floating* src
    with nogil:
        for blk in prange(nblk, schedule="dynamic", num_threads=nt):
            for n in range(blk * _DW_BLOCK, min(N, (blk + 1) * _DW_BLOCK)):
                q = &qs[threadid(), 0]
                dd = &ds[threadid(), 0]
                # This image's upstream gradient, wide: row f, position ho * Wq + wo.
                for f in range(F):
                    src = gp + n * tN + f * tF
                    if tW == 1:
                        if floating is float:
                            cs231n_strided_copy_f(dd + f * d.Lr, d.g.Wq, src, tH, d.Ho, d.Wo)
                        else:
                            cs231n_strided_copy_d(dd + f * d.Lr, d.g.Wq, src, tH, d.Ho, d.Wo)
                    else:
                        for ho in range(d.Ho):
                            for wo in range(d.Wo):
                                dd[f * d.Lr + ho * d.g.Wq + wo] = src[ho * tH + wo * tW]
                for c in range(C):
                    _split_phases(xp + n * sN + c * sC, sH, sW, H, W, pad, d.g, q + c * d.plane)
                if floating is float:
                    cs231n_direct_dw_f(q, &off[0], K, dd, nfb, d.Lr, &sp[blk * vlen])
                else:
                    cs231n_direct_dw_d(q, &off[0], K, dd, nfb, d.Lr, &sp[blk * vlen])
                if dxp != NULL:
                    dq = &dqs[threadid(), 0]
                    memset(dq, 0, d.qsize * sizeof(floating))
                    if floating is float:
                        cs231n_direct_dx_f(dq, &off_dx[0], K, Kr, &wt[0, 0], Fr, dd, d.Lr)
                    else:
                        cs231n_direct_dx_d(dq, &off_dx[0], K, Kr, &wt[0, 0], Fr, dd, d.Lr)
                    for c in range(C):
                        _merge_phases(dq + c * d.plane, d.g, H, W, pad, dxp + (n * C + c) * H * W)
    dw_aug = sums.reshape(nblk, Fr, K + 1).sum(axis=0)
    return dx_arr, dw_aug[:F]


# ---------------------------------------------------------------------------- max pooling


cdef inline bint _beats(floating v, floating m) noexcept nogil:
    """True if v replaces the running maximum m: larger, or the first NaN (like np.argmax)."""
    return (v > m) | ((v != v) & (m == m))


# Max pooling 2x2 with stride 2, one (image, channel) plane at a time, in C: on x86-64
# with SSE2 intrinsics, four (float) or two (double) windows per step, without a
# data-dependent branch; elsewhere, and for the last windows of a row, one at a time.
# "v beats the running maximum m" when v > m or v is the first NaN, as np.argmax.
cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    #define CS231N_BEATS(v, m) (((v) > (m)) | (((v) != (v)) & ((m) == (m))))
    #define CS231N_POOL_2X2_TAIL(T)                                                       \\
        for (; wo < Wo; wo++) {                                                           \\
            T v[4] = {r0[2 * wo], r0[2 * wo + 1], r1[2 * wo], r1[2 * wo + 1]};            \\
            T m = v[0];                                                                   \\
            int k = 0;                                                                    \\
            for (int e = 1; e < 4; e++) {                                                 \\
                int t = CS231N_BEATS(v[e], m);                                            \\
                m = t ? v[e] : m;                                                         \\
                k = t ? e : k;                                                            \\
            }                                                                             \\
            out[wo] = m;                                                                  \\
            arg[wo] = (uint8_t)k;                                                         \\
        }

    static void cs231n_pool_2x2_f(const float *restrict x, Py_ssize_t sH, Py_ssize_t Ho,
                                  Py_ssize_t Wo, float *restrict out,
                                  uint8_t *restrict arg) {
        for (Py_ssize_t ho = 0; ho < Ho; ho++, out += Wo, arg += Wo) {
            const float *r0 = x + 2 * ho * sH, *r1 = r0 + sH;
            Py_ssize_t wo = 0;
    #if defined(__SSE2__)
            const __m128i one = _mm_set1_epi32(1), two = _mm_set1_epi32(2),
                          three = _mm_set1_epi32(3);
            for (; wo + 4 <= Wo; wo += 4) {
                __m128 p = _mm_loadu_ps(r0 + 2 * wo), q = _mm_loadu_ps(r0 + 2 * wo + 4);
                __m128 a = _mm_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0));
                __m128 b = _mm_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1));
                p = _mm_loadu_ps(r1 + 2 * wo);
                q = _mm_loadu_ps(r1 + 2 * wo + 4);
                __m128 c = _mm_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0));
                __m128 d = _mm_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1));
                __m128 m = a, t;
                __m128i k = _mm_setzero_si128(), ti;
    #define CS231N_STEP_F(v, idx)                                                          \\
                t = _mm_or_ps(_mm_cmpgt_ps(v, m),                                          \\
                              _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(m, m)));     \\
                m = _mm_or_ps(_mm_and_ps(t, v), _mm_andnot_ps(t, m));                     \\
                ti = _mm_castps_si128(t);                                                  \\
                k = _mm_or_si128(_mm_and_si128(ti, idx), _mm_andnot_si128(ti, k));
                CS231N_STEP_F(b, one)
                CS231N_STEP_F(c, two)
                CS231N_STEP_F(d, three)
    #undef CS231N_STEP_F
                _mm_storeu_ps(out + wo, m);
                k = _mm_packs_epi32(k, k);
                k = _mm_packus_epi16(k, k);
                int32_t bytes = _mm_cvtsi128_si32(k);
                memcpy(arg + wo, &bytes, 4);
            }
    #endif
            CS231N_POOL_2X2_TAIL(float)
        }
    }

    static void cs231n_pool_2x2_d(const double *restrict x, Py_ssize_t sH, Py_ssize_t Ho,
                                  Py_ssize_t Wo, double *restrict out,
                                  uint8_t *restrict arg) {
        for (Py_ssize_t ho = 0; ho < Ho; ho++, out += Wo, arg += Wo) {
            const double *r0 = x + 2 * ho * sH, *r1 = r0 + sH;
            Py_ssize_t wo = 0;
    #if defined(__SSE2__)
            const __m128i one = _mm_set1_epi32(1), two = _mm_set1_epi32(2),
                          three = _mm_set1_epi32(3);
            for (; wo + 2 <= Wo; wo += 2) {
                __m128d p = _mm_loadu_pd(r0 + 2 * wo), q = _mm_loadu_pd(r0 + 2 * wo + 2);
                __m128d a = _mm_shuffle_pd(p, q, 0), b = _mm_shuffle_pd(p, q, 3);
                p = _mm_loadu_pd(r1 + 2 * wo);
                q = _mm_loadu_pd(r1 + 2 * wo + 2);
                __m128d c = _mm_shuffle_pd(p, q, 0), d = _mm_shuffle_pd(p, q, 3);
                __m128d m = a, t;
                __m128i k = _mm_setzero_si128(), ti;
    #define CS231N_STEP_D(v, idx)                                                          \\
                t = _mm_or_pd(_mm_cmpgt_pd(v, m),                                          \\
                              _mm_and_pd(_mm_cmpunord_pd(v, v), _mm_cmpord_pd(m, m)));     \\
                m = _mm_or_pd(_mm_and_pd(t, v), _mm_andnot_pd(t, m));                     \\
                ti = _mm_castpd_si128(t);                                                  \\
                k = _mm_or_si128(_mm_and_si128(ti, idx), _mm_andnot_si128(ti, k));
                CS231N_STEP_D(b, one)
                CS231N_STEP_D(c, two)
                CS231N_STEP_D(d, three)
    #undef CS231N_STEP_D
                _mm_storeu_pd(out + wo, m);
                /* k holds 64-bit lanes whose low 32 bits are the indices */
                arg[wo] = (uint8_t)_mm_cvtsi128_si32(k);
                arg[wo + 1] = (uint8_t)_mm_cvtsi128_si32(_mm_shuffle_epi32(k, 2));
            }
    #endif
            CS231N_POOL_2X2_TAIL(double)
        }
    }
    """
    void cs231n_pool_2x2_f(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t, float*,
                           uint8_t*) nogil
    void cs231n_pool_2x2_d(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t, double*,
                           uint8_t*) nogil



cdef void _pool_row(const floating* r, Py_ssize_t sH, Py_ssize_t sW, Py_ssize_t PH,
                    Py_ssize_t PW, Py_ssize_t stride, Py_ssize_t Wo,
                    floating* out, index_t* arg) noexcept nogil:
    """One output row of PH x PW pools, any stride; r points at the window row's start."""
    cdef Py_ssize_t wo, i, j, k
    cdef const floating* win
    cdef floating m, v
    cdef bint t
    for wo in range(Wo):
        win = r + wo * stride * sW
        m = win[0]
        k = 0
        for i in range(PH):
            for j in range(PW):
                v = win[i * sH + j * sW]
                t = _beats(v, m)
                m = v if t else m
                k = i * PW + j if t else k
        out[wo] = m
        arg[wo] = <index_t>k


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
    if result.size == 0:
        return result
    cdef floating[:, :, :, ::1] out = result
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef index_t* ap = &argmax[0, 0, 0, 0]
    cdef Py_ssize_t plane, ho
    cdef const floating* xc
    cdef bint two_by_two = PH == 2 and PW == 2 and stride == 2 and sW == 1
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        for plane in prange(N * C, schedule="dynamic", chunksize=_grain(N * C, nt),
                            num_threads=nt):
            xc = xp + (plane // C) * sN + (plane % C) * sC
            if index_t is uint8_t:  # the index type of every pool up to 16 x 16
                if two_by_two:
                    if floating is float:
                        cs231n_pool_2x2_f(xc, sH, Ho, Wo, op + plane * Ho * Wo,
                                          ap + plane * Ho * Wo)
                    else:
                        cs231n_pool_2x2_d(xc, sH, Ho, Wo, op + plane * Ho * Wo,
                                          ap + plane * Ho * Wo)
                    continue
            for ho in range(Ho):
                _pool_row(xc + ho * stride * sH, sH, sW, PH, PW, stride, Wo,
                          op + (plane * Ho + ho) * Wo, ap + (plane * Ho + ho) * Wo)
    return result


def max_pool_backward(const floating[:, :, :, :] dout, const index_t[:, :, :, ::1] argmax,
                      Py_ssize_t H, Py_ssize_t W, Py_ssize_t PH, Py_ssize_t PW,
                      Py_ssize_t stride, out=None):
    """Route each upstream gradient to the maximum of its window.

    Parameters
    ----------
    dout : ndarray of shape (N, C, Ho, Wo), float32 or float64, any strides
    argmax : ndarray of shape (N, C, Ho, Wo) from ``max_pool_forward``
    H, W : input height and width
    PH, PW, stride : as given to ``max_pool_forward``
    out : optional ndarray of shape (N, C, H, W) and the dtype of ``dout`` to write
        into, each (H, W) plane contiguous (e.g. the layout of the forward input)

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
    if out is None:
        result = np.empty((N, C, H, W), dtype=dtype)
    elif (out.shape != (N, C, H, W) or out.dtype != dtype
          or (W > 1 and out.strides[3] != out.itemsize)
          or (H > 1 and out.strides[2] != W * out.itemsize)):
        raise ValueError(f"max_pool_backward: out must be an array of shape {(N, C, H, W)} "
                         f"and dtype {np.dtype(dtype)} with contiguous (H, W) planes.")
    else:
        result = out
    if result.size == 0:
        return result
    # Offset in the (H, W) plane of each position k = i * PW + j inside a window.
    offsets_arr = (np.arange(PH)[:, None] * W + np.arange(PW)).astype(np.intp).ravel()
    cdef const Py_ssize_t[::1] offsets = offsets_arr
    cdef const Py_ssize_t* offs = &offsets[0]
    cdef floating[:, :, :, :] dx = result
    cdef Py_ssize_t dN = dx.strides[0] // sizeof(floating), dC = dx.strides[1] // sizeof(floating)
    cdef const floating* gp = &dout[0, 0, 0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    cdef const index_t* ap = &argmax[0, 0, 0, 0]
    cdef Py_ssize_t plane, ho, wo
    cdef const floating* g
    cdef const index_t* a
    cdef floating* d
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        # One task per (image, channel) plane, zeroed then scattered into (in cache).
        for plane in prange(N * C, schedule="dynamic", chunksize=_grain(N * C, nt),
                            num_threads=nt):
            d = dp + (plane // C) * dN + (plane % C) * dC
            g = gp + (plane // C) * sN + (plane % C) * sC
            a = ap + plane * Ho * Wo
            memset(d, 0, H * W * sizeof(floating))
            for ho in range(Ho):
                for wo in range(Wo):
                    d[ho * stride * W + wo * stride + offs[a[ho * Wo + wo]]] += g[ho * sH + wo * sW]
    return result


# ---------------------------------------------------------------------------- layout


def channels_first(const floating[:, :, :, :] x, out=None):
    """Copy an (N, C, H, W) batch into a C-ordered (C, N * H * W) matrix.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64, any strides
    out : optional ndarray of shape (C, N * H * W), dtype of ``x``, rows contiguous

    Returns
    -------
    rows : ndarray of shape (C, N * H * W): row c holds channel c of every image
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t sN = x.strides[0] // sizeof(floating), sC = x.strides[1] // sizeof(floating)
    cdef Py_ssize_t sH = x.strides[2] // sizeof(floating), sW = x.strides[3] // sizeof(floating)
    dtype = np.float32 if floating is float else np.float64
    shape = (C, N * H * W)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    else:
        _check_buffer("channels_first: out", out, shape, dtype)
    if N * C * H * W == 0:
        return out
    cdef floating[:, :] rows = out
    cdef Py_ssize_t ld = rows.strides[0] // sizeof(floating)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* rp = &rows[0, 0]
    cdef Py_ssize_t t, n, c, h, w
    cdef const floating* src
    cdef floating* dst
    cdef int nt = _threads(N * C * H * W)
    with nogil:
        # One task per (channel, image): H * W values, no two tasks write the same.
        for t in prange(N * C, schedule="dynamic", chunksize=_grain(N * C, nt),
                        num_threads=nt):
            c = t // N
            n = t % N
            src = xp + n * sN + c * sC
            dst = rp + c * ld + n * H * W
            if sW == 1 and sH == W:
                memcpy(dst, src, H * W * sizeof(floating))
            else:
                for h in range(H):
                    for w in range(W):
                        dst[h * W + w] = src[h * sH + w * sW]
    return out
