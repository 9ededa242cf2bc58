"""Solution markers: how the single source fences what a student writes.

Every region a student writes is fenced by a begin/end pair naming the assignment
and the question it belongs to::

    # BEGIN SOLUTION a1.example.question: what this region computes, in a few words
    answer = what_the_student_writes()
    # END SOLUTION a1.example.question

in ``.py`` files and notebook code cells, and in Markdown cells (inline answers)::

    <!-- BEGIN SOLUTION a1.example.inline_question -->
    **Your answer:** ...
    <!-- END SOLUTION a1.example.inline_question -->

A name is ``a<N>.<question>[.<part>...]``: the assignment number, then dotted
identifiers. A code region's BEGIN line also says, after a colon, what the region is
for: the student's stub repeats that sentence (never the answer) to say what to write. Regions never nest, every BEGIN has an END with the same name on a
later line, and a name is used once per file (once per notebook).
"""

import re
from dataclasses import dataclass
from pathlib import Path

NAME_RE = r"a(?P<assignment>[1-9])(?:\.[A-Za-z0-9_]+)+"
_MARKER = re.compile(
    r"^(?P<indent>[ \t]*)(?:#|<!--)\s*(?P<kind>BEGIN|END)\s+SOLUTION\b\s*(?P<name>[^\s:]*)"
    r"(?::\s*(?P<purpose>.*?))?\s*(?:-->)?\s*$"
)
_NAME = re.compile(rf"^{NAME_RE}$")
# Anything that looks like an attempt at a marker, to catch typos such as "BEGIN SOLUTON".
_LOOSE = re.compile(r"(#|<!--)\s*(BEGIN|END)\s*SOLU", re.IGNORECASE)


class MarkerError(ValueError):
    """A marker is malformed, unnamed, nested, unclosed or unmatched."""


@dataclass(frozen=True)
class Region:
    """One fenced region: lines ``begin`` and ``end`` (0-based) are the markers."""

    name: str
    assignment: int
    begin: int
    end: int
    indent: str
    purpose: str = ""  # what the region is for, in a few words (the BEGIN line's ": ...")

    def body(self, lines):
        """The solution lines strictly between the markers."""
        return lines[self.begin + 1 : self.end]


def parse_regions(text, where="<text>"):
    """Return the list of Regions in ``text``; raise MarkerError on any defect.

    Parameters
    ----------
    text : str, the content of a .py file or of one notebook cell
    where : str, named in error messages (file, or file and cell)
    """
    regions = []
    open_region = None  # (name, line, indent, purpose)
    for i, line in enumerate(text.splitlines()):
        m = _MARKER.match(line)
        if not m:
            if _LOOSE.search(line):
                raise MarkerError(f"{where}:{i + 1}: malformed solution marker: {line.strip()!r}")
            continue
        kind, name, indent = m["kind"], m["name"], m["indent"]
        if kind == "END" and m["purpose"]:
            raise MarkerError(f"{where}:{i + 1}: only a BEGIN marker states a purpose.")
        if not name:
            raise MarkerError(f"{where}:{i + 1}: {kind} SOLUTION marker has no name.")
        nm = _NAME.match(name)
        if not nm:
            raise MarkerError(
                f"{where}:{i + 1}: bad region name {name!r}; "
                "expected a<N>.<question>[.<part>] such as a1.knn.two_loops."
            )
        if kind == "BEGIN":
            if open_region is not None:
                raise MarkerError(
                    f"{where}:{i + 1}: BEGIN {name} inside region {open_region[0]} "
                    f"opened on line {open_region[1] + 1}; regions cannot nest."
                )
            open_region = (name, i, indent, m["purpose"] or "")
        else:
            if open_region is None:
                raise MarkerError(f"{where}:{i + 1}: END {name} without a matching BEGIN.")
            if name != open_region[0]:
                raise MarkerError(
                    f"{where}:{i + 1}: END {name} closes region {open_region[0]} "
                    f"opened on line {open_region[1] + 1}."
                )
            begin, indent, purpose = open_region[1], open_region[2], open_region[3]
            regions.append(Region(name, int(nm["assignment"]), begin, i, indent, purpose))
            open_region = None
    if open_region is not None:
        raise MarkerError(f"{where}:{open_region[1] + 1}: region {open_region[0]} is never closed.")
    return regions


def _check_unique(regions, where):
    seen = set()
    for r in regions:
        if r.name in seen:
            raise MarkerError(f"{where}: region name {r.name} is used twice.")
        seen.add(r.name)


def regions_in_file(path):
    """Regions of a .py file, or of every cell of a notebook (as (cell_index, Region))."""
    path = Path(path)
    if path.suffix == ".ipynb":
        import nbformat

        nb = nbformat.read(path, as_version=4)
        found = []
        for idx, cell in enumerate(nb.cells):
            for r in parse_regions(cell.source, where=f"{path} cell {idx}"):
                found.append((idx, r))
        _check_unique([r for _, r in found], str(path))
        return found
    regions = parse_regions(path.read_text(encoding="utf-8"), where=str(path))
    _check_unique(regions, str(path))
    return regions


def iter_source_files(root):
    """The files of the single source that may hold regions: the package and notebooks."""
    root = Path(root)
    for sub in ("cs231n", "assignments"):
        base = root / sub
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if ".ipynb_checkpoints" in path.parts or "__pycache__" in path.parts:
                continue
            if path.suffix in (".py", ".pyx", ".ipynb"):
                yield path


def check_tree(root):
    """Check every marker under ``root``; return {path: regions}. Raises MarkerError."""
    result = {}
    for path in iter_source_files(root):
        rel = path.relative_to(root).parts
        if rel[:2] == ("cs231n", "instructor"):
            continue  # the staff's tooling holds no solutions (markers.py documents the syntax)
        result[path] = regions_in_file(path)
    return result
