"""``cs231n data generate / verify / where`` on a temporary data root."""

import functools

import numpy as np
import pytest

from cs231n import data_utils
from cs231n.cli import main
from cs231n.data import embedded_cifar
from cs231n.data.embedded_cifar import write_cifar10_batches


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_DATA_DIR", str(tmp_path))
    small = functools.partial(
        embedded_cifar.ensure_embedded_cifar10, num_train=50, num_test=20
    )  # the full set takes seconds; the command is the same
    monkeypatch.setattr(embedded_cifar, "ensure_embedded_cifar10", small)
    return tmp_path


def real_set(root, rng, per_batch=4):
    X = rng.integers(0, 256, (5 * per_batch, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 5 * per_batch)
    names = [f"class{i}" for i in range(10)]
    write_cifar10_batches(root / "cifar-10-batches-py", X, y, X[:per_batch], y[:per_batch], names)


def test_generate_then_verify(root, capsys):
    assert main(["data", "generate", "cifar10"]) == 0
    assert embedded_cifar.is_current(root / "embedded" / "cifar-10-batches-py")
    assert "50 training and 20 test images" in capsys.readouterr().out
    assert main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert "cifar10 (real)" in out and "absent" in out and "BROKEN" not in out


def test_verify_reports_a_broken_real_set(root, rng, capsys):
    real_set(root, rng)
    assert main(["data", "verify"]) == 0
    assert "cifar10 (real)         ok" in capsys.readouterr().out
    batch = root / "cifar-10-batches-py" / "data_batch_4"
    batch.write_bytes(batch.read_bytes()[:1000])
    assert main(["data", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "data_batch_4 is truncated" in out
    assert "cs231n data download NAME --force" in out


def test_where_says_which_set_notebooks_use(root, rng, capsys):
    assert main(["data", "where"]) == 0
    out = capsys.readouterr().out
    assert f"Data root: {root}" in out and "CS231N_DATA_DIR" in out
    assert "notebooks use the embedded set" in out
    real_set(root, rng)
    main(["data", "where"])
    out = capsys.readouterr().out
    lines = out[out.index("  cifar10") :].splitlines()[1:]
    cifar = "\n".join(line for line in lines[:3] if line.startswith("    "))  # its block
    assert "[present]" in cifar and "notebooks use the real set" in cifar
    assert data_utils.cifar10_dir(announce=False) == str(root / "cifar-10-batches-py")


def test_data_without_action_prints_help(capsys):
    assert main(["data"]) == 2
    assert "download" in capsys.readouterr().out
