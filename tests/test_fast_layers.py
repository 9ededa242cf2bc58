"""Fast convolution and max pooling (cs231n.fast_layers), on both backends.

Every test that computes runs twice, once on the compiled kernels and once on the
pure-numpy fallback, in the same session (``use_backend``). Fast layers are
compared with the naive layers and with references written here (an ``einsum``
over sliding windows, a loop for pooling), and their backward passes with
numerical gradients in float64.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cs231n import fast_layers
from cs231n.fast_layers import (
    conv_backward_fast,
    conv_backward_im2col,
    conv_backward_strides,
    conv_forward_fast,
    conv_forward_im2col,
    conv_forward_strides,
    max_pool_backward_fast,
    max_pool_backward_im2col,
    max_pool_backward_reshape,
    max_pool_forward_fast,
    max_pool_forward_im2col,
    max_pool_forward_reshape,
    use_backend,
)
from cs231n.gradient_check import rel_error
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from tests.conftest import assert_grads_match

HAVE_CYTHON = fast_layers._load_compiled()[0] is not None


@pytest.fixture(
    params=[
        pytest.param(
            "cython",
            marks=pytest.mark.skipif(not HAVE_CYTHON, reason="extension not built"),
        ),
        "numpy",
    ]
)
def backend(request):
    """Run the test on one backend, then restore the one chosen at import."""
    with use_backend(request.param):
        yield request.param


# ------------------------------------------------------------------ references


def conv_reference(x, w, b, stride, pad, dout):
    """Forward output and (dx, dw, db) of a convolution, by einsum over windows."""
    F, C, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
    Ho, Wo = out.shape[2:]
    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)
    db = dout.sum(axis=(0, 2, 3))
    dx_pad = np.zeros_like(x_pad)
    for i in range(HH):
        for j in range(WW):
            rows, cols = slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride)
            dx_pad[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return out, (dx, dw, db)


def pool_reference(x, ph, pw, stride, dout):
    """Forward output and dx of max pooling, one window at a time."""
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    out[n, c, i, j] = window.max()
                    a, b = np.unravel_index(window.argmax(), window.shape)  # first maximum
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return out, dx


def scaled_error(a, b):
    """Largest difference relative to the largest magnitude (float32 vs float64)."""
    return np.abs(a.astype(np.float64) - b).max() / np.abs(b).max()


def distinct_values(rng, shape):
    """Values at least 0.01 apart, so a numerical step never changes a maximum."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 - 1.0


CONV_CASES = [
    # (x_shape, w_shape, stride, pad)
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),  # 'same' convolution
    ((2, 3, 9, 7), (3, 3, 3, 3), 2, 1),  # non-square input, stride 2
    ((3, 2, 8, 6), (2, 2, 2, 4), 2, 0),  # non-square filters, no padding
    ((2, 3, 6, 5), (2, 3, 7, 7), 1, 3),  # pad 3, filter larger than the input
    ((1, 1, 5, 5), (1, 1, 5, 5), 1, 0),  # one output position
    ((2, 2, 9, 9), (3, 2, 3, 3), 3, 0),  # stride as large as the filter
    ((2, 2, 4, 4), (3, 2, 1, 1), 1, 0),  # 1x1 convolution
    ((8, 16, 12, 12), (6, 16, 3, 3), 1, 1),  # large enough for several threads
]

CONV_IMPLEMENTATIONS = {
    "fast": (conv_forward_fast, conv_backward_fast),
    "im2col": (conv_forward_im2col, conv_backward_im2col),
    "strides": (conv_forward_strides, conv_backward_strides),
}
# Compiled kernels only: the direct convolution of layers with few taps.
DIRECT = (fast_layers._conv_forward_direct, fast_layers._conv_backward_direct)

