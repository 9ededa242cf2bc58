"""Points only for work done: each shortcut a cheating submission was seen to take, graded
in the sandbox like a real submission, earns nothing on the test it used to pass.

| shortcut                                              | refused by                          |
| ----------------------------------------------------- | ----------------------------------- |
| dropout forward and backward both returning zeros     | backward graded on the grader's own |
|                                                       | cache (dropout_param, mask)         |
| a fixed mask keeping the first round(p * n) units     | kept fraction per half of x, and    |
|                                                       | another seed must give another mask |
| TwoLayerNet weights of alternating +-weight_scale     | weights checked as a N(0, scale^2)  |
|                                                       | distribution, per layer, and random |
| training on X[:batch_size] every step (no sampling)   | rows that differ: the first batch   |
|                                                       | is blank, the rest must be learnt   |

And for every one of the 86 grading tests: outputs of the right shape that are not the
work (zeros, ones, or the exact answers of another run, memorised or shared) earn
nothing, since every test draws fresh inputs and checks values, not shapes.
"""

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from cs231n.instructor import sandbox
from cs231n.instructor.grade import Grader
from cs231n.instructor.release import solution_tree

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not sandbox.bwrap_works() and not os.environ.get("CS231N_REQUIRE_SANDBOX"),
    reason="bubblewrap is needed to grade",
)

DROPOUT_MASK = (
    "        mask = (rng.random(x.shape) < p).astype(x.dtype) / p  # like x: 0 or 1 / p\n"
)
CASES = {
    "dropout zeros": (
        "assignment2",
        "a2.dropout",
        "cs231n/layers.py",
        [
            (DROPOUT_MASK, "        mask = np.zeros_like(x)\n"),
            ("    dx = dout * mask\n", "    dx = np.zeros_like(dout)\n"),
        ],
        {"a2.dropout.forward_train": 0, "a2.dropout.backward_train": 0},
    ),
    "fixed mask": (
        "assignment2",
        "a2.dropout.forward_train",
        "cs231n/layers.py",
        [
            (
                DROPOUT_MASK,
                "        keep = round(p * x.size)\n"
                "        mask = (np.arange(x.size).reshape(x.shape) < keep).astype(x.dtype) / p\n",
            )
        ],
        {"a2.dropout.forward_train": 0},
    ),
    "alternating init": (
        "assignment1",
        "a1.two_layer_net.init",
        "cs231n/classifiers/fc_net.py",
        [
            (
                '        self.params["W1"] = weight_scale * rng.standard_normal((input_dim, hidden_dim))\n',
                '        self.params["W1"] = weight_scale * np.where(\n'
                "            np.arange(input_dim * hidden_dim).reshape(input_dim, hidden_dim) % 2,"
                " 1.0, -1.0\n        )\n",
            )
        ],
        {"a1.two_layer_net.init": 0},
    ),
    "no sampling": (
        "assignment1",
        "a1.linear_classifier.train",
        "cs231n/classifiers/linear_classifier.py",
        [
            (
                "            idx = rng.choice(num_train, batch_size, replace=True)  # (batch_size,)\n",
                "            idx = np.arange(batch_size)\n",
            )
        ],
        # The update itself is right and keeps its point; the sampling earns nothing.
        {"a1.linear_classifier.train.update": 1, "a1.linear_classifier.train.sampling": 0},
    ),
}


def _submission(tmp_path, assignment, rel, edits):
    tree = tmp_path / "tree"
    solution_tree(ROOT, assignment, tree)
    path = tree / rel
    text = path.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"the shortcut's target moved: {old!r}"
        text = text.replace(old, new)
    path.write_text(text)
    zip_path = tmp_path / "submission.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(tree))
    shutil.rmtree(tree)
    return zip_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_shortcut_earns_nothing(tmp_path, case):
    assignment, only, rel, edits, want = CASES[case]
    grader = Grader(assignment, ROOT / "tests" / "grading", ROOT, only=(only,))
    try:
        result = grader.grade(_submission(tmp_path, assignment, rel, edits), jobs=2)
    finally:
        grader.close()
    got = {t["extra_data"]["id"]: t["score"] for t in result["tests"]}
    assert {k: got[k] for k in want} == want, result["tests"]


def test_a_backward_pass_earns_its_points_beside_stubbed_forwards(tmp_path):
    """Backward tests get the cache the API fixes from the grader, so a correct
    affine_backward or relu_backward earns its points when the forwards are stubs."""
    edits = [
        ("    out = x.reshape(N, D) @ w + b  # (N, M)\n", "    raise NotImplementedError\n"),
        ("    out = np.maximum(0, x)\n", "    raise NotImplementedError\n"),
    ]
    grader = Grader(
        "assignment1",
        ROOT / "tests" / "grading",
        ROOT,
        only=("a1.two_layer_net.affine", "a1.two_layer_net.relu"),
    )
    try:
        zip_path = _submission(tmp_path, "assignment1", "cs231n/layers.py", edits)
        result = grader.grade(zip_path, jobs=2)
    finally:
        grader.close()
    got = {t["extra_data"]["id"]: t["score"] for t in result["tests"]}
    assert got == {
        "a1.two_layer_net.affine_forward": 0,
        "a1.two_layer_net.affine_backward": 2,
        "a1.two_layer_net.relu_forward": 0,
        "a1.two_layer_net.relu_backward": 1,
    }


# -- every test: outputs that are the right shape but not the work -------------------------


def _every_test():
    from cs231n.instructor.grade import load_tests

    for assignment in ("assignment1", "assignment2", "assignment3"):
        for t in load_tests(assignment, ROOT / "tests" / "grading", ROOT):
            yield pytest.param(t, id=t.name)


@pytest.mark.parametrize("test", list(_every_test()))
def test_every_test_refuses_outputs_that_only_look_right(test):
    """Per test, three shortcuts of the form "return something of the right shape":
    zeros, ones, and the exact answers of another run (outputs memorised from a grade
    seen before, or shared by a classmate). None earns a point."""
    import numpy as np

    from cs231n.instructor.grade import reference_run, score

    inputs, _, expected, _ = reference_run(test, 1)
    _, _, other, _ = reference_run(test, 2)
    shortcuts = {
        "zeros": {k: np.zeros_like(v) for k, v in expected.items()},
        "ones": {k: np.ones_like(v) for k, v in expected.items()},
        "another run's answers": other,
    }
    for name, got in shortcuts.items():
        points, why = score(test, inputs, expected, got)
        assert points == 0, f"{test.name} pays {points} for {name}"
        assert why, name
    assert score(test, inputs, expected, expected)[0] == test.points
