"""``cs231n collect``: pack a student's submission for an assignment.

Run from the root of your assignment folder (the one with ``cs231n/`` and
``assignmentN/``)::

    cs231n collect assignment1

It writes ``assignment1_submission.zip`` holding the package's source files and the
assignment's executed notebooks, and the written half of your work, graded by hand:
``assignment1_answers.html`` and ``assignment1_answers.pdf`` show, one question per page,
each inline question with your answer and each code region of a notebook with its code
and outputs (upload the PDF where your course asks for it, e.g. to Gradescope). The zip
holds both, and ``assignment1_questions.json``, the list of those questions.

It warns about notebooks that were not executed, cells run out of order or ending in an
error, answers left empty or whose invisible markers were deleted (the answer is still
exported), and files too large to submit. It never modifies your files and never
overwrites an earlier zip or export: a new name is chosen instead.
"""

import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from cs231n.submission.questions import INLINE, error_warnings, manual_questions, scan_notebook

__all__ = ["CollectError", "collect", "extract_answers", "manual_questions", "submission_files"]

MAX_FILE_BYTES = 5 * 1024 * 1024
ZIP_DATE = (2000, 1, 1, 0, 0, 0)


class CollectError(RuntimeError):
    """The submission cannot be collected (wrong folder, unreadable notebook)."""


def submission_files(root, assignment):
    """The files a submission holds, relative to ``root``: package sources and notebooks."""
    root = Path(root)
    nb_dir = root / assignment
    if not (root / "cs231n").is_dir() or not nb_dir.is_dir():
        raise CollectError(
            f"{root} does not look like the {assignment} folder: it needs cs231n/ and "
            f"{assignment}/. Run `cs231n collect {assignment}` from the folder of your release."
        )
    files = []
    for path in sorted((root / "cs231n").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and path.suffix in (".py", ".pyx") and "__pycache__" not in rel.parts:
            files.append(rel)
    files += sorted(p.relative_to(root) for p in nb_dir.glob("*.ipynb"))
    return files


def extract_answers(nb):
    """[(name, answer text)] of every inline answer in a notebook (markers or not)."""
    return [(q.id, q.answer) for q in scan_notebook(nb)[0] if q.kind == INLINE]


def notebook_warnings(nb, rel, questions=()):
    """Problems a grader would hit: unexecuted cells, out-of-order runs, errors, empty answers."""
    warnings = []
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    unexecuted = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    if code and len(unexecuted) == len(code):
        warnings.append(f"{rel}: the notebook has not been executed; run all cells, then save.")
    elif unexecuted:
        warnings.append(f"{rel}: {len(unexecuted)} code cells were not executed.")
    counts = [c.execution_count for c in code if c.get("execution_count") is not None]
    if any(b <= a for a, b in zip(counts, counts[1:])):
        warnings.append(
            f"{rel}: cells were run out of order; use Restart & Run All before submitting."
        )
    warnings += error_warnings(nb, rel)
    for q in questions:
        if q.kind == INLINE and q.empty:
            warnings.append(f"{rel}: inline answer {q.id} ('{q.title}') is empty.")
    return warnings


def _zip_entry(zf, name, data):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _free_name(path):
    """``path`` if it does not exist, else path with -1, -2, ... before the suffix."""
    if not path.exists():
        return path
    for i in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise CollectError(f"too many earlier submissions named like {path}.")


def _free_names(paths):
    """``paths`` with one common -1, -2, ... suffix, the first that none of them uses."""
    for i in range(10_000):
        named = [p if i == 0 else p.with_name(f"{p.stem}-{i}{p.suffix}") for p in paths]
        if not any(p.exists() for p in named):
            return named
    raise CollectError(f"too many earlier submissions named like {paths[0]}.")


def _write_new(path, data):
    """Write ``data`` to ``path``, or to a free name beside it; return the path written."""
    path = _free_name(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def collect(root, assignment, out=None, pdf=True):
    """Write the submission zip and the export of the questions graded by hand.

    Returns
    -------
    zip_path : Path
    html_path : Path, the answers page (beside the zip, and in it)
    pdf_path : Path or None (``pdf=False``), the same one question per page (in the zip too)
    warnings : list of str, for the student to read
    """
    from cs231n.submission.export import questions_html

    root = Path(root).resolve()
    files = submission_files(root, assignment)
    warnings, questions, blobs = [], [], []
    for rel in files:
        data = (root / rel).read_bytes()
        if rel.suffix == ".ipynb":  # its answers are exported even when it is too large
            try:
                nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            except Exception as exc:  # noqa: BLE001 - any unreadable notebook
                raise CollectError(f"{rel} is not a readable notebook ({exc}).") from exc
            found, found_warnings = scan_notebook(nb, rel.name, assignment, where=str(rel))
            questions += found
            warnings += notebook_warnings(nb, rel, found) + found_warnings
        if len(data) > MAX_FILE_BYTES:
            warnings.append(
                f"{rel} is {len(data) / 2**20:.1f} MiB, over the "
                f"{MAX_FILE_BYTES // 2**20} MiB limit; it was left out (clear large outputs)."
            )
            continue
        blobs.append((rel.as_posix(), data))

    page = questions_html(assignment, questions).encode("utf-8")
    manifest = json.dumps(
        {"assignment": assignment, "questions": [q.manifest() for q in questions]}, indent=2
    ).encode("utf-8")
    blobs += [(f"{assignment}_answers.html", page), (f"{assignment}_questions.json", manifest)]
    pdf_bytes = _pdf_bytes(assignment, questions) if pdf else None
    if pdf_bytes is not None:
        blobs.append((f"{assignment}_answers.pdf", pdf_bytes))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in blobs:
            _zip_entry(zf, name, data)
    # One suffix for the three: a second run writes ..._submission-1.zip, ..._answers-1.*
    zip_name, html_name, pdf_name = _free_names(
        [
            root / f"{assignment}_{what}"
            for what in ("submission.zip", "answers.html", "answers.pdf")
        ]
    )
    zip_path = _write_new(Path(out) if out else zip_name, buf.getvalue())
    html_path = _write_new(html_name, page)
    pdf_path = _write_new(pdf_name, pdf_bytes) if pdf_bytes else None
    return zip_path, html_path, pdf_path, warnings


def _pdf_bytes(assignment, questions):
    from cs231n.submission.export_pdf import questions_pdf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers.pdf"
        questions_pdf(path, assignment, questions)
        return path.read_bytes()


def _cmd(args):
    from cs231n.assignments import UnknownAssignment, parse_assignment

    try:
        full, _ = parse_assignment(args.assignment)
        zip_path, html_path, pdf_path, warnings = collect(args.dir, full, args.out, not args.no_pdf)
    except (CollectError, UnknownAssignment) as exc:
        print(f"cs231n collect: {exc}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    print(f"Wrote {zip_path}")
    print(f"Answers graded by hand: {html_path}" + (f" and {pdf_path}" if pdf_path else ""))
    return 0


def register(sub):
    p = sub.add_parser(
        "collect", help="pack your submission for an assignment", description=__doc__
    )
    p.add_argument("assignment", help="assignment1, assignment2 or assignment3")
    p.add_argument("--dir", default=".", help="the assignment folder (default: here)")
    p.add_argument("--out", help="zip to write (default: <assignment>_submission.zip)")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF of the answers")
    p.set_defaults(func=_cmd)
