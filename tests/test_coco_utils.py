"""Tests for cs231n/coco_utils.py: the loader on real-format files written here,
the clear errors for missing, corrupt and mismatched files, and the helpers."""

import json
import warnings

import h5py
import numpy as np
import pytest

from cs231n import coco_utils
from cs231n.coco_utils import (
    coco_image,
    decode_captions,
    load_coco_data,
    references_by_image,
    sample_coco_minibatch,
    strip_special_tokens,
)

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "sits"]
SIZES = {"train": 4, "val": 3}  # images per split
CAPTIONS_PER_IMAGE = 2
PCA_DIM, FULL_DIM = 6, 10


def caption_rows(rng, n, T=7):
    """n captions: <START>, 1..T-2 random words, <END>, <NULL> padding."""
    rows = np.zeros((n, T), dtype=np.int32)
    for i in range(n):
        length = rng.integers(1, T - 1)
        rows[i, 0] = 1
        rows[i, 1 : 1 + length] = rng.integers(4, len(WORDS), size=length)
        rows[i, 1 + length] = 2
    return rows


def write_coco_folder(path, seed=0, images=False):
    """A tiny COCO captioning folder in the course's layout; returns what was written."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    written = {}
    with h5py.File(path / "coco2014_captions.h5", "w") as f:
        for split, n in SIZES.items():
            captions = caption_rows(rng, n * CAPTIONS_PER_IMAGE)
            idxs = np.repeat(np.arange(n, dtype=np.int32), CAPTIONS_PER_IMAGE)
            f.create_dataset(f"{split}_captions", data=captions)
            f.create_dataset(f"{split}_image_idxs", data=idxs)
            written[f"{split}_captions"], written[f"{split}_image_idxs"] = captions, idxs
    for split, n in SIZES.items():
        for suffix, dim in (("", FULL_DIM), ("_pca", PCA_DIM)):
            feats = rng.standard_normal((n, dim)).astype(np.float32)
            with h5py.File(path / f"{split}2014_vgg16_fc7{suffix}.h5", "w") as f:
                f.create_dataset("features", data=feats)
            written[f"{split}_features{suffix}"] = feats
        urls = [
            f"http://images.example.org/{split}2014/COCO_{split}2014_{i:012d}.jpg" for i in range(n)
        ]
        (path / f"{split}2014_urls.txt").write_text("".join(u + "\n" for u in urls))
        written[f"{split}_urls"] = urls
        if images:
            imgs = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
            with h5py.File(path / f"{split}2014_images.h5", "w") as f:
                f.create_dataset("images", data=imgs)
            written[f"{split}_images"] = imgs
    vocab = {"idx_to_word": WORDS, "word_to_idx": {w: i for i, w in enumerate(WORDS)}}
    (path / "coco2014_vocab.json").write_text(json.dumps(vocab))
    return written


@pytest.fixture
def coco(tmp_path):
    return tmp_path / "coco", write_coco_folder(tmp_path / "coco")


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def test_load_reads_every_file(coco):
    path, written = coco
    data = load_coco_data(path)
    for split in SIZES:
        np.testing.assert_array_equal(data[f"{split}_captions"], written[f"{split}_captions"])
        np.testing.assert_array_equal(data[f"{split}_image_idxs"], written[f"{split}_image_idxs"])
        np.testing.assert_array_equal(data[f"{split}_features"], written[f"{split}_features_pca"])
        assert list(data[f"{split}_urls"]) == written[f"{split}_urls"]
        assert f"{split}_images" not in data
    assert data["idx_to_word"] == WORDS
    assert data["word_to_idx"]["<NULL>"] == 0


def test_full_features(coco):
    path, written = coco
    data = load_coco_data(path, pca_features=False)
    np.testing.assert_array_equal(data["train_features"], written["train_features"])
    assert data["val_features"].shape == (SIZES["val"], FULL_DIM)


def test_max_train_subsamples_reproducibly(coco):
    path, written = coco
    np.random.seed(0)
    a = load_coco_data(path, max_train=5)
    np.random.seed(0)
    b = load_coco_data(path, max_train=5)
    assert a["train_captions"].shape == (5, 7)
    np.testing.assert_array_equal(a["train_captions"], b["train_captions"])
    # Captions stay paired with their images.
    full = {tuple(c): i for c, i in zip(written["train_captions"], written["train_image_idxs"])}
    for c, i in zip(a["train_captions"], a["train_image_idxs"]):
        assert full[tuple(c)] == i
    with pytest.warns(UserWarning, match="only 8 training captions"):
        c = load_coco_data(path, max_train=100)
    assert c["train_captions"].shape[0] == 8


def test_images_are_loaded_when_present(tmp_path):
    written = write_coco_folder(tmp_path / "coco", images=True)
    data = load_coco_data(tmp_path / "coco")
    np.testing.assert_array_equal(data["val_images"], written["val_images"])
    np.testing.assert_array_equal(coco_image(data, "val", 2), written["val_images"][2])
    # Read from disk when indexed, in any order, repeats allowed.
    assert data["val_images"].shape == (3, 8, 8, 3) and len(data["val_images"]) == 3
    np.testing.assert_array_equal(data["val_images"][[2, 0, 2]], written["val_images"][[2, 0, 2]])


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "coco2014_captions.h5",
        "coco2014_vocab.json",
        "val2014_vgg16_fc7_pca.h5",
        "train2014_urls.txt",
    ],
)
def test_missing_file(coco, name):
    path, _ = coco
    (path / name).unlink()
    with pytest.raises(FileNotFoundError, match=rf"{name} not found.*cs231n data download coco"):
        load_coco_data(path)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="COCO folder .* not found"):
        load_coco_data(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["coco2014_captions.h5", "train2014_vgg16_fc7_pca.h5"])
def test_corrupt_h5(coco, name):
    path, _ = coco
    data = (path / name).read_bytes()
    (path / name).write_bytes(data[: len(data) // 3])  # a truncated download
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_coco_data(path)
    (path / name).write_bytes(b"<html>404 Not Found</html>")  # not HDF5 at all
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_coco_data(path)


def test_missing_dataset(coco):
    path, written = coco
    with h5py.File(path / "coco2014_captions.h5", "a") as f:
        del f["val_image_idxs"]
    with pytest.raises(ValueError, match="lacks the dataset.*val_image_idxs"):
        load_coco_data(path)
    with h5py.File(path / "coco2014_captions.h5", "a") as f:
        f["val_image_idxs"] = written["val_image_idxs"]
    with h5py.File(path / "train2014_vgg16_fc7_pca.h5", "a") as f:
        f["feats"] = f["features"][:]
        del f["features"]
    with pytest.raises(ValueError, match=r"lacks the dataset\(s\) \['features'\]"):
        load_coco_data(path)


def write_vocab(path, idx_to_word, word_to_idx=None):
    word_to_idx = (
        word_to_idx if word_to_idx is not None else {w: i for i, w in enumerate(idx_to_word)}
    )
    (path / "coco2014_vocab.json").write_text(
        json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx})
    )


def test_vocabulary_too_small_for_the_captions(coco):
    path, _ = coco
    write_vocab(path, WORDS[:6])  # the captions use indices up to 7
    with pytest.raises(
        ValueError, match="vocabulary has 6 words: the vocabulary file does not belong"
    ):
        load_coco_data(path)


def test_vocabulary_without_special_tokens(coco):
    path, _ = coco
    write_vocab(path, ["<NULL>", "<START>", "a", "b", "cat", "dog", "sits", "x"])
    with pytest.raises(ValueError, match=r"lacks the special token\(s\) \['<END>', '<UNK>'\]"):
        load_coco_data(path)
    write_vocab(path, ["<START>", "<NULL>", *WORDS[2:]])
    with pytest.raises(ValueError, match="<NULL> must have index 0"):
        load_coco_data(path)


def test_vocabulary_halves_disagree(coco):
    path, _ = coco
    word_to_idx = {w: i for i, w in enumerate(WORDS)}
    word_to_idx["cat"], word_to_idx["dog"] = word_to_idx["dog"], word_to_idx["cat"]
    write_vocab(path, WORDS, word_to_idx)
    with pytest.raises(ValueError, match="idx_to_word and word_to_idx disagree"):
        load_coco_data(path)


def test_vocabulary_not_json(coco):
    path, _ = coco
    (path / "coco2014_vocab.json").write_text('{"idx_to_word": [')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_coco_data(path)
    (path / "coco2014_vocab.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="keys idx_to_word and word_to_idx"):
        load_coco_data(path)


def test_image_indices_beyond_the_features(coco):
    path, _ = coco
    with h5py.File(path / "coco2014_captions.h5", "a") as f:
        f["train_image_idxs"][0] = 4  # only 4 training images: 0..3
    with pytest.raises(
        ValueError, match="train_image_idxs range from 0 to 4, but there are features for 4"
    ):
        load_coco_data(path)


def test_urls_do_not_match_features(coco):
    path, _ = coco
    (path / "val2014_urls.txt").write_text("http://x/1.jpg\n")
    with pytest.raises(ValueError, match="lists 1 images but the features cover 3"):
        load_coco_data(path)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def test_decode_captions():
    rows = np.array([[1, 4, 5, 2, 0, 0], [1, 6, 0, 7, 2, 5]])
    assert decode_captions(rows, WORDS) == ["<START> a cat <END>", "<START> dog sits <END>"]
    assert decode_captions(rows[0], WORDS) == "<START> a cat <END>"
    assert strip_special_tokens("<START> a cat <UNK> <END>") == "a cat"


def test_sample_coco_minibatch(coco):
    path, _ = coco
    data = load_coco_data(path)
    np.random.seed(1)
    captions, features, urls = sample_coco_minibatch(data, batch_size=5, split="val")
    assert captions.shape == (5, 7) and features.shape == (5, PCA_DIM) and urls.shape == (5,)
    for c, f, u in zip(captions, features, urls):
        # The features and URL are those of an image this caption describes.
        rows = np.flatnonzero((data["val_captions"] == c).all(axis=1))
        images = data["val_image_idxs"][rows]
        assert any(
            np.array_equal(f, data["val_features"][i]) and u == data["val_urls"][i] for i in images
        )
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        sample_coco_minibatch(data, split="test")


def test_references_by_image(coco):
    path, written = coco
    data = load_coco_data(path)
    refs = references_by_image(data, "train")
    assert sorted(refs) == [0, 1, 2, 3]
    assert all(len(r) == CAPTIONS_PER_IMAGE for r in refs.values())
    first = decode_captions(written["train_captions"][0], WORDS)
    assert strip_special_tokens(first) in refs[0]


def test_coco_image_local_copy_or_none(coco):
    import matplotlib.image

    path, written = coco
    data = load_coco_data(path)
    assert coco_image(data, "train", 1, base_dir=path) is None  # no images offline
    (path / "train2014").mkdir()
    pixels = np.zeros((4, 5, 3), dtype=np.uint8)
    pixels[:, :, 0] = 200
    local = path / "train2014" / "COCO_train2014_000000000001.jpg"
    with open(local, "wb") as f:  # a PNG under the URL's file name (the reader sniffs it)
        matplotlib.image.imsave(f, pixels, format="png")
    img = coco_image(data, "train", 1, base_dir=path)
    assert img.shape == (4, 5, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], 200)


def test_coco_dir_prefers_real_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    write_coco_folder(tmp_path / "coco_captioning")
    assert coco_utils.coco_dir() == str(tmp_path / "coco_captioning")
    assert "real COCO" in capsys.readouterr().out


def test_coco_dir_falls_back_to_embedded(tmp_path, monkeypatch, capsys):
    from cs231n.data import embedded_coco

    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    real = embedded_coco.ensure_embedded_coco
    monkeypatch.setattr(
        embedded_coco,
        "ensure_embedded_coco",
        lambda dest: real(dest, num_train=20, num_val=10),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = coco_utils.coco_dir()
    assert path == str(tmp_path / "embedded" / "coco_captioning")
    assert "EMBEDDED" in capsys.readouterr().out
    data = load_coco_data(path)
    assert data["train_images"].shape == (20, 64, 64, 3)


def test_plot_captioned_images_with_missing_images():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cs231n.coco_utils import plot_captioned_images

    image = np.zeros((8, 8, 3), dtype=np.uint8)
    fig = plot_captioned_images(
        [image, None, image], ["a cat", "a dog\nGT: a cat", "x " * 40], ncols=2
    )
    axes = fig.axes
    assert len(axes) == 4  # a 2x2 grid; the last panel stays empty
    assert axes[0].get_title() == "a cat" and len(axes[0].images) == 1
    assert "not available offline" in axes[1].texts[0].get_text() and not axes[1].images
    assert "\n" in axes[2].get_title(), "long captions are wrapped"
    plt.close(fig)
