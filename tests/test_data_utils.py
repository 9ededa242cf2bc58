"""CIFAR-10 loaders on files in the official format, and the data-location rules."""

import pickle
from pathlib import Path

import numpy as np
import pytest

import cs231n
from cs231n import data_utils
from cs231n.data import embedded_cifar
from cs231n.data_utils import get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch

PER_BATCH = 8  # training images per batch in these small sets
NUM_TEST = 6


def write_batch(path, rows, labels, protocol=2):
    """A batch written by hand, exactly as the official layout describes it."""
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": np.asarray(labels).tolist(),
        b"data": rows,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.fixture
def cifar(tmp_path, rng):
    """A small CIFAR-10 folder: (path, rows per file, labels per file)."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rows, labels = {}, {}
    for name in [*data_utils.TRAIN_FILES, data_utils.TEST_FILE]:
        n = NUM_TEST if name == data_utils.TEST_FILE else PER_BATCH
        rows[name] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, n)
        write_batch(root / name, rows[name], labels[name])
    with open(root / "batches.meta", "wb") as f:
        names = [f"class{i}".encode() for i in range(10)]
        pickle.dump({b"label_names": names, b"num_vis": 3072}, f, protocol=2)
    return root, rows, labels


# ----------------------------------------------------------------------------------------
# load_CIFAR_batch / load_CIFAR10
# ----------------------------------------------------------------------------------------


def test_batch_layout_is_red_then_green_then_blue_planes(cifar):
    root, rows, labels = cifar
    X, Y = load_CIFAR_batch(root / "data_batch_1")
    assert X.shape == (PER_BATCH, 32, 32, 3) and X.dtype == np.float64
    assert Y.dtype == np.int64 and np.array_equal(Y, labels["data_batch_1"])
    r = rows["data_batch_1"]
    n, i, j = 3, 5, 17
    for c in range(3):  # pixel (i, j) of channel c sits at c * 1024 + i * 32 + j
        assert X[n, i, j, c] == r[n, c * 1024 + i * 32 + j]


def test_load_CIFAR10_round_trip(cifar):
    root, rows, labels = cifar
    Xtr, Ytr, Xte, Yte = load_CIFAR10(root)
    assert Xtr.shape == (5 * PER_BATCH, 32, 32, 3) and Xte.shape == (NUM_TEST, 32, 32, 3)
    expected = np.concatenate([rows[n] for n in data_utils.TRAIN_FILES])
    back = Xtr.transpose(0, 3, 1, 2).reshape(len(Xtr), -1)  # images -> rows again
    assert np.array_equal(back, expected)
    assert np.array_equal(Ytr, np.concatenate([labels[n] for n in data_utils.TRAIN_FILES]))
    assert np.array_equal(Yte, labels["test_batch"])


def test_float32_option(cifar):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(cifar[0], dtype=np.float32)
    assert Xtr.dtype == np.float32 and Xte.dtype == np.float32
    assert Xtr.nbytes * 2 == load_CIFAR10(cifar[0])[0].nbytes


def test_reads_protocol_5_and_str_keys(tmp_path, rng):
    rows = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    with open(tmp_path / "b", "wb") as f:
        pickle.dump({"data": rows, "labels": [1, 2, 3, 4]}, f, protocol=5)
    X, Y = load_CIFAR_batch(tmp_path / "b")
    assert X.shape == (4, 32, 32, 3) and list(Y) == [1, 2, 3, 4]


def test_missing_folder_says_how_to_get_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="cs231n data download cifar10"):
        load_CIFAR10(tmp_path / "nowhere")


def test_missing_file_named(cifar):
    root = cifar[0]
    (root / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="missing data_batch_3.*cs231n data download"):
        load_CIFAR10(root)
    with pytest.raises(FileNotFoundError, match="data_batch_3 not found"):
        load_CIFAR_batch(root / "data_batch_3")


def test_truncated_pickle(cifar):
    path = cifar[0] / "data_batch_2"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="data_batch_2 is truncated"):
        load_CIFAR10(cifar[0])


def test_corrupt_pickle(cifar, rng):
    path = cifar[0] / "test_batch"
    path.write_bytes(b"<html>404 Not Found</html>" + rng.bytes(100))
    with pytest.raises(ValueError, match="test_batch is corrupt"):
        load_CIFAR10(cifar[0])


def test_empty_file_is_truncated(cifar):
    (cifar[0] / "data_batch_1").write_bytes(b"")
    with pytest.raises(ValueError, match="truncated"):
        load_CIFAR_batch(cifar[0] / "data_batch_1")


@pytest.mark.parametrize(
    "rows, labels, message",
    [
        (np.zeros((4, 3000), np.uint8), [0, 1, 2, 3], r"shape \(N, 3072\)"),
        (np.zeros((4, 32, 32, 3), np.uint8), [0, 1, 2, 3], r"shape \(N, 3072\)"),
        (np.zeros((4, 3072), np.float64), [0, 1, 2, 3], "uint8"),
        (np.zeros((4, 3072), np.uint8), [0, 1, 2], "4 integers"),
        (np.zeros((4, 3072), np.uint8), [0, 1, 2, 10], r"0\.\.9"),
        (np.zeros((4, 3072), np.uint8), [0.5, 1, 2, 3], "integers"),
    ],
)
def test_wrong_contents(tmp_path, rows, labels, message):
    write_batch(tmp_path / "b", rows, np.array(labels))
    with pytest.raises(ValueError, match=message):
        load_CIFAR_batch(tmp_path / "b")


def test_not_a_batch(tmp_path):
    with open(tmp_path / "b", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(ValueError, match="expected a dict"):
        load_CIFAR_batch(tmp_path / "b")
    with open(tmp_path / "b", "wb") as f:
        pickle.dump({b"something": 1}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        load_CIFAR_batch(tmp_path / "b")


def test_class_names(cifar):
    assert data_utils.cifar10_class_names(cifar[0]) == [f"class{i}" for i in range(10)]


# ----------------------------------------------------------------------------------------
# get_CIFAR10_data
# ----------------------------------------------------------------------------------------


def test_splits_shapes_and_order(cifar):
    root = cifar[0]
    Xtr, Ytr, Xte, Yte = load_CIFAR10(root)
    data = get_CIFAR10_data(30, 5, 4, subtract_mean=False, cifar10_dir=root)
    shapes = {k: v.shape for k, v in data.items()}
    assert shapes == {
        "X_train": (30, 3, 32, 32),
        "y_train": (30,),
        "X_val": (5, 3, 32, 32),
        "y_val": (5,),
        "X_test": (4, 3, 32, 32),
        "y_test": (4,),
    }
    assert np.array_equal(data["X_train"], Xtr[:30].transpose(0, 3, 1, 2))
    assert np.array_equal(data["X_val"], Xtr[30:35].transpose(0, 3, 1, 2))  # right after
    assert np.array_equal(data["y_val"], Ytr[30:35])
    assert np.array_equal(data["X_test"], Xte[:4].transpose(0, 3, 1, 2))
    assert all(data[k].flags.c_contiguous for k in ("X_train", "X_val", "X_test"))
    assert data["y_train"].dtype == np.int64


def test_mean_subtraction_uses_training_mean(cifar):
    root = cifar[0]
    raw = get_CIFAR10_data(30, 5, 4, subtract_mean=False, cifar10_dir=root)
    data = get_CIFAR10_data(30, 5, 4, cifar10_dir=root)
    mean = raw["X_train"].mean(axis=0)
    assert np.allclose(data["X_train"].mean(axis=0), 0, atol=1e-9)
    assert np.allclose(data["X_val"], raw["X_val"] - mean)
    assert np.allclose(data["X_test"], raw["X_test"] - mean)


def test_float32_halves_memory(cifar):
    d64 = get_CIFAR10_data(30, 5, 4, cifar10_dir=cifar[0])
    d32 = get_CIFAR10_data(30, 5, 4, dtype=np.float32, cifar10_dir=cifar[0])
    for key in ("X_train", "X_val", "X_test"):
        assert d32[key].dtype == np.float32
        assert d32[key].nbytes * 2 == d64[key].nbytes
        assert np.allclose(d32[key], d64[key], atol=1e-4)


def test_shrinks_to_fit_with_warnings(cifar):
    with pytest.warns(UserWarning, match="num_training shrunk from 49000 to 35"):
        data = get_CIFAR10_data(num_validation=5, num_test=3, cifar10_dir=cifar[0])
    assert len(data["X_train"]) == 35 and len(data["X_val"]) == 5
    with pytest.warns(UserWarning, match="num_test shrunk from 1000 to 6"):
        data = get_CIFAR10_data(10, 5, cifar10_dir=cifar[0])
    assert len(data["X_test"]) == NUM_TEST


def test_bad_sizes_rejected(cifar):
    with pytest.raises(ValueError, match="leaves no training images"):
        get_CIFAR10_data(10, 40, 1, cifar10_dir=cifar[0])
    with pytest.raises(ValueError, match="num_training must be a non-negative int"):
        get_CIFAR10_data(-1, cifar10_dir=cifar[0])
    with pytest.raises(TypeError, match="floating"):
        get_CIFAR10_data(10, 5, 1, dtype=np.uint8, cifar10_dir=cifar[0])


# ----------------------------------------------------------------------------------------
# Where the data lives
# ----------------------------------------------------------------------------------------


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    assert data_utils.data_root() == tmp_path
    monkeypatch.delenv("CS231N_DATA_DIR")
    checkout = Path(cs231n.__file__).resolve().parents[1] / "datasets"
    expected = checkout if checkout.is_dir() else Path.home() / ".cache" / "cs231n"
    assert data_utils.data_root() == expected


def small_embedded(path):
    embedded_cifar.write_embedded_cifar10(path, num_train=50, num_test=20)


def test_cifar10_dir_prefers_real_data(tmp_path, monkeypatch, cifar, capsys):
    monkeypatch.setenv("CS231N_DATA_DIR", str(cifar[0].parent))
    assert data_utils.cifar10_dir() == str(cifar[0])
    assert "real CIFAR-10" in capsys.readouterr().out
    assert not data_utils.is_embedded(cifar[0])


def test_cifar10_dir_falls_back_to_embedded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    small_embedded(data_utils.embedded_cifar10_path())  # stands in for the full set
    (tmp_path / "cifar-10-batches-py").mkdir()  # an incomplete real set is not used
    with pytest.warns(UserWarning, match="incomplete"):
        path = data_utils.cifar10_dir()
    assert path == str(tmp_path / "embedded" / "cifar-10-batches-py")
    out = capsys.readouterr().out
    assert "EMBEDDED" in out and "cs231n data download cifar10" in out
    assert data_utils.is_embedded(path)
    (tmp_path / "cifar-10-batches-py").rmdir()
    assert data_utils.cifar10_dir(announce=False) == path
    assert capsys.readouterr().out == ""
    assert data_utils.cifar10_class_names() == embedded_cifar.CLASS_NAMES


def test_is_embedded_on_odd_paths(tmp_path):
    assert not data_utils.is_embedded(tmp_path / "missing")
    (tmp_path / "batches.meta").write_bytes(b"garbage")
    assert not data_utils.is_embedded(tmp_path)


def test_data_root_in_a_normal_install_never_uses_a_foreign_datasets_folder(tmp_path):
    """Installed without -e, the package's parent is site-packages, where ``datasets``
    is Hugging Face's package: data must go to ~/.cache/cs231n, not into it."""
    import os
    import shutil
    import subprocess
    import sys

    site = tmp_path / "site-packages"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "cs231n",
        site / "cs231n",
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.c"),
    )
    (site / "datasets").mkdir()
    (site / "datasets" / "__init__.py").write_text("# another package named datasets\n")
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONPATH": str(site),
        "CS231N_NUMPY_FALLBACK": "1",
    }
    # This checkout may be installed in editable mode; its import hook would win over
    # PYTHONPATH, so the child drops it and imports the copy in "site-packages".
    code = (
        "import sys\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import cs231n.data_utils as d\n"
        "assert d.__file__.startswith(sys.argv[1]), d.__file__\n"
        "print(d.data_root())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == home / ".cache" / "cs231n"
    # The same tree with our checkout's marker files is a checkout: its datasets/ is used.
    (site / "datasets" / "get_datasets.sh").write_text("#!/bin/sh\n")
    (site / "pyproject.toml").write_text('[project]\nname = "cs231n"\n')
    out = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert Path(out.stdout.strip()) == site / "datasets"
