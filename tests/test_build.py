"""setup.py's build switch: a failed extension build falls back to numpy and says so,
except under CS231N_STRICT_BUILD=1 (CI), where it stops the install."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def broken_tree(tmp_path):
    """setup.py beside an extension source that cannot be cythonized."""
    shutil.copy(ROOT / "setup.py", tmp_path / "setup.py")
    (tmp_path / "cs231n").mkdir()
    (tmp_path / "cs231n" / "im2col_cython.pyx").write_text("def broken(:\n")
    return tmp_path


def _build(tree, **env):
    env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_failed_build_falls_back_and_says_so(broken_tree):
    r = _build(broken_tree, CS231N_STRICT_BUILD=None, CS231N_NO_EXTENSION=None)
    assert r.returncode == 0, r.stderr
    assert "pure-numpy fallback" in r.stderr


def test_a_failed_build_is_an_error_when_strict(broken_tree):
    r = _build(broken_tree, CS231N_STRICT_BUILD="1", CS231N_NO_EXTENSION=None)
    assert r.returncode != 0
    assert "CS231N_STRICT_BUILD=1 forbids the numpy fallback" in r.stderr
