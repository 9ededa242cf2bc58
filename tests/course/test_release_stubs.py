"""What stubs say: notebook stubs name the section a student sees, not a cell index."""

import re
from pathlib import Path

import nbformat

from cs231n.instructor.release import build_release

ROOT = Path(__file__).resolve().parents[2]


def test_notebook_stubs_name_the_section_heading(tmp_path):
    build_release(ROOT, "assignment1", tmp_path / "rel")
    messages = []
    for path in sorted((tmp_path / "rel" / "assignment1").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "NotImplementedError" in cell.source:
                messages.append(" ".join(re.findall(r'"([^"]*)"', cell.source)))
    assert messages, "assignment 1's notebooks hold code regions"
    for message in messages:
        assert not re.search(r"\bcell \d+", message), message
        heading = re.search(r"under '([^']+)'", message)
        assert heading, message
    # The heading named is one the notebook really shows.
    knn = nbformat.read(ROOT / "assignments" / "assignment1" / "knn.ipynb", as_version=4)
    headings = {
        line.lstrip("#").strip()
        for cell in knn.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("#")
    }
    named = {re.search(r"under '([^']+)'", m).group(1) for m in messages if "knn.ipynb" in m}
    assert named and named <= headings
