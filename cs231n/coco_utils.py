"""Loading the COCO captioning data of assignment 3, and turning word indices into text.

The course's captioning set is a preprocessed COCO 2014 in one folder:

    coco2014_captions.h5        train_captions (N, T) int, train_image_idxs (N,) int,
                                val_captions, val_image_idxs
    coco2014_vocab.json         {"idx_to_word": [V words], "word_to_idx": {word: index}}
    {train,val}2014_vgg16_fc7.h5       dataset "features": (N_images, 4096) CNN features
    {train,val}2014_vgg16_fc7_pca.h5   dataset "features": the same reduced by PCA to 512
    {train,val}2014_urls.txt    one image URL per line, line i for image i

A caption is a row of word indices: ``<START>``, the words, ``<END>``, then ``<NULL>``
(index 0) up to length T; words outside the vocabulary are ``<UNK>``. Caption
``train_captions[i]`` describes image ``train_image_idxs[i]``, whose features are
``train_features[train_image_idxs[i]]`` and whose URL is ``train_urls[...]`` (an image
has several captions).

``coco_dir()`` returns the real set when it has been downloaded
(``cs231n data download coco``) and otherwise the *embedded* stand-in, a synthetic
captioning set in the same format generated offline (see
``cs231n.data.embedded_coco``). The embedded set also stores its images
(``{train,val}2014_images.h5``); ``coco_image`` finds an image wherever it is
available and returns None when it is not (the real set has only URLs).
"""

import json
import os
import warnings
from pathlib import Path

import numpy as np

CAPTION_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
SPLITS = ("train", "val")
SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
COCO_FOLDER = "coco_captioning"
HOW_TO_GET = (
    "Download the real data with `cs231n data download coco`, or call coco_dir() "
    "(load_coco_data() with no base_dir) to use the embedded stand-in set."
)


def required_files(pca_features=True):
    """The names of the files load_coco_data reads."""
    suffix = "_pca" if pca_features else ""
    names = [CAPTION_FILE, VOCAB_FILE]
    for split in SPLITS:
        names += [f"{split}2014_vgg16_fc7{suffix}.h5", f"{split}2014_urls.txt"]
    return names


# ----------------------------------------------------------------------------------------
# Where the data lives
# ----------------------------------------------------------------------------------------


def _data_root():
    try:
        from cs231n.data_utils import data_root
    except ImportError:  # pragma: no cover - data_utils always ships with the package
        return Path(os.environ.get("CS231N_DATA_DIR", Path(__file__).parents[1] / "datasets"))
    return data_root()


def real_coco_path():
    """Where the real set is (or would be) placed: data_root()/coco_captioning."""
    return _data_root() / COCO_FOLDER


def embedded_coco_path():
    """Where the embedded stand-in is generated: data_root()/embedded/coco_captioning."""
    return _data_root() / "embedded" / COCO_FOLDER


def is_complete(path, pca_features=True):
    """True when path holds every file load_coco_data reads (non-empty)."""
    path = Path(path)
    return all(
        (path / n).is_file() and (path / n).stat().st_size > 0 for n in required_files(pca_features)
    )


def coco_dir(announce=True):
    """The COCO captioning folder to use: the real set if present, else the embedded one.

    The embedded set is generated on first use (deterministic, seconds) and kept.

    Parameters
    ----------
    announce : bool, print one line saying which set is used

    Returns
    -------
    path : str, a folder in the layout load_coco_data reads
    """
    from cs231n.data import embedded_coco

    real = real_coco_path()
    if is_complete(real) and embedded_coco.embedded_version(real) is None:
        if announce:
            print(f"Using the real COCO captioning data set at {real}.")
        return str(real)
    path = embedded_coco.ensure_embedded_coco(embedded_coco_path())
    if announce:
        print(
            f"Using the EMBEDDED stand-in for COCO captioning (synthetic scenes of coloured "
            f"shapes with five captions each) at {path}; for the real data run "
            "`cs231n data download coco`."
        )
    return str(path)


# ----------------------------------------------------------------------------------------
# Reading the files
# ----------------------------------------------------------------------------------------


