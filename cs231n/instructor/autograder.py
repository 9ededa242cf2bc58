"""``cs231n autograder``: a Gradescope autograder zip built from the hidden grading tests.

``cs231n autograder assignmentN --out FILE.zip`` writes a zip that Gradescope unpacks
into ``/autograder/source``::

    setup.sh            run once when Gradescope builds the image (as root): installs
                        python3, venv, pip and bubblewrap with apt, creates the venv
                        /autograder/venv and installs the bundled source into it
    run_autograder      run for every submission: grades /autograder/submission and
                        writes /autograder/results/results.json
    cs231n/             the reference solution (the package with its solutions)
    tests/grading/      __init__.py and aN.py: this assignment's grading tests only
    pyproject.toml, setup.py, requirements.txt, README.md, assignments/assignmentN/

Grading goes through the same code path as ``cs231n grade`` (``Grader.grade``). Before
grading, ``run_autograder`` makes the source readable by root only (``chmod -R go-rwx``),
so that student code, which runs as an unprivileged user, cannot read the solutions or
the tests even where the sandbox is weaker. Gradescope places the student's upload in
``/autograder/submission``: the zip from ``cs231n collect`` as uploaded, or its content
if it was extracted, or a folder holding ``cs231n/``; all are handled. If bubblewrap
cannot create namespaces in Gradescope's container, grading falls back to resource
limits (and uid 65534) without the filesystem and network isolation, and the results
say so. The environment variables ``AUTOGRADER_ROOT`` (default ``/autograder``) and
``AUTOGRADER_PYTHON`` (default the venv's python) let the scripts run elsewhere, e.g.
in tests; ``CS231N_AUTOGRADER_NO_BWRAP=1`` forces the fallback to see what it does.
"""

import argparse
import json
import os
import stat
import sys
import time
import traceback
import warnings
import zipfile
from pathlib import Path

from cs231n.instructor import sandbox
from cs231n.instructor.release import (
    DATASET_FILES,
    TOP_LEVEL_FILES,
    ReleaseError,
    _package_files,
    parse_assignment,
)

ZIP_DATE = (2000, 1, 1, 0, 0, 0)
EXECUTABLE = 0o100755 << 16
REGULAR = 0o100644 << 16

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
# The reference package and its dependencies. Nothing is compiled: grading uses the
# numpy implementation of the fast layers (CS231N_NO_EXTENSION skips the Cython build).
CS231N_NO_EXTENSION=1 /autograder/venv/bin/python -m pip install -e /autograder/source
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root. AUTOGRADER_ROOT and
# AUTOGRADER_PYTHON override the locations (for tests).
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
export PYTHONPATH="$ROOT/source${{PYTHONPATH:+:$PYTHONPATH}}"
export CS231N_NUMPY_FALLBACK=1
cd "$ROOT/source"
exec "$PYTHON" -m cs231n.instructor.autograder run {assignment} --root "$ROOT"
"""


def _readme(assignment):
    return f"""# Autograder for {assignment}

Built by `cs231n autograder {assignment}`. Gradescope unpacks this zip into
`/autograder/source`, runs `setup.sh` once and `run_autograder` for every submission.
It holds the reference solution and the hidden grading tests: do not share it.
"""


# -- building the zip ---------------------------------------------------------------------


def autograder_files(root, assignment):
    """{path in the zip: (bytes, executable)} for the autograder of ``assignment``."""
    root = Path(root)
    full, number = parse_assignment(assignment)
    tests = root / "tests" / "grading" / f"a{number}.py"
    if not tests.is_file():
        raise ReleaseError(f"no grading tests for {full}: {tests} does not exist.")
    files = {
        "setup.sh": (SETUP_SH.encode(), True),
        "run_autograder": (RUN_AUTOGRADER.format(assignment=full).encode(), True),
        "README.md": (_readme(full).encode(), False),
        f"assignments/{full}/README.md": (
            b"Notebooks are not needed for grading; this folder lets the grader build "
            b"the release it grades against.\n",
            False,
        ),
        "tests/grading/__init__.py": ((tests.parent / "__init__.py").read_bytes(), False),
        f"tests/grading/a{number}.py": (tests.read_bytes(), False),
    }
    for rel in _package_files(root, staff=True):  # the grader itself included
        files[rel.as_posix()] = ((root / rel).read_bytes(), False)
    for name in TOP_LEVEL_FILES + DATASET_FILES:
        if (root / name).is_file():
            files[name] = ((root / name).read_bytes(), False)
    return files


def build_autograder(root, assignment, out, force=False):
    """Write the autograder zip of ``assignment`` to ``out``; return the number of files.

    The zip is deterministic (sorted members, fixed dates). An existing ``out`` is only
    replaced with ``force``.
    """
    out = Path(out)
    if out.exists() and not force:
        raise ReleaseError(f"{out} exists; choose another --out or pass --force.")
    files = autograder_files(root, assignment)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            data, executable = files[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = EXECUTABLE if executable else REGULAR
            zf.writestr(info, data)
    tmp.replace(out)
    return len(files)


# -- running on Gradescope --------------------------------------------------------------------


def protect(path):
    """``chmod -R go-rwx path``: only the owner (root) may read the solutions and tests."""
    path = Path(path)
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        p.chmod(stat.S_IMODE(mode) & ~0o077)


def find_submission(folder, assignment):
    """What to grade in Gradescope's submission folder, and a note on the choice.

    A zip (the documented workflow: ``cs231n collect``, then upload the zip) is preferred;
    otherwise the shallowest folder holding ``cs231n/``. Returns (path or None, note).
    Nothing reached through a symbolic link counts: an extracted upload may hold links,
    e.g. to ``/autograder/source``, the reference solution.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None, f"There is no submission folder ({folder})."

    def unlinked(p):  # nothing from folder down to p is a link (to the reference beside it)
        return not any((folder / q).is_symlink() for q in p.relative_to(folder).parents) and (
            not p.is_symlink()
        )

    zips = sorted(
        p for p in folder.iterdir() if p.suffix.lower() == ".zip" and p.is_file() and unlinked(p)
    )
    if zips:
        # Prefer the zip named after the assignment, then the most recent.
        zips.sort(key=lambda p: (assignment in p.name, p.stat().st_mtime), reverse=True)
        note = f"Graded {zips[0].name}." if len(zips) > 1 else ""
        return zips[0], note
    for depth in range(3):
        pattern = "/".join(["*"] * depth + ["cs231n"]) if depth else "cs231n"
        found = sorted(p.parent for p in folder.glob(pattern) if p.is_dir() and unlinked(p))
        if found:
            return found[0], ""
    return None, (
        f"No submission was found: upload the zip made by `cs231n collect {assignment}` "
        "(or the folder holding cs231n/)."
    )


