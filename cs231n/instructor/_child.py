"""Runs inside the sandbox: one grading probe against the student's package.

Shown to the child as ``/job/runner.py`` and run as
``python -I runner.py RESULT_FD STATUS_FD``. It reads its task (the probe's code and its
inputs, pickled by the grader) from standard input, executes the probe with the
student's ``cs231n`` first on ``sys.path``, and writes the outputs as an ``.npz`` (plain
arrays only) to the file descriptor RESULT_FD and a JSON status to STATUS_FD: files the
grader opened, whose paths the child never sees. The grader trusts nothing in them but
their numbers, which it reads back with ``cs231n.instructor.readback`` and checks itself.

A task may carry an *answer table* (``cs231n.instructor.answers``): calls the reference made to
functions the test does not grade, as plain values. Before the probe runs, those functions
are replaced, in every module of the student's package that holds them, by shims that
answer a matching call with the recorded result and run the student's own function
otherwise.
"""

import json
import os
import pickle
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "submission"))


def _student_frames(tb):
    """The traceback lines that point into the student's files, for feedback."""
    lines = traceback.format_exception(tb)
    keep = [line for line in lines if "submission" in line or not line.startswith("  File")]
    return "".join(keep[-12:])


def _same(a, b):
    """Do a call's argument ``a`` and a recorded one ``b`` match (numbers to 1e-6)?"""
    import numpy as np

    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            a, b = np.asarray(a), np.asarray(b)
        except Exception:  # noqa: BLE001 - ragged or odd: no match
            return False
        if a.shape != b.shape or a.dtype.kind not in "biufc" or b.dtype.kind not in "biufc":
            return False
        if a.size == 0:
            return True
        if a.dtype.kind in "biu" and b.dtype.kind in "biu":
            return bool(np.array_equal(a, b))
        scale = max(float(np.max(np.abs(b))), 1e-12)
        return bool(np.max(np.abs(a - b)) <= 1e-6 * scale)
    if isinstance(a, dict) and isinstance(b, dict):
        # Keys only one side holds are left out: a student's bn_param may carry its own.
        return all(_same(a[k], b[k]) for k in a.keys() & b.keys())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-6 * max(abs(b), 1e-12)
    return a == b


def _unplain(value):
    """A recorded value with the package's modules (named in it) imported again."""
    import importlib

    if isinstance(value, dict):
        if set(value) == {"__cs231n_module__"}:
            name = str(value["__cs231n_module__"])
            if not name.startswith("cs231n."):
                raise ValueError(f"not a module of the package: {name}")
            try:
                return importlib.import_module(name)
            except ImportError:  # the compiled kernels are missing: the numpy ones
                return sys.modules["cs231n.fast_layers"]._kernels
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_unplain(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _shim(original, entries):
    import copy
    import functools
    import inspect

    import numpy as np

    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None

    @functools.wraps(original)
    def answered(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            call = dict(bound.arguments)
        except (AttributeError, TypeError):
            call = {f"#{i}": a for i, a in enumerate(args)} | dict(kwargs)
        found = None
        for entry in entries:  # the first unused match, else the first match
            if call.keys() == entry["args"].keys() and all(
                _same(call[k], entry["args"][k]) for k in call
            ):
                if not entry.get("used"):
                    found = entry
                    break
                found = found or entry
        if found is None:
            return original(*args, **kwargs)
        found["used"] = True
        for name, after in found["changed"].items():  # what the call changed in place
            target = call.get(name)
            if isinstance(target, dict) and isinstance(after, dict):
                target.update(copy.deepcopy(after))
            elif isinstance(target, np.ndarray) and isinstance(after, np.ndarray):
                if target.shape == after.shape and target.flags.writeable:
                    np.copyto(target, after, casting="unsafe")
        return _unplain(copy.deepcopy(found["result"]))

    answered.answers_a_call = True  # (functools.wraps keeps the original as __wrapped__)
    return answered


def _answer_calls(table):
    """Replace the functions the table answers in every module of the student's package.

    Returns the replacements made, as (module, name, original), to undo them.
    """
    import importlib

    by_name = {}
    for entry in table:
        by_name.setdefault(entry["fn"], []).append(entry)
    shims, replaced = {}, []
    for name, entries in by_name.items():
        module_name, _, attr = name.partition(":")
        try:
            original = getattr(importlib.import_module(module_name), attr)
        except Exception:  # noqa: BLE001 - not in this package: the student's calls run as they are
            continue
        shims[original] = _shim(original, entries)
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "cs231n" or module_name.startswith("cs231n.")):
            continue
        for attr, value in list(vars(module).items()):
            try:
                shim = shims.get(value)
            except TypeError:
                continue
            if shim is not None:
                setattr(module, attr, shim)
                replaced.append((module, attr, value))
    return replaced


def run_task(task):
    """Run one probe (its answer table installed, then removed); return its ``out`` arrays."""
    import numpy as np

    replaced = _answer_calls(task.get("answers") or [])
    try:
        scope = {"np": np, **task["inputs"]}
        exec(compile(task["code"], "<grading probe>", "exec"), scope)
        out = scope.get("out")
        if not isinstance(out, dict):
            raise RuntimeError("the probe produced no outputs")
        return {k: np.asarray(v) for k, v in out.items()}
    finally:
        for module, attr, value in replaced:
            setattr(module, attr, value)
        # Modules the probe imported took the shims too.
        for name, module in list(sys.modules.items()):
            if module is not None and (name == "cs231n" or name.startswith("cs231n.")):
                for attr, value in list(vars(module).items()):
                    if callable(value) and getattr(value, "answers_a_call", False) is True:
                        setattr(module, attr, value.__wrapped__)


def main():
    result_fd, status_fd = int(sys.argv[1]), int(sys.argv[2])
    task = pickle.load(sys.stdin.buffer)
    status = {"ok": False, "error": ""}
    try:
        import numpy as np

        arrays = run_task(task)
        with os.fdopen(result_fd, "wb", closefd=False) as f:
            np.savez(f, **arrays)
        status["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - SystemExit and all: report, don't hide
        status["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        status["traceback"] = _student_frames(exc)[:6000]
    with os.fdopen(status_fd, "w", closefd=False) as f:
        json.dump(status, f)


if __name__ == "__main__":
    main()
