"""The questions of a notebook that are graded by hand, found in a student's notebook.

A student writes two kinds of things a person grades:

- **inline answers**: a Markdown cell fenced by ``<!-- START OF YOUR ANSWER name -->`` and
  ``<!-- END OF YOUR ANSWER name -->`` (in a release; the solutions fence it with their own
  begin and end markers), right after the cell that asks the question ("**Inline
  Question 1**");
- **notebook code regions**: the code between ``# *****START OF YOUR CODE name ...*****``
  and ``# *****END OF YOUR CODE name ...*****`` in a code cell, with that cell's outputs.

The markers are invisible in Jupyter, so a student who selects all of an answer cell and
types over it deletes them. Such an answer is still found: by position, the Markdown cell
right after a cell that asks an "Inline Question", and a warning names it. A marker whose
partner was deleted fences the rest (or the start) of its cell. Nothing a student wrote
in a fenced cell is ever dropped.

:func:`scan_notebook` returns every question with its prompt, answer and outputs (what
the export renders) and the warnings; :func:`manual_questions` the manifest entries
(id, notebook, kind, title, points) the grader lists as "to grade by hand".
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

# The placeholder a release puts in an answer cell (cs231n.instructor.stubs.ANSWER_PLACEHOLDER;
# written out here so this student-side module imports nothing of the release tooling).
ANSWER_PLACEHOLDER = "**Your Answer:** *fill this in.*"
INLINE, CODE = "inline answer", "code region"

# Release markers, matched loosely: a student may have edited around them.
_ANSWER_MARK = re.compile(r"<!--\s*(?P<kind>START|END) OF YOUR ANSWER\s+(?P<name>[^\s>]+?)\s*-->")
_CODE_MARK = re.compile(
    r"^[ \t]*#[ \t*]*(?P<kind>START|END) OF YOUR CODE\s+(?P<name>[^\s*()]+)[^\n]*$", re.M
)
# A cell that asks an inline question: "**Inline Question 1**", "### Inline question 2: ...".
_ASKS = re.compile(r"^[ \t]*(?:#+[ \t]*)?[*_]*[ \t]*Inline Question[ \t]*(?P<n>\d+)", re.I | re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(?P<text>.+?)[ \t#]*$", re.M)
# "(5 points)", "[2 pts]", "Points: 3" in the text that asks a question.
_POINTS = re.compile(
    r"[(\[][ \t]*(?P<a>\d+(?:\.\d+)?)[ \t]*(?:points?|pts?)\.?[ \t]*[)\]]"
    r"|\bpoints?[ \t]*:[ \t]*(?P<b>\d+(?:\.\d+)?)",
    re.I,
)
_BOX = re.compile(r"^[ \t]*#+[ \t]?(?P<text>.*?)[ \t]*#*[ \t]*$")


@dataclass
class Question:
    """One question graded by hand, as found in one notebook."""

    id: str  # the region name, e.g. "a1.knn.inline_question_1"
    notebook: str  # the notebook's file name
    kind: str  # INLINE or CODE
    title: str  # what the question is called: "Inline Question 1", or the section of a region
    prompt: str  # Markdown of what asks the question (the cell(s) above, a comment block)
    answer: str  # the student's Markdown (inline answer) or code (code region)
    cell: int  # index of the cell holding the answer (-1: no such cell)
    section: str = ""  # the last Markdown heading above the cell
    points: float | None = None  # as stated by the notebook's text, else None
    outputs: list = field(default_factory=list)  # the code cell's outputs (code regions)
    attachments: dict = field(default_factory=dict)  # the answer cell's attachments
    # "markers"; "position": the Markdown cell after the question, its markers deleted;
    # "missing": no answer cell after the question at all
    found_by: str = "markers"

    @property
    def notice(self):
        """What the grader should know about how the answer was found ("" if by markers)."""
        if self.found_by == "position":
            return (
                "The invisible markers of this answer were deleted: shown is the Markdown cell "
                f"right after the question (cell {self.cell + 1})."
            )
        if self.found_by == "missing":
            return "No answer cell was found: the cell after the question was deleted."
        return ""

    @property
    def empty(self):
        text = self.answer.replace(ANSWER_PLACEHOLDER, "").strip()
        return not text or (self.kind == CODE and text.startswith("raise NotImplementedError("))

    def manifest(self):
        """The entry of the questions manifest (what results.json lists for grading by hand)."""
        return {
            "id": self.id,
            "notebook": self.notebook,
            "kind": self.kind,
            "title": self.title,
            "points": self.points,
        }


def _plain(line):
    """A Markdown line as plain text: no heading marks, emphasis or surrounding blanks."""
    line = re.sub(r"^[ \t]*#+[ \t]*", "", line)
    return re.sub(r"[*_`]+", "", line).strip(" \t-:")


def _title_of(prompt_cell):
    """ "Inline Question 2 - True or False" from the cell that asks it."""
    m = _ASKS.search(prompt_cell)
    line = prompt_cell[m.start() :].splitlines()[0] if m else prompt_cell.strip().splitlines()[0]
    line = _POINTS.sub("", line)  # the points go in their own field
    return re.sub(r"[ \t]+", " ", _plain(line.replace("**", " ").replace("*", " ")))


def points_in(text):
    """The points a question's text states ("(5 points)", "[2 pts]", "Points: 3"), else None."""
    m = _POINTS.search(text)
    if not m:
        return None
    value = float(m["a"] or m["b"])
    return int(value) if value.is_integer() else value