POOL_CASES = [
    # (x_shape, pool_height, pool_width, stride)
    ((2, 3, 8, 8), 2, 2, 2),  # pools tile the input
    ((2, 3, 6, 9), 3, 3, 3),  # tile, non-square input
    ((2, 3, 7, 9), 3, 3, 2),  # overlapping pools
    ((2, 2, 8, 8), 2, 2, 3),  # gaps between pools
    ((1, 2, 5, 7), 1, 3, 1),  # non-square pools, stride 1
    ((2, 2, 6, 6), 3, 2, 1),  # non-square overlapping pools
    ((8, 16, 16, 16), 2, 2, 2),  # large enough for several threads
    ((1, 1, 17, 17), 17, 17, 1),  # window of 289 > 256 positions: int32 argmax
]


# ----------------------------------------------------------------- convolution


@pytest.mark.parametrize("impl", sorted(CONV_IMPLEMENTATIONS))
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_conv_matches_reference_and_naive(backend, rng, impl, x_shape, w_shape, stride, pad):
    forward, backward = CONV_IMPLEMENTATIONS[impl]
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_grads = conv_reference(x, w, b, stride, pad, dout)
    naive_out, naive_cache = conv_forward_naive(x, w, b, conv_param)
    naive_grads = conv_backward_naive(dout, naive_cache)
    grads = backward(dout, cache)
    assert out.shape == ref_out.shape and out.dtype == np.float64
    assert rel_error(out, ref_out) < 1e-9
    assert rel_error(out, naive_out) < 1e-9
    for name, g, g_ref, g_naive, arr in zip("xwb", grads, ref_grads, naive_grads, (x, w, b)):
        assert g.shape == arr.shape, f"d{name} has shape {g.shape}"
        assert rel_error(g, g_ref) < 1e-9, f"d{name} differs from the reference"
        assert rel_error(g, g_naive) < 1e-9, f"d{name} differs from the naive layer"


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [((2, 3, 7, 7), (4, 3, 3, 3), 1, 1), ((2, 2, 7, 5), (3, 2, 3, 3), 2, 1)],
)
def test_conv_backward_fast_matches_numerical_gradients(
    backend, rng, x_shape, w_shape, stride, pad
):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    assert_grads_match(
        lambda x, w, b: conv_forward_fast(x, w, b, conv_param)[0],
        [x, w, b],
        lambda d: conv_backward_fast(d, cache),
        dout,
        names=["x", "w", "b"],
        tol=1e-8,
        # The layer is linear in each input, so the centred difference has no
        # truncation error: a larger step only shrinks its rounding error.
        h=1e-3,
    )


def test_conv_float32_stays_float32_and_close_to_float64(backend, rng):
    x, w = rng.standard_normal((4, 3, 9, 9)), rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    conv_param = {"stride": 2, "pad": 1}
    out64, cache64 = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out64.shape)
    grads64 = conv_backward_fast(dout, cache64)
    f32 = [a.astype(np.float32) for a in (x, w, b)]
    out32, cache32 = conv_forward_fast(*f32, conv_param)
    grads32 = conv_backward_fast(dout.astype(np.float32), cache32)
    assert out32.dtype == np.float32
    assert scaled_error(out32, out64) < 1e-6
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        assert scaled_error(g32, g64) < 1e-6


