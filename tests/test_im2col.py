"""The im2col / col2im / pooling kernels: the numpy twin and the compiled extension.

Both are checked against a loop that follows the documented column layout, col2im
is checked to be the adjoint of im2col, and the two backends must agree bit for bit
on inputs of any memory layout, in float32 and float64.
"""

import numpy as np
import pytest

from cs231n import im2col as numpy_kernels
from cs231n.fast_layers import _load_compiled

compiled_kernels = _load_compiled()[0]


@pytest.fixture(autouse=True, params=[1, 0], ids=["1 thread", "all threads"])
def kernel_threads(request):
    """Every kernel test runs on one thread (the default) and on a team of threads."""
    if compiled_kernels is None:
        yield
        return
    saved = compiled_kernels.get_thread_cap()
    compiled_kernels.set_thread_cap(request.param)
    try:
        yield
    finally:
        compiled_kernels.set_thread_cap(saved)


KERNELS = [
    pytest.param(
        compiled_kernels,
        id="cython",
        marks=pytest.mark.skipif(compiled_kernels is None, reason="extension not built"),
    ),
    pytest.param(numpy_kernels, id="numpy"),
]

GEOMETRIES = [
    # (x_shape, HH, WW, pad, stride)
    ((2, 3, 7, 5), 3, 3, 1, 2),
    ((3, 2, 8, 8), 3, 2, 0, 1),
    ((2, 3, 5, 6), 7, 7, 3, 1),
    ((2, 2, 9, 9), 3, 3, 2, 3),
    ((2, 2, 3, 3), 2, 2, 4, 1),  # more padding than input
    ((5, 6, 20, 20), 3, 3, 1, 1),  # large enough for several threads
]


def layouts(x):
    """The same values in C order, channel-major order and with a reversed last axis."""
    channel_major = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    reversed_w = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    return [x, channel_major, reversed_w]


def im2col_loop(x, HH, WW, pad, stride):
    """The documented layout, one element at a time."""
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    cols = np.zeros((C * HH * WW, N * Ho * Wo), dtype=x.dtype)
    for c in range(C):
        for i in range(HH):
            for j in range(WW):
                for n in range(N):
                    for ho in range(Ho):
                        for wo in range(Wo):
                            h, w = ho * stride - pad + i, wo * stride - pad + j
                            if 0 <= h < H and 0 <= w < W:
                                row, col = (c * HH + i) * WW + j, (n * Ho + ho) * Wo + wo
                                cols[row, col] = x[n, c, h, w]
    return cols


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", GEOMETRIES[:5])
def test_im2col_follows_the_documented_layout(rng, kernels, x_shape, HH, WW, pad, stride):
    x = rng.standard_normal(x_shape)
    expected = im2col_loop(x, HH, WW, pad, stride)
    cols = kernels.im2col(x, HH, WW, pad, stride, True)
    np.testing.assert_array_equal(cols[:-1], expected)
    np.testing.assert_array_equal(cols[-1], 1.0)
    np.testing.assert_array_equal(kernels.im2col(x, HH, WW, pad, stride), expected)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", GEOMETRIES)
def test_col2im_is_the_adjoint_of_im2col(rng, kernels, x_shape, HH, WW, pad, stride):
    """<im2col(x), c> == <x, col2im(c)> for every x and c."""
    x = rng.standard_normal(x_shape)
    cols = kernels.im2col(x, HH, WW, pad, stride)
    c = rng.standard_normal(cols.shape)
    dx = kernels.col2im(c, *x_shape, HH, WW, pad, stride)
    assert dx.shape == x_shape
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, dx), rtol=1e-12)


@pytest.mark.skipif(compiled_kernels is None, reason="extension not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", GEOMETRIES)
def test_conv_kernels_agree_bit_for_bit(rng, dtype, x_shape, HH, WW, pad, stride):
    x = rng.standard_normal(x_shape).astype(dtype)
    expected = numpy_kernels.im2col(x, HH, WW, pad, stride, True)
    for x_view in layouts(x):
        cols = compiled_kernels.im2col(x_view, HH, WW, pad, stride, True)
        assert cols.dtype == dtype
        np.testing.assert_array_equal(cols, expected)
    c = rng.standard_normal(expected.shape).astype(dtype)
    dx = compiled_kernels.col2im(c, *x_shape, HH, WW, pad, stride)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, numpy_kernels.col2im(c, *x_shape, HH, WW, pad, stride))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_first(rng, kernels, dtype):
    x = rng.standard_normal((5, 4, 6, 7)).astype(dtype)
    expected = x.transpose(1, 0, 2, 3).reshape(4, -1)
    for x_view in layouts(x):
        np.testing.assert_array_equal(kernels.channels_first(x_view), expected)
    buf = np.empty((4, 500), dtype=dtype)
    rows = kernels.channels_first(x, out=buf[:, : 5 * 6 * 7])
    np.testing.assert_array_equal(buf[:, : 5 * 6 * 7], expected)
    assert rows.base is buf or rows.base is buf.base


