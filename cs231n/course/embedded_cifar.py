"""The embedded CIFAR-10 stand-in: a small 10-class, 32x32x3 image set generated offline.

(docstring with measured accuracies to come)
"""

import hashlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 2
SEED = 231
IMAGE_SIZE = 32

CLASS_NAMES = [
    "disc",
    "ring",
    "square",
    "triangle",
    "cross",
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "diagonal stripes",
    "dots",
]
NUM_CLASSES = len(CLASS_NAMES)

# Tuning knobs
P_PALETTE = 0.7
P_BG_PALETTE = 0.0
HUE_STD = 0.04
POS_SPREAD = 0.5
NOISE_STD = 10.0
FIELD_GRID = 4
FIELD_STD = 50.0
CLUTTER = 2
GAIN_RANGE = (0.35, 1.1)


def _hsv_to_rgb(h, s, v):
    """Vectorised HSV -> RGB; inputs in [0, 1], any common shape; returns (..., 3)."""
    h = np.mod(h, 1.0) * 6.0
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    choices = [
        np.stack([v, t, p], -1),
        np.stack([q, v, p], -1),
        np.stack([p, v, t], -1),
        np.stack([p, q, v], -1),
        np.stack([t, p, v], -1),
        np.stack([v, p, q], -1),
    ]
    out = np.zeros(np.shape(h) + (3,))
    for k in range(6):
        out = np.where((i == k)[..., None], choices[k], out)
    return out


def _local_coords(rng, n, scale_range, max_rot):
    """Pixel grid in each image's object frame: returns x, y (n, 32, 32) and px per unit."""
    g = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * 2 - 1  # pixel centres in [-1, 1]
    yy, xx = np.meshgrid(g, g, indexing="ij")
    s = rng.uniform(*scale_range, size=n)
    cx = rng.uniform(-1 + s * 0.8, 1 - s * 0.8) * POS_SPREAD
    cy = rng.uniform(-1 + s * 0.8, 1 - s * 0.8) * POS_SPREAD
    th = rng.uniform(-max_rot, max_rot, size=n)
    c, si = np.cos(th)[:, None, None], np.sin(th)[:, None, None]
    dx = xx[None] - cx[:, None, None]
    dy = yy[None] - cy[:, None, None]
    s3 = s[:, None, None]
    x = (c * dx + si * dy) / s3
    y = (-si * dx + c * dy) / s3
    return x, y, s3 * IMAGE_SIZE / 2


def _cover(sd, px):
    """Anti-aliased coverage from a signed distance in object units."""
    return np.clip(0.5 - sd * px, 0.0, 1.0)


def _stripes(t, px, rng, n, period_px=(4.0, 6.0)):
    period = rng.uniform(*period_px, size=n)[:, None, None] / px  # in object units
    phase = rng.uniform(0, 2 * np.pi, size=n)[:, None, None]
    return np.clip(0.5 + 1.5 * np.sin(2 * np.pi * t / period + phase), 0, 1)


def _alpha(label, rng, n):
    """Foreground coverage (n, 32, 32) in [0, 1] for n images of one class."""
    if label == 0:  # disc
        x, y, px = _local_coords(rng, n, (0.35, 0.7), np.pi)
        return _cover(np.hypot(x, y) - 1, px)
    if label == 1:  # ring
        x, y, px = _local_coords(rng, n, (0.45, 0.8), np.pi)
        return _cover(np.abs(np.hypot(x, y) - 0.75) - 0.22, px)
    if label == 2:  # square
        x, y, px = _local_coords(rng, n, (0.35, 0.7), np.pi / 12)
        return _cover(np.maximum(np.abs(x), np.abs(y)) - 0.85, px)
    if label == 3:  # triangle
        x, y, px = _local_coords(rng, n, (0.4, 0.8), np.pi / 12)
        angles = np.array([np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3])
        sd = np.max([np.cos(a) * x - np.sin(a) * y for a in angles], axis=0) - 0.5
        return _cover(sd, px)
    if label == 4:  # cross
        x, y, px = _local_coords(rng, n, (0.4, 0.8), np.pi / 12)
        ax, ay = np.abs(x), np.abs(y)
        w = 0.28
        sd = np.minimum(np.maximum(ax - w, ay - 1), np.maximum(ax - 1, ay - w))
        return _cover(sd, px)
    if label in (5, 6, 8):  # stripes in a rounded patch
        rot = {5: 0.0, 6: np.pi / 2, 8: np.pi / 4}[label]
        x, y, px = _local_coords(rng, n, (0.45, 0.85), np.pi / 16)
        c, s = np.cos(rot), np.sin(rot)
        t = -s * x + c * y
        region = _cover(np.maximum(np.abs(x), np.abs(y)) - 1, px)
        return region * _stripes(t, px, rng, n)
    if label == 7:  # checkerboard
        x, y, px = _local_coords(rng, n, (0.45, 0.85), np.pi / 16)
        region = _cover(np.maximum(np.abs(x), np.abs(y)) - 1, px)
        a = _stripes(x, px, rng, n, (5.0, 8.0)) * 2 - 1
        b = _stripes(y, px, rng, n, (5.0, 8.0)) * 2 - 1
        return region * (0.5 + 0.5 * a * b)
    if label == 9:  # dots
        out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE))
        for _ in range(4):
            x, y, px = _local_coords(rng, n, (0.08, 0.14), 0)
            out = np.maximum(out, _cover(np.hypot(x, y) - 1, px))
        return out
    raise ValueError(label)


