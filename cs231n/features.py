"""Hand-designed image features: histograms of oriented gradients and of colour.

Instead of feeding raw pixels to a classifier, one can describe each image by a
few features designed by hand and train on those:

- ``hog_feature``: a histogram of oriented gradients (HOG) -- the texture and shape
  of the image, ignoring colour;
- ``color_histogram_hsv``: a histogram of the hue channel -- the colours, ignoring
  where they are.

``extract_features`` applies a list of feature functions to a batch of images and
stacks their outputs side by side. Each feature function takes one image (H, W, C)
and returns a 1-D vector; the functions of this module also have batch versions
(``hog_features``, ``color_histograms_hsv``) that ``extract_features`` uses
automatically, so thousands of images take seconds.
"""

import functools

import matplotlib.colors
import numpy as np
from tqdm import tqdm

# ITU-R BT.601 luma weights: how bright red, green and blue look to the eye.
_LUMA = np.array([0.299, 0.587, 0.114])


def extract_features(imgs, feature_fns, verbose=False, batch_size=1000):
    """Compute the features of every image and concatenate them.

    Parameters
    ----------
    imgs : ndarray of shape (N, H, W, C), N images (channels last)
    feature_fns : list of k callables; the ith takes one image of shape (H, W, C)
        and returns a 1-D array of length F_i. ``hog_feature`` and
        ``color_histogram_hsv`` (also as ``functools.partial(color_histogram_hsv,
        nbin=...)``) are computed on whole batches at once.
    verbose : bool, show a progress bar
    batch_size : int, number of images processed at once by the batch versions

    Returns
    -------
    features : ndarray of shape (N, F_1 + ... + F_k); row i holds the features of
        image i, those of each function side by side, in the order of feature_fns
    """
    if not isinstance(imgs, np.ndarray) or imgs.ndim != 4:
        shape = getattr(imgs, "shape", type(imgs).__name__)
        raise ValueError(f"extract_features: imgs must be of shape (N, H, W, C), got {shape}.")
    if imgs.shape[1] in (1, 3) and imgs.shape[3] not in (1, 3):
        raise ValueError(
            f"extract_features: imgs of shape {imgs.shape} look channels-first; pass them "
            "channels-last, (N, H, W, C), e.g. imgs.transpose(0, 2, 3, 1)."
        )
    num_images = imgs.shape[0]
    if num_images == 0:
        raise ValueError("extract_features: imgs holds no images.")

    # Run each function on the first image to learn the size of its features.
    dims = []
    for fn in feature_fns:
        feats = np.asarray(fn(imgs[0]))
        if feats.ndim != 1:
            raise ValueError(
                f"extract_features: feature function {fn!r} must return a 1-D array, "
                f"got shape {feats.shape}."
            )
        dims.append(feats.size)
    ends = np.cumsum(dims)
    starts = ends - np.array(dims, dtype=int)

    features = np.zeros((num_images, int(sum(dims))))
    with tqdm(total=num_images, desc="features", unit="img", disable=not verbose) as bar:
        for lo in range(0, num_images, batch_size):
            chunk = imgs[lo : lo + batch_size]  # (B, H, W, C)
            hi = lo + chunk.shape[0]
            for fn, start, end in zip(feature_fns, starts, ends):
                batched = _batch_version(fn)
                if batched is not None:
                    features[lo:hi, start:end] = batched(chunk)
                else:
                    for i, img in enumerate(chunk):
                        features[lo + i, start:end] = fn(img)
            bar.update(chunk.shape[0])
    return features


def _batch_version(fn):
    """The batch version of a feature function of this module, or None."""
    batch_versions = {hog_feature: hog_features, color_histogram_hsv: color_histograms_hsv}
    if isinstance(fn, functools.partial) and fn.func in batch_versions:
        return functools.partial(batch_versions[fn.func], *fn.args, **fn.keywords)
    return batch_versions.get(fn)


def rgb2gray(rgb):
    """Convert RGB images to grayscale (luma).

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), e.g. one image (H, W, 3) or a batch (N, H, W, 3)

    Returns
    -------
    gray : ndarray of shape (...), e.g. (H, W) or (N, H, W)
    """
    return np.asarray(rgb)[..., :3] @ _LUMA


def hog_feature(im):
    """Histogram of oriented gradients (HOG) of one image.

    Parameters
    ----------
    im : ndarray of shape (H, W, 3) (RGB), (H, W, 1) or (H, W) (grayscale)

    Returns
    -------
    feat : ndarray of shape ((H // 8) * (W // 8) * 9,); see ``hog_features``
    """
    im = np.asarray(im)
    if im.ndim not in (2, 3):
        raise ValueError(f"hog_feature: im must be one image, (H, W, C) or (H, W), got {im.shape}.")
    return hog_features(im[None])[0]


