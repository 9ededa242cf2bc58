"""Network visualization: what a trained CNN looks at, and how to fool it, in numpy.

Everything here uses one ability of the network: the gradient of a class score with
respect to the *input image*, which ``PretrainedCNN`` provides through
``model.forward(images)``, which returns the scores and a cache, and
``model.backward(dscores, cache)``, which returns the gradient with respect to the
images (and the parameters' gradients).

- ``compute_saliency_maps``: how much each pixel matters for the correct class,
  ``max_c |d s_y / d X[c, i, j]|`` (Simonyan et al., 2014).
- ``make_fooling_image``: gradient ascent on a target class score, in small
  normalised steps, until the network predicts the target (Szegedy et al., 2014;
  sign steps as in Goodfellow et al., 2015 and Kurakin et al., 2017).
- ``class_visualization_update_step`` / ``create_class_visualization``: gradient
  ascent from noise on ``s_y(I) - l2_reg * ||I||^2``, with jitter and periodic blur
  as implicit regularisers (Simonyan et al., 2014; Yosinski et al., 2015).
- ``tv_loss`` / ``feature_inversion_update_step`` / ``invert_features``: an image
  whose features at some layer match those of a given image, under a total-variation
  prior (Mahendran and Vedaldi, 2015).

Images are network inputs (preprocessed, see ``PretrainedCNN.preprocess``) of shape
(N, C, H, W); ``model.deprocess`` turns them back into displayable pixels.
"""

import numpy as np
from scipy.ndimage import gaussian_filter

from cs231n._random import generator

__all__ = [
    "compute_saliency_maps",
    "make_fooling_image",
    "class_visualization_update_step",
    "create_class_visualization",
    "jitter",
    "blur_image",
    "tv_loss",
    "feature_inversion_update_step",
    "invert_features",
]


def _check_images(func, X, model):
    if X.ndim != 4 or X.shape[1:] != tuple(model.input_dim):
        shape = ", ".join(map(str, model.input_dim))
        raise ValueError(
            f"{func}: expected preprocessed images of shape (N, {shape}), got {X.shape}."
        )


def _check_single_image(func, X, model):
    _check_images(func, X, model)
    if X.shape[0] != 1:
        raise ValueError(f"{func}: expected a single image of shape (1, C, H, W), got {X.shape}.")


def _check_class(func, y, model):
    if not 0 <= int(y) < model.num_classes:
        raise ValueError(f"{func}: class {y} out of range 0..{model.num_classes - 1}.")


# ------------------------------------------------------------------ saliency maps


def compute_saliency_maps(X, y, model):
    """Saliency maps for images X and their labels y.

    The saliency of pixel (i, j) is the largest absolute gradient of the correct
    class score over the colour channels: ``max_c |d s_y / d X[c, i, j]|``.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W), preprocessed images
    y : ndarray of shape (N,), labels, 0 <= y[i] < num_classes
    model : PretrainedCNN (anything with ``forward`` and ``backward``)

    Returns
    -------
    saliency : ndarray of shape (N, H, W), non-negative
    """
    _check_images("compute_saliency_maps", X, model)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"compute_saliency_maps: y must have shape ({X.shape[0]},), got {y.shape}."
        )
    saliency = None
    # BEGIN SOLUTION a3.netvis.saliency: the saliency map: the largest absolute image gradient over the channels
    N = X.shape[0]
    scores, cache = model.forward(X)  # (N, num_classes)
    dscores = np.zeros_like(scores)
    dscores[np.arange(N), y] = 1.0  # d(sum_i s_{y_i}) / d scores
    dX, _ = model.backward(dscores, cache)  # (N, C, H, W)
    saliency = np.abs(dX).max(axis=1)  # (N, H, W)
    # END SOLUTION a3.netvis.saliency
    return saliency


# ------------------------------------------------------------------ fooling images