def _open_h5(path):
    """Open an HDF5 file for reading, turning every failure into a clear error."""
    import h5py

    if not path.is_file():
        raise FileNotFoundError(f"COCO file {path} not found. {HOW_TO_GET}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"COCO file {path} is not a readable HDF5 file ({exc}); it is truncated or "
            "corrupt. Fetch it again with `cs231n data download coco --force`."
        ) from exc


def _read_h5_datasets(path, names=None):
    """All (or the named) datasets of an HDF5 file as ndarrays."""
    with _open_h5(path) as f:
        names = list(f.keys()) if names is None else names
        missing = [n for n in names if n not in f]
        if missing:
            raise ValueError(
                f"COCO file {path} lacks the dataset(s) {missing} (it has {sorted(f.keys())})."
            )
        try:
            return {n: np.asarray(f[n]) for n in names}
        except (OSError, KeyError, TypeError) as exc:
            raise ValueError(
                f"COCO file {path} could not be read ({exc}); it is corrupt. "
                "Fetch it again with `cs231n data download coco --force`."
            ) from exc


def _read_vocab(path):
    if not path.is_file():
        raise FileNotFoundError(f"COCO file {path} not found. {HOW_TO_GET}")
    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"COCO vocabulary {path} is not valid JSON ({exc}).") from exc
    if not isinstance(vocab, dict) or not {"idx_to_word", "word_to_idx"} <= set(vocab):
        raise ValueError(
            f"COCO vocabulary {path} must be a JSON object with keys idx_to_word and word_to_idx."
        )
    idx_to_word, word_to_idx = vocab["idx_to_word"], vocab["word_to_idx"]
    if not isinstance(idx_to_word, list) or not isinstance(word_to_idx, dict):
        raise ValueError(
            f"COCO vocabulary {path}: idx_to_word must be a list and word_to_idx a dict."
        )
    missing = [t for t in SPECIAL_TOKENS if t not in word_to_idx]
    if missing:
        raise ValueError(f"COCO vocabulary {path} lacks the special token(s) {missing}.")
    if word_to_idx["<NULL>"] != 0:
        raise ValueError(
            f"COCO vocabulary {path}: <NULL> must have index 0, it has {word_to_idx['<NULL>']}."
        )
    bad = [
        w for w, i in word_to_idx.items() if not (0 <= i < len(idx_to_word)) or idx_to_word[i] != w
    ]
    if bad or len(word_to_idx) != len(idx_to_word):
        raise ValueError(
            f"COCO vocabulary {path}: idx_to_word and word_to_idx disagree "
            f"({len(idx_to_word)} vs {len(word_to_idx)} words; e.g. {bad[:3]}): "
            "word_to_idx[w] must be the position of w in idx_to_word."
        )
    return idx_to_word, word_to_idx


def _read_urls(path):
    if not path.is_file():
        raise FileNotFoundError(f"COCO file {path} not found. {HOW_TO_GET}")
    with open(path, encoding="utf-8") as f:
        return np.asarray([line.strip() for line in f])


def _check_split(data, split, V, where):
    """Captions index the vocabulary and image indices index the features."""
    captions, idxs = data[f"{split}_captions"], data[f"{split}_image_idxs"]
    features, urls = data[f"{split}_features"], data[f"{split}_urls"]
    if captions.ndim != 2 or not np.issubdtype(captions.dtype, np.integer):
        raise ValueError(
            f"{where}: {split}_captions must be a 2-d integer array, "
            f"got {captions.dtype} {captions.shape}."
        )
    if idxs.shape != (captions.shape[0],) or not np.issubdtype(idxs.dtype, np.integer):
        raise ValueError(
            f"{where}: {split}_image_idxs must hold one integer per caption "
            f"({captions.shape[0]}), got {idxs.dtype} {idxs.shape}."
        )
    if captions.size and (captions.min() < 0 or captions.max() >= V):
        raise ValueError(
            f"{where}: {split}_captions hold word indices from {captions.min()} to "
            f"{captions.max()}, but the vocabulary has {V} words: the vocabulary file does "
            "not belong to these captions."
        )
    if features.ndim != 2:
        raise ValueError(
            f"{split}2014 features must be 2-d (images, dimensions), got shape {features.shape}."
        )
    if idxs.size and (idxs.min() < 0 or idxs.max() >= features.shape[0]):
        raise ValueError(
            f"{where}: {split}_image_idxs range from {idxs.min()} to {idxs.max()}, but there "
            f"are features for {features.shape[0]} images only."
        )
    if len(urls) != features.shape[0]:
        raise ValueError(
            f"{split}2014_urls.txt lists {len(urls)} images but the features cover "
            f"{features.shape[0]}; the files do not belong together."
        )