def test_conv_accepts_any_memory_layout(backend, rng):
    """Inputs that are views (a previous conv's output, reversed axes) give the same result."""
    x = rng.standard_normal((3, 4, 6, 7))
    w, b = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal(2)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    grads = conv_backward_fast(dout, cache)
    channel_major = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    flipped = np.ascontiguousarray(x[:, :, :, ::-1])[:, :, :, ::-1]
    dout_channel_major = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    for x_view, dout_view in zip(
        (channel_major, flipped, x), (np.asfortranarray(dout), dout_channel_major, out * 0 + dout)
    ):
        out2, cache2 = conv_forward_fast(x_view, w, b, conv_param)
        assert rel_error(out2, out) < 1e-12
        grads2 = conv_backward_fast(dout_view, cache2)
        for g2, g in zip(grads2, grads):
            assert rel_error(g2, g) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_in_chunks_matches_one_chunk(backend, rng, monkeypatch, dtype):
    """Large batches are processed a few images at a time; the results must not change."""
    x, w = rng.standard_normal((7, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    x, w, b = (a.astype(dtype) for a in (x, w, b))
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward_im2col(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = conv_backward_im2col(dout, cache)
    assert len(cache[6]) == 1  # one chunk, columns kept
    bytes_per_image = (3 * 3 * 3 + 1) * 9 * 8 * np.dtype(dtype).itemsize
    monkeypatch.setattr(fast_layers, "_KEEP_BYTES", 0)
    monkeypatch.setattr(fast_layers, "_CHUNK_BYTES", 3 * bytes_per_image)
    out2, cache2 = conv_forward_im2col(x, w, b, conv_param)
    assert [c for c in cache2[6]] == [(0, 3), (3, 6), (6, 7)]
    grads2 = conv_backward_im2col(dout, cache2)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_array_equal(out2, out)  # each output column is the same product
    for g2, g in zip(grads2, grads):
        assert g2.dtype == dtype
        assert scaled_error(g2, g) < tol


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_without_input_grad_skips_dx_only(backend, rng, monkeypatch, dtype, chunked):
    """conv_param["input_grad"] = False: dx is None, out, dw and db are unchanged."""
    x, w = rng.standard_normal((5, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    x, w, b = (a.astype(dtype) for a in (x, w, b))
    if chunked:
        monkeypatch.setattr(fast_layers, "_KEEP_BYTES", 0)
        monkeypatch.setattr(fast_layers, "_CHUNK_BYTES", 1)
    impls = list(CONV_IMPLEMENTATIONS.values()) + ([DIRECT] if backend == "cython" else [])
    for forward, backward in impls:
        conv_param = {"stride": 2, "pad": 1}
        out, cache = forward(x, w, b, conv_param)
        out2, cache2 = forward(x, w, b, dict(conv_param, input_grad=False))
        np.testing.assert_array_equal(out2, out)
        dout = rng.standard_normal(out.shape).astype(dtype)
        dx, dw, db = backward(dout, cache)
        dx2, dw2, db2 = backward(dout, cache2)
        assert dx.shape == x.shape and dx2 is None
        np.testing.assert_array_equal(dw2, dw)
        np.testing.assert_array_equal(db2, db)


def test_conv_input_grad_must_be_a_bool(rng):
    x, w, b = rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 3, 3)), np.zeros(1)
    with pytest.raises(TypeError, match="input_grad.*True or False"):
        conv_forward_fast(x, w, b, {"stride": 1, "pad": 1, "input_grad": "no"})


def test_conv_backends_give_identical_results(rng):
    if not HAVE_CYTHON:
        pytest.skip("extension not built")
    x, w = rng.standard_normal((6, 5, 11, 9)), rng.standard_normal((4, 5, 3, 3))
    b = rng.standard_normal(4)
    conv_param = {"stride": 2, "pad": 1}
    results = {}
    for name in ("cython", "numpy"):
        with use_backend(name):
            out, cache = conv_forward_im2col(x, w, b, conv_param)
            dout = np.linspace(-1, 1, out.size).reshape(out.shape)
            results[name] = (out, *conv_backward_im2col(dout, cache))
    for a, b_ in zip(results["cython"], results["numpy"]):
        np.testing.assert_array_equal(a, b_)


DIRECT_CASES = CONV_CASES + [
    # (x_shape, w_shape, stride, pad): filter counts that do not fill a register
    # block (the forward takes blocks of 4, 5 or 6: 11 and 17 leave one zero filter in
    # a block of 6, 9 in a block of 5), rows shorter and longer than a vector, strides
    # 1 to 4, one output column, and batches large enough to share among threads.
    ((2, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ((3, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ((5, 1, 5, 9), (1, 1, 5, 1), 1, 0),
    ((4, 2, 13, 6), (9, 2, 1, 6), 1, 0),
    ((2, 4, 11, 11), (3, 4, 3, 3), 4, 0),
    ((3, 2, 12, 8), (5, 2, 4, 3), 3, 2),
    ((2, 3, 7, 40), (6, 3, 3, 5), 1, 2),
    ((33, 3, 12, 12), (7, 3, 5, 5), 1, 2),
    ((2, 16, 9, 9), (6, 16, 2, 2), 1, 0),
    ((3, 3, 9, 9), (11, 3, 3, 3), 2, 1),
    ((2, 2, 10, 10), (17, 2, 3, 3), 1, 1),
]


@pytest.mark.skipif(not HAVE_CYTHON, reason="extension not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", DIRECT_CASES)
def test_direct_conv_matches_the_reference(rng, dtype, x_shape, w_shape, stride, pad):
    """The direct kernels, on shapes chosen for their edges, and on strided views."""
    x64, w64 = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b64 = rng.standard_normal(w_shape[0])
    x, w, b = (a.astype(dtype) for a in (x64, w64, b64))
    conv_param = {"stride": stride, "pad": pad}
    with use_backend("cython"):
        out, cache = DIRECT[0](x, w, b, conv_param)
        dout64 = rng.standard_normal(out.shape)
        grads = DIRECT[1](dout64.astype(dtype), cache)
        # The same on views: x reversed in width, dout in the forward output's order.
        x_view = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
        out2, cache2 = DIRECT[0](x_view, w, b, conv_param)
        dout_view = np.ascontiguousarray(dout64.astype(dtype)[:, ::-1])[:, ::-1]
        grads2 = DIRECT[1](dout_view, cache2)
    ref_out, ref_grads = conv_reference(x64, w64, b64, stride, pad, dout64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert out.dtype == dtype and out.shape == ref_out.shape
    assert scaled_error(out, ref_out) < tol
    np.testing.assert_array_equal(out2, out)
    for name, g, g2, g_ref in zip("xwb", grads, grads2, ref_grads):
        assert g.dtype == dtype and g.shape == g_ref.shape, f"d{name}"
        assert scaled_error(g, g_ref) < tol, f"d{name} differs from the reference"
        np.testing.assert_array_equal(g2, g)


@pytest.mark.skipif(not HAVE_CYTHON, reason="extension not built")
@pytest.mark.parametrize("blas_threads", [1, 2, "shared"])
def test_fast_conv_goes_direct_for_few_taps_only(rng, monkeypatch, blas_threads):
    """With BLAS on one thread, or on our threads, a first layer (3 channels, 3x3 or
    7x7) makes no column matrix and a deeper one does; with BLAS on threads of its
    own, every layer does."""
    shared = blas_threads == "shared"
    monkeypatch.setattr(fast_layers, "_BLAS_ON_ONE_THREAD", blas_threads == 1)
    monkeypatch.setattr(fast_layers._blas_threads, "active", lambda: shared)
    monkeypatch.setattr(fast_layers, "_SPINNING_RUNTIME", False)  # torch imported first
    blas_threads = 1 if shared else blas_threads
    used = []
    with use_backend("cython"):
        kernels = fast_layers._kernels
        for name in ("im2col", "col2im"):
            real = getattr(kernels, name)
            monkeypatch.setattr(
                kernels, name, lambda *a, _real=real, _name=name, **k: used.append(_name) or _real(*a, **k)
            )
        for w_shape, forward_cols, backward_cols in (
            ((8, 3, 3, 3), False, False),  # 27 taps: direct both ways
            ((8, 3, 7, 7), False, False),  # 147 taps: direct both ways
            ((8, 32, 3, 3), True, True),  # 288 taps: im2col both ways
        ):
            x = rng.standard_normal((2, w_shape[1], 8, 8))
            w, b = rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
            conv_param = {"stride": 1, "pad": (w_shape[2] - 1) // 2}
            used.clear()
            out, cache = conv_forward_fast(x, w, b, conv_param)
            assert ("im2col" in used) == (forward_cols or blas_threads > 1), w_shape
            used.clear()
            dx, dw, db = conv_backward_fast(rng.standard_normal(out.shape), cache)
            assert bool(used) == (backward_cols or blas_threads > 1), w_shape
            ref_out, _ = conv_reference(x, w, b, 1, conv_param["pad"], np.zeros(out.shape))
            assert rel_error(out, ref_out) < 1e-9


@pytest.mark.parametrize(
    "env, one",
    [
        ({"OPENBLAS_NUM_THREADS": "1"}, True),
        ({"OPENBLAS_NUM_THREADS": "4", "OMP_NUM_THREADS": "1"}, False),  # OpenBLAS's own first
        ({"OMP_NUM_THREADS": "1"}, True),
        ({"OMP_NUM_THREADS": "2"}, False),
    ],
)
def test_blas_threads_are_read_as_openblas_reads_them(monkeypatch, env, one):
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert fast_layers._blas_on_one_thread() is one


@pytest.mark.parametrize(
    "change, message",
    [
        ({"conv_param": {"stride": 2, "pad": 0}}, "does not tile"),  # (8 - 3) % 2 != 0
        ({"conv_param": {"stride": 0, "pad": 1}}, "stride must be a positive integer"),
        ({"conv_param": {"stride": 1, "pad": -1}}, "pad must be a non-negative integer"),
        ({"w_shape": (2, 4, 3, 3)}, "channels"),
        ({"w_shape": (2, 3, 11, 3)}, "exceeds the padded input"),
        ({"b_shape": (3,)}, "b must have shape"),
        ({"conv_param": {"stride": 1}}, "missing"),
    ],
)
def test_conv_rejects_bad_parameters(change, message):
    x = np.zeros((2, 3, 8, 8))
    w = np.zeros(change.get("w_shape", (2, 3, 3, 3)))
    b = np.zeros(change.get("b_shape", (2,)))
    conv_param = change.get("conv_param", {"stride": 1, "pad": 1})
    for forward, _ in CONV_IMPLEMENTATIONS.values():
        with pytest.raises((ValueError, KeyError), match=message):
            forward(x, w, b, conv_param)


def test_fast_layers_reject_float16():
    x = np.zeros((1, 1, 4, 4), dtype=np.float16)
    with pytest.raises(TypeError, match="float32 or float64"):
        conv_forward_fast(
            x, np.zeros((1, 1, 3, 3), np.float16), np.zeros(1, np.float16), {"stride": 1, "pad": 1}
        )
    with pytest.raises(TypeError, match="float32 or float64"):
        max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})


def test_conv_rejects_non_float_input_and_wrong_dout():
    x, w, b = np.zeros((2, 3, 5, 5), dtype=np.int64), np.zeros((2, 3, 3, 3)), np.zeros(2)
    with pytest.raises(TypeError, match="floating-point"):
        conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="4 dimensions"):
        conv_forward_fast(np.zeros((3, 5, 5)), w, b, {"stride": 1, "pad": 1})
    out, cache = conv_forward_fast(x.astype(float), w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="dout has shape"):
        conv_backward_fast(np.zeros((2, 2, 4, 4)), cache)


# ----------------------------------------------------------------- max pooling


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOL_CASES)
def test_max_pool_fast_matches_reference_and_naive(backend, rng, x_shape, ph, pw, stride):
    x = rng.standard_normal(x_shape)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx = pool_reference(x, ph, pw, stride, dout)
    naive_out, naive_cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_fast(dout, cache)
    assert out.shape == ref_out.shape and out.dtype == np.float64
    assert rel_error(out, ref_out) < 1e-12 and rel_error(out, naive_out) < 1e-12
    assert dx.shape == x.shape
    assert rel_error(dx, ref_dx) < 1e-12
    assert rel_error(dx, max_pool_backward_naive(dout, naive_cache)) < 1e-12


@pytest.mark.parametrize("x_shape, ph, pw, stride", POOL_CASES[:6])
def test_max_pool_im2col_path_matches_reference(backend, rng, x_shape, ph, pw, stride):
    x = rng.standard_normal(x_shape)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_im2col(x, pool_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx = pool_reference(x, ph, pw, stride, dout)
    assert rel_error(out, ref_out) < 1e-12
    assert rel_error(max_pool_backward_im2col(dout, cache), ref_dx) < 1e-12


@pytest.mark.parametrize("x_shape, size", [((2, 3, 8, 8), 2), ((2, 2, 6, 9), 3)])
def test_max_pool_reshape_path_matches_reference(rng, x_shape, size):
    x = rng.standard_normal(x_shape)
    pool_param = {"pool_height": size, "pool_width": size, "stride": size}
    out, cache = max_pool_forward_reshape(x, pool_param)
    dout = rng.standard_normal(out.shape)
    ref_out, ref_dx = pool_reference(x, size, size, size, dout)
    assert rel_error(out, ref_out) < 1e-12
    assert rel_error(max_pool_backward_reshape(dout, cache), ref_dx) < 1e-12


def test_max_pool_reshape_path_refuses_pools_that_do_not_tile():
    with pytest.raises(ValueError, match="must tile"):
        max_pool_forward_reshape(
            np.zeros((1, 1, 7, 7)), {"pool_height": 3, "pool_width": 3, "stride": 2}
        )


@pytest.mark.parametrize(
    "x_shape, ph, pw, stride", [((2, 3, 6, 6), 2, 2, 2), ((2, 2, 7, 5), 3, 3, 2)]
)
def test_max_pool_backward_fast_matches_numerical_gradients(backend, rng, x_shape, ph, pw, stride):
    x = distinct_values(rng, x_shape)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    assert_grads_match(
        lambda x: max_pool_forward_fast(x, pool_param)[0],
        [x],
        lambda d: max_pool_backward_fast(d, cache),
        dout,
        names=["x"],
        tol=1e-8,
    )


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(backend):
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 2:] = 1.0  # second window: two equal maxima in its bottom row
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(np.array([[[[2.0, 3.0]]]]), cache)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0] = 2.0  # all-zero window: its first element
    expected[0, 0, 1, 2] = 3.0
    np.testing.assert_array_equal(dx, expected)


def test_max_pool_float32_and_channel_major_input(backend, rng):
    x = rng.standard_normal((3, 4, 8, 6))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_fast(dout, cache)
    x32 = np.ascontiguousarray(x.astype(np.float32).transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    out32, cache32 = max_pool_forward_fast(x32, pool_param)
    dx32 = max_pool_backward_fast(dout.astype(np.float32), cache32)
    assert out32.dtype == dx32.dtype == np.float32
    assert scaled_error(out32, out) < 1e-7 and scaled_error(dx32, dx) < 1e-7


def test_max_pool_backward_keeps_the_channel_major_layout(backend, rng):
    """After a convolution (channel-major output), dx comes back channel-major, equal
    to the naive layer's in float64; a C-ordered input gets a C-ordered dx."""
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    x = np.ascontiguousarray(rng.standard_normal((4, 3, 8, 6)).transpose(1, 0, 2, 3))
    x = x.transpose(1, 0, 2, 3)  # (N, C, H, W), channel-major
    dout = rng.standard_normal((4, 3, 4, 3))
    for x_view in (x, np.ascontiguousarray(x)):
        out, cache = max_pool_forward_fast(x_view, pool_param)
        dx = max_pool_backward_fast(dout, cache)
        _, naive_cache = max_pool_forward_naive(x_view, pool_param)
        np.testing.assert_array_equal(dx, max_pool_backward_naive(dout, naive_cache))
        channel_major = x_view is x and fast_layers.BACKEND == "cython"
        assert dx.transpose(1, 0, 2, 3).flags.c_contiguous == channel_major
        assert dx.flags.c_contiguous != channel_major


def test_max_pool_backends_give_identical_results(rng):
    if not HAVE_CYTHON:
        pytest.skip("extension not built")
    x = rng.standard_normal((4, 6, 12, 12))
    for pool_param in (
        {"pool_height": 2, "pool_width": 2, "stride": 2},
        {"pool_height": 3, "pool_width": 3, "stride": 3},
    ):
        results = {}
        for name in ("cython", "numpy"):
            with use_backend(name):
                out, cache = max_pool_forward_fast(x, pool_param)
                dout = np.linspace(-1, 1, out.size).reshape(out.shape)
                results[name] = (out, max_pool_backward_fast(dout, cache))
        for a, b in zip(results["cython"], results["numpy"]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "x_shape, pool_param, error, message",
    [
        ((1, 1, 8, 8), {"pool_height": 3, "pool_width": 3, "stride": 2}, ValueError, "tile"),
        ((1, 1, 4, 4), {"pool_height": 5, "pool_width": 2, "stride": 1}, ValueError, "exceeds"),
        ((1, 1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 0}, ValueError, "positive"),
        ((1, 1, 4, 4), {"pool_height": 2, "pool_width": 2}, KeyError, "missing"),
        ((1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}, ValueError, "4 dimensions"),
    ],
)
def test_max_pool_rejects_bad_parameters(x_shape, pool_param, error, message):
    for forward in (max_pool_forward_fast, max_pool_forward_im2col):
        with pytest.raises(error, match=message):
            forward(np.zeros(x_shape), pool_param)


def test_max_pool_backward_rejects_wrong_dout(backend):
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    _, cache = max_pool_forward_fast(np.zeros((1, 2, 4, 4)), pool_param)
    with pytest.raises(ValueError, match="dout has shape"):
        max_pool_backward_fast(np.zeros((1, 2, 3, 3)), cache)


# -------------------------------------------------------------------- backends


def test_use_backend_rejects_unknown_names_and_restores_the_backend():
    before = fast_layers.BACKEND
    with pytest.raises(ValueError, match="'cython' or 'numpy'"):
        with use_backend("fortran"):
            pass
    with use_backend("numpy"):
        assert fast_layers.BACKEND == "numpy"
    assert fast_layers.BACKEND == before


def _run_python(code, **env):
    """Run ``code`` in a fresh interpreter from the repository root; return its stdout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environ = {k: v for k, v in os.environ.items() if k != "CS231N_NUMPY_FALLBACK"}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


FALLBACK_PROBE = """
    import warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        {setup}
        from cs231n import fast_layers
        x = np.ones((1, 1, 4, 4))
        for _ in range(3):
            fast_layers.conv_forward_fast(x, np.ones((1, 1, 3, 3)), np.zeros(1),
                                          {{"stride": 1, "pad": 1}})
            fast_layers.max_pool_forward_fast(x, {{"pool_height": 2, "pool_width": 2,
                                                   "stride": 2}})
    ours = [str(w.message) for w in caught if "cs231n.fast_layers" in str(w.message)]
    print(fast_layers.BACKEND, len(ours), ours[0] if ours else "")
"""


def test_env_variable_forces_the_numpy_fallback_with_one_warning():
    backend, count, message = _run_python(
        FALLBACK_PROBE.format(setup="pass"), CS231N_NUMPY_FALLBACK="1"
    ).split(" ", 2)
    assert (backend, count) == ("numpy", "1")
    assert "CS231N_NUMPY_FALLBACK" in message


def test_missing_extension_falls_back_to_numpy_with_one_warning():
    block = "import sys; sys.modules['cs231n.im2col_cython'] = None  # import raises ImportError"
    backend, count, message = _run_python(FALLBACK_PROBE.format(setup=block)).split(" ", 2)
    assert (backend, count) == ("numpy", "1")
    assert "not built" in message


def test_default_backend_is_compiled_when_built():
    if not HAVE_CYTHON:
        pytest.skip("extension not built")
    backend, count, _ = (_run_python(FALLBACK_PROBE.format(setup="pass")) + " ").split(" ", 2)
    assert (backend, count) == ("cython", "0")


@pytest.mark.skipif(not HAVE_CYTHON, reason="extension not built")
def test_an_extension_built_from_older_source_is_not_used(monkeypatch):
    from cs231n import im2col_cython

    monkeypatch.setattr(im2col_cython, "KERNELS_VERSION", fast_layers._KERNELS_VERSION - 1)
    kernels, reason = fast_layers._load_compiled()
    assert kernels is None and "out of date" in reason
