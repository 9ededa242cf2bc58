"""cs231n/image_utils.py: reading images from files and URLs, failing softly offline."""

import matplotlib.image
import numpy as np
import pytest

from cs231n.image_utils import image_from_url, load_image


@pytest.fixture
def png(tmp_path):
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[:, :3] = (255, 0, 0)
    path = tmp_path / "red_left.png"
    matplotlib.image.imsave(path, pixels)
    return path, pixels


def test_load_image(png):
    path, pixels = png
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == (4, 6, 3)
    np.testing.assert_array_equal(img, pixels)
    small = load_image(path, size=2)  # shorter side 4 -> 2
    assert small.shape == (2, 3, 3)
    np.testing.assert_array_equal(small[:, 0], [(255, 0, 0)] * 2)


def test_image_from_url_reads_and_fails_softly(png, tmp_path):
    path, pixels = png
    np.testing.assert_array_equal(image_from_url(path.as_uri()), pixels)
    with pytest.warns(UserWarning, match="could not get"):
        assert image_from_url((tmp_path / "missing.jpg").as_uri()) is None
    with pytest.warns(UserWarning, match="could not get"):
        assert image_from_url("http://127.0.0.1:9/COCO_val2014_000000000042.jpg", timeout=2) is None