def _pair(text, pattern, where):
    """[(name, body, start, end)] fenced by release markers in ``text``; warnings for a lone one.

    ``start``/``end`` are the character span the region covers, markers included.
    """
    regions, warnings, open_ = [], [], None  # open_: (name, match)
    for m in pattern.finditer(text):
        if m["kind"] == "START":
            if open_ is not None:
                warnings.append(
                    f"{where}: the END marker of {open_[0]} is missing; its answer was taken up "
                    f"to the START of {m['name']}."
                )
                regions.append(
                    (open_[0], text[open_[1].end() : m.start()], open_[1].start(), m.start())
                )
            open_ = (m["name"], m)
            continue
        if open_ is not None:
            if open_[0] != m["name"]:
                warnings.append(f"{where}: START {open_[0]} is closed by END {m['name']}.")
            regions.append((open_[0], text[open_[1].end() : m.start()], open_[1].start(), m.end()))
            open_ = None
        else:
            begin = regions[-1][3] if regions else 0
            warnings.append(
                f"{where}: the START marker of {m['name']} is missing; its answer was taken from "
                "the start of the cell."
            )
            regions.append((m["name"], text[begin : m.start()], begin, m.end()))
    if open_ is not None:
        warnings.append(
            f"{where}: the END marker of {open_[0]} is missing; its answer was taken to the end "
            "of the cell."
        )
        regions.append((open_[0], text[open_[1].end() :], open_[1].start(), len(text)))
    return [(n, b.strip("\n"), s, e) for n, b, s, e in regions], warnings


# The solutions' own markers (the course's single source; see cs231n.instructor.markers),
# read here without its tooling: only in the solutions, or a tree built from them.
_SOLUTION_MARK = re.compile(
    r"^[ \t]*(?:#|<!--)\s*(?P<kind>BEGIN|END)\s+SOLUTION\s+(?P<name>a[1-9](?:\.\w+)+)"
)


def _solution_regions(text, where):
    """Regions fenced by solution markers: [(name, body, begin line, end line)].

    A malformed pairing (an END without its BEGIN, a BEGIN never closed) gives none:
    those are the solutions' own errors, reported by the release tooling.
    """
    lines = text.splitlines()
    regions, open_ = [], None
    for i, line in enumerate(lines):
        m = _SOLUTION_MARK.match(line)
        if not m:
            continue
        if m["kind"] == "BEGIN":
            if open_ is not None:
                return []
            open_ = (m["name"], i)
        else:
            if open_ is None or open_[0] != m["name"]:
                return []
            name, begin = open_
            regions.append((name, "\n".join(lines[begin + 1 : i]).strip("\n"), begin, i))
            open_ = None
    return [] if open_ is not None else regions


