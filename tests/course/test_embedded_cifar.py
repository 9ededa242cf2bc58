"""The embedded CIFAR-10 stand-in: deterministic, balanced, in the official format."""

import hashlib
import pickle
import threading

import numpy as np
import pytest

from cs231n import data_utils
from cs231n.data import embedded_cifar as E


def digest(folder):
    """sha256 over every file of a generated set, computed here (not E.fingerprint)."""
    h = hashlib.sha256()
    for name in [*E.BATCH_FILES, E.META_FILE]:
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def test_same_bytes_every_time(tmp_path):
    E.write_embedded_cifar10(tmp_path / "a", num_train=100, num_test=50)
    E.write_embedded_cifar10(tmp_path / "b", num_train=100, num_test=50)
    E.write_embedded_cifar10(tmp_path / "c", num_train=100, num_test=50, seed=E.SEED + 1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert E.fingerprint(tmp_path / "a") == E.fingerprint(tmp_path / "b")


def test_read_by_the_official_loaders(tmp_path):
    E.write_embedded_cifar10(tmp_path, num_train=200, num_test=40)
    Xtr, ytr, Xte, yte = data_utils.load_CIFAR10(tmp_path, dtype=np.uint8)
    assert Xtr.shape == (200, 32, 32, 3) and Xte.shape == (40, 32, 32, 3)
    assert data_utils.cifar10_class_names(tmp_path) == E.CLASS_NAMES
    assert data_utils.is_embedded(tmp_path)
    with open(tmp_path / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (40, 3072)
    assert len(batch[b"filenames"]) == 40


def test_class_balance(tmp_path):
    E.write_embedded_cifar10(tmp_path, num_train=300, num_test=100)
    _, ytr, _, yte = data_utils.load_CIFAR10(tmp_path, dtype=np.uint8)
    assert np.array_equal(np.bincount(ytr, minlength=10), np.full(10, 30))
    assert np.array_equal(np.bincount(yte, minlength=10), np.full(10, 10))
    assert not np.array_equal(ytr[:30], np.sort(ytr[:30]))  # shuffled, not grouped


def test_images_use_the_whole_range_and_differ():
    X, y = E.generate_images(20)
    assert X.dtype == np.uint8 and X.shape == (200, 32, 32, 3) and y.dtype == np.int64
    assert X.min() < 20 and X.max() > 235
    per_image_std = X.reshape(len(X), -1).std(axis=1)
    assert per_image_std.min() > 5  # no blank images
    assert len({x.tobytes() for x in X}) == len(X)  # no duplicates


def test_colour_is_only_a_hint():
    # An object's class hue is a prior, not a rule: every class shows many hues.
    X, y = E.generate_images(50)
    for c in range(E.NUM_CLASSES):
        mean_rgb = X[y == c].reshape(-1, 32 * 32, 3).mean(axis=1)
        assert np.ptp(mean_rgb, axis=0).min() > 60


def test_sizes_must_divide_into_classes(tmp_path):
    with pytest.raises(ValueError, match="multiples of 10"):
        E.write_embedded_cifar10(tmp_path, num_train=105, num_test=50)


def small(dest, **kwargs):
    return E.ensure_embedded_cifar10(dest, num_train=50, num_test=20, **kwargs)


def test_ensure_generates_once(tmp_path):
    dest = tmp_path / "embedded" / "cifar-10-batches-py"
    small(dest)
    assert E.is_current(dest)
    stamp = (dest / "data_batch_1").stat().st_mtime_ns
    small(dest)
    assert (dest / "data_batch_1").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in dest.parent.iterdir()) == ["cifar-10-batches-py"]


def test_ensure_replaces_an_outdated_set(tmp_path):
    dest = tmp_path / "cifar-10-batches-py"
    small(dest)
    meta = dest / E.META_FILE
    with open(meta, "rb") as f:
        content = pickle.load(f, encoding="bytes")
    content[E.EMBEDDED_KEY] = E.GENERATOR_VERSION - 1
    with open(meta, "wb") as f:
        pickle.dump(content, f, protocol=2)
    assert not E.is_current(dest)
    small(dest)
    assert E.is_current(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py"]


def test_ensure_never_replaces_foreign_data(tmp_path):
    dest = tmp_path / "cifar-10-batches-py"
    dest.mkdir()
    (dest / "my_file").write_text("mine")
    with pytest.raises(FileExistsError, match="not a generated embedded set"):
        small(dest)
    assert (dest / "my_file").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py"]


def test_concurrent_generation_yields_one_good_set(tmp_path):
    dest = tmp_path / "cifar-10-batches-py"
    errors = []

    def worker():
        try:
            small(dest)
        except Exception as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert E.is_current(dest)
    data_utils.load_CIFAR10(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py"]
