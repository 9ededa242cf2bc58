"""Image features: HOG and hue histograms on images whose answer is known, batch
versions equal to the one-image versions, and extract_features stacking them."""

import functools

import matplotlib.colors
import numpy as np
import pytest

from cs231n.features import (
    color_histogram_hsv,
    color_histograms_hsv,
    extract_features,
    hog_feature,
    hog_features,
    rgb2gray,
)


@pytest.fixture
def images(rng):
    """Seven random 32x32 RGB images with pixel values in [0, 255]."""
    return rng.integers(0, 256, size=(7, 32, 32, 3)).astype(np.float64)


def test_rgb2gray_uses_luma_weights():
    pixels = np.array([[255.0, 0, 0], [0, 255.0, 0], [0, 0, 255.0], [10.0, 10.0, 10.0]])
    np.testing.assert_allclose(rgb2gray(pixels), [0.299 * 255, 0.587 * 255, 0.114 * 255, 10.0])


def gray_image(gray):
    """An RGB image (H, W, 3) whose three channels equal gray (H, W): its luma is gray."""
    return np.repeat(gray[:, :, None], 3, axis=2)


def test_hog_of_a_vertical_edge():
    """Dark left half, bright right half: one horizontal gradient of 100 per row at column 15.

    Its orientation is 0 degrees (bin 0); it lies in the cells of column 1 (pixels 8..15),
    each of which holds 8 such pixels: 8 * 100 / 64 = 12.5. Everything else is 0.
    """
    gray = np.zeros((32, 32))
    gray[:, 16:] = 100.0
    feat = hog_feature(gray_image(gray)).reshape(4, 4, 9)  # (cell row, cell column, bin)
    expected = np.zeros((4, 4, 9))
    expected[:, 1, 0] = 12.5
    np.testing.assert_allclose(feat, expected, atol=1e-12)


def test_hog_of_a_horizontal_edge():
    """Bright top, dark bottom: a vertical gradient, orientation 90 degrees, bin 4 (80..100)."""
    gray = np.zeros((32, 32))
    gray[:8, :] = 40.0
    feat = hog_feature(gray_image(gray)).reshape(4, 4, 9)
    expected = np.zeros((4, 4, 9))
    expected[0, :, 4] = 8 * 40.0 / 64  # row 7 holds the edge: 8 pixels per cell of row 0
    np.testing.assert_allclose(feat, expected, atol=1e-12)


def test_hog_orientation_is_unsigned_and_binned_by_20_degrees():
    """A ramp along the diagonal: every gradient at 45 degrees (bin 2), its opposite too."""
    r, c = np.mgrid[:16, :16].astype(np.float64)
    for ramp in (r + c, -(r + c)):  # 45 and 225 degrees fall in the same unsigned bin
        feat = hog_features(ramp[None], cell_size=8).reshape(2, 2, 9)
        assert np.all(feat[..., [0, 1, 3, 4, 5, 6, 7, 8]][0, 0] == 0)
        assert feat[0, 0, 2] > 0


def test_hog_batch_equals_one_image_at_a_time(images):
    feats = hog_features(images)
    assert feats.shape == (7, 4 * 4 * 9)
    for im, row in zip(images, feats):
        np.testing.assert_array_equal(hog_feature(im), row)
    assert np.all(feats >= 0)
    # grayscale inputs, (N, H, W) and (N, H, W, 1), give the features of their luma
    gray = rgb2gray(images)
    np.testing.assert_allclose(hog_features(gray), feats, rtol=1e-12)
    np.testing.assert_allclose(hog_features(gray[..., None]), feats, rtol=1e-12)


def test_hog_ignores_partial_cells():
    assert hog_feature(np.zeros((20, 27, 3))).shape == (2 * 3 * 9,)


def test_color_histogram_matches_numpy_histogram_of_the_hue(images):
    bins = np.linspace(0, 255, 11)
    for im in images:
        hue = matplotlib.colors.rgb_to_hsv(im / 255)[..., 0] * 255
        counts, _ = np.histogram(hue, bins=bins)
        np.testing.assert_allclose(color_histogram_hsv(im), counts / counts.sum(), rtol=1e-12)
        raw = color_histogram_hsv(im, normalized=False)
        np.testing.assert_array_equal(raw, counts)
        assert raw.sum() == 32 * 32


def test_color_histogram_of_pure_colours():
    red = np.zeros((4, 4, 3))
    red[..., 0] = 200.0
    blue = np.zeros((4, 4, 3))
    blue[..., 2] = 255.0
    assert color_histogram_hsv(red).tolist() == [1.0] + [0.0] * 9  # hue 0
    # hue 2/3 -> 170 on the 0..255 scale -> bin 6 of width 25.5
    assert np.argmax(color_histogram_hsv(blue)) == 6
    assert color_histogram_hsv(blue, nbin=3).tolist() == [0.0, 0.0, 1.0]


def test_color_histogram_batch_equals_one_image_at_a_time(images):
    hists = color_histograms_hsv(images, nbin=7)
    assert hists.shape == (7, 7)
    for im, row in zip(images, hists):
        np.testing.assert_array_equal(color_histogram_hsv(im, nbin=7), row)


def test_color_histogram_rejects_out_of_range_pixels(images):
    with pytest.raises(ValueError, match=r"pixel values must lie in \[0, 255\].*mean-subtracted"):
        color_histogram_hsv(images[0] - 128)
    with pytest.raises(ValueError, match=r"must be an RGB image \(H, W, 3\)"):
        color_histogram_hsv(images[0, :, :, 0])


def test_extract_features_stacks_every_function(images):
    fns = [
        hog_feature,
        functools.partial(color_histogram_hsv, nbin=5),
        lambda im: np.array([im.mean(), im.max()]),  # no batch version: one image at a time
    ]
    feats = extract_features(images, fns, batch_size=3)  # 7 = 3 + 3 + 1 images
    assert feats.shape == (7, 144 + 5 + 2)
    for im, row in zip(images, feats):
        expected = np.concatenate([hog_feature(im), color_histogram_hsv(im, nbin=5), fns[2](im)])
        np.testing.assert_allclose(row, expected, rtol=1e-12)


def test_extract_features_progress_bar(images, capsys):
    extract_features(images, [hog_feature], verbose=True)
    assert "7/7" in capsys.readouterr().err
    extract_features(images, [hog_feature])
    assert capsys.readouterr().err == ""


def test_extract_features_rejects_bad_input(images):
    with pytest.raises(ValueError, match=r"look channels-first.*transpose\(0, 2, 3, 1\)"):
        extract_features(images.transpose(0, 3, 1, 2), [hog_feature])
    with pytest.raises(ValueError, match=r"must be of shape \(N, H, W, C\), got \(32, 32, 3\)"):
        extract_features(images[0], [hog_feature])
    with pytest.raises(ValueError, match="must return a 1-D array, got shape"):
        extract_features(images, [lambda im: np.zeros((2, 2))])
