"""Every graded region earns exactly its points, whatever the other regions hold.

For every graded region of all three assignments, and for every *unit* of several regions
that tests grade together (``svm_loss_naive``'s two gradient regions, ``train``'s sampling
and update, a backward pass and the forward pass whose cache it reads), two packages are
graded with the grading tests:

- **alone**: the student's release (earlier assignments kept, every region of this one
  stubbed) with only those regions filled in earns exactly the points of the tests that
  need nothing else (their regions and the forward passes they run), and nothing more;
- **broken**: the solutions with only those regions stubbed lose exactly the points of
  the tests that need one of them.

Matrix size: 72 regions and 17 units of several, 89 x {alone, broken} = 178 packages.

So a test never pays for a neighbour's work and never takes points for a neighbour's
stub (issue 8, items 1 and 4). Scoring is the grader's own: ``reference_run`` (fresh
inputs from a fixed seed, the reference's answer tables), the child's ``run_task``
(answer shims installed), ``score``. What this leaves out is the sandbox around each
probe, proven in ``test_sandbox.py`` and ``test_grade_hostile.py``: here the probes of one
package run one after another in one plain child process, so that the whole matrix takes
minutes rather than an hour of sandboxed gradings.
"""

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cs231n.instructor.grade import load_tests, reference_run, score, seed_of_test
from cs231n.instructor.markers import parse_regions
from cs231n.instructor.release import parse_assignment
from cs231n.instructor.stubs import transform

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "grading"
CHILD = ROOT / "cs231n" / "instructor" / "_child.py"
ASSIGNMENTS = ("assignment1", "assignment2", "assignment3")
SEED = 20261204

# Runs in a child: the package variant first on sys.path, then every task in turn.
RUNNER = """
import importlib.util, pickle, sys, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
spec = importlib.util.spec_from_file_location("grading_child", sys.argv[2])
child = importlib.util.module_from_spec(spec)
spec.loader.exec_module(child)
import numpy as np
results = []
for task in pickle.load(sys.stdin.buffer):
    np.random.seed(0)
    try:
        results.append(("ok", child.run_task(task)))
    except BaseException as exc:
        results.append(("error", f"{type(exc).__name__}: {exc}"[:300]))
sys.stdout.buffer.write(pickle.dumps(results))
"""


def units(tests):
    """The graded units: regions joined whenever one test grades them together."""
    groups = []
    for t in tests:
        joined = set(t.regions) | set(t.uses)
        for g in [g for g in groups if g & joined]:
            groups.remove(g)
            joined |= g
        groups.append(joined)
    return sorted((tuple(sorted(g)) for g in groups), key=lambda g: g[0])


def subsets(tests):
    """Every graded region on its own, and every unit of several regions as a whole."""
    regions = {(r,) for t in tests for r in (*t.regions, *t.uses)}
    return sorted(regions | set(units(tests)), key=lambda g: (g[0], len(g)))


def _params():
    for assignment in ASSIGNMENTS:
        for unit in subsets(load_tests(assignment, TESTS_DIR, ROOT)):
            for variant in ("alone", "broken"):
                yield pytest.param(assignment, unit, variant, id=f"{'+'.join(unit)}-{variant}")


@pytest.fixture(scope="module")
def references():
    """{assignment: [(test, inputs, code, expected, table)]}, drawn once per assignment."""
    made = {}

    def get(assignment):
        if assignment not in made:
            rows = []
            for t in load_tests(assignment, TESTS_DIR, ROOT):
                inputs, code, expected, table = reference_run(t, seed_of_test(SEED, t.name))
                rows.append((t, inputs, code, expected, table))
            made[assignment] = rows
        return made[assignment]

    return get


def package_variant(dest, keep):
    """The package with each region kept (solution) or stubbed as ``keep`` says."""
    for src in sorted((ROOT / "cs231n").rglob("*")):
        rel = src.relative_to(ROOT)
        if (
            not src.is_file()
            or "__pycache__" in rel.parts
            or rel.parts[1] in ("course", "weights")
            or src.suffix not in (".py", ".pyx", ".so")
        ):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".py" and parse_regions(src.read_text(encoding="utf-8")):
            text, _ = transform(src.read_text(encoding="utf-8"), keep, rel.as_posix())
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copy(src, target)
    return dest


def run_all(package_parent, rows):
    tasks = [
        {"code": code, "inputs": inputs, "answers": table} for _, inputs, code, _, table in rows
    ]
    proc = subprocess.run(
        [sys.executable, "-I", "-c", RUNNER, str(package_parent), str(CHILD)],
        input=pickle.dumps(tasks),
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return pickle.loads(proc.stdout)


@pytest.mark.parametrize("assignment, unit, variant", list(_params()))
def test_each_unit_earns_exactly_its_points(references, tmp_path, assignment, unit, variant):
    _, number = parse_assignment(assignment)
    mine = set(unit)
    if variant == "alone":
        keep = lambda r: r.assignment < number or r.name in mine
    else:
        keep = lambda r: r.name not in mine
    rows = references(assignment)
    results = run_all(package_variant(tmp_path / "pkg", keep), rows)
    wrong = []
    for (test, inputs, _, expected, _), (status, got) in zip(rows, results):
        earned = score(test, inputs, expected, got)[0] if status == "ok" else 0.0
        needs = set(test.regions) | set(test.uses)
        should = test.points if (needs <= mine if variant == "alone" else not needs & mine) else 0.0
        if earned != should:
            why = got if status == "error" else score(test, inputs, expected, got)[1]
            wrong.append(f"{test.name}: {earned} of {test.points}, expected {should} ({why})")
    assert not wrong, "\n".join(wrong)
