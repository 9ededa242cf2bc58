"""Student releases: no solution text anywhere, stubs that say what to do, code that still
imports, reproducible output, and nothing of the user's ever overwritten."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs231n.instructor.markers import check_tree, parse_regions
from cs231n.instructor.release import (
    ReleaseError,
    build_release,
    release_to_branch,
    release_to_directory,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "assignments").glob("assignment*") if p.is_dir())


def _source_texts():
    """(path, text of each unit that holds regions): .py files and notebook cells."""
    for path, _regions in check_tree(ROOT).items():
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                yield path, cell.source
        else:
            yield path, path.read_text(encoding="utf-8")


def solution_lines():
    """Distinctive solution lines: in some region, and nowhere outside every region."""
    inside, outside = set(), set()
    for _, text in _source_texts():
        lines = text.splitlines()
        regions = parse_regions(text)
        covered = set()
        for r in regions:
            covered.update(range(r.begin, r.end + 1))
            inside.update(line.strip() for line in r.body(lines))
        outside.update(line.strip() for i, line in enumerate(lines) if i not in covered)
    return {s for s in inside - outside if len(s) >= 12 and not s.startswith("#")}


@pytest.fixture(scope="module")
def secrets():
    lines = solution_lines()
    assert len(lines) > 50, "the solutions hold distinctive lines to look for"
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_text(tmp_path, assignment, secrets):
    info = build_release(ROOT, assignment, tmp_path / "rel", reveal_earlier=False)
    assert info["stubbed"], "every assignment has regions to stub"
    leaked = []
    for f in (tmp_path / "rel").rglob("*"):
        if f.is_file():
            text = f.read_bytes().decode("utf-8", errors="replace")
            # Notebook JSON escapes quotes and backslashes; search its decoded cells too.
            if f.suffix == ".ipynb":
                text += "\n".join(c.source for c in nbformat.read(f, as_version=4).cells)
            lines = {line.strip() for line in text.splitlines()}
            leaked += [(f.name, s) for s in secrets & lines]
    assert not leaked, f"solution lines leaked into the release: {leaked[:5]}"
    names = {p.name for p in (tmp_path / "rel").rglob("*")}
    assert not names & {"__pycache__", "tests", "scripts"}
    assert not any(n.endswith((".pyc", ".so", ".c")) for n in names)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebooks_are_clean(tmp_path, assignment):
    build_release(ROOT, assignment, tmp_path / "rel")
    notebooks = list((tmp_path / "rel" / assignment).glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert set(nb.metadata) <= {"kernelspec", "language_info"}
        for cell in nb.cells:
            assert not cell.metadata
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
            assert "BEGIN SOLUTION" not in cell.source


def test_stubbed_package_imports_and_stubs_name_what_to_do(tmp_path):
    build_release(ROOT, "assignment1", tmp_path / "rel")
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "import numpy as np, cs231n, cs231n.layers as L\n"
        "assert cs231n.__file__.startswith(sys.path[0]) or 'rel' in cs231n.__file__\n"
        "import cs231n.solver, cs231n.optim, cs231n.gradient_check\n"
        "try:\n"
        "    L.affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))\n"
        "except NotImplementedError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path / "rel",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "affine_forward in cs231n/layers.py" in out
    assert "Replace this line with your code" in out


def test_release_is_reproducible(tmp_path):
    build_release(ROOT, "assignment1", tmp_path / "a")
    build_release(ROOT, "assignment1", tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert files_a == files_b
    for rel in files_a:
        if (tmp_path / "a" / rel).is_file():
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_reveal_earlier_keeps_only_earlier_solutions(tmp_path):
    if "assignment2" not in ASSIGNMENTS:
        pytest.skip("assignment 2 does not exist yet")
    info = build_release(ROOT, "assignment2", tmp_path / "rel", reveal_earlier=True)
    assert all(not n.startswith("a1.") for n in info["stubbed"])
    assert any(n.startswith("a2.") for n in info["stubbed"])
    text = (tmp_path / "rel" / "cs231n" / "layers.py").read_text()
    assert "x.reshape(N, D) @ w + b" in text  # an assignment-1 solution, revealed


def test_refuses_to_overwrite_a_non_empty_directory(tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "my_work.py").write_text("precious = 1\n")
    with pytest.raises(ReleaseError, match="not empty"):
        release_to_directory(ROOT, "assignment1", out)
    assert (out / "my_work.py").read_text() == "precious = 1\n"
    info = release_to_directory(ROOT, "assignment1", out, force=True)
    assert (Path(info["backup"]) / "my_work.py").read_text() == "precious = 1\n"
    assert (out / "cs231n" / "layers.py").exists()


def test_unknown_assignment_is_a_clear_error(tmp_path):
    with pytest.raises(ReleaseError, match="unknown assignment"):
        build_release(ROOT, "assignment9", tmp_path / "x")


def _git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_release_as_a_git_branch(tmp_path, secrets):
    repo = tmp_path / "course"
    repo.mkdir()
    _git(repo, "init", "-q")
    c1, _ = release_to_branch(ROOT, "assignment1", repo, "a1-release")
    c2, _ = release_to_branch(ROOT, "assignment1", repo, "a1-release")
    assert c1 == c2, "the same source gives the same commit"
    assert _git(repo, "rev-list", "--count", "a1-release") == "1"
    files = _git(repo, "ls-tree", "-r", "--name-only", "a1-release").splitlines()
    assert "cs231n/layers.py" in files and not any(f.startswith("tests/") for f in files)
    layers = _git(repo, "show", "a1-release:cs231n/layers.py")
    assert not secrets & {line.strip() for line in layers.splitlines()}

    # A student commits on the branch: a new release refuses to replace their work.
    wt = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", str(wt), "a1-release")
    (wt / "notes.txt").write_text("my work\n")
    _git(wt, "add", "notes.txt")
    _git(wt, "-c", "user.name=s", "-c", "user.email=s@x", "commit", "-qm", "my work")
    with pytest.raises(ReleaseError, match="student"):
        release_to_branch(ROOT, "assignment1", repo, "a1-release")
    assert "notes.txt" in _git(repo, "ls-tree", "--name-only", "a1-release")


def test_later_assignments_never_depend_on_earlier_work(tmp_path):
    """By default an assignment 2 or 3 release keeps the earlier solutions, and says so
    in its README and at the top of every notebook; --stub-earlier says the opposite."""
    info = build_release(ROOT, "assignment3", tmp_path / "rel")
    assert all(name.startswith("a3.") for name in info["stubbed"])
    layers = (tmp_path / "rel" / "cs231n" / "layers.py").read_text()
    assert "NotImplementedError" not in layers.split("def batchnorm_forward")[0]
    readme = (tmp_path / "rel" / "README.md").read_text()
    assert "includes the solutions of assignment 1, assignment 2" in readme
    for path in (tmp_path / "rel" / "assignment3").glob("*.ipynb"):
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "markdown" and "About earlier assignments" in first.source
    stubbed = build_release(ROOT, "assignment2", tmp_path / "stub", reveal_earlier=False)
    assert any(name.startswith("a1.") for name in stubbed["stubbed"])
    assert "copy your own code" in (tmp_path / "stub" / "README.md").read_text()
    first = nbformat.read(next((tmp_path / "stub" / "assignment2").glob("*.ipynb")), as_version=4)
    assert "copy your own code" in first.cells[0].source
    assert "earlier" not in (
        build_release(ROOT, "assignment1", tmp_path / "a1")
        and (tmp_path / "a1" / "README.md").read_text()
    )


# -- what a release holds: the student's part only --------------------------------------


def _run_release_cli(release, *args):
    """The release's own command line, as an install of the release alone would run it:
    no site initialisation (so the repository's editable install is not on the path),
    the release first, then the interpreter's installed packages (numpy, ...)."""
    import site

    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(release)!r}, *{site.getsitepackages()!r}]\n"
        "from cs231n.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_only_the_students_part(tmp_path, assignment):
    import tomllib

    out = tmp_path / "rel"
    info = build_release(ROOT, assignment, out)
    files = info["files"]
    assert not [f for f in files if f.startswith("cs231n/instructor")]
    assert not [f for f in files if f.startswith(("tests/", "scripts/", ".ci/"))]
    assert {f.split("/")[0] for f in files} <= {
        "cs231n",
        assignment,
        "README.md",
        "pyproject.toml",
        "setup.py",
        "requirements.txt",
        "LICENSE",
        "datasets",
        ".gitignore",
    }
    project = tomllib.loads((out / "pyproject.toml").read_text())
    assert "pytest" not in project.get("tool", {}) and "ruff" not in project.get("tool", {})
    extras = project["project"]["optional-dependencies"]
    assert set(extras) == {"notebook"}
    assert "cs231n.commands" not in project["project"].get("entry-points", {})
    assert project["project"]["scripts"] == {"cs231n": "cs231n.cli:main"}
    readme = (out / "README.md").read_text()
    number = assignment[-1]
    for needed in (
        'pip install -e ".[notebook]"',
        f"jupyter notebook {assignment}/",
        "cs231n data download",
        f"cs231n collect {assignment}",
        "## What it builds on",
    ):
        assert needed in readme, needed
    assert ("coco" in readme) == (number == "3")
    assert ("assignment 1" in readme) == (number != "1")  # what it builds on


def test_a_releases_command_line_offers_only_student_commands(tmp_path):
    out = tmp_path / "rel"
    build_release(ROOT, "assignment2", out)
    shown = _run_release_cli(out, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "data" in shown.stdout and "collect" in shown.stdout
    assert not any(c in shown.stdout for c in ("grade ", "release ", "autograder", "notebooks"))
    for command in ("grade", "release", "all", "autograder", "notebooks", "gradez"):
        run = _run_release_cli(out, command, "x")
        assert run.returncode == 2, (command, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
        assert ("course-staff command" in lines[0]) == (command != "gradez"), lines[0]