def isolation_note():
    """'' when the bubblewrap sandbox works; otherwise what isolation remains, in words."""
    if sandbox.bwrap_works():
        return ""
    nobody = sandbox.plain_runs_unprivileged()
    who = (
        "as an unprivileged user that cannot read the grading files"
        if nobody
        else ("as the grader's own user")
    )
    return (
        "Note: this grading container does not allow the bubblewrap sandbox (it cannot "
        f"create namespaces), so your code ran with resource limits only, {who}, without "
        "network or filesystem isolation. Scores are computed the same way."
    )


def _error_results(message, start):
    return {
        "score": 0.0,
        "execution_time": round(time.perf_counter() - start, 2),
        "output": message,
        "stdout_visibility": "hidden",
        "tests": [],
    }


def run(assignment, root="/autograder", jobs=None):
    """Grade ``root/submission`` and write ``root/results/results.json``; return the results."""
    from cs231n.instructor.grade import Grader

    start = time.perf_counter()
    root = Path(root)
    source, results_dir = root / "source", root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    full, _ = parse_assignment(assignment)
    # Grading uses the numpy fast layers on purpose (nothing is compiled): no need to say so.
    warnings.filterwarnings("ignore", message="cs231n.fast_layers", category=RuntimeWarning)
    if os.environ.get("CS231N_AUTOGRADER_NO_BWRAP") == "1":
        sandbox.bwrap_works = lambda: False  # this process only: see what the fallback does
    grader = None
    try:
        protect(source)
        note = isolation_note()
        if note:
            print(note, flush=True)
        submission, found = find_submission(root / "submission", full)
        grader = Grader(full, source / "tests" / "grading", source, require_sandbox=not note)
        if submission is None:
            results = _error_results(found, start)
            results["tests"] = [
                {
                    "name": t.name,
                    "score": 0.0,
                    "max_score": float(t.points),
                    "output": "not graded: no submission",
                    "visibility": "visible",
                }
                for t in grader.tests
            ]
        else:
            jobs = jobs or max(1, min(4, os.cpu_count() or 1))
            results = grader.grade(submission, jobs=jobs)
            results["output"] = "\n".join(x for x in (note, found, results["output"]) if x)
    except Exception as exc:  # noqa: BLE001 - Gradescope must always get a results file
        traceback.print_exc()
        results = _error_results(
            f"The autograder failed ({type(exc).__name__}: {exc}); tell your instructor.", start
        )
    finally:
        if grader is not None:
            grader.close()
    tmp = results_dir / "results.json.part"
    tmp.write_text(json.dumps(results, indent=2), encoding="utf-8")
    tmp.replace(results_dir / "results.json")
    print(f"{full}: {results['score']:g} points; results in {results_dir / 'results.json'}")
    return results


# -- command line ---------------------------------------------------------------------------


def _cmd(args):
    from cs231n.instructor.notebooks import find_repo_root

    try:
        n = build_autograder(find_repo_root(), args.assignment, args.out, force=args.force)
    except (ReleaseError, FileNotFoundError) as exc:
        print(f"cs231n autograder: {exc}", file=sys.stderr)
        return 1
    print(
        f"Wrote {Path(args.out).resolve()} ({n} files). Upload it as the Gradescope "
        "autograder; it holds the solutions, so keep it private."
    )
    return 0


def register(sub):
    p = sub.add_parser(
        "autograder",
        help="build a Gradescope autograder zip",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("assignment", help="assignment1, assignment2 or assignment3")
    p.add_argument("--out", required=True, help="the zip to write, e.g. autograder_a2.zip")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_cmd)


def main(argv=None):
    """``python -m cs231n.instructor.autograder run assignmentN --root /autograder`` (Gradescope)."""
    parser = argparse.ArgumentParser(prog="python -m cs231n.instructor.autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    p.add_argument("assignment")
    p.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    p.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    results = run(args.assignment, args.root, args.jobs)
    return 1 if results.get("tests") == [] else 0


if __name__ == "__main__":
    sys.exit(main())
