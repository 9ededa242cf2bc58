"""Answer tables: a model's test does not depend on the layers it calls (issue 8, item 1).

The grader records the reference's calls to the functions a test answers
(``cs231n.instructor.answers``); the child answers the student's matching calls with them
(``_child.py``). Here: what is recorded (plain values only, nested calls, changes made in
place), that every module is restored, how the child matches and falls back, and, through
the real sandboxed grader, that a correct ``TwoLayerNet.loss`` earns its points beside
stubbed layers.
"""

import importlib.util
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import cs231n.layers
from cs231n.instructor import answers
from cs231n.instructor.grade import Grader, load_tests, reference_run
from cs231n.instructor.release import build_release
from cs231n.instructor.stubs import transform

ROOT = Path(__file__).resolve().parents[2]
CHILD = ROOT / "cs231n" / "instructor" / "_child.py"


def child_module():
    spec = importlib.util.spec_from_file_location("grading_child_for_tests", CHILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from walk(v)


def test_records_nested_calls_as_plain_values_and_restores_every_module():
    from cs231n import layer_utils

    original = layer_utils.affine_forward
    x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    with answers.recording(["cs231n.layer_utils:*"]) as table:
        assert layer_utils.affine_forward is not original
        layer_utils.affine_relu_forward(x, w, b)
    names = [c["fn"] for c in table]
    # The inner calls are recorded too, so a student calling them directly is answered.
    assert names == [
        "cs231n.layers:affine_forward",
        "cs231n.layers:relu_forward",
        "cs231n.layer_utils:affine_relu_forward",
    ]
    assert layer_utils.affine_forward is original
    assert cs231n.layers.affine_forward is original
    plain_types = (np.ndarray, dict, list, tuple, str, int, float, bool, type(None))
    for call in table:
        assert all(isinstance(v, plain_types + (np.number,)) for v in walk(call)), call
    assert np.array_equal(table[0]["args"]["x"], x) and set(table[0]["args"]) == {"x", "w", "b"}


def test_modules_first_imported_while_recording_are_restored_too():
    sys.modules.pop("cs231n.classifiers.fc_net", None)
    with answers.recording(["cs231n.layers:affine_forward"]):
        from cs231n.classifiers import fc_net
    assert fc_net.affine_forward is cs231n.layers.affine_forward
    assert not hasattr(fc_net.affine_forward, "__wrapped__")


def test_changes_made_in_place_are_recorded():
    """Batch norm updates its running averages inside bn_param: the child replays that."""
    bn = {"mode": "train", "momentum": 0.5}
    x = np.random.default_rng(0).standard_normal((6, 3))
    with answers.recording(["cs231n.layers:batchnorm_forward"]) as table:
        cs231n.layers.batchnorm_forward(x, np.ones(3), np.zeros(3), bn)
    (call,) = table
    assert "running_mean" not in call["args"]["bn_param"]
    assert np.allclose(call["changed"]["bn_param"]["running_mean"], 0.5 * x.mean(axis=0))


def test_what_is_not_plain_data_is_refused():
    with pytest.raises(TypeError, match="not plain data"):
        answers.plain({"f": lambda: 1})
    with pytest.raises(TypeError, match="array of object"):
        answers.plain(np.array([object()]))
    # The package's own modules (the fast layers keep their kernels in the cache) by name.
    assert answers.plain(cs231n.layers) == {answers.MODULE_KEY: "cs231n.layers"}
    with pytest.raises(TypeError):
        answers.plain(np)


def test_child_answers_matching_calls_and_runs_the_students_function_otherwise():
    child = child_module()
    x, w, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2)), np.zeros(2)
    with answers.recording(["cs231n.layers:affine_forward"]) as table:
        cs231n.layers.affine_forward(x, w, b)
    table[0]["result"] = (np.full((2, 2), 7.0), table[0]["result"][1])  # tell answers apart
    task = {
        "code": "from cs231n.layers import affine_forward\n"
        "near = affine_forward(x * (1 + 1e-9), w, b)[0]\n"  # a rounding apart: answered
        "far = affine_forward(x + 1, w, b)[0]\n"  # never recorded: the package's own
        "out = {'near': near, 'far': far}",
        "inputs": {"x": x, "w": w, "b": b},
        "answers": table,
    }
    out = child.run_task(pickle.loads(pickle.dumps(task)))
    assert np.all(out["near"] == 7.0)
    assert np.allclose(out["far"], (x + 1) @ w)
    assert not hasattr(cs231n.layers.affine_forward, "answers_a_call")  # undone after


