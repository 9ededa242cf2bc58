"""Runs inside the sandbox: one grading probe against the student's package.

Shown to the child as ``/job/runner.py`` and run as
``python -I runner.py RESULT_FD STATUS_FD``. It reads its task (the probe's code and its
inputs, pickled by the grader) from standard input, executes the probe with the
student's ``cs231n`` first on ``sys.path``, and writes the outputs as an ``.npz`` (plain
arrays only) to the file descriptor RESULT_FD and a JSON status to STATUS_FD: files the
grader opened, whose paths the child never sees. The grader trusts nothing in them but
their numbers, which it reads back with ``cs231n.course.readback`` and checks itself.
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


def main():
    result_fd, status_fd = int(sys.argv[1]), int(sys.argv[2])
    task = pickle.load(sys.stdin.buffer)
    status = {"ok": False, "error": ""}
    try:
        import numpy as np

        scope = {"np": np, **task["inputs"]}
        exec(compile(task["code"], "<grading probe>", "exec"), scope)
        out = scope.get("out")
        if not isinstance(out, dict):
            raise RuntimeError("the probe produced no outputs")
        arrays = {k: np.asarray(v) for k, v in out.items()}
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
