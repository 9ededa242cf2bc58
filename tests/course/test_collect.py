"""``cs231n collect``: the zip holds the code and notebooks, answers are exported, problems
are warned about, and the student's files are never modified or overwritten."""

import zipfile
from pathlib import Path

import nbformat
import pytest

from cs231n.course.collect import CollectError, collect, extract_answers

ROOT = Path(__file__).resolve().parents[2]


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
        nbformat.v4.new_markdown_cell(
            f"Question?\n<!-- START OF YOUR ANSWER a1.knn.q1 -->\n{body}\n"
            "<!-- END OF YOUR ANSWER a1.knn.q1 -->"
        ),
    ]
    nbformat.write(nb, root / "assignment1" / "knn.ipynb")
    return root


def _snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_collects_code_notebooks_and_answers(tmp_path):
    root = _student_tree(tmp_path, answer="Because distances grow.")
    before = _snapshot(root)
    zip_path, html_path, _, warnings = collect(root, "assignment1", pdf=False)
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    assert {"cs231n/layers.py", "assignment1/knn.ipynb", "assignment1_inline_answers.html"} <= names
    assert "Because distances grow." in html_path.read_text()
    assert warnings == []
    after = _snapshot(root)
    assert {p: b for p, b in after.items() if p in before} == before, "student files unchanged"


def test_warns_about_unexecuted_out_of_order_and_empty(tmp_path):
    _, _, _, w = collect(_student_tree(tmp_path / "a", executed=False), "assignment1", pdf=False)
    assert any("not been executed" in m for m in w)
    assert any("inline answer a1.knn.q1 is empty" in m for m in w)
    _, _, _, w = collect(
        _student_tree(tmp_path / "b", answer="ok", order=(5, 2)), "assignment1", pdf=False
    )
    assert any("out of order" in m for m in w)


def test_never_overwrites_an_earlier_zip(tmp_path):
    root = _student_tree(tmp_path, answer="a")
    first, *_ = collect(root, "assignment1", pdf=False)
    first_bytes = first.read_bytes()
    second, *_ = collect(root, "assignment1", pdf=False)
    assert second != first and first.read_bytes() == first_bytes


def test_large_files_are_left_out_with_a_warning(tmp_path):
    root = _student_tree(tmp_path, answer="a")
    (root / "cs231n" / "huge.py").write_text("#" * (6 * 1024 * 1024))
    zip_path, _, _, warnings = collect(root, "assignment1", pdf=False)
    assert any("huge.py" in m and "limit" in m for m in warnings)
    assert "cs231n/huge.py" not in zipfile.ZipFile(zip_path).namelist()


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
