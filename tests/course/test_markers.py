"""Solution markers: the checker accepts good fences, rejects every kind of bad one,
and the whole source tree is well-formed."""

from pathlib import Path

import nbformat
import pytest

from cs231n.instructor.markers import MarkerError, check_tree, parse_regions, regions_in_file

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
def f(x):
    out = None
    # BEGIN SOLUTION a1.knn.two_loops
    out = x + 1
    # END SOLUTION a1.knn.two_loops
    return out
"""


def test_parses_a_region():
    (r,) = parse_regions(GOOD)
    assert r.name == "a1.knn.two_loops"
    assert r.assignment == 1
    assert r.body(GOOD.splitlines()) == ["    out = x + 1"]
    assert r.indent == "    "


def test_parses_markdown_regions():
    text = (
        "Q?\n<!-- BEGIN SOLUTION a2.dropout.inline_question_1 -->\nYes.\n"
        "<!-- END SOLUTION a2.dropout.inline_question_1 -->\n"
    )
    (r,) = parse_regions(text)
    assert r.assignment == 2 and r.begin == 1 and r.end == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("# BEGIN SOLUTION\nx\n# END SOLUTION\n", "has no name"),
        ("# BEGIN SOLUTION knn\nx\n# END SOLUTION knn\n", "bad region name"),
        ("# BEGIN SOLUTION a1.q\nx\n", "never closed"),
        ("x\n# END SOLUTION a1.q\n", "without a matching BEGIN"),
        (
            "# BEGIN SOLUTION a1.q\n# BEGIN SOLUTION a1.r\n# END SOLUTION a1.r\n# END SOLUTION a1.q\n",
            "cannot nest",
        ),
        ("# BEGIN SOLUTION a1.q\nx\n# END SOLUTION a1.r\n", "closes region a1.q"),
        ("# BEGIN SOLUTON a1.q\nx\n# END SOLUTION a1.q\n", "malformed"),
        ("#  begin solution a1.q\nx\n", "malformed"),
    ],
)
def test_rejects_bad_markers(text, message):
    with pytest.raises(MarkerError, match=message):
        parse_regions(text)


def test_rejects_duplicate_names_in_a_file(tmp_path):
    p = tmp_path / "m.py"
    p.write_text(GOOD + GOOD)
    with pytest.raises(MarkerError, match="used twice"):
        regions_in_file(p)


def test_notebook_regions_are_found_per_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell(GOOD),
        nbformat.v4.new_markdown_cell(
            "<!-- BEGIN SOLUTION a1.knn.q1 -->\nanswer\n<!-- END SOLUTION a1.knn.q1 -->"
        ),
    ]
    p = tmp_path / "nb.ipynb"
    nbformat.write(nb, p)
    found = regions_in_file(p)
    assert [(i, r.name) for i, r in found] == [(1, "a1.knn.two_loops"), (2, "a1.knn.q1")]


def test_the_source_tree_is_well_fenced():
    """Every marker in the package and the notebooks is well-formed, named and closed."""
    tree = check_tree(ROOT)
    names = [r.name for regions in tree.values() for r in regions if hasattr(r, "name")]
    names += [
        r.name
        for regions in tree.values()
        for item in regions
        if isinstance(item, tuple)
        for r in [item[1]]
    ]
    assert names, "the solutions hold fenced regions"


def test_a_begin_marker_states_the_purpose_and_an_end_marker_cannot():
    text = "x = 1\n    # BEGIN SOLUTION a1.q.part: what it is for\n    y = 2\n    # END SOLUTION a1.q.part\n"
    (region,) = parse_regions(text)
    assert region.name == "a1.q.part" and region.purpose == "what it is for"
    with pytest.raises(MarkerError, match="only a BEGIN marker"):
        parse_regions("# BEGIN SOLUTION a1.q\ny = 2\n# END SOLUTION a1.q: no\n")


def test_every_package_region_says_what_it_is_for():
    """Each code region has its own sentence: two regions of one function never share
    one, and none is the function's docstring summary (which the stubs used to repeat)."""
    import ast
    from pathlib import Path

    from cs231n.instructor.markers import check_tree

    root = Path(__file__).resolve().parents[2]
    for path, regions in check_tree(root).items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text())
        summaries = {
            (ast.get_docstring(n) or "").strip().split("\n")[0].rstrip(".")
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef)
        }
        for r in regions:
            assert len(r.purpose.split()) >= 3, f"{path}: {r.name} states no purpose"
            assert r.purpose.rstrip(".") not in summaries, f"{path}: {r.name} repeats a docstring"
        purposes = [r.purpose for r in regions]
        assert len(set(purposes)) == len(purposes), f"{path}: two regions share a purpose"
