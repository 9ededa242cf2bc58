"""The package in two parts with one direction (issue 10): what students import never
imports the course staff's tooling in ``cs231n/instructor/``, which no release holds."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cs231n"
STAFF = "cs231n.instructor"


def student_modules():
    """(dotted name, path) of every module outside cs231n/instructor/."""
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "__pycache__" in rel.parts or rel.parts[1] == "instructor":
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def imported_names(module, path):
    """Every module name an import statement or an import_module("...") call names."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = getattr(func, "attr", getattr(func, "id", ""))
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.args[0].value


def test_no_student_module_imports_the_staff_tooling():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for module, path in student_modules()
        for name in imported_names(module, path)
        if name == STAFF or name.startswith(STAFF + ".")
    ]
    assert not offenders, "\n".join(offenders)
    assert len(list(student_modules())) > 30  # (the scan sees the package)


def test_the_checker_sees_relative_and_dynamic_imports(tmp_path):
    """Negative test: each way of importing the tooling is caught."""
    for source in (
        "from cs231n.instructor import grade\n",
        "from ..instructor.release import build_release\n",
        "import importlib\nimportlib.import_module('cs231n.instructor.sandbox')\n",
    ):
        path = tmp_path / "module.py"
        path.write_text(source)
        names = list(imported_names("cs231n.submission.module", path))
        assert any(n.startswith(STAFF) for n in names), source


def test_importing_every_student_module_loads_none_of_the_tooling():
    modules = [m for m, _ in student_modules() if m not in ("cs231n.__main__",)]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({STAFF!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
