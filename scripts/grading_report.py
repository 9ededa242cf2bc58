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


def hostile_batch(tmp):
    """The honest solution and every hostile submission of the hostile test modules."""
    from cs231n.instructor.release import solution_tree
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
        "fill": gm.PRELUDE + gm.FILL + gm.INODES + gm.VERDICT,
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


def _children_peak(folder, seen, stop):
    """Sample the peak RSS (VmHWM) of the sandboxed runners (python running runner.py with
    descriptors into ``folder``) until ``stop``: seen["kib"], seen["runs"]."""
    folder = str(folder)
    while not stop.is_set():
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                if b"python" not in cmdline[0] or b"runner.py" not in cmdline:
                    continue
                fds = os.listdir(f"{entry.path}/fd")
                if not any(os.readlink(f"{entry.path}/fd/{fd}").startswith(folder) for fd in fds):
                    continue
                status = Path(entry.path, "status").read_text()
            except OSError:
                continue
            hwm = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
            if hwm:
                seen["kib"] = max(seen["kib"], int(hwm.split()[1]))
                seen["runs"].add(entry.name)
        time.sleep(0.02)


def _measure(args):
    """Grade the submissions named in this fresh process; print its figures as JSON.

    The grader's peak is ``ru_maxrss`` of this process (after the Grader is built, and
    after grading). The children's: ``VmHWM`` of every sandboxed runner, sampled every
    20 ms (``RUSAGE_CHILDREN`` cannot tell them apart: a child forked by a process of
    N MiB reports at least N MiB, its parent's pages counted before its exec).
    """
    import threading

    grader = Grader(args.assignment, tg.TESTS_DIR, ROOT)
    ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seen, stop = {"kib": 0, "runs": set()}, threading.Event()
    watcher = threading.Thread(target=_children_peak, args=(grader._tmp, seen, stop))
    watcher.start()
    start = time.perf_counter()
    try:
        rows = grade_batch(grader, [Path(p) for p in args.submissions], args.out, jobs=args.jobs)
    finally:
        stop.set()
        watcher.join()
        grader.close()
    figures = {
        "tests": len(grader.tests),
        "submissions": len(rows),
        "batch_seconds": time.perf_counter() - start,
        "grader_maxrss_ready_kib": ready,
        "grader_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rusage_children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "runner_vmhwm_kib": seen["kib"],
        "runners_sampled": len(seen["runs"]),
        "rows": [
            (name, r["score"], r["max_score"], r.get("execution_time", 0.0)) for name, r in rows
        ],
    }
    print(json.dumps(figures))


def _build(args):
    """Write the submissions of every case under ``args.tmp``; print them as JSON (run in
    its own process: a process forked from a large one starts with its peak)."""
    from cs231n.instructor.release import solution_tree
    from tests.course import test_grade_hostile as gh

    tmp = Path(args.tmp)
    cases = []
    for assignment in args.assignments:
        solved = solution_tree(ROOT, assignment, tmp / f"solved-{assignment}")
        honest = gh._zip_tree(solved, tmp / f"{assignment}_honest.zip")
        cases.append((f"honest {assignment}", assignment, [str(honest)]))
    batch = [str(p) for p in hostile_batch(tmp)]
    cases.append(("hostile batch assignment1", "assignment1", batch))
    print(json.dumps(cases))


def figures(args):
    from cs231n.instructor.unpack import remove_tree

    tmp = Path(tempfile.mkdtemp(prefix="grading-figures-"))
    mib = 1024
    print(
        f"{'case':24s} {'tests':>5s} {'subs':>4s} {'batch':>7s} {'per submission (max)':>20s} "
        f"{'grader peak (built)':>19s} {'runner peak':>11s} {'runners':>7s}"
    )
    try:
        build = [sys.executable, __file__, "_build", str(tmp), *args.assignments]
        done = subprocess.run(build, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            sys.exit(f"building the submissions failed:\n{done.stderr[-3000:]}")
        cases = json.loads(done.stdout.strip().splitlines()[-1])
        for i, (case, assignment, batch) in enumerate(cases):
            cmd = [sys.executable, __file__, "_measure", assignment, *batch]
            cmd += ["--out", str(tmp / f"out{i}"), "--jobs", str(args.jobs)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                sys.exit(f"{case} failed:\n{done.stderr[-3000:]}")
            f = json.loads(done.stdout.strip().splitlines()[-1])
            times = [row[3] for row in f["rows"]]
            print(
                f"{case:24s} {f['tests']:5d} {f['submissions']:4d} {f['batch_seconds']:6.1f}s "
                f"{sum(times) / len(times):8.1f}s ({max(times):5.1f}s)  "
                f"{f['grader_maxrss_kib'] / mib:6.0f} MiB ({f['grader_maxrss_ready_kib'] / mib:3.0f})"
                f"   {f['runner_vmhwm_kib'] / mib:6.0f} MiB {f['runners_sampled']:7d}"
                f"   [RUSAGE_CHILDREN {f['rusage_children_maxrss_kib'] / mib:.0f} MiB]"
            )
            if case.startswith("hostile"):
                for name, score, top, seconds in f["rows"]:
                    print(f"    {name:22s} {score:5g} / {top:<3g} {seconds:6.1f}s")
    finally:
        remove_tree(tmp)


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
    b = sub.add_parser("_build", help=argparse.SUPPRESS)
    b.add_argument("tmp")
    b.add_argument("assignments", nargs="+")
    m = sub.add_parser("_measure", help=argparse.SUPPRESS)
    m.add_argument("assignment")
    m.add_argument("submissions", nargs="+")
    m.add_argument("--out", required=True)
    m.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    parts = {"hostile": hostile, "timing": timing, "figures": figures}
    parts.update({"_build": _build, "_measure": _measure})
    parts[args.part](args)


if __name__ == "__main__":
    main()