def make_fooling_image(
    X, target_y, model, learning_rate=0.01, max_iter=100, norm="linf", return_steps=False
):
    """Change X as little as possible so that the model classifies it as target_y.

    Repeat: if the model predicts target_y, stop; otherwise take a normalised
    gradient ascent step on the target score, ``g = d s_target / d X``:

    - ``norm="linf"``: ``X += learning_rate * sign(g)``, a step that changes every
      input value by exactly ``learning_rate`` (the steepest ascent for a given
      largest change of any pixel: the iterated "fast gradient sign method");
    - ``norm="l2"``: ``X += learning_rate * g / ||g||_2``, a step of L2 length
      ``learning_rate`` (the steepest ascent for a given Euclidean length).

    Parameters
    ----------
    X : ndarray of shape (1, C, H, W), a preprocessed image
    target_y : int, the class the network should be fooled into predicting
    model : PretrainedCNN
    learning_rate : float, the size of each step in preprocessed units (the default,
        0.01, is about half an intensity level for images whose std is ~56 levels)
    max_iter : int, give up after this many steps
    norm : "linf" or "l2", how the step is normalised
    return_steps : bool, also return the number of gradient steps taken

    Returns
    -------
    X_fooling : ndarray of shape (1, C, H, W), classified as target_y unless
        ``max_iter`` steps were not enough
    num_steps : int, only if ``return_steps``
    """
    _check_single_image("make_fooling_image", X, model)
    _check_class("make_fooling_image", target_y, model)
    if norm not in ("linf", "l2"):
        raise ValueError(f'make_fooling_image: norm must be "linf" or "l2", not {norm!r}.')
    X_fooling = np.array(X, dtype=model.dtype)  # a copy: X itself is left untouched
    num_steps = 0  # count the gradient steps you take here
    # BEGIN SOLUTION a3.netvis.fooling: gradient ascent on the target class score until the network is fooled
    while num_steps < max_iter:
        scores, cache = model.forward(X_fooling)  # (1, num_classes)
        if np.argmax(scores[0]) == target_y:
            break
        dscores = np.zeros_like(scores)
        dscores[0, target_y] = 1.0
        dX, _ = model.backward(dscores, cache)  # (1, C, H, W), d s_target / dX
        if norm == "linf":
            X_fooling += learning_rate * np.sign(dX)
        else:
            X_fooling += learning_rate * dX / np.linalg.norm(dX)
        num_steps += 1
    # END SOLUTION a3.netvis.fooling
    if return_steps:
        return X_fooling, num_steps
    return X_fooling


# ------------------------------------------------------------ class visualization


def jitter(X, ox, oy):
    """Shift images X (N, C, H, W) by ox pixels right and oy pixels down, wrapping around."""
    X = np.roll(X, ox, axis=3)
    return np.roll(X, oy, axis=2)


def blur_image(X, sigma=1.0):
    """Gaussian blur of each channel of images X (N, C, H, W); returns a new array."""
    return gaussian_filter(X, sigma=(0, 0, sigma, sigma), mode="nearest")


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    """One gradient ascent step on ``s_y(img) - l2_reg * ||img||^2``, in place.

    The step is normalised: ``img += learning_rate * g / ||g||_2`` with g the gradient
    of the regularised score.

    Parameters
    ----------
    img : ndarray of shape (1, C, H, W), the preprocessed image being generated;
        updated in place
    model : PretrainedCNN
    target_y : int, the class whose score is maximised
    l2_reg : float, strength of the L2 penalty on the image
    learning_rate : float, the L2 length of the step

    Returns
    -------
    img : the same array, updated
    """
    # BEGIN SOLUTION a3.netvis.class_visualization: one regularised gradient ascent step on the target class score
    scores, cache = model.forward(img)  # (1, num_classes)
    dscores = np.zeros_like(scores)
    dscores[0, target_y] = 1.0
    dimg, _ = model.backward(dscores, cache)  # d s_y / d img, (1, C, H, W)
    dimg = dimg - 2 * l2_reg * img  # gradient of the L2 penalty
    img += learning_rate * dimg / np.linalg.norm(dimg)
    # END SOLUTION a3.netvis.class_visualization
    return img


def create_class_visualization(
    target_y,
    model,
    num_iterations=150,
    l2_reg=1e-2,
    learning_rate=1.0,
    max_jitter=2,
    blur_every=10,
    blur_sigma=0.5,
    seed=0,
    snapshot_every=None,
):
    """Generate an image the model finds typical of class target_y.

    Starting from small random noise, each iteration randomly jitters the image,
    takes one ``class_visualization_update_step``, undoes the jitter and clips the
    pixels to the valid range; every ``blur_every`` iterations the image is blurred.

    Parameters
    ----------
    target_y : int, the class to visualize
    model : PretrainedCNN
    num_iterations : int
    l2_reg, learning_rate : passed to ``class_visualization_update_step``
    max_jitter : int, largest random shift in pixels (0 disables jitter)
    blur_every : int, blur every this many iterations (0 disables blur)
    blur_sigma : float, standard deviation of the blur, in pixels
    seed : int, seeds the initial noise and the jitter
    snapshot_every : int or None, if given also return copies of the image every
        this many iterations

    Returns
    -------
    img : ndarray of shape (1, C, H, W), the preprocessed image
    snapshots : list of (iteration, img copy); only if snapshot_every is given
    """
    _check_class("create_class_visualization", target_y, model)
    rng = generator(seed)
    img = (0.1 * rng.standard_normal((1, *model.input_dim))).astype(model.dtype)
    lo, hi = model.image_range()  # each (1, C, 1, 1)
    snapshots = []
    for t in range(num_iterations):
        ox, oy = rng.integers(-max_jitter, max_jitter + 1, size=2) if max_jitter else (0, 0)
        img = jitter(img, ox, oy)
        img = class_visualization_update_step(img, model, target_y, l2_reg, learning_rate)
        img = jitter(img, -ox, -oy)
        img = np.clip(img, lo, hi).astype(model.dtype)  # stay a displayable image
        if blur_every and (t + 1) % blur_every == 0 and t + 1 < num_iterations:
            img = blur_image(img, sigma=blur_sigma)
        if snapshot_every and ((t + 1) % snapshot_every == 0 or t == 0):
            snapshots.append((t + 1, img.copy()))
    if snapshot_every:
        return img, snapshots
    return img


