"""Grading report: what hostile submissions score, and how long grading takes.

A report, not a test (tests/course/test_grade.py asserts the same behaviour). Two parts:

``hostile``: builds the hostile submissions of tests/course/test_grade.py for assignment 1
(each breaks ``compute_distances_two_loops`` in one way; everything else is the solution),
plus the honest solution and the untouched release, grades them with the real limits
(``Grader`` defaults: 60 s wall and CPU per test, 3 GiB memory) and prints one table row
per case: score, maximum, the two_loops test's score and feedback, and the grading time.

``timing``: grades one copy and then ``--copies`` copies of the solution's submission zip
with the command line, ``cs231n grade DIR --assignment A --jobs J``, and prints the wall
time of each run, per submission and per graded test.

``figures``: the grader's own peak memory and the sandboxed children's, and the wall time
per submission, with the real limits (``Grader`` defaults), each case in a fresh process
(``ru_maxrss`` is a peak over a process's life): the honest solution of each assignment
graded alone, and the hostile batch of issue 9 for assignment 1 (every case of
tests/course/test_grade_hostile.py and test_grade_hostile_more.py beside the honest
solution, all the assignment's tests).

    python scripts/grading_report.py hostile
    python scripts/grading_report.py timing --assignment assignment2 --copies 100 --jobs 2
    python scripts/grading_report.py figures --jobs 2
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cs231n.course.grade import Grader, grade_batch  # noqa: E402
from tests.course import test_grade as tg  # noqa: E402


def hostile_cases(tmp):
    """(case name, submission path, grade in a batch to out_dir?) for every hostile case."""
    cases = [("honest solution", tg.submit(tg.student_tree(tmp, name="honest")))]
    cases.append(("untouched release", tg.submit(tg.student_tree(tmp, False, name="release"))))
    for i, (name, body) in enumerate(tg.HOSTILE_CODE):
        root = tg.student_tree(tmp, name=f"code{i}")
        tg.hostile_function(body)(root)
        cases.append((name, tg.submit(root)))
    return cases


def network_case(tmp, port):
    root = tg.student_tree(tmp, name="network")
    tg.hostile_function(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "return self.compute_distances_one_loop(X)"
    )(root)
    return tg.submit(root)


def forge_case(tmp, out):
    root = tg.student_tree(tmp, name="forge")
    forged = json.dumps({"score": 1000, "tests": []})
    tg.hostile_function(
        f"import os\nfor d in [{str(out)!r}, {str(out / 'assignment1_submission')!r}]:\n"
        f"    try:\n        os.makedirs(d, exist_ok=True)\n"
        f"        open(os.path.join(d, 'results.json'), 'w').write({forged!r})\n"
        f"        open(os.path.join(d, 'gradebook.csv'), 'w').write('me,1000')\n"
        f"    except OSError:\n        pass\n"
        "return self.compute_distances_one_loop(X)"
    )(root)
    return tg.submit(root)


def zip_cases(tmp):
    def traversal(zf):
        zf.writestr("../../escaped.txt", "x")
        zf.writestr("/tmp/absolute_escape.txt", "x")
        link = zipfile.ZipInfo("cs231n/link.py")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")

    bomb = tmp / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cs231n/layers.py", b"\0" * (300 * 2**20))
    corrupt = tmp / "corrupt.zip"
    corrupt.write_bytes(os.urandom(5000))
    return [
        ("zip with ../, absolute paths, symlink", tg._zip_with(tmp, "traversal", traversal)),
        ("zip bomb (300 MiB of zeros)", bomb),
        ("corrupt zip", corrupt),
        (
            "notebook that is not JSON",
            tg._zip_with(
                tmp, "brokennb", lambda zf: zf.writestr("assignment1/broken.ipynb", "{not json")
            ),
        ),
    ]


def hostile(args):
    tmp = Path(tempfile.mkdtemp(prefix="grading-report-"))
    grader = Grader("assignment1", tg.TESTS_DIR, ROOT)
    port, hits, stop = tg._listener()
    rows = []
    try:
        out = tmp / "grades"
        cases = hostile_cases(tmp)
        cases.append(("network connection to the host", network_case(tmp, port)))
        cases.append(("forge results.json / gradebook.csv", forge_case(tmp, out)))
        cases += zip_cases(tmp)
        for name, path in cases:
            start = time.perf_counter()
            if name.startswith("forge"):
                ((sub, result),) = grade_batch(grader, [path], out, jobs=args.jobs)
                on_disk = json.loads((out / sub / "results.json").read_text())
                assert on_disk["score"] == result["score"], "forged results on disk"
                assert "1000" not in (out / "gradebook.csv").read_text(), "forged gradebook"
            else:
                result = grader.grade(path, jobs=args.jobs)
            seconds = time.perf_counter() - start
            two = next(t for t in result["tests"] if t["name"] == "a1.knn.two_loops")
            why = two["output"] if two["score"] == 0 else (result["output"] or "passed")
            rows.append((name, result["score"], result["max_score"], two["score"], seconds, why))
            print(f"graded: {name}", file=sys.stderr)
    finally:
        stop.set()
        grader.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{'case':40s} {'score':>11s} {'two_loops':>9s} {'time':>7s}  feedback (first 90 chars)"
    )
    for name, score, top, two, seconds, why in rows:
        why = " ".join(why.split())[:90]
        print(f"{name:40s} {score:5g} / {top:<3g} {two:9g} {seconds:6.1f}s  {why}")
    print(f"\nconnections that reached the host's listener: {len(hits)}")


def _cpu():
    """User + system CPU seconds of this process and its finished children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def grading_cpu(assignment, zip_path):
    """CPU seconds to grade one submission, measured with the plain (no-bwrap) sandbox."""
    from cs231n.course import sandbox

    grader = Grader(assignment, tg.TESTS_DIR, ROOT, require_sandbox=False)
    works, sandbox.bwrap_works = sandbox.bwrap_works, lambda: False
    try:
        before = _cpu()
        result = grader.grade(zip_path, jobs=1)
        assert result["score"] == result["max_score"], result
        return _cpu() - before
    finally:
        sandbox.bwrap_works = works
        grader.close()


