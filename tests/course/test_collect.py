"""``cs231n collect``: the zip holds the code and notebooks, the written half of the work is
exported (HTML and PDF, one question per page) and listed, problems are warned about, and the
student's files are never modified or overwritten."""

import base64
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from cs231n.instructor.markers import regions_in_file
from cs231n.instructor.release import build_release
from cs231n.submission.collect import CollectError, collect, extract_answers, manual_questions
from tests.course.test_export import page_tags, remote_references

ROOT = Path(__file__).resolve().parents[2]
CODE_START = "# *****START OF YOUR CODE {} (DO NOT DELETE/MODIFY THIS LINE)*****"
CODE_END = "# *****END OF YOUR CODE {} (DO NOT DELETE/MODIFY THIS LINE)*****"


def _answer(name, body):
    return f"<!-- START OF YOUR ANSWER {name} -->\n{body}\n<!-- END OF YOUR ANSWER {name} -->"


def _png():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5), dpi=50)
    fig.add_subplot().plot([0, 1, 2], [2, 0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _student_tree(tmp_path, answer="", executed=True, order=(1, 2)):
    root = tmp_path / "student"
    (root / "cs231n").mkdir(parents=True)
    (root / "cs231n" / "layers.py").write_text("def f():\n    return 1\n")
    (root / "assignment1").mkdir()
    nb = nbformat.v4.new_notebook()
    body = answer or "**Your Answer:** *fill this in.*"
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", execution_count=order[0] if executed else None),
        nbformat.v4.new_code_cell("y = 2", execution_count=order[1] if executed else None),
        nbformat.v4.new_markdown_cell(f"Question?\n{_answer('a1.knn.q1', body)}"),
    ]
    nbformat.write(nb, root / "assignment1" / "knn.ipynb")
    return root


def _written_notebook():
    """A notebook with every kind of question graded by hand, and what goes wrong with them."""
    nb = nbformat.v4.new_notebook()
    region = "\n".join(
        [
            "# Plot the losses.",
            CODE_START.format("a1.net.plot"),
            "plt.plot(losses)",
            CODE_END.format("a1.net.plot"),
        ]
    )
    error = nbformat.v4.new_output(
        "error",
        ename="ValueError",
        evalue="shapes do not match",
        traceback=["\x1b[31mValueError\x1b[0m"],
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A net\n\n## Gradients"),
        nbformat.v4.new_markdown_cell("**Inline Question 1** (2 points)\n\nWhat is the gradient?"),
        nbformat.v4.new_markdown_cell(
            _answer(
                "a1.net.inline_question_1",
                "It is $\\frac{\\partial L}{\\partial W}$, **bold**. <script>alert(1)</script>",
            )
        ),
        nbformat.v4.new_markdown_cell("**Inline Question 2**\n\nWhy does it train?"),
        # Select-all and retype in Jupyter: the invisible markers are gone.
        nbformat.v4.new_markdown_cell("Because the loss goes down, retyped without markers."),
        nbformat.v4.new_markdown_cell("## Training"),
        nbformat.v4.new_code_cell(
            region,
            execution_count=1,
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="loss 2.30\nloss 1.20\n"),
                nbformat.v4.new_output(
                    "display_data", data={"image/png": _png(), "text/plain": "<Figure>"}
                ),
            ],
        ),
        nbformat.v4.new_code_cell("model.train()", execution_count=2, outputs=[error]),
    ]
    return nb


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The student tree holding the written notebook, collected once."""
    root = tmp_path_factory.mktemp("written") / "student"
    (root / "cs231n").mkdir(parents=True)
    (root / "cs231n" / "layers.py").write_text("def f():\n    return 1\n")
    (root / "assignment1").mkdir()
    nbformat.write(_written_notebook(), root / "assignment1" / "net.ipynb")
    zip_path, html_path, pdf_path, warnings = collect(root, "assignment1")
    return root, zip_path, html_path, pdf_path, warnings


def _pdf_pages(path):
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
        return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def _snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_collects_code_notebooks_and_answers(tmp_path):
    root = _student_tree(tmp_path, answer="Because distances grow.")
    before = _snapshot(root)
    zip_path, html_path, _, warnings = collect(root, "assignment1", pdf=False)
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    assert {
        "cs231n/layers.py",
        "assignment1/knn.ipynb",
        "assignment1_answers.html",
        "assignment1_questions.json",
    } <= names
    assert "Because distances grow." in html_path.read_text()
    assert warnings == []
    after = _snapshot(root)
    assert {p: b for p, b in after.items() if p in before} == before, "student files unchanged"


def test_warns_about_unexecuted_out_of_order_and_empty(tmp_path):
    _, _, _, w = collect(_student_tree(tmp_path / "a", executed=False), "assignment1", pdf=False)
    assert any("not been executed" in m for m in w)
    assert any(re.search(r"inline answer a1\.knn\.q1 .*is empty", m) for m in w)
    _, _, _, w = collect(
        _student_tree(tmp_path / "b", answer="ok", order=(5, 2)), "assignment1", pdf=False
    )
    assert any("out of order" in m for m in w)


def test_an_answer_without_markers_is_exported_and_warned_about(written):
    _, zip_path, html_path, _, warnings = written
    page = html_path.read_text()
    assert "retyped without markers" in page
    lost = [w for w in warnings if "lost its invisible markers" in w]
    assert (
        len(lost) == 1 and "Inline Question 2" in lost[0] and "a1.net.inline_question_2" in lost[0]
    )


def test_a_cell_ending_in_an_error_is_warned_about(written):
    warnings = written[4]
    errors = [w for w in warnings if "ended in an error" in w]
    assert len(errors) == 1
    assert "net.ipynb" in errors[0] and "'Training'" in errors[0] and "ValueError" in errors[0]


def test_html_renders_math_and_outputs_offline_and_escapes_the_student(written):
    page = written[2].read_text()
    assert "<svg" in page and "$\\frac" not in page, "math drawn, not left as source"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "script" not in page_tags(page)
    assert remote_references(page) == [] and "url(" not in page
    assert 'src="data:image/png;base64,' in page, "the plot is embedded"
    assert "loss 1.20" in page and "plt.plot(losses)" in page
    assert "What is the gradient?" in page, "the question's own text"
    assert "<strong>bold</strong>" in page


def test_pdf_has_one_page_per_question(written):
    pdf_path = written[3]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    with zipfile.ZipFile(written[1]) as zf:
        manifest = json.loads(zf.read("assignment1_questions.json"))
        assert zf.read("assignment1_answers.pdf") == pdf_path.read_bytes()
    assert _pdf_pages(pdf_path) == len(manifest["questions"]) == 3


def test_the_manifest_lists_every_question(written):
    with zipfile.ZipFile(written[1]) as zf:
        manifest = json.loads(zf.read("assignment1_questions.json"))
    assert manifest["questions"] == [
        {
            "id": "a1.net.inline_question_1",
            "notebook": "net.ipynb",
            "kind": "inline answer",
            "title": "Inline Question 1",
            "points": 2,
        },
        {
            "id": "a1.net.inline_question_2",
            "notebook": "net.ipynb",
            "kind": "inline answer",
            "title": "Inline Question 2",
            "points": None,
        },
        {
            "id": "a1.net.plot",
            "notebook": "net.ipynb",
            "kind": "code region",
            "title": "Training",
            "points": None,
        },
    ]
    assert manual_questions(_written_notebook(), "net.ipynb") == manifest["questions"]


def test_never_overwrites_an_earlier_zip_or_export(tmp_path):
    root = _student_tree(tmp_path, answer="a")
    (root / "assignment1_answers.html").write_text("the student's own file")
    first, html1, *_ = collect(root, "assignment1", pdf=False)
    first_bytes = first.read_bytes()
    second, html2, *_ = collect(root, "assignment1", pdf=False)
    assert second != first and first.read_bytes() == first_bytes
    assert (root / "assignment1_answers.html").read_text() == "the student's own file"
    assert len({html1, html2, root / "assignment1_answers.html"}) == 3
    third, html3, pdf3, _ = collect(root, "assignment1")
    assert {p.name for p in (third, html3, pdf3)} == {
        "assignment1_submission-3.zip",
        "assignment1_answers-3.html",
        "assignment1_answers-3.pdf",
    }, "one suffix for the files of one run"


def test_large_files_are_left_out_with_a_warning(tmp_path):
    root = _student_tree(tmp_path, answer="a")
    (root / "cs231n" / "huge.py").write_text("#" * (6 * 1024 * 1024))
    zip_path, _, _, warnings = collect(root, "assignment1", pdf=False)
    assert any("huge.py" in m and "limit" in m for m in warnings)
    assert "cs231n/huge.py" not in zipfile.ZipFile(zip_path).namelist()
    nb = nbformat.read(root / "assignment1" / "knn.ipynb", as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 6_000_000)]
    nbformat.write(nb, root / "assignment1" / "knn.ipynb")
    zip_path, html_path, _, warnings = collect(root, "assignment1", pdf=False)
    assert any("knn.ipynb" in m and "limit" in m for m in warnings)
    assert "assignment1/knn.ipynb" not in zipfile.ZipFile(zip_path).namelist()
    assert "a1.knn.q1" in html_path.read_text(), "its answers are exported all the same"


def test_wrong_folder_and_broken_notebook_are_clear_errors(tmp_path):
    with pytest.raises(CollectError, match="does not look like"):
        collect(tmp_path, "assignment1")
    root = _student_tree(tmp_path, answer="a")
    (root / "assignment1" / "broken.ipynb").write_text("{not json")
    with pytest.raises(CollectError, match="broken.ipynb is not a readable notebook"):
        collect(root, "assignment1", pdf=False)


def test_answers_are_read_from_solution_notebooks_too():
    nb_paths = sorted((ROOT / "assignments").rglob("*.ipynb"))
    answers = [a for p in nb_paths for a in extract_answers(nbformat.read(p, as_version=4))]
    assert answers and all(text for _, text in answers)


# -- a real release, filled in as a student would ---------------------------------------

_FENCE = re.compile(
    r"(?P<start>[^\n]*START OF YOUR (?:ANSWER|CODE) (?P<name>[^\s*]+)[^\n]*\n)"
    r"(?P<body>.*?)"
    r"(?P<end>\n[^\n]*END OF YOUR (?:ANSWER|CODE) (?P=name)[^\n]*)",
    re.S,
)


def _solution_bodies(path):
    """{region name: solution text} of a solution notebook."""
    nb = nbformat.read(path, as_version=4)
    bodies = {}
    for idx, region in regions_in_file(path):
        bodies[region.name] = "\n".join(region.body(nb.cells[idx].source.splitlines()))
    return bodies


def _filled_release(tmp_path, assignment="assignment1"):
    """A release whose answer and code regions hold the solutions, markers kept."""
    root = tmp_path / "filled"
    build_release(ROOT, assignment, root)
    expected = {}
    for path in sorted((root / assignment).glob("*.ipynb")):
        bodies = _solution_bodies(ROOT / "assignments" / assignment / path.name)
        expected[path.name] = set(bodies)
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.source = _FENCE.sub(
                lambda m, b=bodies: m["start"] + b[m["name"]] + m["end"], cell.source
            )
        nbformat.write(nb, path)
    return root, expected


def test_every_question_of_a_filled_release_is_exported(tmp_path):
    root, expected = _filled_release(tmp_path)
    knn = root / "assignment1" / "knn.ipynb"
    nb = nbformat.read(knn, as_version=4)
    plot_cell = next(c for c in nb.cells if "a1.knn.best_k" in c.source)
    plot_cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png()})]
    answer_cell = next(
        c for c in nb.cells if "START OF YOUR ANSWER a1.knn.inline_question_1" in c.source
    )
    answer_cell.source = "Retyped: bright rows are unusual test images."  # markers gone
    nbformat.write(nb, knn)

    zip_path, html_path, pdf_path, warnings = collect(root, "assignment1")
    with zipfile.ZipFile(zip_path) as zf:
        listed = json.loads(zf.read("assignment1_questions.json"))["questions"]
    found = {}
    for q in listed:
        found.setdefault(q["notebook"], set()).add(q["id"])
    assert found == expected, "every region of every notebook, and nothing else"
    assert all(q["title"] for q in listed)
    page = html_path.read_text()
    assert all(f"<code>{q['id']}</code>" in page for q in listed)
    assert "bright rows are unusual test images" in page
    assert any(
        "a1.knn.inline_question_1" in w and "lost its invisible markers" in w for w in warnings
    )
    assert not any("is empty" in w for w in warnings)
    assert _pdf_pages(pdf_path) >= len(listed)


@pytest.mark.parametrize("assignment", ["assignment2", "assignment3"])
def test_every_question_of_later_releases_is_listed(tmp_path, assignment):
    root, expected = _filled_release(tmp_path, assignment)
    zip_path, _, _, warnings = collect(root, assignment, pdf=False)
    with zipfile.ZipFile(zip_path) as zf:
        listed = json.loads(zf.read(f"{assignment}_questions.json"))["questions"]
    found = {}
    for q in listed:
        found.setdefault(q["notebook"], set()).add(q["id"])
    assert found == expected
    assert not any("marker" in w or "is empty" in w for w in warnings)