def _comment_block(code, start):
    """The instructions in the ``#`` comment block right above ``start`` (a character index)."""
    lines = code[:start].splitlines()
    block = []
    while lines and lines[-1].lstrip().startswith("#"):
        block.insert(0, lines.pop())
    text = [(_BOX.match(line)["text"] if _BOX.match(line) else line) for line in block]
    return " ".join(t for t in text if t.strip()).strip()


def _asking_cells(cells, index, answers_at):
    """Indices of the Markdown cells above cell ``index`` that ask its question."""
    asked, j = [], index - 1
    while j >= 0 and len(asked) < 3:
        cell = cells[j]
        if cell.cell_type != "markdown" or j in answers_at:
            break
        asked.insert(0, j)
        if _ASKS.search(cell.source) or _HEADING.search(cell.source):
            break
        j -= 1
    return asked


def _prefix(names, notebook, assignment):
    """The id prefix of a notebook's regions, e.g. "a1.knn", for an answer found by position."""
    heads = [".".join(n.split(".")[:2]) for n in names if n.count(".") >= 1]
    if heads:
        return max(set(heads), key=heads.count)
    stem = re.sub(r"\W+", "_", Path(notebook).stem).strip("_").lower() or "notebook"
    number = re.search(r"\d+", str(assignment or ""))
    return f"a{number.group()}.{stem}" if number else stem


def _sections(cells):
    """The last heading above each cell (for a Markdown cell, including its own)."""
    sections, current = [], ""
    for cell in cells:
        if cell.cell_type == "markdown":
            headings = _HEADING.findall(cell.source)
            if headings:
                current = _plain(headings[-1])
        sections.append(current)
    return sections


def error_warnings(nb, notebook):
    """A warning for every code cell whose outputs end in an error."""
    warnings, sections = [], _sections(nb.cells)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            under = f", under '{sections[i]}'" if sections[i] else ""
            warnings.append(
                f"{notebook}{under} (cell {i + 1}): the cell ended in an error "
                f"({errors[-1].get('ename', 'error')}); fix it and run all cells again, or the "
                "grader sees the error."
            )
    return warnings


def scan_notebook(nb, notebook="notebook.ipynb", assignment=None, where=None):
    """Every question graded by hand in ``nb``, and warnings about how they were found.

    Parameters
    ----------
    nb : nbformat.NotebookNode, version 4
    notebook : str, the notebook's name (in ids found by position)
    where : str, how warnings name the notebook (default: ``notebook``)
    assignment : str or None, e.g. "assignment1" (names an answer found by position when
        the notebook holds no other region)

    Returns
    -------
    questions : list of Question, in the order of the notebook
    warnings : list of str
    """
    cells, warnings, where_nb = nb.cells, [], where or notebook
    sections = _sections(cells)
    found = []  # (cell index, kind, name, body, start of the region in the cell's text)
    for i, cell in enumerate(cells):
        where = f"{where_nb} cell {i + 1}"
        if cell.cell_type == "markdown":
            regions, w = _pair(cell.source, _ANSWER_MARK, where)
            if not regions:
                regions = _solution_regions(cell.source, where)
                regions = [
                    (n, b, len("\n".join(cell.source.splitlines()[:s])), e)
                    for n, b, s, e in regions
                ]
            found += [(i, INLINE, n, b.strip(), s) for n, b, s, _ in regions]
        elif cell.cell_type == "code":
            regions, w = _pair(cell.source, _CODE_MARK, where)
            if not regions:
                lines = cell.source.splitlines()
                regions = [
                    (n, b, len("\n".join(lines[:s])), e)
                    for n, b, s, e in _solution_regions(cell.source, where)
                ]
            found += [(i, CODE, n, b, s) for n, b, s, _ in regions]
        else:
            continue
        warnings += w
    answers_at = {i for i, kind, *_ in found if kind == INLINE}

    questions = []
    for i, kind, name, body, start in found:
        cell = cells[i]
        if kind == INLINE:
            asked = _asking_cells(cells, i, answers_at)
            before = cell.source[:start].strip()
            prompt = "\n\n".join(
                [cells[j].source.strip() for j in asked] + ([before] if before else [])
            )
            title = _title_of(prompt) if prompt.strip() else name
            outputs = []
        else:
            prompt = _comment_block(cell.source, start)
            if not prompt and i > 0 and cells[i - 1].cell_type == "markdown":
                prompt = cells[i - 1].source.strip()
            title = sections[i] or name
            outputs = list(cell.get("outputs", []))
        questions.append(
            Question(
                id=name,
                notebook=notebook,
                kind=kind,
                title=title,
                prompt=prompt,
                answer=body,
                cell=i,
                section=sections[i],
                points=points_in(prompt),
                outputs=outputs,
                attachments=dict(cell.get("attachments", {}) or {}),
            )
        )

    recovered, lost = _answers_without_markers(nb, notebook, assignment, found, sections)
    questions += recovered
    warnings += [f"{where_nb}: {w}" for w in lost]
    questions.sort(key=lambda q: q.cell)
    titles = [q.title for q in questions if q.kind == CODE]
    parts = {}
    for q in questions:  # code regions under one heading: "Cross-validation (part 2 of 3)"
        if q.kind == CODE and titles.count(q.title) > 1:
            parts[q.title] = parts.get(q.title, 0) + 1
            q.title = f"{q.title} (part {parts[q.title]} of {titles.count(q.title)})"
    seen = {}
    for q in questions:
        seen[q.id] = seen.get(q.id, 0) + 1
        if seen[q.id] == 2:
            warnings.append(f"{where_nb}: {q.id} is fenced twice; both are exported.")
    return questions, warnings