def _colours(rng, labels):
    """Foreground and background RGB in [0, 255], shape (n, 3) each."""
    n = len(labels)
    fg_h = rng.uniform(0, 1, n)
    bg_h = rng.uniform(0, 1, n)
    pal_fg = (labels * 0.1 + 0.03) % 1.0
    pal_bg = (labels * 0.1 + 0.53) % 1.0
    use = rng.uniform(size=n) < P_PALETTE
    fg_h = np.where(use, pal_fg + rng.normal(0, HUE_STD, n), fg_h)
    use = rng.uniform(size=n) < P_BG_PALETTE
    bg_h = np.where(use, pal_bg + rng.normal(0, HUE_STD, n), bg_h)
    fg_v = rng.uniform(0.3, 1.0, n)
    bg_v = rng.uniform(0.2, 1.0, n)
    fg = _hsv_to_rgb(fg_h, rng.uniform(0.3, 1, n), fg_v) * 255
    bg = _hsv_to_rgb(bg_h, rng.uniform(0.2, 0.9, n), bg_v) * 255
    return fg, bg


def _smooth_field(rng, n, grid):
    """Low-frequency random colour field (n, 32, 32, 3): a grid x grid lattice, upsampled."""
    t = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * (grid - 1)
    M = np.maximum(0, 1 - np.abs(t[:, None] - np.arange(grid)[None]))  # (32, grid) bilinear
    G = rng.normal(0, 1, (n, grid, grid, 3)).astype(np.float32)
    return np.einsum("ia,nabc,jb->nijc", M, G, M, optimize=True)


def _add_clutter(rng, X):
    """Draw CLUTTER thin random strokes of random colour on every image."""
    n = len(X)
    g = np.arange(IMAGE_SIZE) + 0.5
    yy, xx = np.meshgrid(g, g, indexing="ij")
    for _ in range(CLUTTER):
        p0 = rng.uniform(0, IMAGE_SIZE, (n, 2))
        th = rng.uniform(0, np.pi, n)
        L = rng.uniform(6, 14, n)
        d = np.stack([np.cos(th), np.sin(th)], 1)
        rx, ry = xx[None] - p0[:, 0, None, None], yy[None] - p0[:, 1, None, None]
        along = np.clip(rx * d[:, 0, None, None] + ry * d[:, 1, None, None], 0, L[:, None, None])
        dist = np.hypot(rx - along * d[:, 0, None, None], ry - along * d[:, 1, None, None])
        a = np.clip(1.2 - dist, 0, 1)[..., None]
        col = rng.uniform(0, 255, (n, 1, 1, 3))
        X = X * (1 - a) + col * a
    return X


