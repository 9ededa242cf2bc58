"""Grading end to end on real zips: the solutions score full marks, the untouched release
scores zero on every test, one broken function loses exactly its points (for every
assignment that has grading tests), and hostile submissions score only what they earn
while the grader and its files stay intact."""

import json
import os
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from cs231n.instructor import sandbox
from cs231n.instructor.grade import Grader, grade_batch
from cs231n.instructor.release import build_release
from cs231n.submission.collect import collect

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "grading"
KNN = "cs231n/classifiers/k_nearest_neighbor.py"
ASSIGNMENTS = sorted(f"assignment{p.stem[1:]}" for p in TESTS_DIR.glob("a[0-9].py"))

# Grading needs bubblewrap. Where it cannot run (some containers), these tests are skipped,
# except when CS231N_REQUIRE_SANDBOX=1 (as in .ci/run), where its absence is a failure.
if os.environ.get("CS231N_REQUIRE_SANDBOX") == "1":
    assert sandbox.bwrap_works(), "bubblewrap is required here: apt-get install bubblewrap"
pytestmark = pytest.mark.skipif(
    not sandbox.bwrap_works(), reason="grading needs bubblewrap: apt-get install bubblewrap"
)


@pytest.fixture(scope="module")
def graders():
    """graders(assignment, only=()) -> a Grader, built once per module and reused."""
    made = {}

    def get(assignment, only=()):
        if (assignment, only) not in made:
            made[assignment, only] = Grader(assignment, TESTS_DIR, ROOT, only=only)
        return made[assignment, only]

    yield get
    for g in made.values():
        g.close()


@pytest.fixture(scope="module")
def grader(graders):
    return graders("assignment1")


@pytest.fixture(scope="module")
def knn_grader():
    """Only the kNN tests: enough to show each hostile case, and quick."""
    g = Grader("assignment1", TESTS_DIR, ROOT, only=("a1.knn",))
    g.limits.wall_seconds = 20
    g.limits.cpu_seconds = 20
    yield g
    g.close()


def student_tree(tmp_path, solved=True, name="student", assignment="assignment1"):
    """A student's folder: the release, with the solutions filled in when ``solved``."""
    root = tmp_path / name
    build_release(ROOT, assignment, root)
    (root / assignment).mkdir(exist_ok=True)  # (an assignment may have no notebook yet)
    if solved:
        for src in (ROOT / "cs231n").rglob("*.py"):
            if "__pycache__" not in src.parts and "instructor" not in src.parts:
                dest = root / src.relative_to(ROOT)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest)
        for nb in (ROOT / "assignments" / assignment).glob("*.ipynb"):
            shutil.copy(nb, root / assignment / nb.name)
    return root


def submit(root, assignment="assignment1"):
    zip_path, *_ = collect(root, assignment, pdf=False)
    return zip_path


def scores(result):
    return {t["extra_data"]["id"]: t["score"] for t in result["tests"]}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_release_scores_zero(graders, tmp_path, assignment):
    grader = graders(assignment)
    solved = student_tree(tmp_path, solved=True, name="solved", assignment=assignment)
    full = grader.grade(submit(solved, assignment), jobs=2)
    assert full["score"] == full["max_score"] > 0, [t for t in full["tests"] if t["score"] == 0]
    release = student_tree(tmp_path, solved=False, name="release", assignment=assignment)
    empty = grader.grade(submit(release, assignment), jobs=2)
    assert empty["score"] == 0
    for t in empty["tests"]:
        assert t["score"] == 0 and "NotImplementedError" in t["output"], t