def timing(args):
    tmp = Path(tempfile.mkdtemp(prefix="grading-timing-"))
    try:
        root = tg.student_tree(tmp, name="student", assignment=args.assignment)
        zip_path = tg.submit(root, args.assignment)
        grader = Grader(args.assignment, tg.TESTS_DIR, ROOT)
        n_tests = len(grader.tests)
        grader.close()
        for copies in (1, args.copies):
            subs = tmp / f"subs{copies}"
            subs.mkdir()
            for i in range(copies):
                shutil.copy(zip_path, subs / f"student{i:03d}.zip")
            cmd = [
                sys.executable,
                "-m",
                "cs231n.course.cli",
                "grade",
                str(subs),
                "--assignment",
                args.assignment,
                "--jobs",
                str(args.jobs),
                "--out",
                str(tmp / f"out{copies}"),
            ]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"cs231n grade failed:\n{done.stderr}")
            scores = [line.split()[1] for line in done.stdout.splitlines()[:-1]]
            print(
                f"{args.assignment}: {copies:4d} submission(s) x {n_tests} tests, --jobs "
                f"{args.jobs}: {seconds:7.1f} s ({seconds / copies:.2f} s per submission, "
                f"{seconds / copies / n_tests * 1000:.0f} ms per test); "
                f"scores {sorted(set(scores))}"
            )
        cpu = grading_cpu(args.assignment, zip_path)
        print(
            f"CPU time to grade one submission (without bubblewrap, whose children's CPU time "
            f"is not reported to us): {cpu:.1f} s, i.e. about {cpu / os.cpu_count():.1f} s "
            f"on {os.cpu_count()} idle cores; load average now {os.getloadavg()[0]:.1f}."
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def hostile_batch(tmp):
    """The honest solution and every hostile submission of the hostile test modules."""
    from cs231n.course.release import solution_tree
    from tests.course import test_grade_hostile as gh
    from tests.course import test_grade_hostile_more as gm

    solved = solution_tree(ROOT, "assignment1", tmp / "solved")
    subs = tmp / "subs"
    subs.mkdir()
    batch = [gh._zip_tree(solved, subs / "honest.zip")]
    bodies = {
        "str_result": "import numpy as np\nreturn np.array(['x'] * 4)",
        "status_nested": gm.STATUS_NESTED,
        "status_bigint": gm.STATUS_BIGINT,
        "replace_outputs": gm.REPLACE_OUTPUTS,
        "npz_bomb": gm.NPZ_BOMB,
        "central_bomb": gm.CENTRAL_BOMB,
        "surrogate": gm.SURROGATE,
        "deep_chain": gm.DEEP_CHAIN,
        "fill": gm.PRELUDE + gm.FILL + gm.VERDICT,
        "threads": gm.PRELUDE + gm.THREADS + gm.VERDICT,
        "memory": gm.PRELUDE + gm.MEMORY + gm.VERDICT,
        "privileges": gm.PRIVILEGES,
        "sleep": gm.SLEEP,
    }
    for name, body in bodies.items():
        batch.append(gh._hostile(solved, subs, f"{name}.zip", body))
    nested = b"[" * 100_000 + b"]" * 100_000
    batch.append(
        gh._zip_tree(solved, subs / "notebook.zip", [("assignment1/nested.ipynb", nested)])
    )
    batch.append(gh._zip_tree(solved, subs / "long_name.zip", [("cs231n/" + "a" * 300, "x")]))
    batch.append(gh._corrupt_deflate(solved, subs, "corrupt.zip"))
    batch.append(gm._index_bomb(subs / "index_bomb.zip"))
    batch.append(shutil.copy(batch[0], subs / "...zip"))
    batch.append(shutil.copy(batch[0], subs / "gradebook.csv.zip"))
    return batch


def _measure(args):
    """One case in this (fresh) process; prints its figures as one JSON line."""
    from cs231n.course.release import solution_tree
    from tests.course import test_grade_hostile as gh

    tmp = Path(tempfile.mkdtemp(prefix="grading-figures-"))
    try:
        grader = Grader(args.assignment, tg.TESTS_DIR, ROOT)
        if args.case == "honest":
            solved = solution_tree(ROOT, args.assignment, tmp / "solved")
            batch = [gh._zip_tree(solved, tmp / f"{args.assignment}_honest.zip")]
        else:
            batch = hostile_batch(tmp)
        ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            rows = grade_batch(grader, batch, tmp / "out", jobs=args.jobs)
        finally:
            grader.close()
        seconds = time.perf_counter() - start
        figures = {
            "case": args.case,
            "assignment": args.assignment,
            "tests": len(grader.tests),
            "submissions": len(rows),
            "batch_seconds": seconds,
            "grader_maxrss_ready_kib": ready,
            "grader_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "rows": [
                (name, r["score"], r["max_score"], r.get("execution_time", 0.0)) for name, r in rows
            ],
        }
        print(json.dumps(figures))
    finally:
        from cs231n.course.unpack import remove_tree

        remove_tree(tmp)