def generate_images(num_per_class, seed=SEED):
    """Draw num_per_class images of each class, shuffled.

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 3), uint8
    y : ndarray of shape (N,), int64
    """
    rng = np.random.default_rng(seed)
    N = num_per_class * NUM_CLASSES
    y = np.repeat(np.arange(NUM_CLASSES), num_per_class)
    alpha = np.empty((N, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for c in range(NUM_CLASSES):
        alpha[y == c] = _alpha(c, rng, num_per_class)
    fg, bg = _colours(rng, y)
    X = np.empty((N, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    field = _smooth_field(rng, N, FIELD_GRID) * FIELD_STD  # (N, 32, 32, 3)
    field -= field.mean(axis=(1, 2), keepdims=True)  # shading only: no shift of mean colour
    for k in range(3):
        back = bg[:, k, None, None] + field[..., k]
        X[..., k] = back * (1 - alpha) + fg[:, k, None, None] * alpha
    if CLUTTER:
        X = _add_clutter(rng, X)
    X *= rng.uniform(*GAIN_RANGE, (N, 1, 1, 1)).astype(np.float32)  # exposure
    X += rng.normal(0, NOISE_STD, X.shape).astype(np.float32)
    perm = rng.permutation(N)
    return np.clip(np.rint(X[perm]), 0, 255).astype(np.uint8), y[perm].astype(np.int64)


# ----------------------------------------------------------------------------------------
# Writing the set in the official CIFAR-10 python format
# ----------------------------------------------------------------------------------------

BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
META_FILE = "batches.meta"
EMBEDDED_KEY = b"cs231n_embedded_version"


def _write_batch(path, X, y, batch_label, label_names):
    """Write one batch as the official set does: a dict pickled with protocol 2."""
    N = len(X)
    data = X.transpose(0, 3, 1, 2).reshape(N, 3 * IMAGE_SIZE * IMAGE_SIZE)  # R, G, B planes
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(v) for v in y],
        b"data": np.ascontiguousarray(data, dtype=np.uint8),
        b"filenames": [
            f"{CLASS_NAMES[v].replace(' ', '_')}_{i:05d}.png".encode() for i, v in enumerate(y)
        ],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar10_batches(out_dir, Xtr, ytr, Xte, yte, label_names, num_batches=5, extra_meta=None):
    """Write images in the CIFAR-10 python layout (data_batch_*, test_batch, batches.meta).

    Parameters
    ----------
    out_dir : folder to write into (created if needed)
    Xtr : ndarray of shape (N, 32, 32, 3), uint8, split evenly into num_batches files
    ytr : ndarray of shape (N,), integer labels
    Xte, yte : the test images and labels, written to test_batch
    label_names : list of C class names
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, idx in enumerate(np.array_split(np.arange(len(Xtr)), num_batches)):
        label = f"training batch {i + 1} of {num_batches}"
        _write_batch(out_dir / f"data_batch_{i + 1}", Xtr[idx], ytr[idx], label, label_names)
    _write_batch(out_dir / "test_batch", Xte, yte, "testing batch 1 of 1", label_names)
    meta = {
        b"label_names": [name.encode() for name in label_names],
        b"num_cases_per_batch": int(np.ceil(len(Xtr) / num_batches)),
        b"num_vis": 3 * IMAGE_SIZE * IMAGE_SIZE,
    }
    meta.update(extra_meta or {})
    with open(out_dir / META_FILE, "wb") as f:
        pickle.dump(meta, f, protocol=2)


def write_embedded_cifar10(out_dir, num_train=10000, num_test=2000, seed=SEED):
    """Generate the embedded set and write it to out_dir in the official format."""
    if num_train % NUM_CLASSES or num_test % NUM_CLASSES:
        raise ValueError(f"num_train and num_test must be multiples of {NUM_CLASSES}.")
    Xtr, ytr = generate_images(num_train // NUM_CLASSES, seed=[seed, 0])
    Xte, yte = generate_images(num_test // NUM_CLASSES, seed=[seed, 1])
    extra = {EMBEDDED_KEY: GENERATOR_VERSION, b"cs231n_embedded_seed": seed}
    write_cifar10_batches(out_dir, Xtr, ytr, Xte, yte, CLASS_NAMES, extra_meta=extra)


def embedded_version(path):
    """The generator version recorded in path/batches.meta, or None if not an embedded set."""
    try:
        with open(Path(path) / META_FILE, "rb") as f:
            meta = pickle.load(f, encoding="bytes")
        return meta.get(EMBEDDED_KEY) if isinstance(meta, dict) else None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None


def is_current(path):
    """True when path holds a complete embedded set written by this generator version."""
    path = Path(path)
    return embedded_version(path) == GENERATOR_VERSION and all(
        (path / name).is_file() for name in BATCH_FILES
    )


def ensure_embedded_cifar10(dest, num_train=10000, num_test=2000, seed=SEED, force=False):
    """Generate the embedded set at dest unless a current copy is already there.

    The set is written to a temporary sibling folder and renamed into place, so a
    reader never sees a half-written set. When two processes generate at once, the
    first rename wins and the other discards its copy. An out-of-date set (older
    generator version), or any set when ``force`` is true, is moved aside and
    removed; only generated sets are ever replaced.

    Returns
    -------
    dest : Path
    """
    dest = Path(dest)
    if is_current(dest) and not force:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the set is ordinary data
    try:
        write_embedded_cifar10(tmp, num_train, num_test, seed)
        if dest.exists() and (force or not is_current(dest)):
            if embedded_version(dest) is None and any(dest.iterdir()):
                raise FileExistsError(
                    f"{dest} exists but is not a generated embedded set; move it away "
                    "and try again (it is never deleted automatically)."
                )
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
    for name in [*BATCH_FILES, META_FILE]:
        h.update(name.encode())
        h.update((Path(path) / name).read_bytes())
    return h.hexdigest()
