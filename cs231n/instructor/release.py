"""``cs231n release``: build the tree a student gets for one assignment.

From the single source (this repository's solutions) the release keeps:

- the package ``cs231n/`` with the assignment's fenced regions replaced by
  "YOUR CODE HERE" stubs, earlier assignments' regions with their solutions (so
  assignment 2 or 3 never depends on what a student did before; ``--stub-earlier``
  stubs them too), later assignments' regions always stubbed;
- the assignment's notebooks, solution cells stubbed, every output and execution
  count cleared, metadata reduced to the kernel and language, and a note at the top
  saying what of the earlier assignments is included;
- what installs it (``pyproject.toml``, ``setup.py``, ``requirements.txt``), the data
  download script, and a student README.

It never ships tests, scripts, other assignments' notebooks, caches or compiled files.
A release is reproducible: the same source gives the same bytes (and, written as a git
branch, the same commit). Nothing that exists is overwritten unless ``--force``, and even
then the previous directory is kept aside, never deleted.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cs231n.assignments import UnknownAssignment
from cs231n.assignments import parse_assignment as _parse_assignment
from cs231n.instructor.leaks import find_leaks, solution_statements
from cs231n.instructor.markers import MarkerError
from cs231n.instructor.stubs import transform

TOP_LEVEL_FILES = ["pyproject.toml", "setup.py", "requirements.txt", "LICENSE"]
DATASET_FILES = ["datasets/get_datasets.sh", "datasets/README.md"]
PACKAGE_SUFFIXES = {".py", ".pyx", ".npz", ".json", ".txt", ".md"}
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "build"}
INSTRUCTOR_DIR = "instructor"  # cs231n/instructor/: never released
RELEASE_TRAILER = "cs231n-release"
# Fixed identity and date of release commits, so the same source gives the same commit.
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "cs231n release",
    "GIT_AUTHOR_EMAIL": "release@cs231n.invalid",
    "GIT_COMMITTER_NAME": "cs231n release",
    "GIT_COMMITTER_EMAIL": "release@cs231n.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}


class ReleaseError(RuntimeError):
    """The release cannot be built or written as asked."""


def parse_assignment(name):
    """'assignment2', '2' or 'a2' -> ('assignment2', 2); ReleaseError for anything else."""
    try:
        return _parse_assignment(name)
    except UnknownAssignment as exc:
        raise ReleaseError(str(exc)) from None


def _keep_rule(number, reveal_earlier):
    """Which regions keep their solution in the release of assignment ``number``."""
    return lambda region: reveal_earlier and region.assignment < number


def _clean_notebook(nb):
    """Clear outputs and execution counts; keep only kernel and language metadata."""
    nb.metadata = nbformat.NotebookNode(
        {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    )
    for i, cell in enumerate(nb.cells):
        cell.metadata = nbformat.NotebookNode()
        cell["id"] = f"cell-{i:03d}"  # deterministic ids
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.pop("attachments", None)
    return nb


def release_notebook(path, where, keep):
    """A released copy of one notebook (as an nbformat node) and the regions stubbed."""
    nb = nbformat.read(path, as_version=4)
    stubbed = []
    heading = None  # the last section heading above the cell: what a student sees
    for cell in nb.cells:
        if cell.cell_type not in ("code", "markdown"):
            continue
        place = f"{where}, under '{heading}'" if heading else f"{where}, at the top"
        cell.source, names = transform(
            cell.source, keep, place, markdown=cell.cell_type == "markdown"
        )
        stubbed += names
        if cell.cell_type == "markdown":
            heading = _last_heading(cell.source) or heading
    return _clean_notebook(nb), stubbed


def _last_heading(markdown):
    """The text of the last Markdown heading (``# ...``) in a cell, or None."""
    found = None
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            found = match.group(1).strip()
    return found


def _package_files(root, staff=False):
    """The package's files a release holds: all but the course staff's tooling (which
    ``staff=True`` includes, for the autograder)."""
    for path in sorted((root / "cs231n").rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or SKIP_DIRS & set(rel.parts) or path.suffix not in PACKAGE_SUFFIXES:
            continue
        if rel.parts[1] == INSTRUCTOR_DIR and not staff:
            continue
        yield rel


def _earlier_note(number, reveal_earlier):
    """What a release of assignment ``number`` says about earlier assignments' code."""
    if number == 1:
        return ""
    earlier = ", ".join(f"assignment {n}" for n in range(1, number))
    if reveal_earlier:
        return (
            f"This release includes the solutions of {earlier} in `cs231n/` (the layers, "
            "models and solvers this assignment builds on), so you can start here whatever "
            "you did before; only this assignment's regions are yours to write and are "
            "graded."
        )
    return (
        f"This release stubs the regions of {earlier} too: copy your own code for them "
        "into `cs231n/` before you start (this assignment builds on them); only this "
        "assignment's regions are graded."
    )


# What each assignment's notebooks use, for its README.
_DATA = {
    1: ("CIFAR-10", "cifar10"),
    2: ("CIFAR-10", "cifar10"),
    3: ("the COCO captioning set (and CIFAR-10 for the network visualization)", "coco"),
}
# The tables of the repository's pyproject.toml a student's release leaves out: the test
# suite's and the linter's configuration (no tests ship), and the extras to run them.
_REPO_ONLY_TABLES = {
    "tool.pytest.ini_options",
    "tool.ruff",
    "tool.ruff.lint",
    'project.entry-points."cs231n.commands"',  # the course staff's commands
}
_REPO_ONLY_EXTRAS = {"test", "dev"}


def student_pyproject(text):
    """The release's pyproject.toml: the repository's without its test configuration.

    The project's metadata, dependencies, build and command are kept as written (one
    place for them); the ``[tool.pytest...]`` and ``[tool.ruff...]`` tables, the ``test``
    and ``dev`` extras and the course staff's commands are left out.
    """
    out, table = [], None
    for line in text.splitlines():
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            table = header[1].strip()
        if table in _REPO_ONLY_TABLES:
            continue
        extra = re.match(r"^(\w+)\s*=", line)
        if table == "project.optional-dependencies" and extra and extra[1] in _REPO_ONLY_EXTRAS:
            continue
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip("\n") + "\n"


def student_readme(assignment, reveal_earlier=True):
    """The README of a student's release: written for the student of this assignment."""
    _, number = parse_assignment(assignment)
    earlier = _earlier_note(number, reveal_earlier)
    builds_on = (
        f"\n## What it builds on\n\n{earlier}\n"
        if earlier
        else "\n## What it builds on\n\nNothing: this is the first assignment.\n"
    )
    data_name, data_key = _DATA[number]
    return f"""# {assignment}

Your copy of {assignment}: the notebooks in `{assignment}/` walk you through it, and the
code you write goes in the notebooks and in the package `cs231n/`.

## Install

With Python 3.10 or newer (a virtual environment is a good idea:
`python3 -m venv .venv && . .venv/bin/activate`), in this folder:

```bash
python3 -m pip install -e ".[notebook]"
```

This installs the package `cs231n` (editable: your changes take effect at once), the
command `cs231n`, and Jupyter. It compiles the fast convolution layers when a C compiler
is present; without one a numpy fallback is used, which says so once.

## Open the notebooks

```bash
jupyter notebook {assignment}/
```

Work through the notebooks in order. Every `YOUR CODE HERE` region, in the notebooks and
in `cs231n/`, raises an error naming what to write until you replace it with your code;
the notebooks check your work as you go, and each inline question has a cell for your
answer.
{builds_on}
## Data

The notebooks use {data_name}. Until you download the real data they use a small
embedded stand-in of the same format (generated in seconds, no network needed), and they
say which one they use. To get the real one:

```bash
cs231n data download {data_key}
```

(`cs231n data where` shows where data lives; `cs231n data verify` checks it.)

## Submit

When every notebook has run from top to bottom (Kernel > Restart & Run All), in this
folder:

```bash
cs231n collect {assignment}
```

This writes `{assignment}_submission.zip` (your code and executed notebooks) and
`{assignment}_answers.pdf` (your inline answers and notebook code, one question per page),
warns about anything a grader would miss (cells not run, empty answers, cells that
ended in an error), and never overwrites a zip made before. Upload what your course asks for:
usually the zip for the autograder and the PDF for the questions graded by hand.
"""


def build_release(root, assignment, out, reveal_earlier=True):
    """Write the release of ``assignment`` from the source tree ``root`` into ``out``.

    ``out`` must not exist (callers handle --force by building aside first).
    Returns a dict: stubbed region names, revealed region names, files written.

    By default (``reveal_earlier``) the regions of earlier assignments keep their
    solutions: a student of assignment 2 or 3 reaches and is graded on that assignment's
    work whatever they did before (the layers of assignment 1 it builds on work). The
    README and a note at the top of each notebook say so. ``reveal_earlier=False``
    stubs them too, and the notes then say the earlier code must be brought over.
    """
    root = Path(root)
    full, number = parse_assignment(assignment)
    keep = _keep_rule(number, reveal_earlier)
    nb_dir = root / "assignments" / full
    if not nb_dir.is_dir():
        raise ReleaseError(f"no notebooks for {full}: {nb_dir} does not exist.")
    out = Path(out)
    out.mkdir(parents=True)
    stubbed, files = [], []

    def write(rel, data):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        dest.write_bytes(data)
        files.append(str(rel))

    for rel in _package_files(root):
        src = root / rel
        if rel.suffix in (".py", ".pyx"):
            text, names = transform(src.read_text(encoding="utf-8"), keep, rel.as_posix())
            stubbed += names
            write(rel, text)
        else:
            write(rel, src.read_bytes())

    note = _earlier_note(number, reveal_earlier)
    for nb_path in sorted(nb_dir.glob("*.ipynb")):
        rel = Path(full) / nb_path.name
        nb, names = release_notebook(nb_path, rel.as_posix(), keep)
        if note:  # at the top, where a student starts reading
            nb.cells.insert(
                0, nbformat.v4.new_markdown_cell(f"> **About earlier assignments.** {note}")
            )
            nb.cells[0]["id"] = "about-earlier-assignments"  # fixed: releases are reproducible
        stubbed += names
        write(rel, nbformat.writes(nb) + "\n")

    for name in TOP_LEVEL_FILES + DATASET_FILES:
        if name == "pyproject.toml":
            write(Path(name), student_pyproject((root / name).read_text(encoding="utf-8")))
        elif (root / name).is_file():
            write(Path(name), (root / name).read_bytes())
    write(Path("README.md"), student_readme(full, reveal_earlier))
    write(
        Path(".gitignore"),
        "__pycache__/\n*.so\n*.c\nbuild/\n*.egg-info/\ndatasets/*\n"
        "!datasets/get_datasets.sh\n!datasets/README.md\n*_submission*.zip\n",
    )
    # Last line of defence: no statement of a stubbed region, however reformatted, in
    # any file written (see cs231n/instructor/leaks.py). A leaking release is not kept.
    leaked = find_leaks(out, solution_statements(root, names=set(stubbed)))
    if leaked:
        shutil.rmtree(out)
        shown = "; ".join(f"{path}: {text[:60]}" for path, text in leaked[:3])
        raise ReleaseError(
            f"solution text would reach students ({len(leaked)} statements), e.g. {shown}. "
            "Move it inside a solution region or reword it; the release was not written."
        )
    return {"assignment": full, "stubbed": stubbed, "files": sorted(files)}


def release_to_directory(root, assignment, out, reveal_earlier=True, force=False):
    """Build the release into ``out``; an existing non-empty ``out`` needs ``force``.

    With ``force`` the old directory is moved aside to ``out.bak-<time>``, never deleted.
    """
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise ReleaseError(
                f"{out} exists and is not empty; choose another --out, or pass --force "
                "(the existing folder is then kept as a .bak copy, not deleted)."
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        info = build_release(root, assignment, tmp / "tree", reveal_earlier)
        if out.exists():
            if any(out.iterdir()):
                backup = out.with_name(f"{out.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
                out.rename(backup)
                info["backup"] = str(backup)
            else:
                out.rmdir()
        (tmp / "tree").rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _git(repo, *args, env=None, input=None):
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
    )
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def release_to_branch(root, assignment, repo, branch, reveal_earlier=True, force=False):
    """Commit the release as branch ``branch`` of the git repository ``repo``.

    The commit holds only the release tree (no solution history). Its parent is the
    branch's previous tip when that tip is itself a release commit; a branch whose
    tip is anything else (a student's work) is only replaced with ``force``.
    Returns (commit, info).
    """
    repo = Path(repo).resolve()
    _git(repo, "rev-parse", "--git-dir")
    full, _ = parse_assignment(assignment)
    ref = f"refs/heads/{branch}"
    tip = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    parents = []
    if tip:
        message = _git(repo, "log", "-1", "--format=%B", tip)
        if f"{RELEASE_TRAILER}: " in message:
            parents = ["-p", tip]
        elif not force:
            raise ReleaseError(
                f"branch {branch} of {repo} exists and its last commit is not a release "
                "(it may hold a student's work); pass --force to replace it."
            )
    with tempfile.TemporaryDirectory() as tmp:
        info = build_release(root, assignment, Path(tmp) / "tree", reveal_earlier)
        env = {**os.environ, **COMMIT_ENV, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        tree_dir = Path(tmp) / "tree"
        _git(repo, "--work-tree", str(tree_dir), "add", "-A", "--force", ".", env=env)
        tree = _git(repo, "write-tree", env=env)
        if parents and _git(repo, "rev-parse", tip + "^{tree}") == tree:
            return tip, info  # the same release again: nothing to commit
        msg = f"Release of {full}\n\n{RELEASE_TRAILER}: {full}\n"
        commit = _git(repo, "commit-tree", tree, *parents, "-F", "-", env=env, input=msg)
        _git(repo, "update-ref", ref, commit)
    return commit, info


def _cmd(args):
    from cs231n.instructor.notebooks import find_repo_root

    root = find_repo_root()
    try:
        if args.branch:
            commit, info = release_to_branch(
                root,
                args.assignment,
                args.repo or root,
                args.branch,
                reveal_earlier=not args.stub_earlier,
                force=args.force,
            )
            where = f"branch {args.branch} ({commit[:12]}) of {args.repo or root}"
        else:
            if not args.out:
                print("cs231n release: give --out DIR or --branch NAME.", file=sys.stderr)
                return 2
            info = release_to_directory(
                root,
                args.assignment,
                args.out,
                reveal_earlier=not args.stub_earlier,
                force=args.force,
            )
            where = str(Path(args.out).resolve())
            if "backup" in info:
                print(f"The previous content of --out was kept in {info['backup']}.")
    except (ReleaseError, MarkerError) as exc:
        print(f"cs231n release: {exc}", file=sys.stderr)
        return 1
    print(
        f"Released {info['assignment']} to {where}: {len(info['files'])} files, "
        f"{len(info['stubbed'])} regions stubbed."
    )
    _, number = parse_assignment(args.assignment)
    earlier = sorted({n.split(".")[0] for n in info["stubbed"] if int(n[1]) < number})
    if earlier and args.stub_earlier:
        print(
            f"Note: regions of {', '.join(earlier)} are stubbed too (--stub-earlier), and this "
            "assignment's code builds on some of them (e.g. affine/relu layers): students "
            "need their earlier solutions; the README and the notebooks say so."
        )
    return 0


def register(sub):
    p = sub.add_parser(
        "release", help="build the student release of an assignment", description=__doc__
    )
    p.add_argument("assignment", help="assignment1, assignment2 or assignment3")
    p.add_argument("--out", help="folder to write the release into (must be new or empty)")
    p.add_argument("--branch", help="write the release as this branch of a git repository")
    p.add_argument("--repo", help="the repository for --branch (default: this one)")
    p.add_argument(
        "--stub-earlier",
        action="store_true",
        help="stub the regions of earlier assignments too (by default they keep their "
        "solutions, so later assignments never depend on earlier work)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty --out (kept as .bak) or a non-release branch",
    )
    p.set_defaults(func=_cmd)


def solution_tree(root, assignment, dest):
    """A student's folder for ``assignment`` with every solution filled in.

    The release, with the solution package and notebooks copied over it: what a student
    who solved everything would submit. Used to prove the grading loop end to end.
    """
    root, dest = Path(root), Path(dest)
    full, _ = parse_assignment(assignment)
    build_release(root, full, dest)
    for rel in _package_files(root):
        if rel.suffix == ".py":
            shutil.copy(root / rel, dest / rel)
    for nb in sorted((root / "assignments" / full).glob("*.ipynb")):
        shutil.copy(nb, dest / full / nb.name)
    return dest
