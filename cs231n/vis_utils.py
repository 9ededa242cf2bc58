"""Pictures of data and of what models learn: image grids and sample plots.

- ``visualize_grid``, ``vis_grid``, ``vis_nn``: tile many images (or filters,
  or weights reshaped as images) into one array that ``plt.imshow`` can show.
- ``plot_class_samples``: a few random training images of every class.
- ``show_weight_templates``: the weights of a linear classifier as one image per
  class, the "template" each class score matches the input against.

Plotting functions return the matplotlib Figure and never call ``plt.show()``;
in a notebook the figure appears at the end of the cell.
"""

from math import ceil, sqrt

import matplotlib.pyplot as plt
import numpy as np

from cs231n._random import generator


def _rescale(img, ubound=1.0):
    """Stretch the values of img linearly to [0, ubound]; a constant image becomes 0."""
    low, high = np.min(img), np.max(img)
    if high == low:
        return np.zeros(img.shape)
    return ubound * (img - low) / (high - low)


def _check_images(func, Xs):
    if not isinstance(Xs, np.ndarray) or Xs.ndim != 4:
        shape = getattr(Xs, "shape", type(Xs).__name__)
        raise ValueError(f"{func}: Xs must be an array of images (N, H, W, C), got {shape}.")


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile N images into a roughly square grid, each rescaled to [0, ubound].

    Parameters
    ----------
    Xs : ndarray of shape (N, H, W, C), the images (e.g. first-layer filters)
    ubound : float, each image is stretched to the range [0, ubound]
    padding : int, blank pixels between neighbouring images

    Returns
    -------
    grid : ndarray of shape (G * H + (G - 1) * padding, G * W + (G - 1) * padding, C),
        G = ceil(sqrt(N)) images per side; unused cells stay 0
    """
    _check_images("visualize_grid", Xs)
    N, H, W, C = Xs.shape
    grid_size = int(ceil(sqrt(N)))
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, C))
    for n in range(N):
        row, col = divmod(n, grid_size)
        y0 = row * (H + padding)  # top-left corner of the nth cell
        x0 = col * (W + padding)
        grid[y0 : y0 + H, x0 : x0 + W] = _rescale(Xs[n], ubound)
    return grid


def vis_grid(Xs):
    """Tile N images into a square grid with 1-pixel borders; rescale all together to [0, 1].

    Unlike ``visualize_grid``, the images share one scale, so their brightness
    can be compared.

    Parameters
    ----------
    Xs : ndarray of shape (N, H, W, C)

    Returns
    -------
    grid : ndarray of shape (A * (H + 1), A * (W + 1), C), A = ceil(sqrt(N))
    """
    _check_images("vis_grid", Xs)
    N, H, W, C = Xs.shape
    A = int(ceil(sqrt(N)))
    grid = np.full((A * (H + 1), A * (W + 1), C), np.min(Xs), dtype=np.float64)
    for n in range(N):
        row, col = divmod(n, A)
        y0, x0 = row * (H + 1), col * (W + 1)
        grid[y0 : y0 + H, x0 : x0 + W] = Xs[n]
    return _rescale(grid)


def vis_nn(rows):
    """Lay out a table of images, e.g. each query image followed by its nearest neighbours.

    Parameters
    ----------
    rows : list of N lists of D images, each an ndarray of shape (H, W, C)

    Returns
    -------
    grid : ndarray of shape (N * (H + 1), D * (W + 1), C), rescaled to [0, 1]
    """
    N, D = len(rows), len(rows[0])
    H, W, C = np.shape(rows[0][0])
    grid = np.ones((N * (H + 1), D * (W + 1), C))
    for r, row in enumerate(rows):
        if len(row) != D:
            raise ValueError(f"vis_nn: every row must hold {D} images, row {r} holds {len(row)}.")
        for c, img in enumerate(row):
            y0, x0 = r * (H + 1), c * (W + 1)
            grid[y0 : y0 + H, x0 : x0 + W] = img
    return _rescale(grid)


def _displayable(img):
    """An image imshow can draw: uint8 if its values lie in [0, 255], else rescaled to [0, 1]."""
    if np.min(img) >= 0 and np.max(img) <= 255 and np.max(img) > 1:
        return img.astype(np.uint8)
    return _rescale(img)


def plot_class_samples(X, y, class_names, samples_per_class=7, seed=None):
    """A grid of random example images: one column per class, samples_per_class rows.

    Parameters
    ----------
    X : ndarray of shape (N, H, W, C), images, channels last
    y : ndarray of shape (N,), integer labels in [0, len(class_names))
    class_names : list of str, the name of each class (column titles)
    samples_per_class : int, number of images shown for each class
    seed : int or None, seeds the choice of images; None uses numpy's global state

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    _check_images("plot_class_samples", X)
    if len(y) != X.shape[0]:
        raise ValueError(f"plot_class_samples: y has {len(y)} labels for {X.shape[0]} images.")
    rng = generator(seed)
    num_classes = len(class_names)
    fig, axes = plt.subplots(
        samples_per_class,
        num_classes,
        figsize=(1.2 * num_classes, 1.2 * samples_per_class),
        squeeze=False,
    )
    for c, name in enumerate(class_names):
        idxs = np.flatnonzero(y == c)
        chosen = rng.choice(idxs, min(samples_per_class, len(idxs)), replace=False)
        for r in range(samples_per_class):
            ax = axes[r, c]
            ax.axis("off")
            if r < len(chosen):
                ax.imshow(_displayable(X[chosen[r]]))
        axes[0, c].set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def show_weight_templates(W, class_names, image_shape=(32, 32, 3)):
    """Show each class's column of a linear classifier's weights as an image.

    All templates share one colour scale, so their contrast can be compared.

    Parameters
    ----------
    W : ndarray of shape (D, C), weights of a linear classifier on flattened images;
        D = prod(image_shape), or one more if the last row is a bias (bias trick)
    class_names : list of C str, the title of each template
    image_shape : tuple, the shape each column is reshaped to: (H, W, 3) if the
        images were flattened channels last, (3, H, W) if channels first

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    W = np.asarray(W)
    size = int(np.prod(image_shape))
    if W.ndim != 2 or W.shape[0] not in (size, size + 1) or W.shape[1] != len(class_names):
        raise ValueError(
            f"show_weight_templates: W must have shape ({size}, {len(class_names)}) "
            f"(or {size + 1} rows with a bias row) for images of shape {image_shape} and "
            f"{len(class_names)} classes, got {W.shape}."
        )
    w = W[:size]  # strip out the bias row, if any
    templates = w.T.reshape(len(class_names), *image_shape)  # (C, *image_shape)
    if image_shape[0] == 3 and image_shape[-1] != 3:
        templates = templates.transpose(0, 2, 3, 1)  # channels first -> channels last
    templates = _rescale(templates)  # one scale for all classes

    cols = min(5, len(class_names))
    rows = int(ceil(len(class_names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for c, name in enumerate(class_names):
        ax = axes.ravel()[c]
        ax.imshow(templates[c])
        ax.set_title(name)
    fig.tight_layout()
    return fig