POOLS = [
    ((2, 3, 8, 8), 2, 2, 2),
    ((2, 3, 7, 9), 3, 3, 2),
    ((2, 2, 8, 8), 2, 2, 3),
    ((1, 2, 5, 7), 1, 3, 1),
    ((4, 8, 32, 32), 2, 2, 2),  # several threads
    ((1, 1, 17, 17), 17, 17, 1),  # int32 positions
]


@pytest.mark.skipif(compiled_kernels is None, reason="extension not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, ph, pw, stride", POOLS)
def test_pool_kernels_agree_bit_for_bit(rng, dtype, x_shape, ph, pw, stride):
    x = rng.standard_normal(x_shape).astype(dtype)
    N, C, H, W = x_shape
    out_shape = (N, C, (H - ph) // stride + 1, (W - pw) // stride + 1)
    index_type = np.uint8 if ph * pw <= 256 else np.int32
    expected_argmax = np.empty(out_shape, dtype=index_type)
    expected = numpy_kernels.max_pool_forward(x, ph, pw, stride, expected_argmax)
    for x_view in layouts(x):
        argmax = np.empty(out_shape, dtype=index_type)
        out = compiled_kernels.max_pool_forward(x_view, ph, pw, stride, argmax)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(argmax, expected_argmax)
    dout = rng.standard_normal(out_shape).astype(dtype)
    expected_dx = numpy_kernels.max_pool_backward(dout, argmax, H, W, ph, pw, stride)
    for d in (dout, np.asfortranarray(dout)):
        dx = compiled_kernels.max_pool_backward(d, argmax, H, W, ph, pw, stride)
        np.testing.assert_array_equal(dx, expected_dx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("pool, stride", [(2, 2), (3, 1)])
def test_pool_kernel_propagates_nan_from_the_first_nan(kernels, dtype, pool, stride):
    x = np.zeros((1, 1, 3, 6), dtype=dtype)
    x[0, 0, 1, 1] = np.nan  # in the first window of each geometry
    x[0, 0, 1, 2] = np.nan
    x[0, 0, 0, 5] = 5.0
    N, C, H, W = x.shape
    argmax = np.empty((1, 1, (H - pool) // stride + 1, (W - pool) // stride + 1), np.uint8)
    out = kernels.max_pool_forward(x, pool, pool, stride, argmax)
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, -1] == 5.0
    assert argmax[0, 0, 0, 0] == pool + 1  # the first NaN, at (1, 1) in the window


@pytest.mark.skipif(compiled_kernels is None, reason="extension not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_2x2_kernel_agrees_on_ties_and_nans(rng, dtype):
    """The vectorised 2x2 path (several windows a step, then the last ones alone):
    ties go to the first maximum, a NaN anywhere wins, the first NaN is the position."""
    x = rng.integers(-2, 3, size=(2, 3, 6, 22)).astype(dtype)  # many ties; Wo = 11
    x[rng.random(x.shape) < 0.05] = np.nan
    x[0, 0, :2, :8] = np.nan  # windows made only of NaNs
    argmax, expected_argmax = (np.empty((2, 3, 3, 11), np.uint8) for _ in range(2))
    expected = numpy_kernels.max_pool_forward(x, 2, 2, 2, expected_argmax)
    for x_view in layouts(x):
        out = compiled_kernels.max_pool_forward(x_view, 2, 2, 2, argmax)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(argmax, expected_argmax)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_backward_writes_into_out_of_any_plane_order(rng, kernels, dtype):
    x = rng.standard_normal((3, 4, 8, 8)).astype(dtype)
    argmax = np.empty((3, 4, 4, 4), np.uint8)
    kernels.max_pool_forward(x, 2, 2, 2, argmax)
    dout = rng.standard_normal((3, 4, 4, 4)).astype(dtype)
    expected = numpy_kernels.max_pool_backward(dout, argmax, 8, 8, 2, 2, 2)
    out = np.full((4, 3, 8, 8), np.nan, dtype=dtype).transpose(1, 0, 2, 3)  # channel-major
    dx = kernels.max_pool_backward(dout, argmax, 8, 8, 2, 2, 2, out=out)
    assert dx is out
    np.testing.assert_array_equal(dx, expected)
    with pytest.raises(ValueError, match="contiguous"):
        kernels.max_pool_backward(
            dout, argmax, 8, 8, 2, 2, 2, out=np.zeros((3, 4, 8, 8), dtype)[..., ::-1]
        )


@pytest.mark.parametrize("kernels", KERNELS)
def test_kernels_reject_mismatched_shapes(kernels):
    with pytest.raises(ValueError, match="cols has shape"):
        kernels.col2im(np.zeros((5, 8)), 2, 1, 4, 4, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="argmax must have shape"):
        kernels.max_pool_forward(np.zeros((1, 1, 4, 4)), 2, 2, 2, np.empty((1, 1, 3, 3), np.uint8))