def hog_features(imgs, orientations=9, cell_size=8):
    """Histogram of oriented gradients of each image of a batch.

    A simplified HOG (Dalal and Triggs, 2005): convert to grayscale, take the
    gradient at each pixel by finite differences, and give each gradient an unsigned
    orientation in [0, 180) degrees. Cut the image into cells of cell_size x
    cell_size pixels; in each cell, histogram the orientations into ``orientations``
    bins, each pixel voting with its gradient magnitude, and divide by the number
    of pixels. There is no block normalisation.

    Parameters
    ----------
    imgs : ndarray of shape (N, H, W, 3) (RGB), (N, H, W, 1) or (N, H, W) (grayscale)
    orientations : int, number of orientation bins
    cell_size : int, side of a square cell in pixels; rows and columns that do not
        fill a whole cell are ignored

    Returns
    -------
    feats : ndarray of shape (N, (H // cell_size) * (W // cell_size) * orientations),
        for each image the histogram of each cell, cells in row-major order
    """
    imgs = np.asarray(imgs)
    if imgs.ndim == 4:
        gray = rgb2gray(imgs) if imgs.shape[-1] == 3 else imgs[..., 0].astype(np.float64)
    elif imgs.ndim == 3:
        gray = imgs.astype(np.float64)
    else:
        raise ValueError(f"hog_features: imgs must be (N, H, W, C) or (N, H, W), got {imgs.shape}.")
    N, H, W = gray.shape

    gx = np.zeros_like(gray)  # (N, H, W), horizontal change; 0 in the last column
    gy = np.zeros_like(gray)  # (N, H, W), vertical change; 0 in the last row
    gx[:, :, :-1] = np.diff(gray, axis=2)
    gy[:, :-1, :] = np.diff(gray, axis=1)
    magnitude = np.hypot(gx, gy)
    angle = np.degrees(np.arctan2(gy, gx)) % 180.0  # unsigned orientation, [0, 180)
    bins = np.minimum((angle * (orientations / 180.0)).astype(int), orientations - 1)

    cells_y, cells_x = H // cell_size, W // cell_size
    magnitude = magnitude[:, : cells_y * cell_size, : cells_x * cell_size]
    bins = bins[:, : cells_y * cell_size, : cells_x * cell_size]
    hist = np.zeros((N, cells_y, cells_x, orientations))
    for o in range(orientations):
        votes = np.where(bins == o, magnitude, 0.0)  # (N, H', W'), this bin's votes
        # Average the votes over each cell: split H' into (cells_y, cell_size), same for W'.
        votes = votes.reshape(N, cells_y, cell_size, cells_x, cell_size)
        hist[..., o] = votes.mean(axis=(2, 4))  # (N, cells_y, cells_x)
    return hist.reshape(N, -1)


def color_histogram_hsv(im, nbin=10, xmin=0, xmax=255, normalized=True):
    """Histogram of the hue of one image.

    The image is converted to HSV (hue, saturation, value) and the hue of its
    pixels, scaled to [0, xmax], is counted in nbin equal bins over [xmin, xmax].

    Parameters
    ----------
    im : ndarray of shape (H, W, 3), an RGB image with values in [0, xmax]
    nbin : int, number of histogram bins
    xmin, xmax : float, the range of the bins; xmax is also the largest pixel value
    normalized : bool, divide the counts by their total, so that they sum to 1

    Returns
    -------
    hist : ndarray of shape (nbin,), the hue histogram
    """
    im = np.asarray(im)
    if im.ndim != 3 or im.shape[-1] != 3:
        raise ValueError(f"color_histogram_hsv: im must be an RGB image (H, W, 3), got {im.shape}.")
    return color_histograms_hsv(im[None], nbin, xmin, xmax, normalized)[0]


def color_histograms_hsv(imgs, nbin=10, xmin=0, xmax=255, normalized=True):
    """Hue histogram of each image of a batch, as ``color_histogram_hsv``.

    Parameters
    ----------
    imgs : ndarray of shape (N, H, W, 3), RGB images with values in [0, xmax]
    nbin, xmin, xmax, normalized : as ``color_histogram_hsv``

    Returns
    -------
    hists : ndarray of shape (N, nbin)
    """
    imgs = np.asarray(imgs)
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise ValueError(f"color_histograms_hsv: imgs must be (N, H, W, 3), got {imgs.shape}.")
    if imgs.size and (imgs.min() < 0 or imgs.max() > xmax):
        raise ValueError(
            f"color_histograms_hsv: pixel values must lie in [0, {xmax}] (xmax), got values "
            f"from {imgs.min()} to {imgs.max()}; pass raw images, not mean-subtracted ones."
        )
    N = imgs.shape[0]
    hue = matplotlib.colors.rgb_to_hsv(imgs / xmax)[..., 0] * xmax  # (N, H, W)
    edges = np.linspace(xmin, xmax, nbin + 1)
    # Bin i holds edges[i] <= hue < edges[i + 1]; the last bin also holds hue == xmax.
    idx = np.searchsorted(edges, hue, side="right").reshape(N, -1) - 1  # (N, H*W)
    idx[hue.reshape(N, -1) == edges[-1]] = nbin - 1
    inside = (idx >= 0) & (idx < nbin)
    # Count each image's bins at once: image n, bin i -> slot n * nbin + i.
    slots = (np.arange(N)[:, None] * nbin + idx)[inside]
    counts = np.bincount(slots, minlength=N * nbin).reshape(N, nbin).astype(np.float64)
    if normalized:
        totals = counts.sum(axis=1, keepdims=True)
        counts /= np.maximum(totals, 1)  # an image with no pixel in range stays all zero
    return counts
