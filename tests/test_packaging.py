"""Packaging a packager would accept: one version, one dependency list, a licence file."""

import re
from pathlib import Path

import cs231n

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text()  # read as text: tomllib is 3.11+


def _project_table():
    return re.search(r"(?ms)^\[project\]\n(.*?)^\[", PYPROJECT).group(1)


def test_the_version_is_written_once():
    project = _project_table()
    assert not re.search(r"(?m)^version\s*=", project)
    assert re.search(r'(?m)^dynamic\s*=\s*\["version"\]', project)
    assert 'version = { attr = "cs231n.__version__" }' in PYPROJECT
    text = (ROOT / "cs231n" / "__init__.py").read_text()
    assert re.search(r'(?m)^__version__ = "\d+\.\d+\.\d+"$', text)
    assert cs231n.__version__.count(".") == 2


def test_requirements_is_not_a_second_dependency_list():
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e ."], lines


def test_the_declared_licence_ships():
    project = _project_table()
    assert re.search(r'(?m)^license\s*=\s*"MIT"', project)
    name = re.search(r'(?m)^license-files\s*=\s*\["([^"]+)"\]', project).group(1)
    assert "MIT License" in (ROOT / name).read_text()