def test_child_replays_changes_in_place():
    child = child_module()
    x = np.random.default_rng(1).standard_normal((5, 4))
    with answers.recording(["cs231n.layers:batchnorm_forward"]) as table:
        cs231n.layers.batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    task = {
        "code": "from cs231n.layers import batchnorm_forward\n"
        "bn = {'mode': 'train', 'mine': 1}\n"  # a key of the student's own: kept, ignored
        "batchnorm_forward(x, np.ones(4), np.zeros(4), bn)\n"
        "out = {'mean': bn['running_mean'], 'mine': bn['mine']}",
        "inputs": {"x": x},
        "answers": table,
    }
    out = child.run_task(task)
    assert np.allclose(out["mean"], table[0]["changed"]["bn_param"]["running_mean"])
    assert out["mine"] == 1


def region_functions():
    """{region name: "module:function" holding it} for the package's regions."""
    from cs231n.instructor.markers import check_tree
    from cs231n.instructor.stubs import _enclosing_functions

    found = {}
    for path, regions in check_tree(ROOT).items():
        if path.suffix != ".py":
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        functions = _enclosing_functions(path.read_text(encoding="utf-8"))
        for r in regions:
            inside = [f for f in functions if f[0] <= r.begin + 1 <= f[1]]
            if inside:
                found[r.name] = f"{module}:{max(inside, key=lambda f: f[0])[2]}"
    return found


def test_every_answer_table_is_small_and_never_answers_what_its_test_grades():
    holder = region_functions()
    for assignment in ("assignment1", "assignment2", "assignment3"):
        for t in load_tests(assignment, ROOT / "tests" / "grading", ROOT):
            if not t.answer:
                continue
            _, _, _, table = reference_run(t, 7)
            assert table, f"{t.name} answers nothing: its probe calls none of {t.answer}"
            assert answers.table_size(table) < 8 * 2**20, t.name
            graded = {holder[r] for r in (*t.regions, *t.uses) if r in holder}
            assert graded, t.name
            answered = {call["fn"] for call in table}
            assert not graded & answered, (t.name, graded & answered)


def test_a_correct_model_earns_its_points_beside_stubbed_layers_in_the_sandbox():
    """The report's case: every layer of assignment 1 a stub, TwoLayerNet.loss written."""
    tmp = Path(tempfile.mkdtemp(prefix="answers-"))
    tmp.chmod(0o711)
    try:
        sub = tmp / "submission"
        build_release(ROOT, "assignment1", sub)
        model = {"a1.two_layer_net.forward", "a1.two_layer_net.backward"}
        rel = Path("cs231n/classifiers/fc_net.py")
        text, _ = transform((ROOT / rel).read_text(), lambda r: r.name in model, rel.as_posix())
        (sub / rel).write_text(text)
        grader = Grader("assignment1", ROOT / "tests" / "grading", ROOT, only=("a1.two_layer_net",))
        try:
            result = grader.grade(sub, jobs=2)
        finally:
            grader.close()
        got = {t["extra_data"]["id"]: t["score"] for t in result["tests"]}
        assert got["a1.two_layer_net.loss.scores and loss"] == 2
        assert got["a1.two_layer_net.loss.gradients"] == 2
        assert got["a1.two_layer_net.affine_forward"] == 0  # the layers' own tests: stubs
        assert got["a1.two_layer_net.init"] == 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