# assignment: (file, a function's signature, a wrong first line for its body, the grading
#              tests that fail, the grading tests run: the function's and its neighbours')
BROKEN = {
    "assignment1": (
        KNN,
        "    def compute_distances_one_loop(self, X):",
        "return self.compute_distances_two_loops(X) * 1.01",
        ["a1.knn.one_loop"],
        (),
    ),
    "assignment2": (
        "cs231n/layers.py",
        "def conv_backward_naive(dout, cache):",
        "cache = (cache[0], cache[1] * 1.01, *cache[2:])",
        ["a2.conv.backward_naive"],
        ("a2.conv", "a2.pool", "a2.cnn"),
    ),
    "assignment3": (
        "cs231n/net_visualization.py",
        "def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):",
        "img = img.copy()  # not in place",
        ["a3.netvis.class_visualization"],
        ("a3.netvis",),
    ),
}


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a in BROKEN])
def test_one_broken_function_loses_exactly_its_points(graders, tmp_path, assignment):
    path, signature, wrong, fails, only = BROKEN[assignment]
    root = student_tree(tmp_path, assignment=assignment)
    text = (root / path).read_text()
    assert text.count(signature) == 1, signature
    indent = signature[: len(signature) - len(signature.lstrip())] + "    "
    (root / path).write_text(text.replace(signature, f"{signature}\n{indent}{wrong}"))
    grader = graders(assignment, only)
    result = grader.grade(submit(root, assignment), jobs=2)
    lost = {n: s for n, s in scores(result).items() if s == 0}
    assert sorted(lost) == sorted(fails), result
    points = {t.name: t.points for t in grader.tests}
    assert result["score"] == result["max_score"] - sum(points[n] for n in fails) > 0
    for t in result["tests"]:
        if t["extra_data"]["id"] in fails:
            assert "relative error" in t["output"] and " of shape " in t["output"], t
            assert "Hint:" in t["output"], t


def test_fresh_inputs_every_run(knn_grader, tmp_path):
    """A submission that returns memorised outputs earns nothing: inputs change each run."""
    root = student_tree(tmp_path)
    path = root / KNN
    path.write_text(
        path.read_text().replace(
            "    def compute_distances_no_loops(self, X):",
            "    def compute_distances_no_loops(self, X):\n"
            "        import numpy as np\n"
            "        return np.zeros((X.shape[0], self.X_train.shape[0])) + 1.0\n\n"
            "    def _unused(self, X):",
        )
    )
    assert scores(knn_grader.grade(submit(root)))["a1.knn.no_loops"] == 0


def hostile_function(body):
    """Replace compute_distances_two_loops with ``body`` (other functions stay correct)."""

    def edit(root):
        path = root / KNN
        lines = "\n".join("        " + line for line in body.strip().splitlines())
        signature = "    def compute_distances_two_loops(self, X):"
        replaced = f"{signature}\n{lines}\n\n    def _unused(self, X):"
        path.write_text(path.read_text().replace(signature, replaced))

    return edit


def _listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], hits, stop


SECRET_READS = f"""
import numpy as np
for p in [{str(ROOT / KNN)!r}, {str(TESTS_DIR / "a1.py")!r}]:
    src = open(p).read()   # must fail: the reference and the tests are not visible
exec(src)
return KNearestNeighbor.compute_distances_two_loops(self, X)
"""

