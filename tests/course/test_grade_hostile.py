"""Hostile submissions graded in one batch beside an honest one: each costs only itself.

Classes of the report covered here (the sandbox's own limits are in test_sandbox.py,
the read-back of hostile files in test_readback.py):

- results that cannot be compared (a str array) and garbage written straight into the
  grader's result and status descriptors (found through /proc/self/fd): that test
  earns nothing, the batch goes on;
- zips that used to sink the batch: a 300-character member name, a file and a folder of
  the same name, a corrupt deflate stream: "could not be graded: <reason>";
- names that used to escape --out or clobber the gradebook: ``...zip`` (stem ``..``)
  and ``gradebook.csv.zip``: every output lands inside --out, the gradebook intact;
- a submission that sleeps in every test: stopped by its time budget, not the batch.

The honest submission keeps its full score in every batch.
"""

import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

import pytest

from cs231n.instructor import sandbox
from cs231n.instructor.grade import Grader, grade_batch
from cs231n.instructor.release import solution_tree

ROOT = Path(__file__).resolve().parents[2]
KNN = "cs231n/classifiers/k_nearest_neighbor.py"
SIGNATURE = "    def compute_distances_two_loops(self, X):"
pytestmark = pytest.mark.skipif(
    not sandbox.bwrap_works() and not os.environ.get("CS231N_REQUIRE_SANDBOX"),
    reason="bubblewrap is needed to grade",
)


@pytest.fixture(scope="module")
def grader():
    g = Grader("assignment1", ROOT / "tests" / "grading", ROOT, only=("a1.knn",))
    g.budget_seconds = 20.0
    yield g
    g.close()


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    tree = tmp_path_factory.mktemp("solved") / "tree"
    solution_tree(ROOT, "assignment1", tree)
    return tree


def _zip_tree(tree, path, extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(tree).as_posix())
        for name, data in extra:
            zf.writestr(name, data)
    return path


def _hostile(solved, tmp_path, name, body):
    tree = tmp_path / f"tree-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(solved, tree)
    path = tree / KNN
    lines = "\n".join("        " + line for line in body.strip().splitlines())
    text = path.read_text()
    assert text.count(SIGNATURE) == 1
    path.write_text(text.replace(SIGNATURE, f"{SIGNATURE}\n{lines}\n\n    def _unused(self, X):"))
    return _zip_tree(tree, tmp_path / name)


def _corrupt_deflate(solved, tmp_path, name):
    path = _zip_tree(solved, tmp_path / name)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(KNN)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 60):  # scramble the compressed bytes
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    try:  # the stream is now corrupt for zlib itself
        with zipfile.ZipFile(path) as zf:
            zf.read(KNN)
        pytest.skip("the scrambled stream still decompressed")
    except (zlib.error, zipfile.BadZipFile):
        pass
    return path


def test_hostile_submissions_cost_only_themselves(grader, solved, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    honest = _zip_tree(solved, subs / "honest.zip")
    str_result = _hostile(
        solved, subs, "str_result.zip", "import numpy as np\nreturn np.array(['x'] * 4)"
    )
    garbage = _hostile(
        solved,
        subs,
        "garbage.zip",
        "import os\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        os.write(int(fd), b'[' * 100000 + b'9' * 5000)\n"
        "    except OSError:\n"
        "        pass\n"
        "raise SystemExit(0)",
    )
    # Sleeps 8 s in every test (at import of the module each test uses): 4 tests, 20 s.
    sleepy_tree = tmp_path / "sleepy-tree"
    shutil.copytree(solved, sleepy_tree)
    knn = sleepy_tree / KNN
    knn.write_text("import time\n\ntime.sleep(8)\n" + knn.read_text())
    sleepy = _zip_tree(sleepy_tree, subs / "sleepy.zip")
    long_name = _zip_tree(solved, subs / "long_name.zip", [("cs231n/" + "a" * 300 + ".py", "x")])
    clash = _zip_tree(
        solved, subs / "clash.zip", [("cs231n/clash.py", "x"), ("cs231n/clash.py/inner.py", "y")]
    )
    corrupt = _corrupt_deflate(solved, subs, "corrupt.zip")
    dots = shutil.copy(honest, subs / "...zip")
    gradebook = shutil.copy(honest, subs / "gradebook.csv.zip")
    batch = [honest, str_result, garbage, sleepy, long_name, clash, corrupt, dots, gradebook]

    out = tmp_path / "out"
    rows = grade_batch(grader, [Path(p) for p in batch], out, jobs=2)
    scores = {name: result["score"] for name, result in rows}
    full = rows[0][1]["max_score"]
    assert rows[0][1]["score"] == full > 0, rows[0][1]["tests"]
    results = dict(rows)

    def by_test(name):
        return {t["extra_data"]["id"]: t for t in results[name]["tests"]}

    # A result that cannot be compared, and garbage in the grader's descriptors: that
    # test earns nothing, and nothing else is lost.
    assert by_test("str_result")["a1.knn.two_loops"]["score"] == 0
    assert by_test("garbage")["a1.knn.two_loops"]["score"] == 0
    assert scores["str_result"] == scores["garbage"] == full - 2
    # The sleeper is stopped by its own budget (8 s per test, 20 s in all).
    assert scores["sleepy"] < full
    assert "time budget" in json.dumps(results["sleepy"])
    # Zips that used to raise in the grader: still graded as far as they are sound
    # (a broken extra member is skipped) or "could not be graded: ..." with a reason.
    for name in ("long_name", "clash", "corrupt"):
        text = json.dumps(results[name])
        assert results[name]["score"] == full or "could not be graded" in text, (name, text[:500])
    # Names: everything inside --out, the gradebook intact, every submission a row.
    names = [name for name, _ in rows]
    assert len(set(names)) == len(batch) and ".." not in names and "." not in names
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "feedback.md").exists()
    for name in names:
        assert (out / name / "results.json").is_file()
    gradebook_rows = (out / "gradebook.csv").read_text().splitlines()
    assert len(gradebook_rows) == 1 + len(batch)
    assert gradebook_rows[0].startswith("submission,score")