# -------------------------------------------------------------- feature inversion


def tv_loss(img, tv_weight):
    """Total-variation penalty of images and its gradient.

    ``loss = tv_weight * sum over channels and neighbouring pixel pairs of
    (difference)^2``, horizontally and vertically; it is small for smooth images.

    Parameters
    ----------
    img : ndarray of shape (N, C, H, W)
    tv_weight : float

    Returns
    -------
    loss : float
    dimg : ndarray of shape (N, C, H, W)
    """
    loss, dimg = 0.0, np.zeros_like(img)
    # BEGIN SOLUTION a3.netvis.tv_loss: the total variation of the image and its gradient
    dh = img[:, :, 1:, :] - img[:, :, :-1, :]  # (N, C, H-1, W), vertical neighbours
    dw = img[:, :, :, 1:] - img[:, :, :, :-1]  # (N, C, H, W-1), horizontal neighbours
    loss = tv_weight * (float(np.sum(dh * dh)) + float(np.sum(dw * dw)))
    dimg[:, :, 1:, :] += 2 * tv_weight * dh
    dimg[:, :, :-1, :] -= 2 * tv_weight * dh
    dimg[:, :, :, 1:] += 2 * tv_weight * dw
    dimg[:, :, :, :-1] -= 2 * tv_weight * dw
    # END SOLUTION a3.netvis.tv_loss
    return loss, dimg


def feature_inversion_update_step(img, target_feats, layer, model, learning_rate, tv_weight):
    """One gradient descent step on ``||phi(img) - target_feats||^2 + TV(img)``, in place.

    ``phi`` is the network up to and including ``layer``:
    ``model.forward(image, end=layer)`` returns its features (and a cache). The step
    is normalised:
    ``img -= learning_rate * g / ||g||_2``.

    Parameters
    ----------
    img : ndarray of shape (1, C, H, W), updated in place
    target_feats : ndarray, the features to match, shaped like phi(img)
    layer : int or str, the layer whose output is matched
    model : PretrainedCNN
    learning_rate : float, the L2 length of the step
    tv_weight : float, weight of ``tv_loss``

    Returns
    -------
    loss : float, the objective before the step
    """
    loss = 0.0
    # BEGIN SOLUTION a3.netvis.feature_inversion: one normalised descent step towards the target features
    feats, cache = model.forward(img, end=layer)
    diff = feats - target_feats
    feat_loss = float(np.sum(diff * diff))
    dimg, _ = model.backward(2 * diff, cache)  # (1, C, H, W)
    reg_loss, dreg = tv_loss(img, tv_weight)
    loss = feat_loss + reg_loss
    g = dimg + dreg
    img -= learning_rate * g / np.linalg.norm(g)
    # END SOLUTION a3.netvis.feature_inversion
    return loss


def invert_features(
    target_feats,
    layer,
    model,
    num_iterations=200,
    learning_rate=2.0,
    tv_weight=2.0,
    lr_decay=0.98,
    seed=0,
):
    """Reconstruct an image from its features at ``layer`` by regularised descent.

    Parameters
    ----------
    target_feats : ndarray, ``model.forward(image, end=layer)[0]`` for one image
    layer : int or str, a layer of the model
    model : PretrainedCNN
    num_iterations : int
    learning_rate : float, initial step length; multiplied by lr_decay every step
    tv_weight : float, weight of the total-variation prior
    seed : int, seeds the initial noise

    Returns
    -------
    img : ndarray of shape (1, C, H, W), the reconstruction (preprocessed)
    losses : list of float, the objective at each step
    """
    rng = generator(seed)
    img = (0.1 * rng.standard_normal((1, *model.input_dim))).astype(model.dtype)
    lo, hi = model.image_range()
    losses = []
    lr = learning_rate
    for _ in range(num_iterations):
        losses.append(feature_inversion_update_step(img, target_feats, layer, model, lr, tv_weight))
        img = np.clip(img, lo, hi).astype(model.dtype)
        lr *= lr_decay
    return img, losses
