"""Every region a student writes in the package is graded: a new fenced region without a
grading test fails here.

The rule linking a region name R (from ``cs231n/**/*.py``) to the grading tests of its
assignment (``tests/grading/a<N>.py``): R is *covered* when some test T has

- T == R (one test for the region), or
- R starts with T + "." (one test grades every part, e.g. ``a1.knn.predict_labels``
  covers ``a1.knn.predict_labels.vote``), or
- T starts with R + "." (several tests grade the region, e.g. ``a2.fc_net.forward`` is
  also graded by ``a2.fc_net.forward.normalization``), or
- R is listed in the grading module's ``COVERS[T]`` (a test of one function whose
  body holds several regions with other names, e.g. ``a1.two_layer_net.loss`` covers
  ``a1.two_layer_net.forward`` and ``a1.two_layer_net.backward``).

Conversely every grading test must be related in one of these ways to an existing region,
so a renamed region cannot leave a test grading nothing in particular. Notebook regions
(inline answers, notebook-only code) are not graded by the probes and are not counted.
"""

import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

from cs231n.instructor.markers import check_tree

ROOT = Path(__file__).resolve().parents[2]
GRADING = ROOT / "tests" / "grading"


def package_regions():
    """{assignment number: {region name: path}} for the package's .py files."""
    found = defaultdict(dict)
    for path, regions in check_tree(ROOT).items():
        if path.suffix != ".py":
            continue
        for r in regions:
            found[r.assignment][r.name] = path.relative_to(ROOT).as_posix()
    return found


def grading_module(number):
    path = GRADING / f"a{number}.py"
    spec = importlib.util.spec_from_file_location(f"_coverage_grading_a{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def related(test, region, covers):
    """Whether a test grades a region: by name, or by COVERS of the test or the test it
    is a part of (``a1.svm.naive.loss`` is a part of ``a1.svm.naive``)."""
    parts = test.split(".")
    owners = {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    return (
        test == region
        or region.startswith(test + ".")
        or test.startswith(region + ".")
        or any(region in covers.get(owner, ()) for owner in owners)
    )


REGIONS = package_regions()


def test_the_rule():
    covers = {"a1.f.loss": ["a1.f.forward"]}
    assert related("a1.f", "a1.f", {})
    assert related("a1.f", "a1.f.part", {})
    assert related("a1.f.part.case", "a1.f.part", {})
    assert related("a1.f.loss", "a1.f.forward", covers)
    assert not related("a1.f.loss", "a1.f.backward", covers)
    assert not related("a1.f", "a1.ff", {})  # a prefix counts only at a dot
    assert not related("a1.f.x", "a1.f.y", {})


def test_every_assignment_with_regions_has_grading_tests():
    assert REGIONS, "no fenced regions found in cs231n/"
    missing = [n for n in sorted(REGIONS) if not (GRADING / f"a{n}.py").is_file()]
    assert not missing, f"no grading tests for assignment(s) {missing}: add tests/grading/a<N>.py"


@pytest.mark.parametrize("number", sorted(REGIONS))
def test_every_region_is_graded(number):
    module = grading_module(number)
    covers = getattr(module, "COVERS", {})
    names = [t.name for t in module.TESTS.tests]
    uncovered = {
        region: path
        for region, path in REGIONS[number].items()
        if not any(related(t, region, covers) for t in names)
    }
    assert not uncovered, (
        f"regions without a grading test in tests/grading/a{number}.py: {uncovered}. Add a "
        "test named like the region (or list the region in COVERS of the test grading it)."
    )


@pytest.mark.parametrize("number", sorted(REGIONS))
def test_every_grading_test_grades_a_region(number):
    module = grading_module(number)
    covers = getattr(module, "COVERS", {})
    names = [t.name for t in module.TESTS.tests]
    assert len(names) == len(set(names)), "two grading tests have the same name"
    orphans = [t for t in names if not any(related(t, r, covers) for r in REGIONS[number])]
    assert not orphans, f"grading tests that match no region of assignment {number}: {orphans}"
    stale = {t: [r for r in rs if r not in REGIONS[number]] for t, rs in covers.items()}
    stale = {
        t: rs
        for t, rs in stale.items()
        if rs or not any(n == t or n.startswith(t + ".") for n in names)
    }
    assert not stale, f"COVERS in a{number}.py names missing tests or regions: {stale}"
    assert all(t.points > 0 for t in module.TESTS.tests)
