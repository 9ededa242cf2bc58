"""The embedded COCO-captioning stand-in: determinism, the on-disk format read by
load_coco_data, captions that describe their scenes, features that see colours and
shapes, and the atomic, idempotent placement of the generated set."""

import h5py
import numpy as np
import pytest

from cs231n.coco_utils import decode_captions, load_coco_data, references_by_image
from cs231n.data import embedded_coco as E

NUM_TRAIN, NUM_VAL = 30, 12


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    path = tmp_path_factory.mktemp("emb") / "coco_captioning"
    return E.ensure_embedded_coco(path, num_train=NUM_TRAIN, num_val=NUM_VAL)


def test_deterministic(embedded, tmp_path):
    again = E.ensure_embedded_coco(tmp_path / "again", num_train=NUM_TRAIN, num_val=NUM_VAL)
    assert E.fingerprint(again) == E.fingerprint(embedded)
    other = E.ensure_embedded_coco(tmp_path / "other", num_train=NUM_TRAIN, num_val=NUM_VAL, seed=1)
    assert E.fingerprint(other) != E.fingerprint(embedded)


def test_format(embedded):
    data = load_coco_data(embedded)
    words = data["idx_to_word"]
    assert words[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    for split, n in (("train", NUM_TRAIN), ("val", NUM_VAL)):
        captions = data[f"{split}_captions"]
        assert captions.dtype == np.int32 and captions.shape == (5 * n, E.MAX_WORDS + 2)
        assert np.bincount(data[f"{split}_image_idxs"], minlength=n).tolist() == [5] * n
        assert np.all(captions[:, 0] == 1), "every caption starts with <START>"
        for row in captions:
            end = np.flatnonzero(row == 2)
            assert end.size == 1 and np.all(row[end[0] + 1 :] == 0), "<END> then <NULL> padding"
            assert np.all(row[1 : end[0]] >= 4), "no special token inside a caption"
        assert data[f"{split}_features"].dtype == np.float32
        assert data[f"{split}_features"].shape == (n, E.PCA_DIM)
        assert data[f"{split}_images"].shape == (n, 64, 64, 3)
        assert data[f"{split}_images"].dtype == np.uint8
        assert data[f"{split}_urls"][3] == f"embedded://{split}2014/000003"
    full = load_coco_data(embedded, pca_features=False)
    assert full["train_features"].shape == (NUM_TRAIN, 1024)
    with h5py.File(embedded / "coco2014_captions.h5") as f:
        assert f.attrs[E.EMBEDDED_ATTR] == E.GENERATOR_VERSION


def test_pca_features_project_the_full_ones(embedded):
    pca = load_coco_data(embedded)
    full = load_coco_data(embedded, pca_features=False)
    # The PCA is fitted on the training images; both files share one scale factor.
    mean, components = E.fit_pca(full["train_features"], E.PCA_DIM)
    for split in ("train", "val"):
        np.testing.assert_allclose(
            pca[f"{split}_features"],
            (full[f"{split}_features"] - mean) @ components,
            atol=1e-4,
        )
    # Unit variance per dimension on average, as the docstring promises.
    assert np.mean(np.sum(pca["train_features"] ** 2, axis=1)) == pytest.approx(E.PCA_DIM, rel=1e-3)


def test_fit_pca_both_paths_match_svd(rng):
    X = rng.standard_normal((40, 12)) @ rng.standard_normal((12, 12))
    for rows in (40, 9):  # covariance path (N >= F) and Gram path (N < F)
        Y = X[:rows]
        mean, comps = E.fit_pca(Y, 12)
        _, S, Vt = np.linalg.svd(Y - Y.mean(0), full_matrices=False)
        k = min(rows - 1, 12)  # the rank of the centred data
        np.testing.assert_allclose(np.abs(comps[:, :k]), np.abs(Vt[:k].T), atol=1e-5)
        assert np.all(comps[:, k:] == 0)


def test_captions_describe_the_scene():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scene = E.sample_scene(rng)
        objs = scene["objects"]
        key = "cx" if scene["layout"] == "row" else "cy"
        assert [o[key] for o in objs] == sorted(o[key] for o in objs), "objects in reading order"
        captions = E.scene_captions(scene)
        assert len(captions) == 5 and all(len(c.split()) <= E.MAX_WORDS for c in captions)
        first = captions[0].split()
        assert first[1:3] == [objs[0]["color"], objs[0]["shape"]]
        relation = "left" if scene["layout"] == "row" else "above"
        assert relation in first or "top" in first
        last = captions[-1].split()  # "the <shape> ... is <color> and the <shape> ... is <color>"
        assert last[1] == objs[0]["shape"] and last[-1] == objs[-1]["color"]


def test_references_match_the_generator(embedded):
    data = load_coco_data(embedded)
    refs = references_by_image(data, "val")
    rng = np.random.default_rng([E.SEED, 1])  # the val split's generator
    scenes, _, captions = E.generate_split(NUM_VAL, rng)
    for i in range(NUM_VAL):
        assert sorted(refs[i]) == sorted(captions[i])
    assert decode_captions(data["val_captions"][:1], data["idx_to_word"])[0].startswith("<START>")


def single_object_image(color, shape):
    scene = dict(
        layout="row",
        objects=[dict(color=color, shape=shape, size="large", r=9.0, cx=32.0, cy=32.0)],
    )
    return E.render_scene(scene, np.random.default_rng(0))


def test_features_see_colour_and_shape():
    images = np.stack(
        [single_object_image(c, s) for c in ("red", "blue") for s in ("square", "diamond")]
    )
    f = E.extract_features(images).reshape(4, 8, 8, 9 + 7)
    hog = f[:, 2:6, 2:6, :9].sum(axis=(1, 2))  # orientation histograms around the object
    hue = f[:, 2:6, 2:6, 9:].sum(axis=(1, 2))
    # Bin k is centred at (k + 0.5) * 20 degrees: 0 degrees is shared by bins 8 and 0,
    # 90 degrees falls in bin 4; 45 and 135 degrees fall mostly in bins 2 and 6.
    for i, shape in enumerate(("square", "diamond", "square", "diamond")):
        axis_aligned = hog[i, [0, 4]].sum() + hog[i, 8]
        diagonal = hog[i, [2, 6]].sum()
        assert (axis_aligned > 2 * diagonal) == (shape == "square")
    # Red and blue fall in different hue bins, whatever the shape.
    assert hue[0].argmax() == hue[1].argmax() != hue[2].argmax() == hue[3].argmax()


def test_ensure_is_idempotent_and_safe(embedded, tmp_path):
    before = (embedded / "coco2014_captions.h5").stat().st_mtime_ns
    assert E.ensure_embedded_coco(embedded, num_train=NUM_TRAIN, num_val=NUM_VAL) == embedded
    assert (embedded / "coco2014_captions.h5").stat().st_mtime_ns == before, "not regenerated"
    # A folder that is not a generated set is never replaced.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own data")
    with pytest.raises(FileExistsError, match="not a generated embedded set"):
        E.ensure_embedded_coco(mine, num_train=4, num_val=2)
    assert (mine / "notes.txt").read_text() == "my own data"
    # An incomplete generated set is regenerated, and nothing temporary is left behind.
    broken = tmp_path / "broken"
    E.ensure_embedded_coco(broken, num_train=4, num_val=2)
    (broken / "val2014_urls.txt").unlink()
    assert not E.is_current(broken)
    E.ensure_embedded_coco(broken, num_train=4, num_val=2)
    assert E.is_current(broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "mine"]