def figures(args):
    cases = [("honest", a) for a in args.assignments] + [("hostile", "assignment1")]
    print(
        f"{'case':28s} {'tests':>5s} {'subs':>4s} {'batch':>7s} {'per submission (max)':>21s} "
        f"{'grader peak':>11s} {'(ready)':>8s} {'child peak':>10s}"
    )
    for case, assignment in cases:
        cmd = [sys.executable, __file__, "_measure", case, assignment, "--jobs", str(args.jobs)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            sys.exit(f"{case} {assignment} failed:\n{done.stderr[-3000:]}")
        f = json.loads(done.stdout.strip().splitlines()[-1])
        times = [row[3] for row in f["rows"]]
        mib = 1024
        print(
            f"{case + ' ' + assignment:28s} {f['tests']:5d} {f['submissions']:4d} "
            f"{f['batch_seconds']:6.1f}s {sum(times) / len(times):8.1f}s ({max(times):5.1f}s)     "
            f"{f['grader_maxrss_kib'] / mib:8.0f} MiB {f['grader_maxrss_ready_kib'] / mib:4.0f} MiB "
            f"{f['children_maxrss_kib'] / mib:6.0f} MiB"
        )
        if case == "hostile":
            for name, score, top, seconds in f["rows"]:
                print(f"    {name:26s} {score:5g} / {top:<3g} {seconds:6.1f}s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    h = sub.add_parser("hostile", help="the hostile submissions' scores")
    h.add_argument("--jobs", type=int, default=2, help="tests graded at once per submission")
    t = sub.add_parser("timing", help="time to grade 1 and N submissions")
    t.add_argument("--assignment", default="assignment1")
    t.add_argument("--copies", type=int, default=100)
    t.add_argument("--jobs", type=int, default=2)
    f = sub.add_parser("figures", help="peak memory and time per submission (issue 9)")
    f.add_argument(
        "--assignments", nargs="+", default=["assignment1", "assignment2", "assignment3"]
    )
    f.add_argument("--jobs", type=int, default=2)
    m = sub.add_parser("_measure", help=argparse.SUPPRESS)
    m.add_argument("case", choices=["honest", "hostile"])
    m.add_argument("assignment")
    m.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    {"hostile": hostile, "timing": timing, "figures": figures, "_measure": _measure}[args.part](
        args
    )


if __name__ == "__main__":
    main()
