"""Find solution text in a student release, however it was reformatted.

Every statement of every solution region is *normalised*: parsed and unparsed by
``ast`` (comments dropped, quotes and spacing made canonical), then stripped of all
whitespace and quote characters. Markdown answers are cut into sentences and
normalised the same way. Each file of a release, whatever its kind (code, docstrings,
comments, READMEs, notebook sources and metadata, JSON escapes decoded), is normalised
alike, and every statement is searched in it as a substring: a solution line moved into a
docstring, reflowed, requoted or re-indented is still found.

A statement is searched only when it is *distinctive*: long enough (``MIN_CHARS`` after
normalising; five words for a sentence) and absent from the code given to students
around the regions, read without its docstrings and comments (a solution that repeats
a line of given code, ``return out`` say, reveals nothing; one that repeats a docstring
does).
"""

import ast
import json
import re
import textwrap
from pathlib import Path

from cs231n.instructor.markers import check_tree, parse_regions

MIN_CHARS = 16
_SPACE_AND_QUOTES = re.compile(r"[\s'\"`]+")


def normalise(text):
    """Text with all whitespace and quote characters removed."""
    return _SPACE_AND_QUOTES.sub("", text)


def _code_statements(body):
    """Normalised statements of a code region's lines (falls back to lines)."""
    source = textwrap.dedent("\n".join(body))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [
            normalise(line) for line in body if line.strip() and not line.strip().startswith("#")
        ]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(
            node, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Try)
        ):
            found.append(normalise(ast.unparse(node)))
        elif isinstance(node, (ast.For, ast.While, ast.If, ast.With)):
            # The header alone ("for i in range(num_test):"), without the body.
            header = ast.unparse(node).splitlines()[0]
            found.append(normalise(header))
    return found


def _answer_sentences(body):
    """Normalised sentences of a Markdown answer."""
    text = " ".join(line.strip() for line in body)
    text = re.sub(r"\*\*Your answer:\*\*", "", text)
    # Sentences of at least five words: a fragment such as "the optimisation." is prose
    # any question or given text may share.
    sentences = re.split(r"(?<=[.!?:;])\s+", text)
    return [normalise(s) for s in sentences if len(s.split()) >= 5]


def _units(root):
    """(text, kind) of every unit holding regions: .py files and notebook cells."""
    import nbformat

    for path in check_tree(root):
        if path.suffix == ".ipynb":
            for cell in nbformat.read(path, as_version=4).cells:
                yield cell.source, cell.cell_type
        else:
            yield path.read_text(encoding="utf-8"), "code"


def _given_code(lines, regions):
    """The code around the regions, as executed: docstrings and comments dropped.

    A solution statement that is also given code reveals nothing; one that sits in a
    docstring or a comment does, so those are not part of what is given.
    """
    kept, skip = [], set()
    for r in regions:
        skip.update(range(r.begin, r.end + 1))
    for i, line in enumerate(lines):
        region = next((r for r in regions if r.begin == i), None)
        if region is not None:
            kept.append(f"{region.indent}pass")
        elif i not in skip and not line.lstrip().startswith(("%", "!")):
            kept.append(line)
    try:
        tree = ast.parse("\n".join(kept))
    except SyntaxError:
        return normalise("\n".join(l for l in kept if not l.lstrip().startswith("#")))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()  # a docstring
    return normalise(ast.unparse(tree))


def solution_statements(root, names=None):
    """The distinctive normalised statements of the solution regions under ``root``.

    ``names``: only the regions of these names (those a release stubs); None for all.
    """
    inside, given = set(), []
    for text, kind in _units(root):
        lines = text.splitlines()
        regions = parse_regions(text)
        for r in regions:
            body = r.body(lines)
            if names is not None and r.name not in names:
                # Kept in this release (an earlier assignment's, revealed): given text.
                given.append(normalise("\n".join(body)))
                continue
            inside.update(_answer_sentences(body) if kind == "markdown" else _code_statements(body))
        if kind == "code":
            given.append(_given_code(lines, regions))
    given_text = "\n".join(given)
    return {s for s in inside if len(s) >= MIN_CHARS and s not in given_text}


def release_text(path):
    """A released file's text, normalised; notebooks' JSON strings decoded too."""
    raw = Path(path).read_bytes().decode("utf-8", errors="replace")
    parts = [raw]
    if path.suffix == ".ipynb":
        try:
            parts.append(json.dumps(json.loads(raw), ensure_ascii=False))  # escapes undone
            nb = json.loads(raw)
            for cell in nb.get("cells", []):
                source = cell.get("source", "")
                parts.append(source if isinstance(source, str) else "".join(source))
        except ValueError:
            pass
    return normalise("\n".join(parts))


def find_leaks(release_dir, statements):
    """[(relative path, statement)] for every statement found in a file of the release."""
    release_dir = Path(release_dir)
    leaks = []
    for path in sorted(release_dir.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        text = release_text(path)
        leaks += [(str(path.relative_to(release_dir)), s) for s in statements if s in text]
    return leaks
