"""The embedded COCO-captioning stand-in: a small image-captioning set generated offline.

The real data of assignment 3 is the course's COCO 2014 captioning set (captions of
photographs, with VGG-16 fc7 features of the photographs). Without a network, the
notebooks use this stand-in instead, written in exactly the same on-disk format so
the same loader (``coco_utils.load_coco_data``) reads it:

    coco2014_captions.h5           train_captions (N, 17) int32, train_image_idxs (N,),
                                   val_captions, val_image_idxs
    coco2014_vocab.json            {"idx_to_word": [...], "word_to_idx": {...}}
    train2014_vgg16_fc7.h5         features (N_images, 1024) float32 (name kept for the
    val2014_vgg16_fc7.h5           layout; see "features" below)
    train2014_vgg16_fc7_pca.h5     features (N_images, 512), the PCA of the above
    val2014_vgg16_fc7_pca.h5
    train2014_urls.txt             one line per image: embedded://train2014/<index>
    val2014_urls.txt
    train2014_images.h5            images (N_images, 64, 64, 3) uint8 (only in the
    val2014_images.h5              embedded set: the real one has URLs instead)

**Images.** Each 64x64 image shows two or three objects in a row or a column, on a
3x3 grid of places. An object has a colour (red, green, blue, yellow, purple), a
shape (circle, square, triangle, diamond) and a size (small, large).

**Captions.** Five phrasings per image, 7 to 15 words long, say what the objects are
and where, e.g. "a red circle to the left of a blue square", "the circle on the left
is red and the square on the right is blue", "a small yellow diamond , a large green
triangle and a small red square". Long phrasings mention an object's colour up to 14
words after the caption starts: a model must carry what it saw in the image across
many time steps, which is where an LSTM does better than a vanilla RNN. Words come
from a vocabulary of 29 words plus the special tokens <NULL> (padding, index
0), <START>, <END> and <UNK>, as in the real set.

**Features.** The real set's features are the activations of a CNN trained on
ImageNet. Here they are hand-built features of the image, as in the features
notebook of assignment 1: on an 8x8 grid of 8x8-pixel cells, a histogram of
gradient orientations (9 bins, HOG-like) and a saturation-weighted hue histogram
(7 bins), 64 * 16 = 1024 numbers per image; the "_pca" files hold their projection
on the first 512 principal components of the training images, as for the real set.
All features are scaled by one constant so that the PCA features have unit variance
on average.

**Size.** 20,000 training images (100,000 captions) and 1,000 validation images (5,000
captions), about 140 MB on disk. Generated deterministically (fixed seed) on first use,
in about 15 s of CPU time, into ``data_root()/embedded/coco_captioning`` and placed
atomically.

**How hard it is.** With the settings of the notebooks (hidden size 128, two epochs,
about a minute of training), an LSTM captions 76% of the validation images exactly as
one of their references (BLEU-4 0.93) and a vanilla RNN 29% (BLEU-4 0.70).
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
SEED = 231
IMAGE_SIZE = 64
NUM_TRAIN_IMAGES = 20000
NUM_VAL_IMAGES = 1000
MAX_WORDS = 15  # captions hold <START>, at most 15 words, <END>: T = 17, as the real set
PCA_DIM = 512

COLORS = {
    "red": (0.85, 0.15, 0.15),
    "green": (0.15, 0.70, 0.25),
    "blue": (0.20, 0.35, 0.90),
    "yellow": (0.92, 0.85, 0.15),
    "purple": (0.60, 0.25, 0.75),
}
SHAPES = ("circle", "square", "triangle", "diamond")
SIZES = ("small", "large")
SPECIAL_TOKENS = ["<NULL>", "<START>", "<END>", "<UNK>"]

CAPTION_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
EMBEDDED_ATTR = "cs231n_embedded_version"

# The places objects stand on: centres of a 3x3 grid.
_SLOTS = np.array([1, 3, 5]) * IMAGE_SIZE / 6


# ----------------------------------------------------------------------------------------
# Scenes and their captions
# ----------------------------------------------------------------------------------------


def sample_scene(rng):
    """A random scene: two or three objects in a row or a column of the 3x3 grid.

    Returns
    -------
    scene : dict with "layout" ("row" or "column") and "objects", a list ordered
        left to right (row) or top to bottom (column) of dicts with keys color,
        shape, size ("small"/"large"), r (radius in pixels), cx, cy (centre)
    """
    n = int(rng.integers(2, 4))
    layout = "row" if rng.random() < 0.5 else "column"
    line = _SLOTS[int(rng.integers(3))]
    places = np.sort(rng.choice(3, n, replace=False))
    objects = []
    for k in places:
        size = SIZES[int(rng.integers(2))]
        r = rng.uniform(4.5, 5.5) if size == "small" else rng.uniform(7.5, 9.0)
        along = _SLOTS[k] + rng.uniform(-2, 2)
        across = line + rng.uniform(-2, 2)
        cx, cy = (along, across) if layout == "row" else (across, along)
        color = list(COLORS)[int(rng.integers(len(COLORS)))]
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        objects.append(dict(color=color, shape=shape, size=size, r=r, cx=cx, cy=cy))
    return dict(layout=layout, objects=objects)


def scene_captions(scene):
    """The five reference captions of a scene (strings of space-separated words)."""
    objs = scene["objects"]
    row = scene["layout"] == "row"
    first, last = ("on the left", "on the right") if row else ("at the top", "at the bottom")
    before, after = ("to the left of", "to the right of") if row else ("above", "below")
    order = "from left to right" if row else "from top to bottom"

    def d(o):  # "red circle"
        return f"{o['color']} {o['shape']}"

    def ds(o):  # "small red circle"
        return f"{o['size']} {o['color']} {o['shape']}"

    A, B, Z = objs[0], objs[1], objs[-1]
    if len(objs) == 2:
        captions = [
            f"a {d(A)} {before} a {d(B)}",
            f"a {d(B)} {after} a {d(A)}",
            f"there is a {d(A)} {first} and a {d(B)} {last}",
            f"a {ds(A)} and a {ds(B)} {order}",
        ]
    else:
        C = objs[2]
        short = "left of" if row else "above"
        captions = [
            f"a {d(A)} , a {d(B)} and a {d(C)} {order}",
            f"a {d(B)} between a {d(A)} and a {d(C)}",
            f"a {d(A)} {short} a {d(B)} {short} a {d(C)}",
            f"a {ds(A)} , a {ds(B)} and a {ds(C)}",
        ]
    captions.append(
        f"the {A['shape']} {first} is {A['color']} and the {Z['shape']} {last} is {Z['color']}"
    )
    return captions


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


def _signed_distance(shape, dx, dy, r):
    """Signed distance (pixels, negative inside) from points (dx, dy) to a shape of radius r."""
    if shape == "circle":
        return np.sqrt(dx**2 + dy**2) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * r
    if shape == "diamond":
        return (np.abs(dx) + np.abs(dy) - 1.15 * r) / np.sqrt(2)
    # triangle pointing up: apex at -r, base at 0.8 r
    return np.maximum(dy - 0.8 * r, (np.abs(dx) - 0.62 * (dy + r)) / 1.1766)


def render_scene(scene, rng):
    """Draw a scene: anti-aliased flat shapes on a softly shaded grey background.

    Returns
    -------
    image : uint8 ndarray of shape (64, 64, 3)
    """
    S = IMAGE_SIZE
    grid = np.arange(S, dtype=np.float32) + 0.5
    shade = rng.uniform(0.2, 0.45) + rng.uniform(-0.04, 0.04, 3)  # background colour
    tilt = rng.uniform(-0.08, 0.08) * (grid / S - 0.5)  # a soft vertical gradient
    img = np.empty((S, S, 3), np.float32)
    img[:] = shade[None, None, :] + tilt[:, None, None]
    for o in scene["objects"]:
        r = o["r"]
        x0, x1 = int(max(0, o["cx"] - r - 2)), int(min(S, o["cx"] + r + 2))
        y0, y1 = int(max(0, o["cy"] - r - 2)), int(min(S, o["cy"] + r + 2))
        dx = grid[None, x0:x1] - o["cx"]
        dy = grid[y0:y1, None] - o["cy"]
        alpha = np.clip(0.5 - _signed_distance(o["shape"], dx, dy, r), 0, 1)[..., None]
        color = np.clip(np.array(COLORS[o["color"]]) + rng.uniform(-0.06, 0.06, 3), 0, 1)
        patch = img[y0:y1, x0:x1]
        patch += alpha * (color.astype(np.float32) - patch)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


# ----------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------


def _cell_histograms(values, weights, num_bins, cell, period):
    """Per-cell histograms of ``values``, each pixel voting with its weight.

    A pixel's vote is shared linearly between the two nearest bins (circularly), so a
    small change of a value changes the histogram a little, not by a whole bin.

    Parameters
    ----------
    values : ndarray of shape (n, H, W), in [0, period)
    weights : ndarray of shape (n, H, W), the votes
    num_bins : int, number of bins covering [0, period)
    cell : int, side of the square cells in pixels

    Returns
    -------
    hist : ndarray of shape (n, H / cell, W / cell, num_bins), cell means of the votes
    """
    n, H, W = values.shape
    gh, gw = H // cell, W // cell
    pos = values * (num_bins / period) - 0.5  # bin k is centred at k + 0.5
    lower = np.floor(pos)
    frac = (pos - lower).astype(np.float32)
    lower = lower.astype(np.int64) % num_bins
    upper = (lower + 1) % num_bins
    # Flat index of (image, cell row, cell column) for every pixel.
    rows = np.arange(H) // cell
    cols = np.arange(W) // cell
    cell_index = (np.arange(n)[:, None, None] * gh + rows[None, :, None]) * gw + cols
    base = cell_index * num_bins  # (n, H, W)
    size = n * gh * gw * num_bins
    hist = np.bincount((base + lower).ravel(), (weights * (1 - frac)).ravel(), minlength=size)
    hist += np.bincount((base + upper).ravel(), (weights * frac).ravel(), minlength=size)
    return hist.reshape(n, gh, gw, num_bins) / cell**2


def extract_features(images, cell=8, orientations=9, hues=7, chunk=500):
    """HOG-like orientation histograms and hue histograms on a grid of cells.

    Parameters
    ----------
    images : uint8 ndarray of shape (N, H, W, 3)
    cell : int, cell size in pixels (H and W must be multiples of it)
    orientations : int, number of unsigned gradient-orientation bins
    hues : int, number of hue bins

    Returns
    -------
    features : float32 ndarray of shape (N, (H / cell) * (W / cell) * (orientations + hues))
    """
    N, H, W, _ = images.shape
    out = []
    for start in range(0, N, chunk):
        X = images[start : start + chunk].astype(np.float32) / 255  # (n, H, W, 3)
        n = X.shape[0]
        r, g, b = X[..., 0], X[..., 1], X[..., 2]  # (n, H, W) each
        # Gradients of each colour channel; keep, at every pixel, the channel whose
        # gradient is strongest (as HOG does on colour images): a blue square on a
        # grey background of the same brightness still has strong edges.
        gx = np.zeros((3, n, H, W), np.float32)
        gy = np.zeros((3, n, H, W), np.float32)
        for c, channel in enumerate((r, g, b)):
            gx[c, :, :, 1:-1] = channel[:, :, 2:] - channel[:, :, :-2]
            gy[c, :, 1:-1, :] = channel[:, 2:, :] - channel[:, :-2, :]
        mag2 = gx**2 + gy**2  # (3, n, H, W)
        best = np.where(mag2[0] >= mag2[1], 0, 1)
        best = np.where(mag2[2] > np.maximum(mag2[0], mag2[1]), 2, best)[None]
        gx = np.take_along_axis(gx, best, axis=0)[0]  # (n, H, W)
        gy = np.take_along_axis(gy, best, axis=0)[0]
        magnitude = np.sqrt(gx**2 + gy**2)
        angle = np.arctan2(gy, gx) % np.pi  # unsigned orientation in [0, pi)
        hog = _cell_histograms(angle, magnitude, orientations, cell, np.pi)

        # Hue (angle on the colour wheel), weighted by saturation so grey counts for nothing.
        saturation = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        hue = np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b) % (2 * np.pi)
        col = _cell_histograms(hue, saturation, hues, cell, 2 * np.pi)

        feats = np.concatenate([4 * hog, col], axis=3)  # (n, gh, gw, orientations + hues)
        out.append(feats.reshape(n, -1).astype(np.float32))
    return np.concatenate(out)


def fit_pca(features, dim):
    """Mean and the first ``dim`` principal directions of features (N, F).

    The directions are the eigenvectors of the covariance matrix (F, F) with the
    largest eigenvalues. With fewer examples than features (N < F, small test sets)
    the same directions come from the smaller (N, N) Gram matrix, and directions
    beyond the rank of the data are zero. Each direction's sign is fixed (largest
    entry positive) so that the result does not depend on the linear-algebra library.

    Returns
    -------
    mean : float32 ndarray of shape (F,)
    components : float32 ndarray of shape (F, dim), orthonormal (or zero) columns
    """
    X = features.astype(np.float64)
    mean = X.mean(axis=0)
    X -= mean
    N, F = X.shape
    if N >= F:
        eigvals, eigvecs = np.linalg.eigh(X.T @ X / N)  # ascending
        eigvals, components = eigvals[::-1][:dim], eigvecs[:, ::-1][:, :dim]
    else:
        eigvals, eigvecs = np.linalg.eigh(X @ X.T / N)  # (N, N)
        eigvals, eigvecs = eigvals[::-1][:dim], eigvecs[:, ::-1][:, :dim]
        # If X X^T u = N l u, then v = X^T u / sqrt(N l) is a unit eigenvector of X^T X.
        components = X.T @ eigvecs / np.sqrt(N * np.maximum(eigvals, 1e-300))
    components[:, eigvals <= 1e-10 * max(eigvals[0], 1e-300)] = 0  # beyond the rank
    if components.shape[1] < dim:
        components = np.pad(components, ((0, 0), (0, dim - components.shape[1])))
    largest = np.abs(components).argmax(axis=0)
    signs = np.sign(components[largest, np.arange(dim)])
    signs[signs == 0] = 1
    return mean.astype(np.float32), (components * signs).astype(np.float32)


# ----------------------------------------------------------------------------------------
# Writing the set
# ----------------------------------------------------------------------------------------


def generate_split(num_images, rng):
    """Scenes, images (N, 64, 64, 3) uint8 and reference captions (N lists of 5 strings)."""
    scenes = [sample_scene(rng) for _ in range(num_images)]
    images = np.stack([render_scene(s, rng) for s in scenes])
    captions = [scene_captions(s) for s in scenes]
    return scenes, images, captions


def encode_captions(captions, word_to_idx, T=MAX_WORDS + 2):
    """Rows of word indices: <START>, the words, <END>, then <NULL> up to length T."""
    out = np.full((len(captions), T), word_to_idx["<NULL>"], dtype=np.int32)
    for i, caption in enumerate(captions):
        words = caption.split()
        if len(words) > T - 2:
            raise ValueError(f"caption longer than {T - 2} words: {caption!r}")
        ids = [word_to_idx["<START>"], *(word_to_idx.get(w, word_to_idx["<UNK>"]) for w in words)]
        ids.append(word_to_idx["<END>"])
        out[i, : len(ids)] = ids
    return out


def _caption_table(references, word_to_idx, rng):
    """All references of all images, shuffled: captions (M, T) and image_idxs (M,)."""
    flat = [(i, c) for i, refs in enumerate(references) for c in refs]
    order = rng.permutation(len(flat))
    captions = encode_captions([flat[k][1] for k in order], word_to_idx)
    image_idxs = np.array([flat[k][0] for k in order], dtype=np.int32)
    return captions, image_idxs


def _write_h5(path, **datasets):
    import h5py

    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            # Images compress well (flat colours), one chunk per image so that reading one
            # image decompresses only that image; features and captions are stored plainly.
            kwargs = {}
            if value.ndim == 4:
                kwargs = {
                    "compression": "gzip",
                    "compression_opts": 4,
                    "chunks": (1, *value.shape[1:]),
                }
            f.create_dataset(name, data=value, **kwargs)


def write_embedded_coco(out_dir, num_train=NUM_TRAIN_IMAGES, num_val=NUM_VAL_IMAGES, seed=SEED):
    """Generate the embedded set and write it to out_dir in the course's COCO layout."""
    import h5py

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {}
    for k, split in enumerate(("train", "val")):
        rng = np.random.default_rng([seed, k])
        splits[split] = generate_split(num_train if split == "train" else num_val, rng)

    words = sorted(
        {w for _, _, refs in splits.values() for r in refs for c in r for w in c.split()}
    )
    idx_to_word = SPECIAL_TOKENS + words
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    with open(out_dir / VOCAB_FILE, "w") as f:
        json.dump({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}, f)

    tables = {}
    for k, (split, (_, _, refs)) in enumerate(splits.items()):
        captions, image_idxs = _caption_table(
            refs, word_to_idx, np.random.default_rng([seed, 2 + k])
        )
        tables[f"{split}_captions"] = captions
        tables[f"{split}_image_idxs"] = image_idxs
    _write_h5(out_dir / CAPTION_FILE, **tables)
    with h5py.File(out_dir / CAPTION_FILE, "a") as f:
        f.attrs[EMBEDDED_ATTR] = GENERATOR_VERSION
        f.attrs["cs231n_embedded_seed"] = seed

    features = {split: extract_features(images) for split, (_, images, _) in splits.items()}
    mean, components = fit_pca(features["train"], PCA_DIM)
    pca = {split: (f - mean) @ components for split, f in features.items()}  # (N, 512)
    # One scale for all files, so that the PCA features have unit variance on average
    # (values of order one, as the real set's): with tiny features the projection to
    # the initial hidden state would start out near zero and learn slowly.
    scale = np.sqrt(PCA_DIM / max(np.mean(np.sum(pca["train"] ** 2, axis=1)), 1e-12))
    for split, (_, images, _) in splits.items():
        full = (scale * features[split]).astype(np.float32)
        _write_h5(out_dir / f"{split}2014_vgg16_fc7.h5", features=full)
        reduced = (scale * pca[split]).astype(np.float32)
        _write_h5(out_dir / f"{split}2014_vgg16_fc7_pca.h5", features=reduced)
        _write_h5(out_dir / f"{split}2014_images.h5", images=images)
        with open(out_dir / f"{split}2014_urls.txt", "w") as f:
            f.writelines(f"embedded://{split}2014/{i:06d}\n" for i in range(len(images)))