class H5Images:
    """The images of an ``images`` dataset in an HDF5 file, read only when indexed.

    Behaves like a read-only uint8 array of shape (N, H, W, 3) for indexing
    (``images[i]``, ``images[[i, j]]``), ``len`` and ``np.asarray``, without holding
    20,000 images in memory.
    """

    def __init__(self, path):
        self.path = Path(path)
        with _open_h5(self.path) as f:
            if "images" not in f:
                raise ValueError(f"COCO file {self.path} lacks the dataset 'images'.")
            self.shape, self.dtype = f["images"].shape, f["images"].dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        with _open_h5(self.path) as f:
            if np.ndim(idx) == 0:
                return np.asarray(f["images"][idx])
            idx = np.asarray(idx)
            unique, inverse = np.unique(idx, return_inverse=True)  # HDF5 wants sorted indices
            return np.asarray(f["images"][unique])[inverse.reshape(idx.shape)]

    def __array__(self, dtype=None, copy=None):
        with _open_h5(self.path) as f:
            images = np.asarray(f["images"])
        return images if dtype is None else images.astype(dtype)

    def __repr__(self):
        return f"H5Images({str(self.path)!r}, shape={self.shape})"


def load_coco_data(base_dir=None, max_train=None, pca_features=True):
    """Load the COCO captioning data: captions, image features, vocabulary, URLs.

    Parameters
    ----------
    base_dir : folder holding the files (see the module docstring); None uses
        ``coco_dir()``: the real set if downloaded, else the embedded one
    max_train : int or None, keep only this many training captions, chosen at random
        (np.random, so np.random.seed makes it reproducible)
    pca_features : bool, load the 512-d PCA features (True) or the full ones

    Returns
    -------
    data : dict with
        train_captions (N_train, T) int32, train_image_idxs (N_train,) int32,
        val_captions, val_image_idxs,
        train_features (N_train_images, D) float32, val_features,
        idx_to_word (list of V words), word_to_idx (dict),
        train_urls (N_train_images,) str array, val_urls,
        and, when the folder has them, train_images / val_images: the images, (N_images,
        H, W, 3) uint8, as ``H5Images`` read from disk when indexed
    """
    base = Path(coco_dir() if base_dir is None else base_dir)
    if not base.is_dir():
        raise FileNotFoundError(f"COCO folder {base} not found. {HOW_TO_GET}")
    data = _read_h5_datasets(base / CAPTION_FILE)
    missing = [
        f"{s}_{k}" for s in SPLITS for k in ("captions", "image_idxs") if f"{s}_{k}" not in data
    ]
    if missing:
        raise ValueError(f"COCO file {base / CAPTION_FILE} lacks the dataset(s) {missing}.")

    suffix = "_pca" if pca_features else ""
    for split in SPLITS:
        feats = _read_h5_datasets(base / f"{split}2014_vgg16_fc7{suffix}.h5", ["features"])
        data[f"{split}_features"] = feats["features"]
        data[f"{split}_urls"] = _read_urls(base / f"{split}2014_urls.txt")
    data["idx_to_word"], data["word_to_idx"] = _read_vocab(base / VOCAB_FILE)
    for split in SPLITS:
        _check_split(data, split, len(data["idx_to_word"]), str(base / CAPTION_FILE))
        images_file = base / f"{split}2014_images.h5"
        if images_file.is_file():
            data[f"{split}_images"] = H5Images(images_file)

    if max_train is not None:
        num_train = data["train_captions"].shape[0]
        if max_train > num_train:
            warnings.warn(
                f"load_coco_data: max_train={max_train} but there are only {num_train} "
                "training captions; keeping them all.",
                stacklevel=2,
            )
        else:
            mask = np.random.choice(num_train, max_train, replace=False)
            data["train_captions"] = data["train_captions"][mask]
            data["train_image_idxs"] = data["train_image_idxs"][mask]
    return data