def _answers_without_markers(nb, notebook, assignment, found, sections):
    """Inline questions whose answer lost its markers (the Markdown cell right after them),
    and a warning for each."""
    cells = nb.cells
    answered = {i for i, kind, *_ in found if kind == INLINE}
    names = {name for _, _, name, *_ in found}
    prefix = _prefix(names, notebook, assignment)
    recovered, warnings = [], []
    asks = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and _ASKS.search(c.source)]
    for q in asks:
        if q in answered:
            continue  # the answer is fenced inside the question's own cell
        nxt = q + 1
        zone_end = next(
            (j for j in range(nxt, len(cells)) if cells[j].cell_type != "markdown" or j in asks),
            len(cells),
        )
        if any(j in answered for j in range(nxt, zone_end)):
            continue
        prompt = cells[q].source.strip()
        title = _title_of(prompt)
        number = _ASKS.search(prompt)["n"]
        name = f"{prefix}.inline_question_{number}"
        if name in names:
            name = f"{prefix}.{notebook.split('.')[0]}_cell_{nxt + 1}"
        names.add(name)
        if nxt < zone_end:
            answer, cell, how = (
                cells[nxt].source.strip(),
                nxt,
                "position",
            )
            warnings.append(
                f"the answer to '{title}' ({name}) had lost its invisible markers; "
                f"exported cell {nxt + 1}, the Markdown cell right after the question. Check "
                "that it holds your answer."
            )
        else:
            answer, cell, how = "", -1, "missing"
            warnings.append(
                f"no answer cell was found for '{title}' ({name}): the Markdown cell "
                "after the question was deleted. Add one under the question with your answer."
            )
        recovered.append(
            Question(
                id=name,
                notebook=notebook,
                kind=INLINE,
                title=title,
                prompt=prompt,
                answer=answer,
                cell=cell if cell >= 0 else q,
                section=sections[q],
                points=points_in(prompt),
                attachments=dict(cells[cell].get("attachments", {}) or {}) if cell >= 0 else {},
                found_by=how,
            )
        )
    return recovered, warnings


def manual_questions(nb, notebook=None):
    """The questions of a notebook graded by hand, as manifest entries.

    Parameters
    ----------
    nb : nbformat.NotebookNode, or the path of a notebook
    notebook : str, its name in the entries (default: the path's name, else "notebook.ipynb")

    Returns
    -------
    list of {"id", "notebook", "kind", "title", "points"}: ``kind`` is "inline answer" or
    "code region", ``points`` what the notebook's text states, else None.
    """
    if isinstance(nb, str | Path):
        import nbformat

        notebook = notebook or Path(nb).name
        nb = nbformat.read(nb, as_version=4)
    questions, _ = scan_notebook(nb, notebook or "notebook.ipynb")
    return [q.manifest() for q in questions]
