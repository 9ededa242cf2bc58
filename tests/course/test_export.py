"""Finding the questions graded by hand in a notebook, however a student left its markers,
and exporting them safely: HTML that runs nothing and loads nothing, a PDF that starts
each question on a new page."""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import nbformat
import pytest

from cs231n.submission.export import markdown_html, math_html, questions_html
from cs231n.submission.export_pdf import questions_pdf
from cs231n.submission.questions import manual_questions, points_in, scan_notebook


class _Tags(HTMLParser):
    """Every tag of a page, with its attributes, as a browser would read them."""

    def __init__(self, page):
        super().__init__()
        self.tags = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def page_tags(page):
    """The names of the tags in ``page``."""
    return {tag for tag, _ in _Tags(page).tags}


def remote_references(page):
    """URLs a browser would fetch or follow from ``page``: anything but data: and #anchors."""
    return [
        value
        for _, attrs in _Tags(page).tags
        for name, value in attrs.items()
        if name in ("src", "href", "srcset", "data", "poster", "action") and value
        if not value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,", "#"))
    ]


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c) if isinstance(c, str) else c for c in cells]
    return nb


def _answer(name, body):
    return f"<!-- START OF YOUR ANSWER {name} -->\n{body}\n<!-- END OF YOUR ANSWER {name} -->"


def test_a_lone_marker_fences_the_rest_of_its_cell():
    nb = _nb(
        "**Inline Question 1**\n\nWhy?",
        "<!-- START OF YOUR ANSWER a1.x.inline_question_1 -->\nthe END marker was deleted",
        "**Inline Question 2**\n\nHow?",
        "the START marker was deleted\n<!-- END OF YOUR ANSWER a1.x.inline_question_2 -->",
    )
    questions, warnings = scan_notebook(nb, "x.ipynb")
    assert [(q.id, q.answer) for q in questions] == [
        ("a1.x.inline_question_1", "the END marker was deleted"),
        ("a1.x.inline_question_2", "the START marker was deleted"),
    ]
    assert len(warnings) == 2 and all("marker" in w and "missing" in w for w in warnings)


def test_a_deleted_answer_cell_is_listed_and_warned_about():
    nb = _nb(
        "**Inline Question 1**\n\nWhy?",
        _answer("a1.x.inline_question_1", "Because."),
        "**Inline Question 2**\n\nHow?",
        nbformat.v4.new_code_cell("x = 1"),
    )
    questions, warnings = scan_notebook(nb, "x.ipynb")
    assert [q.id for q in questions] == ["a1.x.inline_question_1", "a1.x.inline_question_2"]
    assert questions[1].found_by == "missing" and questions[1].empty
    assert any("no answer cell" in w and "Inline Question 2" in w for w in warnings)


def test_an_answer_found_by_position_is_named_from_the_assignment_without_other_regions():
    nb = _nb("### Inline Question 3 [4 pts]\n\nWhy?", "my retyped answer")
    (q,), warnings = scan_notebook(nb, "two_layer_net.ipynb", "assignment1")
    assert (q.id, q.title, q.points, q.answer) == (
        "a1.two_layer_net.inline_question_3",
        "Inline Question 3",
        4,
        "my retyped answer",
    )
    assert q.found_by == "position" and "lost its invisible markers" in warnings[0]


def test_solution_markers_are_read_too(tmp_path):
    code = nbformat.v4.new_code_cell(
        "# Fit it.\n# BEGIN SOLUTION a1.x.fit\nmodel.fit()\n# END SOLUTION a1.x.fit\nprint(1)"
    )
    nb = _nb(
        "## Fitting",
        "**Inline Question 1**\n\nWhy?",
        "<!-- BEGIN SOLUTION a1.x.inline_question_1 -->\nBecause.\n"
        "<!-- END SOLUTION a1.x.inline_question_1 -->",
        code,
    )
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert manual_questions(tmp_path / "x.ipynb") == [
        {
            "id": "a1.x.inline_question_1",
            "notebook": "x.ipynb",
            "kind": "inline answer",
            "title": "Inline Question 1",
            "points": None,
        },
        {
            "id": "a1.x.fit",
            "notebook": "x.ipynb",
            "kind": "code region",
            "title": "Fitting",
            "points": None,
        },
    ]
    questions, _ = scan_notebook(nb, "x.ipynb")
    assert questions[1].answer == "model.fit()" and questions[1].prompt == "Fit it."


@pytest.mark.parametrize(
    "text, points",
    [
        ("**Inline Question 1** (5 points)", 5),
        ("Inline Question 2 [2.5 pts]", 2.5),
        ("Points: 3", 3),
        ("by more than ten points", None),
        ("two points are $\\sqrt{2}$ apart", None),
    ],
)
def test_points_are_read_only_where_stated(text, points):
    assert points_in(text) == points


def test_markdown_runs_nothing_and_loads_nothing():
    page = markdown_html(
        "<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![p](https://example.org/p.png) "
        "<iframe src='https://example.org'></iframe>"
    )
    assert "<img" not in page and "<iframe" not in page and 'href="javascript' not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert remote_references(page) == []
    assert page_tags(page) <= {"p", "span"}


def test_an_attached_image_is_embedded_and_money_is_not_math():
    png = "iVBORw0KGgo="
    page = markdown_html("![plot](attachment:a.png) costs $5 and $6", {"a.png": {"image/png": png}})
    assert f'src="data:image/png;base64,{png}"' in page
    assert "<svg" not in page and "$5 and $6" in page


def test_math_mathtext_cannot_draw_is_shown_as_source():
    assert "<svg" in math_html("\\frac{\\partial L}{\\partial W}")
    assert "<svg" in math_html("\\big(x \\le y\\big)")  # rewritten for mathtext
    bad = math_html("\\begin{bmatrix} a \\\\ b \\end{bmatrix}")
    assert bad.startswith('<code class="tex">') and "\\begin{bmatrix}" in bad


def _pdf_pages(path):
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
        return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def test_a_long_answer_continues_on_pages_of_its_own(tmp_path):
    long = "\n\n".join(f"Paragraph {i}: " + "a reason, " * 60 for i in range(40))
    nb = _nb(
        "**Inline Question 1**\n\nWhy?",
        _answer("a1.x.inline_question_1", long),
        "**Inline Question 2**\n\nHow?",
        _answer("a1.x.inline_question_2", "Short."),
    )
    questions, _ = scan_notebook(nb, "x.ipynb")
    pages = questions_pdf(tmp_path / "a.pdf", "assignment1", questions)
    assert pages == _pdf_pages(tmp_path / "a.pdf") > 3
    again = questions_pdf(tmp_path / "b.pdf", "assignment1", questions)
    assert again == pages and (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    if shutil.which("pdftotext"):  # the last page holds the second question alone
        last = subprocess.run(
            ["pdftotext", "-f", str(pages), "-l", str(pages), str(tmp_path / "a.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Inline Question 2" in last and "Short." in last and "Paragraph" not in last


def test_the_page_of_no_questions_says_so(tmp_path):
    assert "No questions graded by hand" in questions_html("assignment1", [])
    assert questions_pdf(tmp_path / "none.pdf", "assignment1", []) == 1
