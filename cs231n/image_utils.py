"""Reading images from files and URLs, for showing captions under their images.

Both functions return a uint8 array of shape (H, W, 3) (or None when the image
cannot be had), ready for ``plt.imshow``.
"""

import io
import urllib.error
import urllib.request
import warnings

import numpy as np


def _to_rgb_uint8(img):
    """Any image array matplotlib reads -> uint8 (H, W, 3)."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)  # matplotlib gives floats
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    return img[..., :3]


def load_image(filename, size=None):
    """Read an image file (PNG; JPEG too when Pillow is installed).

    Parameters
    ----------
    filename : path of the image
    size : int or None, if given, resize (nearest neighbour) so the shorter side is size

    Returns
    -------
    img : uint8 ndarray of shape (H, W, 3)
    """
    import matplotlib.image

    img = _to_rgb_uint8(matplotlib.image.imread(filename))
    if size is not None:
        H, W = img.shape[:2]
        scale = size / min(H, W)
        rows = (np.arange(int(round(H * scale))) / scale).astype(int)
        cols = (np.arange(int(round(W * scale))) / scale).astype(int)
        img = img[rows][:, cols]
    return img


def image_from_url(url, timeout=5.0):
    """Download an image; return None (with a warning) when that is not possible.

    Offline, or when the URL is gone (many COCO URLs are), you get None rather than
    an exception, so a notebook can go on showing the captions without images.
    """
    import matplotlib.image

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            raw = response.read()
        fmt = url.rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else None
        return _to_rgb_uint8(matplotlib.image.imread(io.BytesIO(raw), format=fmt))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        warnings.warn(f"image_from_url: could not get {url} ({exc}).", stacklevel=2)
        return None
