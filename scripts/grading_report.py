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

    python scripts/grading_report.py hostile
    python scripts/grading_report.py timing --assignment assignment2 --copies 100 --jobs 2
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

from cs231n.instructor.grade import Grader, grade_batch  # noqa: E402
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
    from cs231n.instructor import sandbox

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
                "cs231n.cli",
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    h = sub.add_parser("hostile", help="the hostile submissions' scores")
    h.add_argument("--jobs", type=int, default=2, help="tests graded at once per submission")
    t = sub.add_parser("timing", help="time to grade 1 and N submissions")
    t.add_argument("--assignment", default="assignment1")
    t.add_argument("--copies", type=int, default=100)
    t.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    hostile(args) if args.part == "hostile" else timing(args)


if __name__ == "__main__":
    main()
