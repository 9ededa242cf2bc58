"""Naive convolution and max pooling.

Forward passes are compared with references written here independently of the
package: a convolution as one ``einsum`` over sliding windows, max pooling as a
max over sliding windows. Backward passes are checked against numerical gradients.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cs231n.gradient_check import rel_error
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from tests.conftest import assert_grads_match


def conv_reference(x, w, b, stride, pad):
    """Cross-correlation of every window of the padded input with every filter."""
    HH, WW = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))  # (N, C, H', W', HH, WW)
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]


def pool_reference(x, ph, pw, stride):
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5))


# ---------------------------------------------------------------- convolution


def test_conv_forward_on_the_course_linspace_inputs():
    """The course's fixed check (x, w, b from np.linspace; stride 2, pad 1)."""
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (2, 3, 2, 2)
    assert rel_error(out, conv_reference(x, w, b, stride=2, pad=1)) < 1e-8


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),  # 'same' convolution
        ((2, 3, 8, 6), (2, 3, 2, 4), 2, 0),  # rectangular input and filters
        ((1, 1, 5, 5), (1, 1, 5, 5), 1, 0),  # filter as large as the input
        ((3, 2, 9, 9), (5, 2, 3, 3), 3, 0),  # stride as large as the filter
    ],
)
def test_conv_forward_matches_the_einsum_reference(rng, x_shape, w_shape, stride, pad):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out, _ = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    ref = conv_reference(x, w, b, stride, pad)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < 1e-10


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [((4, 3, 5, 5), (2, 3, 3, 3), 1, 1), ((2, 2, 7, 5), (3, 2, 3, 3), 2, 1)],
)
def test_conv_backward_matches_numerical_gradients(rng, x_shape, w_shape, stride, pad):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    # Convolution is linear in each input, so a larger step only reduces rounding noise.
    assert_grads_match(
        lambda x, w, b: conv_forward_naive(x, w, b, conv_param)[0],
        [x, w, b],
        lambda d: conv_backward_naive(d, cache),
        dout,
        names=["x", "w", "b"],
        tol=1e-8,
        h=1e-4,
    )


def test_conv_keeps_float32(rng):
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv_backward_naive(np.ones_like(out), cache))


def test_conv_errors_name_the_problem(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w, b = rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="stride 2 does not tile the input height"):
        conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})  # (6 + 2 - 3) = 5 is odd
    with pytest.raises(ValueError, match="x has 3 channels .* the filters have 2"):
        conv_forward_naive(x, rng.standard_normal((4, 2, 3, 3)), b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        conv_forward_naive(x, w, np.zeros(3), {"stride": 1, "pad": 1})
    with pytest.raises(KeyError, match=r"conv_param is missing \['pad'\]"):
        conv_forward_naive(x, w, b, {"stride": 1})
    with pytest.raises(ValueError, match="filter height 9 exceeds"):
        conv_forward_naive(x, rng.standard_normal((4, 3, 9, 9)), b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        conv_forward_naive(x, w, b, {"stride": 0, "pad": 1})
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        conv_forward_naive(x[0], w, b, {"stride": 1, "pad": 1})
    with pytest.raises(TypeError, match="x must hold floating-point numbers"):
        conv_forward_naive(x.astype(np.int64), w, b, {"stride": 1, "pad": 1})


# ---------------------------------------------------------------- max pooling


def test_max_pool_forward_on_the_course_linspace_inputs():
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    out, _ = max_pool_forward_naive(x, {"pool_width": 2, "pool_height": 2, "stride": 2})
    # Non-overlapping 2x2 windows: a reshape exposes each window as two axes.
    ref = x.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))
    assert rel_error(out, ref) < 1e-8


@pytest.mark.parametrize(
    "x_shape, ph, pw, stride",
    [
        ((2, 3, 8, 8), 2, 2, 2),
        ((2, 3, 9, 10), 3, 3, 1),  # overlapping windows
        ((2, 3, 8, 8), 2, 4, 2),
        ((2, 3, 9, 8), 3, 2, 3),
    ],
)
def test_max_pool_forward_matches_the_sliding_window_reference(rng, x_shape, ph, pw, stride):
    x = rng.standard_normal(x_shape)
    out, _ = max_pool_forward_naive(x, {"pool_height": ph, "pool_width": pw, "stride": stride})
    assert np.array_equal(out, pool_reference(x, ph, pw, stride))


@pytest.mark.parametrize("ph, pw, stride", [(2, 2, 2), (3, 3, 1), (2, 3, 1)])
def test_max_pool_backward_matches_numerical_gradients(rng, ph, pw, stride):
    # Distinct values 0.01 apart: no ties, and a step h cannot change which one is the max.
    x = 0.01 * rng.permutation(3 * 2 * 8 * 8).reshape(3, 2, 8, 8).astype(np.float64)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    assert_grads_match(
        lambda x: max_pool_forward_naive(x, pool_param)[0],
        [x],
        lambda d: max_pool_backward_naive(d, cache),
        dout,
        names=["x"],
        tol=1e-8,
    )


def test_max_pool_backward_sends_a_tie_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[1.0, 5.0], [5.0, 5.0]]  # second window: three equal maxima
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.array([[[[2.0, 3.0]]]]), cache)
    expected = np.zeros((1, 1, 2, 4))
    expected[0, 0, 0, 0] = 2.0  # first window is all zeros: its first entry
    expected[0, 0, 0, 3] = 3.0  # first 5 in row-major order
    assert np.array_equal(dx, expected)


def test_max_pool_errors_name_the_problem(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    with pytest.raises(ValueError, match="do not tile the input height"):
        max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match="pool width 6 exceeds the input width 5"):
        max_pool_forward_naive(x, {"pool_height": 1, "pool_width": 6, "stride": 1})
    with pytest.raises(KeyError, match="pool_param is missing"):
        max_pool_forward_naive(x, {"pool_height": 2, "stride": 1})
