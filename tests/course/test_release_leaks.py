"""No solution text in any release, found however it is reformatted (cs231n/instructor/leaks.py)."""

from pathlib import Path

import nbformat
import pytest

from cs231n.instructor.leaks import find_leaks, normalise, solution_statements
from cs231n.instructor.release import ReleaseError, build_release

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "assignments").glob("assignment*") if p.is_dir())


@pytest.fixture(scope="module")
def statements():
    found = solution_statements(ROOT)
    print(f"\n{len(found)} distinctive solution statements searched in every release file")
    assert len(found) > 400
    return found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_release_holds_a_solution_statement(tmp_path, assignment, statements):
    # Every region stubbed: no statement of any solution anywhere.
    build_release(ROOT, assignment, tmp_path / "all", reveal_earlier=False)
    assert find_leaks(tmp_path / "all", statements) == []
    # The default release keeps earlier assignments' solutions: nothing of the rest.
    info = build_release(ROOT, assignment, tmp_path / "rel")  # refuses itself on a leak
    assert info["stubbed"]
    own = solution_statements(ROOT, names=set(info["stubbed"]))
    assert own and find_leaks(tmp_path / "rel", own) == []


# A line of the two-loop kNN solution, and the same statement as a student would never
# see it written: in a docstring, respaced and requoted, split over lines.
SOLUTION = "diff = X[i] - self.X_train[j]"
DISGUISED = "Example::\n\n    diff  =  X[ i ]-self.X_train[ j ]\n"


def test_the_statement_planted_below_is_a_solution_statement(statements):
    assert normalise(SOLUTION) in statements


def _plant_in_docstring(release):
    target = release / "cs231n" / "vis_utils.py"
    text = target.read_text()
    head, _, rest = text.partition('"""')
    target.write_text(head + '"""' + DISGUISED + rest)


def _plant_in_readme(release):
    readme = release / "README.md"
    readme.write_text(readme.read_text() + "\nHint: `diff = X[i] -\nself.X_train[j]`\n")


def _plant_in_notebook_metadata(release):
    path = next((release / "assignment1").glob("knn.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata["note"] = "diff = X[i] - self.X_train[j]"
    nbformat.write(nb, path)


@pytest.mark.parametrize(
    "plant", [_plant_in_docstring, _plant_in_readme, _plant_in_notebook_metadata]
)
def test_a_planted_solution_is_caught_wherever_it_hides(tmp_path, statements, plant):
    build_release(ROOT, "assignment1", tmp_path / "rel")
    plant(tmp_path / "rel")
    leaks = find_leaks(tmp_path / "rel", statements)
    assert [s for _, s in leaks] == [normalise(SOLUTION)], leaks


def test_release_refuses_to_write_a_leaking_tree(tmp_path):
    """A solution statement outside any region of the source stops the release."""
    import shutil

    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "cs231n",
        source / "cs231n",
        ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"),
    )
    shutil.copytree(ROOT / "assignments" / "assignment1", source / "assignments" / "assignment1")
    for name in ("pyproject.toml", "setup.py", "requirements.txt", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    vis = source / "cs231n" / "vis_utils.py"
    vis.write_text(vis.read_text().replace('"""', '"""' + DISGUISED, 1))
    with pytest.raises(ReleaseError, match="solution text would reach students"):
        build_release(source, "assignment1", tmp_path / "rel")
    assert not (tmp_path / "rel").exists()
