"""What a student receives, measured: files and lines of each release, and (with
``--install``) each release installed in a new virtual environment and each of its
untouched notebooks run to its first stub, with the message the student sees there.

    python scripts/release_report.py             # files and lines per release
    python scripts/release_report.py --install   # + pip install and notebooks (minutes)

Counts: ``package`` is everything under cs231n/, ``notebooks`` the assignment's notebooks
(lines of their cells' sources), ``other`` the rest (README, packaging, data script).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cs231n.instructor.release import build_release  # noqa: E402


def count(release, assignment):
    rows = {"package": [0, 0], "notebooks": [0, 0], "other": [0, 0]}
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        rel = path.relative_to(release)
        kind = (
            "package"
            if rel.parts[0] == "cs231n"
            else "notebooks"
            if rel.parts[0] == assignment
            else "other"
        )
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            lines = sum(len("".join(c["source"]).splitlines()) for c in cells)
        elif path.suffix in (".npz", ".so"):
            lines = 0
        else:
            lines = len(path.read_text(errors="replace").splitlines())
        rows[kind][0] += 1
        rows[kind][1] += lines
    return rows


def first_stub(python, notebook, workdir):
    """Run the notebook with nbclient until a cell raises; (cell number, message)."""
    code = f"""
import nbformat, nbclient, sys
nb = nbformat.read({str(notebook)!r}, as_version=4)
client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                 resources={{"metadata": {{"path": {str(workdir)!r}}}}})
try:
    client.execute()
    print("ran to the end")
except nbclient.exceptions.CellExecutionError as exc:
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(code_cells, 1)
                  if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    err = [o for o in code_cells[failed - 1].outputs if o.output_type == "error"][0]
    print(f"code cell {{failed}} of {{len(code_cells)}}: {{err.ename}}: {{err.evalue}}")
"""
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=1800)
    return (out.stdout.strip() or out.stderr.strip()[-400:]).splitlines()[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="install and run notebooks")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="release-report-"))
    for n in (1, 2, 3):
        assignment = f"assignment{n}"
        release = tmp / assignment
        build_release(ROOT, assignment, release)
        rows = count(release, assignment)
        shown = ", ".join(f"{k} {f} files / {l} lines" for k, (f, l) in rows.items())
        print(f"{assignment}: {shown}")
        if not args.install:
            continue
        venv = tmp / f"venv{n}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        pip = subprocess.run(
            [python, "-m", "pip", "install", "-q", "-e", ".[notebook]"],
            cwd=release,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - start
        status = "ok" if pip.returncode == 0 else f"FAILED: {pip.stderr.strip()[-300:]}"
        print(f"  pip install -e '.[notebook]' in a new venv: {status} ({took:.0f} s)")
        if pip.returncode:
            continue
        help_out = subprocess.run(
            [str(venv / "bin" / "cs231n"), "grade"], capture_output=True, text=True
        )
        print(f"  cs231n grade -> {help_out.stderr.strip()}")
        for notebook in sorted((release / assignment).glob("*.ipynb")):
            message = first_stub(python, notebook, release / assignment)
            print(f"  {notebook.name}: {message[:220]}")


if __name__ == "__main__":
    main()
