"""Stand-ins for the real CIFAR-10: its exact format, no embedded mark, chosen difficulty."""

import numpy as np
import pytest

from cs231n import data_utils
from cs231n.cli import main
from cs231n.data import embedded_cifar


def test_a_standin_reads_as_the_real_set(tmp_path, capsys):
    assert (
        main(["data", "standin", str(tmp_path), "--size", "embedded", "--difficulty", "hard"]) == 0
    )
    folder = tmp_path / "cifar-10-batches-py"
    assert data_utils.is_complete(folder) and not data_utils.is_embedded(folder)
    Xtr, ytr, Xte, yte = data_utils.load_CIFAR10(folder, dtype="uint8")
    assert Xtr.shape == (10_000, 32, 32, 3) and Xte.shape == (2_000, 32, 32, 3)
    assert np.bincount(ytr).tolist() == [1000] * 10
    assert "CS231N_DATA_DIR=" in capsys.readouterr().out
    # With CS231N_DATA_DIR pointing at it, the notebooks' data loader takes it as real.
    import os

    old = os.environ.get("CS231N_DATA_DIR")
    os.environ["CS231N_DATA_DIR"] = str(tmp_path)
    try:
        assert data_utils.cifar10_dir(announce=False) == str(folder)
    finally:
        if old is None:
            del os.environ["CS231N_DATA_DIR"]
        else:
            os.environ["CS231N_DATA_DIR"] = old


def test_difficulty_changes_the_images_and_the_seed_repeats_them(tmp_path):
    easy = embedded_cifar.write_standin_cifar10(tmp_path / "e", "embedded", "easy", seed=5)
    hard = embedded_cifar.write_standin_cifar10(tmp_path / "h", "embedded", "hard", seed=5)
    again = embedded_cifar.write_standin_cifar10(tmp_path / "h2", "embedded", "hard", seed=5)
    assert embedded_cifar.fingerprint(hard) == embedded_cifar.fingerprint(again)
    assert embedded_cifar.fingerprint(hard) != embedded_cifar.fingerprint(easy)

    # Harder images are noisier: neighbouring pixels agree less.
    def roughness(folder):
        X = data_utils.load_CIFAR10(folder, dtype="float32")[0][:2000]
        return float(np.abs(np.diff(X, axis=2)).mean())

    assert roughness(hard) > 1.5 * roughness(easy)
    # The knobs are restored: the embedded set is unchanged by writing stand-ins.
    assert embedded_cifar.NOISE_STD == 10.0 and embedded_cifar.CLUTTER_STROKES == 2


def test_a_standin_never_overwrites(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "mine.txt").write_text("keep me")
    assert main(["data", "standin", str(tmp_path), "--size", "embedded"]) == 1
    assert (tmp_path / "cifar-10-batches-py" / "mine.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="difficulty"):
        embedded_cifar.write_standin_cifar10(tmp_path / "x", "embedded", "impossible")
