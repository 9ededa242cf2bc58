"""``cs231n collect``: pack a student's submission for an assignment.

Run from the root of your assignment folder (the one with ``cs231n/`` and
``assignmentN/``)::

    cs231n collect assignment1

It writes ``assignment1_submission.zip`` holding the package's source files and the
assignment's executed notebooks, and ``assignment1_inline_answers.html``, a readable
export of your inline answers (and a PDF of it when a converter is available). It warns
about notebooks that were not executed, cells run out of order, answers left empty, and
files too large to submit. It never modifies your files and never overwrites an earlier
zip: a new name is chosen instead.
"""

import html
import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from cs231n.course.markers import parse_regions
from cs231n.course.stubs import ANSWER_PLACEHOLDER

MAX_FILE_BYTES = 5 * 1024 * 1024
ZIP_DATE = (2000, 1, 1, 0, 0, 0)
_ANSWER = re.compile(
    r"<!-- START OF YOUR ANSWER (?P<name>\S+) -->\n?(?P<body>.*?)\n?<!-- END OF YOUR ANSWER (?P=name) -->",
    re.DOTALL,
)


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
    """[(name, answer text)] of every inline answer region in a notebook."""
    answers = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in _ANSWER.finditer(cell.source):  # a student's release
            answers.append((m["name"], m["body"].strip()))
        lines = cell.source.splitlines()
        for r in parse_regions(cell.source):  # the solutions themselves
            answers.append((r.name, "\n".join(r.body(lines)).strip()))
    return answers


def notebook_warnings(nb, rel):
    """Problems a grader would hit: unexecuted cells, out-of-order runs, empty answers."""
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
    for name, text in extract_answers(nb):
        if not text or ANSWER_PLACEHOLDER in text:
            warnings.append(f"{rel}: inline answer {name} is empty.")
    return warnings


def answers_html(assignment, per_notebook):
    """A standalone HTML page of every inline answer, notebook by notebook."""
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{assignment} inline answers</title>",
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:.8em}</style></head><body>",
        f"<h1>{html.escape(assignment)}: inline answers</h1>",
    ]
    for notebook, answers in per_notebook:
        parts.append(f"<h2>{html.escape(notebook)}</h2>")
        if not answers:
            parts.append("<p><em>No inline questions.</em></p>")
        for name, text in answers:
            parts.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(text or '(empty)')}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _free_name(path):
    """``path`` if it does not exist, else path with -1, -2, ... before the suffix."""
    if not path.exists():
        return path
    for i in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise CollectError(f"too many earlier submissions named like {path}.")


def _to_pdf(html_path):
    """Convert the answers page to PDF when a converter is installed; else None."""
    for tool in ("wkhtmltopdf", "chromium", "chromium-browser"):
        exe = shutil.which(tool)
        if not exe:
            continue
        pdf = html_path.with_suffix(".pdf")
        cmd = (
            [exe, "--quiet", str(html_path), str(pdf)]
            if tool == "wkhtmltopdf"
            else [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--print-to-pdf={pdf}",
                html_path.resolve().as_uri(),
            ]
        )
        try:
            subprocess.run(cmd, capture_output=True, timeout=120, check=True)
        except (subprocess.SubprocessError, OSError):
            continue
        if pdf.exists():
            return pdf
    return None


def collect(root, assignment, out=None, pdf=True):
    """Write the submission zip and the answers export; return (zip path, html, warnings)."""
    root = Path(root).resolve()
    files = submission_files(root, assignment)
    warnings, per_notebook = [], []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            data = (root / rel).read_bytes()
            if len(data) > MAX_FILE_BYTES:
                warnings.append(
                    f"{rel} is {len(data) / 2**20:.1f} MiB, over the "
                    f"{MAX_FILE_BYTES // 2**20} MiB limit; it was left out (clear large outputs)."
                )
                continue
            if rel.suffix == ".ipynb":
                try:
                    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
                except Exception as exc:  # noqa: BLE001 - any unreadable notebook
                    raise CollectError(f"{rel} is not a readable notebook ({exc}).") from exc
                warnings += notebook_warnings(nb, rel)
                per_notebook.append((rel.name, extract_answers(nb)))
            info = zipfile.ZipInfo(rel.as_posix(), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
        page = answers_html(assignment, per_notebook)
        info = zipfile.ZipInfo(f"{assignment}_inline_answers.html", date_time=ZIP_DATE)
        info.external_attr = 0o644 << 16
        zf.writestr(info, page)
    zip_path = _free_name(Path(out) if out else root / f"{assignment}_submission.zip")
    tmp = zip_path.with_name(zip_path.name + ".part")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(zip_path)
    html_path = _free_name(root / f"{assignment}_inline_answers.html")
    html_path.write_text(page, encoding="utf-8")
    pdf_path = _to_pdf(html_path) if pdf else None
    return zip_path, html_path, pdf_path, warnings


def _cmd(args):
    from cs231n.course.release import ReleaseError, parse_assignment

    try:
        full, _ = parse_assignment(args.assignment)
        zip_path, html_path, pdf_path, warnings = collect(args.dir, full, args.out, not args.no_pdf)
    except (CollectError, ReleaseError) as exc:
        print(f"cs231n collect: {exc}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    print(f"Wrote {zip_path}")
    print(f"Inline answers: {html_path}" + (f" and {pdf_path}" if pdf_path else ""))
    return 0


def register(sub):
    p = sub.add_parser(
        "collect", help="pack your submission for an assignment", description=__doc__
    )
    p.add_argument("assignment", help="assignment1, assignment2 or assignment3")
    p.add_argument("--dir", default=".", help="the assignment folder (default: here)")
    p.add_argument("--out", help="zip to write (default: <assignment>_submission.zip)")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF export")
    p.set_defaults(func=_cmd)
