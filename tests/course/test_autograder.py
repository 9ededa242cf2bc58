"""The Gradescope autograder zip: what it holds, and its run_autograder grading a solution
zip, an untouched release, an extracted (folder) upload under the no-namespace fallback and
an empty upload, in a temporary folder laid out like /autograder (no apt, no venv)."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cs231n.cli import main
from cs231n.instructor import sandbox
from cs231n.instructor.autograder import build_autograder, find_submission
from cs231n.instructor.release import ReleaseError, build_release
from cs231n.submission.collect import collect

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "assignment1"  # the smallest set of grading tests


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("ag") / "autograder.zip"
    build_autograder(ROOT, ASSIGNMENT, path)
    return path


def test_zip_holds_the_scripts_the_reference_and_only_this_assignments_tests(
    autograder_zip, tmp_path
):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        layers = zf.read("cs231n/layers.py").decode()
    assert names == sorted(names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR, script
    assert setup.startswith("#!/usr/bin/env bash") and run.startswith("#!/usr/bin/env bash")
    assert "apt-get install -y" in setup
    for package in ("python3", "python3-venv", "python3-pip", "bubblewrap"):
        assert f" {package}" in setup
    assert "pip install -e /autograder/source" in setup
    assert f"cs231n.instructor.autograder run {ASSIGNMENT}" in run
    assert "BEGIN SOLUTION" in layers  # the reference solution, not the release
    # The grader itself travels with it (a student's release never holds it).
    for module in ("grade", "sandbox", "answers", "_child", "autograder", "readback"):
        assert f"cs231n/instructor/{module}.py" in names, module
    assert "tests/grading/a1.py" in names and "tests/grading/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/") and not n.startswith("tests/grading/")]
    assert not [n for n in names if n.startswith("tests/grading/a") and n != "tests/grading/a1.py"]
    assert not [n for n in names if n.startswith("scripts/") or "__pycache__" in n]
    assert not [n for n in names if n.endswith((".so", ".c", ".ipynb"))]
    assert {"pyproject.toml", "setup.py", "README.md"} <= set(names)
    # Deterministic, and never overwritten without --force.
    again = tmp_path / "again.zip"
    build_autograder(ROOT, ASSIGNMENT, again)
    assert again.read_bytes() == autograder_zip.read_bytes()
    with pytest.raises(ReleaseError, match="exists"):
        build_autograder(ROOT, ASSIGNMENT, again)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "a1_autograder.zip"
    assert main(["autograder", ASSIGNMENT, "--out", str(out)]) == 0
    assert zipfile.is_zipfile(out)
    assert main(["autograder", ASSIGNMENT, "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def student_zip(tmp_path, solved):
    root = tmp_path / ("solved" if solved else "release")
    build_release(ROOT, ASSIGNMENT, root)
    if solved:
        for src in (ROOT / "cs231n").rglob("*.py"):
            if "__pycache__" not in src.parts and "instructor" not in src.parts:
                shutil.copy(src, root / src.relative_to(ROOT))
    zip_path, *_ = collect(root, ASSIGNMENT, pdf=False)
    return zip_path


def run_autograder(home, **env):
    """Run the zip's run_autograder with /autograder replaced by ``home``."""
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(home),
        "AUTOGRADER_PYTHON": sys.executable,
        **env,
    }
    done = subprocess.run(
        ["bash", str(home / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads((home / "results" / "results.json").read_text())
    return done, results


def set_submission(home, *, zip_path=None, folder=None):
    shutil.rmtree(home / "submission", ignore_errors=True)
    (home / "submission").mkdir()
    if zip_path:
        shutil.copy(zip_path, home / "submission" / zip_path.name)
    if folder:
        with zipfile.ZipFile(folder) as zf:
            zf.extractall(home / "submission")


def test_run_autograder_grades_uploads_like_cs231n_grade(autograder_zip, tmp_path):
    home = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(home / "source")
    (home / "results").mkdir()
    solution, release = student_zip(tmp_path, True), student_zip(tmp_path, False)
    sandboxed = sandbox.bwrap_works()

    set_submission(home, zip_path=solution)
    done, full = run_autograder(home)
    assert done.returncode == 0, done.stderr
    assert full["score"] == sum(t["max_score"] for t in full["tests"]) > 0, full
    assert ("does not allow the bubblewrap sandbox" in full["output"]) != sandboxed
    for p in [home / "source", *(home / "source").rglob("*")]:
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p  # chmod -R go-rwx

    set_submission(home, zip_path=release)
    _, empty = run_autograder(home)
    assert empty["score"] == 0 and len(empty["tests"]) == len(full["tests"])
    assert all("NotImplementedError" in t["output"] for t in empty["tests"])

    # Gradescope may extract the uploaded zip; and bwrap may be unusable there.
    set_submission(home, folder=solution)
    _, fallback = run_autograder(home, CS231N_AUTOGRADER_NO_BWRAP="1")
    assert fallback["score"] == full["score"]
    assert "does not allow the bubblewrap sandbox" in fallback["output"]
    assert "resource limits only" in fallback["output"]

    set_submission(home)
    _, nothing = run_autograder(home)
    assert nothing["score"] == 0 and "No submission was found" in nothing["output"]
    assert all(t["score"] == 0 for t in nothing["tests"])


def test_find_submission_prefers_the_zip_then_the_shallowest_package(tmp_path):
    assert find_submission(tmp_path / "missing", ASSIGNMENT)[0] is None
    (tmp_path / "deep" / "a" / "cs231n").mkdir(parents=True)
    assert find_submission(tmp_path, ASSIGNMENT)[0] == tmp_path / "deep" / "a"
    (tmp_path / "cs231n").mkdir()
    assert find_submission(tmp_path, ASSIGNMENT)[0] == tmp_path
    (tmp_path / "other.zip").write_bytes(b"")
    (tmp_path / f"{ASSIGNMENT}_submission.zip").write_bytes(b"")
    path, note = find_submission(tmp_path, ASSIGNMENT)
    assert path.name == f"{ASSIGNMENT}_submission.zip" and path.name in note
