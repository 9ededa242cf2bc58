"""Runs inside the sandbox: one grading probe against the student's package.

Copied into each job directory as ``runner.py`` and run as ``python -I runner.py``.
It reads ``task.pkl`` (the probe's code and its inputs, written by the grader),
executes the probe with the student's ``cs231n`` first on ``sys.path``, and writes
the outputs to ``result.npz`` (plain arrays only) and ``status.json``. The grader
trusts nothing in these files but their numbers, which it checks itself.
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
    with open(os.path.join(HERE, "task.pkl"), "rb") as f:
        task = pickle.load(f)
    os.remove(os.path.join(HERE, "task.pkl"))
    status = {"ok": False, "error": ""}
    try:
        import numpy as np

        scope = {"np": np, **task["inputs"]}
        exec(compile(task["code"], "<grading probe>", "exec"), scope)
        out = scope.get("out")
        if not isinstance(out, dict):
            raise RuntimeError("the probe produced no outputs")
        arrays = {k: np.asarray(v) for k, v in out.items()}
        with open(os.path.join(HERE, "result.npz"), "wb") as f:
            np.savez(f, **arrays)
        status["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - SystemExit and all: report, don't hide
        status["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        status["traceback"] = _student_frames(exc)[:6000]
    with open(os.path.join(HERE, "status.json"), "w") as f:
        json.dump(status, f)


if __name__ == "__main__":
    main()