# ----------------------------------------------------------------------------------------
# Generating on first use
# ----------------------------------------------------------------------------------------

FILES = [
    CAPTION_FILE,
    VOCAB_FILE,
    *(
        f"{split}2014_{kind}"
        for split in ("train", "val")
        for kind in ("vgg16_fc7.h5", "vgg16_fc7_pca.h5", "urls.txt", "images.h5")
    ),
]


def embedded_version(path):
    """The generator version recorded in path/coco2014_captions.h5, or None if not embedded."""
    import h5py

    try:
        with h5py.File(Path(path) / CAPTION_FILE, "r") as f:
            version = f.attrs.get(EMBEDDED_ATTR)
    except (OSError, ValueError):
        return None
    return None if version is None else int(version)


def is_current(path):
    """True when path holds a complete embedded set written by this generator version."""
    path = Path(path)
    return embedded_version(path) == GENERATOR_VERSION and all((path / n).is_file() for n in FILES)


def ensure_embedded_coco(
    dest, num_train=NUM_TRAIN_IMAGES, num_val=NUM_VAL_IMAGES, seed=SEED, force=False
):
    """Generate the embedded set at dest unless a current copy is already there.

    The set is written to a temporary sibling folder and renamed into place, so a
    reader never sees a half-written set; when two processes generate at once, the
    first rename wins. An out-of-date generated set (or any generated set, when
    ``force`` is true) is replaced; a folder that is not a generated set is never
    touched.

    Returns
    -------
    dest : Path
    """
    dest = Path(dest)
    if is_current(dest) and not force:
        return dest
    if dest.exists() and embedded_version(dest) is None and any(dest.iterdir()):
        raise FileExistsError(
            f"{dest} exists but is not a generated embedded set; move it away and try "
            "again (it is never deleted automatically)."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the set is ordinary data
    try:
        write_embedded_coco(tmp, num_train, num_val, seed)
        if dest.exists() and (force or not is_current(dest)):
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / dest.name)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process placed its copy first
            if not is_current(dest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fingerprint(path):
    """sha256 over the set's files (names and bytes), for checking determinism."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode())
        h.update((Path(path) / name).read_bytes())
    return h.hexdigest()