IMPORT_REFERENCE = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("ref", {str(ROOT / KNN)!r})
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
return ref.KNearestNeighbor.compute_distances_two_loops(self, X)
"""

MONKEYPATCH = """
import numpy as np
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.abs = lambda x: 0 * x
import cs231n.gradient_check as gc
gc.rel_error = lambda *a, **k: 0.0
return np.zeros((X.shape[0], self.X_train.shape[0]))
"""


# Hostile bodies for compute_distances_two_loops (also used by scripts/grading_report.py).
HOSTILE_CODE = [
    ("read the reference and the grading tests", SECRET_READS),
    ("import the reference solution", IMPORT_REFERENCE),
    ("monkeypatch numpy and the test helpers", MONKEYPATCH),
    ("sys.exit(0)", "import sys\nsys.exit(0)"),
    ("os._exit(0)", "import os\nos._exit(0)"),
    ("infinite loop", "while True:\n    pass"),
    ("memory bomb", "x = bytearray(64 * 2**30)\nreturn x"),
    ("fork bomb", "import os\nwhile True:\n    os.fork()"),
    ("print gigabytes", "import sys\nwhile True:\n    sys.stdout.write('x' * 2**20)"),
]


@pytest.mark.parametrize("case, body", HOSTILE_CODE)
def test_hostile_code_scores_only_what_it_earns(knn_grader, tmp_path, case, body):
    root = student_tree(tmp_path)
    hostile_function(body)(root)
    result = knn_grader.grade(submit(root))
    got = scores(result)
    assert got["a1.knn.two_loops"] == 0, case
    assert result["score"] == result["max_score"] - 2, (case, result)  # the rest is earned


def test_network_is_unreachable(knn_grader, tmp_path):
    port, hits, stop = _listener()
    try:
        root = student_tree(tmp_path)
        hostile_function(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "return self.compute_distances_one_loop(X)"
        )(root)
        result = knn_grader.grade(submit(root))
    finally:
        stop.set()
    assert hits == [], "the sandbox reached a server on the host"
    assert scores(result)["a1.knn.two_loops"] == 0


def test_cannot_forge_results_or_gradebook(knn_grader, tmp_path):
    out = tmp_path / "grades"
    root = student_tree(tmp_path)
    forged = json.dumps({"score": 1000, "tests": []})
    hostile_function(
        f"import os\nfor d in [{str(out)!r}, {str(out / 'assignment1_submission')!r}]:\n"
        f"    try:\n        os.makedirs(d, exist_ok=True)\n"
        f"        open(os.path.join(d, 'results.json'), 'w').write({forged!r})\n"
        f"        open(os.path.join(d, 'gradebook.csv'), 'w').write('me,1000')\n"
        f"    except OSError:\n        pass\n"
        "return self.compute_distances_one_loop(X)"
    )(root)
    zip_path = submit(root)
    rows = grade_batch(knn_grader, [zip_path], out, jobs=1)
    ((name, result),) = rows
    on_disk = json.loads((out / name / "results.json").read_text())
    assert on_disk["score"] == result["score"] == result["max_score"], "honest result written"
    assert "1000" not in (out / "gradebook.csv").read_text()


def _zip_with(tmp_path, name, extra):
    """The solved submission zip plus ``extra(zf)`` members."""
    base = submit(student_tree(tmp_path, name=name))
    path = tmp_path / f"{name}.zip"
    shutil.copy(base, path)
    with zipfile.ZipFile(path, "a") as zf:
        extra(zf)
    return path


def test_zip_with_traversal_and_symlinks(knn_grader, tmp_path):
    def extra(zf):
        zf.writestr("../../escaped.txt", "x")
        zf.writestr("/tmp/absolute_escape.txt", "x")
        link = zipfile.ZipInfo("cs231n/link.py")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")

    path = _zip_with(tmp_path, "traversal", extra)
    result = knn_grader.grade(path)
    assert result["score"] == result["max_score"]
    assert "unsafe path" in result["output"] and "symbolic links" in result["output"]
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not Path("/tmp/absolute_escape.txt").exists()


def test_zip_bomb_corrupt_zip_and_broken_notebook(knn_grader, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cs231n/layers.py", b"\0" * (300 * 2**20))
    result = knn_grader.grade(bomb)
    assert result["score"] == 0 and "zip bomb" in result["output"]

    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(os.urandom(5000))
    result = knn_grader.grade(corrupt)
    assert result["score"] == 0 and "not a readable zip" in result["output"]

    def extra(zf):
        zf.writestr("assignment1/broken.ipynb", "{this is not json")

    result = knn_grader.grade(_zip_with(tmp_path, "brokennb", extra))
    assert result["score"] == result["max_score"]
    assert "broken.ipynb` is not a valid notebook" in result["output"]


def test_gradebook_and_feedback_for_a_batch(knn_grader, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(submit(student_tree(tmp_path, name="good")), subs / "alice.zip")
    shutil.copy(submit(student_tree(tmp_path, solved=False, name="empty")), subs / "bob.zip")
    rows = grade_batch(knn_grader, sorted(subs.iterdir()), tmp_path / "out", jobs=2)
    assert [(n, r["score"]) for n, r in rows] == [("alice", 9.0), ("bob", 0.0)]
    csv = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()
    assert csv[0].startswith("submission,score,max_score,a1.knn.two_loops")
    assert csv[1].startswith("alice,9,9") and csv[2].startswith("bob,0,9")
    feedback = (tmp_path / "out" / "bob" / "feedback.md").read_text()
    assert "FAIL `KNearestNeighbor.compute_distances_two_loops (a1.knn.two_loops)`" in feedback
    results = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    assert {"score", "tests", "execution_time"} <= set(results)
    assert all({"name", "score", "max_score", "output"} <= set(t) for t in results["tests"])
    # The written half: every question graded by hand is listed, answered or not.
    manual = results["extra_data"]["manual"]
    assert len(manual) >= 10 and {q["kind"] for q in manual} == {"inline answer", "code region"}
    assert all(q["answered"] for q in manual)  # the solutions answer everything
    bob = json.loads((tmp_path / "out" / "bob" / "results.json").read_text())
    assert [q["id"] for q in bob["extra_data"]["manual"]] == [q["id"] for q in manual]
    assert not any(q["answered"] for q in bob["extra_data"]["manual"])
    assert csv[0].endswith(",to_grade_by_hand")
    assert csv[1].endswith(f",{len(manual)}") and csv[2].endswith(",0")
    assert "## To be graded by hand" in feedback and "no answer found" in feedback


def test_notebooks_in_the_submission_are_well_formed(tmp_path):
    root = student_tree(tmp_path)
    for nb in (root / "assignment1").glob("*.ipynb"):
        nbformat.validate(nbformat.read(nb, as_version=4))


def _without_times(result):
    result = json.loads(json.dumps(result))
    result.pop("execution_time")
    return result


def test_a_grade_is_reproducible_from_its_recorded_seeds(knn_grader, tmp_path):
    """Every test records its seed; the same seeds give the same grade, bit for bit, and
    --replay results.json reproduces a disputed grade."""
    from cs231n.instructor.grade import grade_batch, replay_seeds

    root = student_tree(tmp_path)
    path = root / KNN
    # A wrong one-loop distance: its failure message names the (random) input shapes.
    signature = "    def compute_distances_one_loop(self, X):"
    path.write_text(
        path.read_text().replace(
            signature, f"{signature}\n        return self.compute_distances_two_loops(X) * 1.01"
        )
    )
    zip_path = submit(root)
    first = knn_grader.grade(zip_path)
    seed = first["extra_data"]["seed"]
    assert all("seed" in t["extra_data"] for t in first["tests"])
    again = knn_grader.grade(zip_path, seed=seed)
    assert _without_times(again) == _without_times(first)
    other = knn_grader.grade(zip_path, seed=seed + 1)
    wrong = {t["extra_data"]["id"]: t["output"] for t in first["tests"] if t["score"] == 0}
    assert wrong and any(
        t["output"] != wrong[t["extra_data"]["id"]]
        for t in other["tests"]
        if t["extra_data"]["id"] in wrong
    ), "another seed draws other inputs"
    # Through the files a course keeps: results.json and feedback.md name the seeds.
    out = tmp_path / "grades"
    grade_batch(knn_grader, [zip_path], out, jobs=1, seed=seed)
    results = out / zip_path.stem / "results.json"
    assert f"seed {seed}" in (out / zip_path.stem / "feedback.md").read_text()
    replay_seed, test_seeds = replay_seeds(results)
    replayed = knn_grader.grade(zip_path, seed=replay_seed, test_seeds=test_seeds)
    assert _without_times(replayed) == _without_times(json.loads(results.read_text()))
    with pytest.raises(ValueError, match="not a results.json"):
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        replay_seeds(bad)


def test_loss_and_gradient_earn_their_points_separately(graders, tmp_path):
    """A correct naive SVM loss with a wrong gradient sign earns the loss's point (it
    earned nothing when loss and gradient were one test), and every test's name says the
    function a student wrote."""
    grader = graders("assignment1", ("a1.svm.naive",))
    root = student_tree(tmp_path)
    path = root / "cs231n" / "classifiers" / "linear_svm.py"
    text = path.read_text()
    assert text.count("dW[:, j] += X[i]") == 1
    path.write_text(text.replace("dW[:, j] += X[i]", "dW[:, j] -= X[i]"))
    result = grader.grade(submit(root), jobs=2)
    by_name = {t["name"]: t["score"] for t in result["tests"]}
    assert by_name == {
        "svm_loss_naive: loss (a1.svm.naive.loss)": 1.0,
        "svm_loss_naive: gradient (a1.svm.naive.gradient)": 0.0,
    }, by_name