# ----------------------------------------------------------------------------------------
# Using the data
# ----------------------------------------------------------------------------------------


def decode_captions(captions, idx_to_word):
    """Turn rows of word indices into strings.

    <NULL> tokens are dropped and decoding stops after <END>; <START> and <END> are
    kept (use ``strip_special_tokens`` to remove them).

    Parameters
    ----------
    captions : integer ndarray of shape (N, T), or (T,) for a single caption
    idx_to_word : list (or dict) mapping indices to words

    Returns
    -------
    decoded : list of N strings, or one string for a single caption
    """
    captions = np.asarray(captions)
    singleton = captions.ndim == 1
    if singleton:
        captions = captions[None]
    decoded = []
    for row in captions:
        words = []
        for idx in row:
            word = idx_to_word[int(idx)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def strip_special_tokens(caption):
    """A decoded caption without <START>, <END>, <NULL> and <UNK> (what BLEU compares)."""
    return " ".join(w for w in caption.split() if w not in SPECIAL_TOKENS)


def sample_coco_minibatch(data, batch_size=100, split="train"):
    """A random minibatch of captions with the features and URLs of their images.

    Returns
    -------
    captions : (batch_size, T) int array
    image_features : (batch_size, D) array
    urls : (batch_size,) str array
    """
    if split not in SPLITS:
        raise ValueError(f"sample_coco_minibatch: split must be 'train' or 'val', got {split!r}.")
    split_size = data[f"{split}_captions"].shape[0]
    mask = np.random.choice(split_size, batch_size)
    captions = data[f"{split}_captions"][mask]
    image_idxs = data[f"{split}_image_idxs"][mask]
    image_features = data[f"{split}_features"][image_idxs]
    urls = data[f"{split}_urls"][image_idxs]
    return captions, image_features, urls


def references_by_image(data, split="val"):
    """The reference captions of every image: {image index: [caption strings]}."""
    refs = {}
    decoded = decode_captions(data[f"{split}_captions"], data["idx_to_word"])
    for idx, caption in zip(data[f"{split}_image_idxs"], decoded):
        refs.setdefault(int(idx), []).append(strip_special_tokens(caption))
    return refs


def coco_image(data, split, image_idx, base_dir=None):
    """The image ``image_idx`` of ``split`` as a uint8 array (H, W, 3), or None.

    Looked for, in order: the images stored with the data (embedded set); a local
    copy named after the last part of the URL in ``base_dir/{split}2014/`` (for the
    real set, if you have the COCO images). Images are never downloaded here (see
    ``image_utils.image_from_url``); None means "not available offline".
    """
    images = data.get(f"{split}_images")
    if images is not None:
        return images[image_idx]
    url = str(data[f"{split}_urls"][image_idx])
    folder = Path(base_dir) if base_dir is not None else real_coco_path()
    local = folder / f"{split}2014" / url.rsplit("/", 1)[-1]
    if local.is_file():
        from cs231n.image_utils import load_image

        return load_image(local)
    return None


def plot_captioned_images(images, captions, ncols=4, width=3.0, wrap=28):
    """Show images in a grid with a caption under each; None shows a placeholder.

    Parameters
    ----------
    images : list of uint8 arrays (H, W, 3) or None (image not available offline)
    captions : list of strings (newlines allowed), one per image
    ncols : int, images per row
    width : float, width of one panel in inches
    wrap : int, wrap caption lines longer than this many characters

    Returns
    -------
    fig : the matplotlib figure
    """
    import textwrap

    import matplotlib.pyplot as plt

    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, 1.6 * width * nrows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, caption in zip(axes.flat, images, captions):
        if img is None:
            ax.text(0.5, 0.5, "(image not available offline)", ha="center", va="center", fontsize=8)
            ax.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, transform=ax.transAxes))
        else:
            ax.imshow(img, interpolation="nearest")
        lines = [textwrap.fill(line, wrap) for line in caption.split("\n")]
        ax.set_title("\n".join(lines), fontsize=8, y=-0.02, va="top")
    fig.tight_layout()
    return fig
