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

GENERATOR_VERSION = 3
SEED = 231
IMAGE_SIZE = 32

# ----------------------------------------------------------------------------------------
# What the images look like. The knobs below were tuned so the course's storyline holds
# (see the module docstring); change them and GENERATOR_VERSION together.
# ----------------------------------------------------------------------------------------

P_FG_PALETTE = 0.7  # chance an object takes its class's hue (else any hue)
HUE_STD = 0.04  # spread of a class's hue around its palette hue
POS_SPREAD = 0.5  # objects sit within this fraction of the room they have to move
SHADING_STD = 50.0  # low-frequency shading of the background (zero mean per image)
SHADING_GRID = 4  # shading is a random 4x4 lattice, upsampled
CLUTTER_STROKES = 2  # thin strokes of random colour drawn on every image
GAIN_RANGE = (0.35, 1.1)  # random exposure: the whole image is scaled by this factor
NOISE_STD = 10.0  # per-pixel Gaussian noise, in grey levels

_G = ((np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * 2 - 1).astype(np.float32)  # pixel centres


def _object_frame(rng, n, scale, max_rot):
    """Each image's pixel grid in its object's frame.

    An object of unit size is drawn at a random centre, scale (a fraction of the
    image's half-width, drawn from ``scale``) and rotation (up to ``max_rot``).

    Returns
    -------
    x, y : ndarray of shape (n, 32, 32), pixel coordinates in object units
    px : ndarray of shape (n, 1, 1), pixels per object unit
    """
    s = rng.uniform(*scale, size=n).astype(np.float32)
    cx = rng.uniform(-1 + 0.8 * s, 1 - 0.8 * s).astype(np.float32) * POS_SPREAD
    cy = rng.uniform(-1 + 0.8 * s, 1 - 0.8 * s).astype(np.float32) * POS_SPREAD
    th = rng.uniform(-max_rot, max_rot, size=n).astype(np.float32)
    c, si, s = (v[:, None, None] for v in (np.cos(th), np.sin(th), s))
    dx = _G[None, None, :] - cx[:, None, None]  # (n, 1, 32)
    dy = _G[None, :, None] - cy[:, None, None]  # (n, 32, 1)
    x = (c * dx + si * dy) / s  # (n, 32, 32)
    y = (c * dy - si * dx) / s
    return x, y, s * (IMAGE_SIZE / 2)


def _cover(sd, px):
    """Anti-aliased coverage in [0, 1] from a signed distance in object units (< 0 inside)."""
    return np.clip(0.5 - sd * px, 0.0, 1.0)


def _box(x, y, half):
    """Signed distance (in the max norm) to a square of half-width ``half``."""
    return np.maximum(np.abs(x), np.abs(y)) - half


def _wave(t, px, rng, period_px):
    """Soft square wave in [0, 1] along t, period drawn in pixels, random phase."""
    n = len(t)
    period = rng.uniform(*period_px, size=(n, 1, 1)).astype(np.float32) / px
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1)).astype(np.float32)
    return np.clip(0.5 + 1.5 * np.sin(2 * np.pi * t / period + phase), 0, 1)


def _disc(rng, n):
    x, y, px = _object_frame(rng, n, (0.35, 0.7), np.pi)
    return _cover(np.hypot(x, y) - 1, px)


def _ring(rng, n):
    x, y, px = _object_frame(rng, n, (0.45, 0.8), np.pi)
    return _cover(np.abs(np.hypot(x, y) - 0.75) - 0.22, px)


def _square(rng, n):
    x, y, px = _object_frame(rng, n, (0.35, 0.7), np.pi / 12)
    return _cover(_box(x, y, 0.85), px)


def _triangle(rng, n):
    x, y, px = _object_frame(rng, n, (0.4, 0.8), np.pi / 12)
    edges = [np.cos(a) * x + np.sin(a) * y for a in (np.pi / 2, np.pi * 7 / 6, np.pi * 11 / 6)]
    return _cover(np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - 0.5, px)


def _cross(rng, n):
    x, y, px = _object_frame(rng, n, (0.4, 0.8), np.pi / 12)
    ax, ay, w = np.abs(x), np.abs(y), 0.28
    return _cover(np.minimum(np.maximum(ax - w, ay - 1), np.maximum(ax - 1, ay - w)), px)


def _stripes(angle):
    def draw(rng, n):
        x, y, px = _object_frame(rng, n, (0.45, 0.85), np.pi / 16)
        t = np.cos(angle) * y - np.sin(angle) * x  # distance across the stripes
        return _cover(_box(x, y, 1), px) * _wave(t, px, rng, (4.0, 6.0))

    return draw


