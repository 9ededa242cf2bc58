"""Turning fenced solution regions into the stubs a student fills in.

A code region becomes::

    # *****START OF YOUR CODE a1.knn.two_loops (DO NOT DELETE/MODIFY THIS LINE)*****
    raise NotImplementedError(
        "compute_distances_two_loops in cs231n/classifiers/k_nearest_neighbor.py: ... "
    )
    # *****END OF YOUR CODE a1.knn.two_loops (DO NOT DELETE/MODIFY THIS LINE)*****

so an unfilled stub fails loudly, naming the function, the file and what to implement.
A Markdown region (an inline answer) becomes an answer placeholder between
``<!-- START OF YOUR ANSWER name -->`` / ``<!-- END OF YOUR ANSWER name -->`` comments,
which ``cs231n collect`` uses to export the answers.
"""

import ast
import textwrap

from cs231n.instructor.markers import parse_regions

CODE_START = "# *****START OF YOUR CODE {name} (DO NOT DELETE/MODIFY THIS LINE)*****"
CODE_END = "# *****END OF YOUR CODE {name} (DO NOT DELETE/MODIFY THIS LINE)*****"
ANSWER_START = "<!-- START OF YOUR ANSWER {name} -->"
ANSWER_END = "<!-- END OF YOUR ANSWER {name} -->"
ANSWER_PLACEHOLDER = "**Your Answer:** *fill this in.*"


def _enclosing_functions(source):
    """[(first_line, last_line, name, summary)] for every function in ``source`` (1-based)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node) or ""
            summary = doc.strip().splitlines()[0].strip() if doc.strip() else ""
            found.append((node.lineno, node.end_lineno, node.name, summary))
    return found


def _describe(region, functions, where):
    """What a stub's error says: the function, the file, and what to implement."""
    inside = [f for f in functions if f[0] <= region.begin + 1 <= f[1]]
    if inside:
        first, _, name, _summary = max(inside, key=lambda f: f[0])  # innermost
        what = f"{name} in {where}"
    else:
        what = f"the code of {where}"
    if region.purpose:
        what += f": {region.purpose.rstrip('.')}"
    return f"{what} (region {region.name}). Replace this line with your code."


def code_stub(region, indent, message):
    """The lines replacing a code region (markers included)."""
    msg = message.replace("\\", "\\\\").replace('"', '\\"')
    wrapped = textwrap.wrap(msg, width=max(40, 92 - len(indent))) or [msg]
    lines = [indent + CODE_START.format(name=region.name), indent + "raise NotImplementedError("]
    lines += [
        f'{indent}    "{part}{" " if i < len(wrapped) - 1 else ""}"'
        for i, part in enumerate(wrapped)
    ]
    lines += [indent + ")", indent + CODE_END.format(name=region.name)]
    return lines


def answer_stub(region):
    return [
        ANSWER_START.format(name=region.name),
        ANSWER_PLACEHOLDER,
        ANSWER_END.format(name=region.name),
    ]


def transform(text, keep, where, markdown=False):
    """Rewrite every region of ``text``: reveal it (``keep(region)`` true) or stub it.

    Parameters
    ----------
    text : str, a .py file or one notebook cell
    keep : callable(Region) -> bool, True to keep the solution (markers removed)
    where : str, the file named in stub messages (e.g. "cs231n/layers.py")
    markdown : bool, the text is a Markdown cell (answers, not code)

    Returns
    -------
    new_text : str
    stubbed : list of region names that were stubbed
    """
    regions = parse_regions(text, where=where)
    if not regions:
        return text, []
    lines = text.splitlines()
    functions = [] if markdown else _enclosing_functions(text)
    out, stubbed, pos = [], [], 0
    for r in regions:
        out += lines[pos : r.begin]
        if keep(r):
            out += r.body(lines)
        else:
            stubbed.append(r.name)
            if markdown:
                out += answer_stub(r)
            else:
                out += code_stub(r, r.indent, _describe(r, functions, where))
        pos = r.end + 1
    out += lines[pos:]
    new = "\n".join(out)
    if text.endswith("\n"):
        new += "\n"
    return new, stubbed