def _checkerboard(rng, n):
    x, y, px = _object_frame(rng, n, (0.45, 0.85), np.pi / 16)
    a = 2 * _wave(x, px, rng, (5.0, 8.0)) - 1
    b = 2 * _wave(y, px, rng, (5.0, 8.0)) - 1
    return _cover(_box(x, y, 1), px) * (0.5 + 0.5 * a * b)


def _dots(rng, n):
    out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for _ in range(4):
        x, y, px = _object_frame(rng, n, (0.08, 0.14), 0)
        np.maximum(out, _cover(np.hypot(x, y) - 1, px), out=out)
    return out


# Each class: its name (what it looks like) and how to draw the object's coverage.
CLASSES = [
    ("disc", _disc),
    ("ring", _ring),
    ("square", _square),
    ("triangle", _triangle),
    ("cross", _cross),
    ("horizontal stripes", _stripes(0.0)),
    ("vertical stripes", _stripes(np.pi / 2)),
    ("checkerboard", _checkerboard),
    ("diagonal stripes", _stripes(np.pi / 4)),
    ("dots", _dots),
]
CLASS_NAMES = [name for name, _ in CLASSES]
NUM_CLASSES = len(CLASSES)


def _hsv_to_rgb(h, s, v):
    """HSV in [0, 1] -> RGB in [0, 1]; h, s, v of shape (n,), returns (n, 3)."""
    k = np.stack([5.0, 3.0, 1.0])[None] + (np.mod(h, 1.0) * 6)[:, None]  # (n, 3)
    k = np.mod(k, 6)
    return v[:, None] - (v * s)[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def _colours(rng, y):
    """Object and background colours, RGB in [0, 255], each of shape (N, 3).

    An object takes its class's palette hue with probability P_FG_PALETTE (like a
    frog being green), any hue otherwise; the background's hue is random.
    """
    n = len(y)
    palette = (y * 0.1 + 0.03) % 1.0
    use = rng.uniform(size=n) < P_FG_PALETTE
    fg_h = np.where(use, palette + rng.normal(0, HUE_STD, n), rng.uniform(0, 1, n))
    bg_h = rng.uniform(0, 1, n)
    fg = _hsv_to_rgb(fg_h, rng.uniform(0.3, 1.0, n), rng.uniform(0.3, 1.0, n))
    bg = _hsv_to_rgb(bg_h, rng.uniform(0.2, 0.9, n), rng.uniform(0.2, 1.0, n))
    return (255 * fg).astype(np.float32), (255 * bg).astype(np.float32)


def _shading(rng, n):
    """Smooth random shading of shape (n, 3, 32, 32), zero mean over each image."""
    t = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * (SHADING_GRID - 1)
    M = np.maximum(0, 1 - np.abs(t[:, None] - np.arange(SHADING_GRID)))  # (32, grid) bilinear
    M = M.astype(np.float32)
    G = rng.standard_normal((n * 3, SHADING_GRID, SHADING_GRID), dtype=np.float32)
    field = M @ G @ M.T  # (3n, 32, 32)
    field -= field.mean(axis=(1, 2), keepdims=True)
    return SHADING_STD * field.reshape(n, 3, IMAGE_SIZE, IMAGE_SIZE)


def _stroke(rng, n):
    """Coverage (n, 32, 32) of one thin straight stroke per image, 6-14 pixels long."""
    p = rng.uniform(0, IMAGE_SIZE, (2, n, 1, 1)).astype(np.float32)
    th = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
    length = rng.uniform(6, 14, (n, 1, 1)).astype(np.float32)
    c, s = np.cos(th), np.sin(th)
    g = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
    rx, ry = g[None, None, :] - p[0], g[None, :, None] - p[1]  # (n, 1, 32), (n, 32, 1)
    along = np.clip(rx * c + ry * s, 0, length)  # closest point on the segment
    dist = np.hypot(rx - along * c, ry - along * s)
    return np.clip(1.2 - dist, 0, 1)


def _compose(rng, alpha, y):
    """Paint images from object coverages alpha (n, 32, 32) of classes y (n,).

    Returns
    -------
    X : ndarray of shape (n, 32, 32, 3), uint8
    """
    n = len(y)
    fg, bg = _colours(rng, y)  # (n, 3) each
    X = bg[:, :, None, None] + _shading(rng, n)  # (n, 3, 32, 32), colour planes
    X += alpha[:, None] * (fg[:, :, None, None] - X)  # paint the object
    for _ in range(CLUTTER_STROKES):
        a = _stroke(rng, n)[:, None]  # (n, 1, 32, 32)
        colour = rng.uniform(0, 255, (n, 3, 1, 1)).astype(np.float32)
        X += a * (colour - X)
    X *= rng.uniform(*GAIN_RANGE, (n, 1, 1, 1)).astype(np.float32)  # exposure
    X += NOISE_STD * rng.standard_normal(X.shape, dtype=np.float32)
    np.clip(X, 0, 255, out=X)
    X += 0.5  # round to the nearest grey level when truncating to uint8
    return X.astype(np.uint8).transpose(0, 2, 3, 1)


def generate_images(num_per_class, seed=SEED):
    """Draw num_per_class images of each class, in shuffled order.

    Each image: a background colour with smooth shading; one object of its class
    (shape or texture) in an object colour, at a random place, size and small
    rotation; thin clutter strokes; a random exposure; pixel noise.

    Parameters
    ----------
    num_per_class : int
    seed : int or sequence of ints for np.random.default_rng

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 3), uint8, with N = 10 * num_per_class
    y : ndarray of shape (N,), int64, each class num_per_class times
    """
    rng = np.random.default_rng(seed)
    N = num_per_class * NUM_CLASSES
    perm = rng.permutation(N)
    y = np.repeat(np.arange(NUM_CLASSES), num_per_class)[perm]
    alpha = np.concatenate([draw(rng, num_per_class) for _, draw in CLASSES])[perm]
    X = np.empty((N, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for start in range(0, N, 500):  # in chunks, to stay in cache
        X[start : start + 500] = _compose(rng, alpha[start : start + 500], y[start : start + 500])
    return X, y.astype(np.int64)


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


# ----------------------------------------------------------------------------------------
# Stand-ins for the real set: other sizes and difficulties, written as real data
# ----------------------------------------------------------------------------------------

# Knob values per difficulty ("standard" is the embedded set's). Harder: fewer objects in
# their class's colour, more clutter, noise, exposure range and positions; easier: the
# opposite. Measured with 5,000 training and 1,000 test images (1-NN, logistic
# regression): easy 48% / 45%, standard 24% / 27%, hard 20% / 21% (real CIFAR-10 at
# that size: about 27% / 35%).
DIFFICULTIES = {
    "easy": dict(P_FG_PALETTE=0.95, HUE_STD=0.02, POS_SPREAD=0.3, SHADING_STD=25.0,
                 CLUTTER_STROKES=0, GAIN_RANGE=(0.7, 1.0), NOISE_STD=4.0),
    "standard": {},
    "hard": dict(P_FG_PALETTE=0.6, HUE_STD=0.05, POS_SPREAD=0.6, SHADING_STD=50.0,
                 CLUTTER_STROKES=3, GAIN_RANGE=(0.3, 1.1), NOISE_STD=12.0),
}  # fmt: skip
SIZES = {"embedded": (10_000, 2_000), "full": (50_000, 10_000)}


def write_standin_cifar10(out_dir, size="full", difficulty="hard", seed=SEED + 1):
    """Write a stand-in for the real CIFAR-10, in its format and WITHOUT the embedded mark.

    The notebooks take such a folder for the real data set (point ``CS231N_DATA_DIR``
    at its parent), which is the point: it exercises every code path the real data
    takes, at its full size if asked, on images of a chosen difficulty, without
    tuning anything to CIFAR-10 itself.

    Parameters
    ----------
    out_dir : folder to write (cifar-10-batches-py layout); must not exist
    size : "full" (50,000 training and 10,000 test images) or "embedded" (10,000 / 2,000)
    difficulty : "easy", "standard" or "hard" (see DIFFICULTIES)
    seed : int; differs from the embedded set's by default, so no image is shared

    Returns
    -------
    out_dir : Path
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}.")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {sorted(DIFFICULTIES)}, got {difficulty!r}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty; choose a new folder.")
    num_train, num_test = SIZES[size]
    module = globals()
    saved = {name: module[name] for name in DIFFICULTIES[difficulty]}
    module.update(DIFFICULTIES[difficulty])  # the drawing functions read these knobs
    try:
        Xtr, ytr = generate_images(num_train // NUM_CLASSES, seed=[seed, 0])
        Xte, yte = generate_images(num_test // NUM_CLASSES, seed=[seed, 1])
    finally:
        module.update(saved)
    write_cifar10_batches(out_dir, Xtr, ytr, Xte, yte, CLASS_NAMES)
    return out_dir
