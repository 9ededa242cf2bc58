"""More hostile submissions, each graded in one batch beside an honest one (issue 9).

test_grade_hostile.py covers str results, garbage written into the grader's descriptors,
300-character member names, a file and a folder of the same name, a corrupt deflate
stream, ``...zip``, ``gradebook.csv.zip`` and the per-submission time budget. Here, the
rest of the report's triggers and more, each through a real submission whose student
code runs in the sandbox during a grading test (``compute_distances_two_loops`` is
replaced; the other kNN functions stay correct):

- what the child hands back: a status of 100,000 nested ``[``, a status holding a
  5,000-digit integer, an error message holding a lone surrogate (it sank the batch),
  the output paths replaced by a link to ``/proc/self/mem`` and by a named pipe (found
  through ``/proc/self/fd``; the child gets only descriptors, in ``argv``), an ``.npz``
  declaring a 2 GiB array in a few MiB of deflated zeros, and one of 1.3 million
  central-directory entries (the grader's own peak memory is measured around the batch);
- what it leaves and fills: a 1,200-level folder chain in ``/job`` and ``/tmp``; files
  past the size of ``/tmp`` and ``/job``, 100,000 empty files in each (inodes), writes
  to ``/`` and every other mount, to the host paths of its outputs and past the file
  size limit through its descriptors (the grader's folder is watched on the host disk);
- what it may start and hold: 300 threads, fork, subprocess and posix_spawn, memory past
  the address-space limit (and raising that limit), memory no limit counts (memfd files,
  System V shared memory, message queues), sleeping past the per-test wall limit; and
  negative controls showing each probe reports what looser limits allow;
- its privileges: ``/proc/sys`` and ``/proc/sysrq-trigger`` opened for writing,
  ``setuid(0)``, a new user namespace, the ``uid_map`` and the host uid (which a watcher
  on the host reads from ``/proc/<pid>/status`` of every sandboxed process); and eight
  sandboxes launched at once from threads (``--jobs``): none hangs, none shares a uid;
- zips and folders: notebooks of nested JSON, of a huge integer, of a 15 MiB unterminated
  string and of five million empty objects, a folder where the release has a file, a
  1,200-level chain in a zip member and in a folder submission, non-UTF-8 names and 500
  links in a folder, a zip listing a million members (the grader's peak is measured);
  links among the submissions of a folder (never graded as a student's);
- without bubblewrap (the fallback, where on this kind of machine the child may run as
  the grader's own uid): the output paths really replaced by a link and a pipe, and a
  1,200-level chain left in the real job folder; the grader neither follows, blocks nor
  recurses;
- the Gradescope autograder (``run_autograder``) on a hostile upload, on a corrupt one
  named ``...zip``, on an extracted upload whose kNN file links to the reference solution
  beside it, and on one that is only links to that reference.

In every batch the honest submission keeps its full score, the gradebook has a row per
submission, every output lands in --out and the grader neither raises nor hangs.
"""

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from cs231n.instructor import sandbox
from cs231n.instructor.grade import Grader, grade_batch
from cs231n.instructor.release import solution_tree
from cs231n.instructor.unpack import remove_tree
from tests.course.test_grade_hostile import (  # noqa: F401 - pytestmark: the same skip rule
    KNN,
    _corrupt_deflate,
    _hostile,
    _zip_tree,
    pytestmark,
)

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "grading"
TWO = "a1.knn.two_loops"


@pytest.fixture(scope="module")
def grader():
    g = Grader("assignment1", TESTS_DIR, ROOT, only=("a1.knn",))
    g.budget_seconds = 120.0
    g.limits.wall_seconds = 30.0
    yield g
    g.close()


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    tree = tmp_path_factory.mktemp("solved") / "tree"
    solution_tree(ROOT, "assignment1", tree)
    return tree


@pytest.fixture
def subs(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    return folder


def _du(folder):
    """Bytes on disk under ``folder`` (iterative: however deep)."""
    total, stack = 0, [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def _watch(grader, every=0.1):
    """Sample, while the batch runs, the grader's folder on disk and the host uids of the
    sandboxed processes (python running runner.py with descriptors into that folder)."""
    seen = {"disk": 0, "uids": set(), "stop": threading.Event()}
    tmp = str(grader._tmp)

    def look():
        while not seen["stop"].is_set():
            seen["disk"] = max(seen["disk"], _du(tmp))
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                    if b"python" not in cmdline[0] or b"runner.py" not in cmdline:
                        continue
                    fds = [
                        os.readlink(f"{entry.path}/fd/{fd}")
                        for fd in os.listdir(f"{entry.path}/fd")
                    ]
                    if not any(f.startswith(tmp) for f in fds):
                        continue
                    status = Path(entry.path, "status").read_text()
                except OSError:
                    continue
                line = next(x for x in status.splitlines() if x.startswith("Uid:"))
                seen["uids"].add(tuple(int(v) for v in line.split()[1:]))
            time.sleep(every)

    thread = threading.Thread(target=look, daemon=True)
    thread.start()
    seen["thread"] = thread
    return seen


def run_batch(grader, batch, out, timeout=400, jobs=2):
    """grade_batch in a watched thread: (results by name, figures). Fails on a hang, an
    exception, a lost honest score, a missing row or an output outside ``out``."""
    box = {}
    watch = _watch(grader)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()

    def work():
        try:
            box["rows"] = grade_batch(grader, [Path(p) for p in batch], out, jobs=jobs)
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    watch["stop"].set()
    watch["thread"].join()
    assert not worker.is_alive(), f"the grader hung (still running after {timeout} s)"
    assert "error" not in box, f"the grader raised {box.get('error')!r}"
    figures = {
        "seconds": time.perf_counter() - start,
        "peak_growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before,
        "disk_peak": watch["disk"],
        "uids": watch["uids"],
    }
    rows = box["rows"]
    results = dict(rows)
    honest = rows[0][1]
    assert honest["score"] == honest["max_score"] > 0, honest["tests"]
    assert len(results) == len(batch)
    lines = (out / "gradebook.csv").read_text().splitlines()
    assert len(lines) == 1 + len(batch) and lines[0].startswith("submission,score")
    for name, result in rows:
        assert (out / name).parent == out and (out / name / "results.json").is_file()
        assert "Traceback" not in json.dumps(result)
    for stray in ("results.json", "feedback.md", "gradebook.csv"):
        assert not (out.parent / stray).exists(), f"{stray} was written outside --out"
    return results, figures


def by_test(result):
    return {t["extra_data"]["id"]: t for t in result["tests"]}


def lost_only_two_loops(result):
    """The hostile function earned nothing, every other function its full points."""
    tests = by_test(result)
    assert tests[TWO]["score"] == 0, tests[TWO]
    for name, t in tests.items():
        if name != TWO:
            assert t["score"] == t["max_score"], (name, t["output"])
    return tests[TWO]["output"]


# -- what the child hands back ----------------------------------------------------------------

# The runner is ``python -I runner.py RESULT_FD STATUS_FD``: the descriptors are in argv
# (and in /proc/self/fd); their paths, as /proc shows them, are the grader's.
STATUS_NESTED = """
import os, sys
status = int(sys.argv[2])
os.ftruncate(status, 0)
os.pwrite(status, b"[" * 100000 + b"]" * 100000, 0)
os._exit(0)
"""

STATUS_BIGINT = """
import os, sys
status = int(sys.argv[2])
os.ftruncate(status, 0)
os.pwrite(status, b'{"ok": ' + b"9" * 5000 + b', "error": ""}', 0)
os._exit(0)
"""

# Replace both outputs where /proc says they are: status.json by a link to the reader's
# own memory, result.npz by a named pipe (a reader opening it would block forever); then
# return the right answer through the descriptors. In bubblewrap the paths are not there
# (its /tmp is private); in the fallback, where the child may be the grader's uid, the
# replacement lands and the grader must refuse both without following or blocking.
REPLACE_OUTPUTS = """
import os, sys
for fd, how in ((sys.argv[2], "link"), (sys.argv[1], "fifo")):
    path = os.readlink(f"/proc/self/fd/{fd}")
    for target in (path, "/job/" + os.path.basename(path)):
        try:
            os.unlink(target)
        except OSError:
            pass
        try:
            os.symlink("/proc/self/mem", target) if how == "link" else os.mkfifo(target)
        except OSError:
            pass
return self.compute_distances_one_loop(X)
"""

# An npz whose one array declares 2 GiB of float64 and holds them: deflated zeros, a few
# MiB on disk (level 1 to spare CPU; the was level 9, 2 MiB). np.load would take
# 2 GiB in the grader. The status says all went well.
NPZ_BOMB = """
import io, os, sys, zipfile
import numpy as np
result, status = int(sys.argv[1]), int(sys.argv[2])
header = io.BytesIO()
np.lib.format.write_array_header_1_0(
    header, {"descr": "<f8", "fortran_order": False, "shape": (2**28,)})
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
    with zf.open("dists.npy", "w", force_zip64=True) as f:
        f.write(header.getvalue())
        zeros = bytes(2**22)
        for _ in range(512):
            f.write(zeros)
os.ftruncate(result, 0)
os.pwrite(result, buf.getvalue(), 0)
os.ftruncate(status, 0)
os.pwrite(status, b'{"ok": true, "error": ""}', 0)
os._exit(0)
"""

# An error message holding a lone surrogate: the runner's JSON escapes it ("\\ud800"), the
# grader's parser gives it back, and no UTF-8 file (feedback.md) can hold it.
SURROGATE = """
raise ValueError("\\ud800" + "x" * 10)
"""

# A result of 1.3 million central-directory entries (47 bytes each: 61 MiB, under the
# file size limit) and no data: a zip reader builds an object per entry before anything
# can count them (was: +320 MiB and 13 s of the grader's CPU, per test).
CENTRAL_BOMB = """
import os, struct, sys
result, status = int(sys.argv[1]), int(sys.argv[2])
n = 1_300_000
entry = struct.pack("<4s6H3L5H2L", b"PK\\x01\\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0,
                    0, 0, 0) + b"x.npy"
data = entry * n + struct.pack("<4s4H2LH", b"PK\\x05\\x06", 0, 0, 0xFFFF, 0xFFFF,
                               len(entry) * n, 0, 0)
os.ftruncate(result, 0)
os.pwrite(result, data, 0)
os.ftruncate(status, 0)
os.pwrite(status, b'{"ok": true, "error": ""}', 0)
os._exit(0)
"""

DEEP_CHAIN = """
import os
for top in ("/job", "/tmp"):
    os.chdir(top)
    for _ in range(1200):
        os.mkdir("d" * 40)
        os.chdir("d" * 40)
os.chdir("/job")
return self.compute_distances_one_loop(X)
"""


def test_hostile_outputs_are_refused_and_cost_only_themselves(grader, solved, subs, tmp_path):
    honest = _zip_tree(solved, subs / "honest.zip")
    batch = [honest]
    for name, body in [
        ("status_nested", STATUS_NESTED),
        ("status_bigint", STATUS_BIGINT),
        ("replace_outputs", REPLACE_OUTPUTS),
        ("npz_bomb", NPZ_BOMB),
        ("central_bomb", CENTRAL_BOMB),
        ("deep_chain", DEEP_CHAIN),
        ("surrogate", SURROGATE),
    ]:
        batch.append(_hostile(solved, subs, f"{name}.zip", body))
    results, figures = run_batch(grader, batch, tmp_path / "out")
    print(
        f"\noutputs batch: {figures['seconds']:.1f} s, grader peak +{figures['peak_growth_kib']} KiB"
    )

    for name in ("status_nested", "status_bigint"):
        why = lost_only_two_loops(results[name])
        assert (
            "did not finish" in why
            or "without returning results" in why
            or "status could not be read back" in why
        ), why
    why = lost_only_two_loops(results["surrogate"])
    assert "ValueError: ?xxxxxxxxxx" in why, why
    assert "ValueError" in (tmp_path / "out" / "surrogate" / "feedback.md").read_text()
    why = lost_only_two_loops(results["npz_bomb"])
    assert "could not be read back" in why and "larger than 64 MiB" in why, why
    why = lost_only_two_loops(results["central_bomb"])
    assert "could not be read back" in why and "more than 256 arrays" in why, why
    # Neither the 2 GiB declared nor the million entries reached the grader's memory.
    assert figures["peak_growth_kib"] < 200 * 1024, figures
    # In bubblewrap the output paths are not reachable, the folder chains vanish with its
    # private /tmp and /job: both graded in full.
    for name in ("replace_outputs", "deep_chain"):
        assert results[name]["score"] == results[name]["max_score"], by_test(results[name])
    assert not list(grader._tmp.glob("job-*")) and not list(grader._tmp.glob("sub-*"))


# -- what it leaves, fills, starts and holds ------------------------------------------------

# Everything refused is fine; anything allowed is reported in the feedback and the
# function earns nothing.
PRELUDE = """
import json, os, sys
allowed = []
def refused(name, action):
    try:
        action()
    except (OSError, MemoryError, RuntimeError, ValueError):
        return True
    allowed.append(name)
    return False
"""
VERDICT = """
if allowed:
    raise RuntimeError("ALLOWED " + json.dumps(allowed))
return self.compute_distances_one_loop(X)
"""

FILL = """
MiB = b"x" * 2**20
def fill(folder):
    written = 0
    try:
        for i in range(10):
            with open(f"{folder}/fill{i}", "wb") as f:
                for _ in range(20):
                    f.write(MiB)
                    f.flush()
                    written += 1
    except OSError:
        pass
    return written
for folder in ("/tmp", "/job"):  # tmpfs of 64 MiB each: 200 MiB do not fit
    n = fill(folder)
    if not 32 <= n <= 64:
        allowed.append(f"{n} MiB in {folder}")
    for i in range(10):
        try:
            os.unlink(f"{folder}/fill{i}")
        except OSError:
            pass
# Every other mount (bubblewrap's root, /usr, /dev, /proc, Python): not one byte.
mounts = {line.split()[4] for line in open("/proc/self/mountinfo")}
for point in sorted(mounts - {"/tmp", "/job"} | {"/", "/dev/shm", "/var/tmp"}):
    if os.path.isdir(point):
        refused(f"write in {point}", lambda p=point: open(os.path.join(p, "x"), "wb").close())
    elif not point.startswith("/dev/"):  # a file bound read-only (runner.py)
        refused(f"write to {point}", lambda p=point: open(p, "r+b").close())
refused("mkdir /var", lambda: os.mkdir("/var"))
# The host disk: beside its outputs (their host paths as /proc shows them), and through
# its descriptors past the file size limit (64 MiB).
for fd in (sys.argv[1], sys.argv[2]):
    host = os.path.dirname(os.readlink(f"/proc/self/fd/{fd}"))
    refused(f"write in {host}", lambda host=host: open(os.path.join(host, "x"), "wb").close())
    written = 0
    try:
        for i in range(100):
            written += os.pwrite(int(fd), MiB, i * 2**20)
    except OSError:
        pass
    os.ftruncate(int(fd), 0)
    if written > 64 * 2**20:
        allowed.append(f"{written >> 20} MiB through descriptor {fd}")
"""

# Empty files take no space but an inode each, kernel memory that no size counts: a root
# grader's sandbox bounds their number (Limits.tmpfs_inodes).
INODES = """
for folder in ("/tmp", "/job"):
    made = 0
    try:
        for i in range(100_000):
            os.close(os.open(f"{folder}/i{i}", os.O_CREAT | os.O_WRONLY, 0o600))
            made += 1
    except OSError:
        pass
    if made > 16384:
        allowed.append(f"{made} files in {folder}")
    for i in range(made):
        os.unlink(f"{folder}/i{i}")
"""
if os.geteuid() != 0:  # bubblewrap's own tmpfs: size-limited only
    INODES = ""

THREADS = """
import subprocess, threading
stop, started = threading.Event(), []
try:
    for _ in range(300):
        t = threading.Thread(target=stop.wait)
        t.start()
        started.append(t)
except RuntimeError:
    pass
stop.set()
for t in started:
    t.join()
if len(started) >= 32:
    allowed.append(f"{len(started)} threads")
def fork():
    if os.fork() == 0:
        os._exit(0)
refused("fork", fork)
refused("subprocess", lambda: subprocess.run(["/bin/true"]))
refused("posix_spawn", lambda: os.posix_spawn("/bin/true", ["true"], {}))
"""

MEMORY = """
import mmap, resource
import numpy as np
refused("raise RLIMIT_AS", lambda: resource.setrlimit(
    resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)))
held = []
try:
    for _ in range(8):  # 2 GiB each (not touched): the limit is 3 GiB of address space
        held.append(np.empty(2**28))
except MemoryError:
    pass
if len(held) > 1:
    allowed.append(f"{2 * len(held)} GiB of arrays")
del held
refused("mmap 8 GiB", lambda: mmap.mmap(-1, 8 * 2**30))
refused("bytearray 16 GiB", lambda: bytearray(16 * 2**30))
# Memory no limit would count: memfd files (not mapped, on no tmpfs), System V shared
# memory (a detached segment persists) and message queues: refused outright.
refused("memfd_create", lambda: os.memfd_create("m"))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def sysv(call, *args):
    def go():
        if getattr(libc, call)(*args) < 0:
            raise OSError(ctypes.get_errno(), call)
    return go
refused("shmget", sysv("shmget", 0, 2**20, 0o1600))
refused("msgget", sysv("msgget", 0, 0o1600))
"""

SLEEP = """
import time
time.sleep(3600)
"""


@pytest.mark.parametrize(
    "body, loosened, expected",
    [
        (
            FILL + INODES,
            {"tmpfs_bytes": 256 * 2**20, "file_bytes": 128 * 2**20, "tmpfs_inodes": 200_000},
            ["200 MiB in /tmp", "200 MiB in /job", "100 MiB through descriptor"]
            + (["100000 files in /tmp", "100000 files in /job"] if INODES else []),
        ),
        (THREADS, {"processes": 1000}, [" threads"]),
        # 9 GiB: the arrays and the (untouched) mmap fit; the 16 GiB bytearray (zeroed) does not.
        (MEMORY, {"memory_bytes": 9 * 2**30}, ["GiB of arrays", "mmap 8 GiB"]),
    ],
    ids=["fill", "threads", "memory"],
)
def test_the_probes_see_what_looser_limits_allow(body, loosened, expected):
    """The probes below are not vacuous: with looser limits, the same code reports it."""
    code = "def probe():\n" + "\n".join(
        "    " + line for line in (PRELUDE + body).strip().splitlines()
    )
    code += "\n    return allowed\n\nprint('ALLOWED', probe())\n"
    base = Path(tempfile.mkdtemp(prefix="cs231n-probe-"))
    try:
        base.chmod(0o711)
        (base / "probe.py").write_text(code)
        (base / "probe.py").chmod(0o644)
        (base / "job").mkdir()
        outcome = sandbox.run_limited(
            ["/job/probe.py", "{result}", "{status}"],
            base / "job",
            sandbox.Limits(wall_seconds=60, **loosened),
            binds=[(base / "probe.py", "probe.py")],
            outputs={"result": base / "result", "status": base / "status"},
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert outcome.returncode == 0, outcome.output
    for what in expected:
        assert what in outcome.output, (what, outcome.output[-2000:])


def test_resources_are_bounded_and_cost_only_themselves(grader, solved, subs, tmp_path):
    honest = _zip_tree(solved, subs / "honest.zip")
    batch = [honest]
    for name, body in [
        ("fill", PRELUDE + FILL + INODES + VERDICT),
        ("threads", PRELUDE + THREADS + VERDICT),
        ("memory", PRELUDE + MEMORY + VERDICT),
    ]:
        batch.append(_hostile(solved, subs, f"{name}.zip", body))
    batch.append(_hostile(solved, subs, "sleep.zip", SLEEP))
    grader.limits.wall_seconds = 15.0  # the per-test limit (and the sleeper's cost)
    try:
        results, figures = run_batch(grader, batch, tmp_path / "out")
    finally:
        grader.limits.wall_seconds = 30.0
    print(
        f"\nresources batch: {figures['seconds']:.1f} s, grader's folder peaked at "
        f"{figures['disk_peak'] / 2**20:.0f} MiB on disk"
    )
    for name in ("fill", "threads", "memory"):
        assert results[name]["score"] == results[name]["max_score"], by_test(results[name])[TWO]
    why = lost_only_two_loops(results["sleep"])
    assert "ran out of time" in why, why
    # On the host disk: at most the three capped files (result, status, log) of each of
    # the two tests at a time, plus the packages.
    assert figures["disk_peak"] < 2 * 3 * grader.limits.file_bytes + 64 * 2**20, figures
    assert not list(Path(tempfile.gettempdir()).glob("fill[0-9]"))


# -- privileges ---------------------------------------------------------------------------

PRIVILEGES = """
import ctypes, json, os, re, time
found = {}
def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except OSError as exc:
        found[name] = f"refused ({exc.strerror})"
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches",
             "/proc/sys/fs/protected_hardlinks", "/proc/sys/kernel/modprobe",
             "/proc/sysrq-trigger"):
    attempt(path, lambda path=path: open(path, "w").close())
attempt("setuid(0)", lambda: os.setuid(0))
attempt("setgid(0)", lambda: os.setgid(0))
libc = ctypes.CDLL(None, use_errno=True)
def unshare_user():
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
attempt("new user namespace", unshare_user)
found["uid"] = os.getuid()
found["uid_map"] = open("/proc/self/uid_map").read().split()
found["CapEff"] = re.search(r"CapEff:\\s*(\\w+)", open("/proc/self/status").read()).group(1)
# The owner of its private /tmp, as the kernel shows it: the host uid that made it.
mounts = [line for line in open("/proc/self/mountinfo") if line.split()[4] == "/tmp"]
found["tmp owner"] = re.search(r"uid=(\\d+)", mounts[0]).group(1) if mounts else None
time.sleep(1.5)  # for the watcher on the host
raise RuntimeError("FOUND " + json.dumps(found))
"""


def test_student_code_has_no_privilege_in_a_grading_batch(grader, solved, subs, tmp_path):
    honest = _zip_tree(solved, subs / "honest.zip")
    probe = _hostile(solved, subs, "privileges.zip", PRIVILEGES)
    results, figures = run_batch(grader, [honest, probe], tmp_path / "out")
    why = lost_only_two_loops(results["privileges"])
    found, _ = json.JSONDecoder().raw_decode(why, why.index("FOUND {") + len("FOUND "))
    print(f"\nfrom inside: {found}\nhost uids seen: {figures['uids']}")
    for path in (
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/fs/protected_hardlinks",
        "/proc/sys/kernel/modprobe",
        "/proc/sysrq-trigger",
        "setuid(0)",
        "setgid(0)",
        "new user namespace",
    ):
        assert found[path].startswith("refused"), (path, found[path])
    assert found["uid"] == sandbox.NOBODY and int(found["CapEff"], 16) == 0, found
    # uid_map maps 65534 to its parent namespace (bubblewrap's own, nested); the host uid
    # is what owns its /tmp, and what the host sees in /proc/<pid>/status.
    assert found["uid_map"][0] == str(sandbox.NOBODY) and found["uid_map"][2] == "1", found
    assert found["tmp owner"] is not None and int(found["tmp owner"]) != 0, found
    assert figures["uids"], "no sandboxed process was seen from the host"
    for uids in figures["uids"]:
        assert 0 not in uids, figures["uids"]  # real, effective, saved, filesystem
        if os.geteuid() == 0:
            assert all(sandbox.UID_BASE <= u < sandbox.UID_BASE + sandbox.UID_SLOTS for u in uids)
    if os.geteuid() == 0:
        assert sandbox.UID_BASE <= int(found["tmp owner"]) < sandbox.UID_BASE + sandbox.UID_SLOTS


OWNER = r"""
import re, sys, time
start = time.time()
time.sleep(1.0)  # overlap with the other runs
line = next(x for x in open("/proc/self/mountinfo") if x.split()[4] == "/tmp")
with open(int(sys.argv[1]), "w") as out:
    uid = re.search(r"uid=(\d+)", line).group(1)
    out.write(f"{uid} {start} {time.time()}")
"""


def test_parallel_launches_neither_deadlock_nor_share_a_uid():
    """--jobs N: sandboxes launched from many threads at once (a plain argv chain, no
    preexec_fn) all finish, each as a host uid of its own while it runs."""
    base = Path(tempfile.mkdtemp(prefix="cs231n-parallel-"))
    owners, errors = {}, []
    try:
        base.chmod(0o711)
        (base / "owner.py").write_text(OWNER)
        (base / "owner.py").chmod(0o644)

        def launch(i):
            try:
                job = base / f"job{i}"
                job.mkdir()
                outcome = sandbox.run_limited(
                    ["/job/owner.py", "{result}"],
                    job,
                    sandbox.Limits(wall_seconds=60),
                    binds=[(base / "owner.py", "owner.py")],
                    outputs={"result": base / f"result{i}"},
                )
                assert outcome.returncode == 0, outcome.output
                uid, start, end = (base / f"result{i}").read_text().split()
                owners[i] = (int(uid), float(start), float(end))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=launch, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a launch hung"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert not errors, errors
    assert len(owners) == 8 and all(uid != 0 for uid, _, _ in owners.values()), owners
    # Runs alive at the same time (each holds its uid for its whole life) never share one.
    overlapping = [
        (a, b)
        for a in owners
        for b in owners
        if a < b and owners[a][1] < owners[b][2] and owners[b][1] < owners[a][2]
    ]
    assert overlapping, owners
    if os.geteuid() == 0:
        for a, b in overlapping:
            assert owners[a][0] != owners[b][0], (a, b, owners)


# -- zips and folders ----------------------------------------------------------------------


def _deep_folder(top, levels, name="d" * 40):
    """A chain of ``levels`` folders under ``top`` (past PATH_MAX: built by descriptors)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("x = 1\n")
    finally:
        os.close(fd)


def _index_bomb(path, n=1_000_000):
    """A zip listing ``n`` members (central-directory entries only: 54 MiB)."""
    name = b"cs231n/x.py"
    entry = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
    )
    entry += name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(entry) * n, 0, 0)
    path.write_bytes(entry * n + end)
    return path


def test_hostile_zips_and_folders_cost_only_themselves(grader, solved, subs, tmp_path):
    honest = _zip_tree(solved, subs / "honest.zip")
    index_bomb = _index_bomb(subs / "index_bomb.zip")
    nested = b"[" * 100_000 + b"]" * 100_000
    bigint = b'{"cells": [], "metadata": {}, "nbformat": ' + b"9" * 5000 + b"}"
    notebooks = _zip_tree(
        solved,
        subs / "notebooks.zip",
        [("assignment1/nested.ipynb", nested), ("assignment1/bigint.ipynb", bigint)],
    )
    # Stored, not deflated (else refused as a zip bomb before any parsing): 15 MiB of an
    # unterminated string (a regular expression for strings took 2.3 GiB on it) and
    # 15 MiB of empty objects (parsed, 370 MiB).
    stored = []
    for name, data in [
        ("unterminated.ipynb", b'"' + b"a" * (15 * 2**20)),
        ("objects.ipynb", b"[" + b"{}," * (5 * 2**20) + b"{}]"),
    ]:
        info = zipfile.ZipInfo(f"assignment1/{name}", date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        stored.append((info, data))
    big_notebooks = _zip_tree(solved, subs / "big_notebooks.zip", stored)
    # A folder where the release has a file: vis_utils.py/evil.py, without vis_utils.py.
    tree = tmp_path / "folder-tree"
    shutil.copytree(solved, tree)
    (tree / "cs231n" / "vis_utils.py").unlink()
    over_file = _zip_tree(tree, subs / "over_file.zip", [("cs231n/vis_utils.py/evil.py", "x")])
    deep_member = _zip_tree(
        solved, subs / "deep_member.zip", [("cs231n/" + "d/" * 1200 + "x.py", "x = 1\n")]
    )
    # A folder submission (cs231n grade accepts folders) holding a 1,200-level chain.
    folder = subs / "deep_folder"
    shutil.copytree(solved, folder)
    _deep_folder(folder / "cs231n", 1200)
    # Names that are not UTF-8 (a folder's names are bytes): a link and a long name, both
    # refused with a note that must still be written to feedback.md.
    os.symlink("/etc/passwd", os.path.join(os.fsencode(folder / "cs231n"), b"\xff\xfe.py"))
    (folder / "cs231n" / "aaa_links").mkdir()  # (walked last)
    for i in range(500):  # feedback: a hundred notes, then how many more
        (folder / "cs231n" / "aaa_links" / f"link{i:03d}.py").symlink_to("/etc/passwd")
    Path(os.fsdecode(os.path.join(os.fsencode(folder / "cs231n"), b"\xff" * 120))).write_text("x")
    try:
        batch = [honest, notebooks, big_notebooks, over_file, deep_member, folder, index_bomb]
        results, figures = run_batch(grader, batch, tmp_path / "out")
    finally:
        remove_tree(folder)
    # Neither the notebooks nor the million members listed swelled the grader.
    print(f"\nzips batch: grader peak +{figures['peak_growth_kib']} KiB")
    assert figures["peak_growth_kib"] < 100 * 1024, figures
    for name in ("notebooks", "big_notebooks", "over_file", "deep_member", "deep_folder"):
        assert results[name]["score"] == results[name]["max_score"], (name, results[name]["output"])
    out = results["notebooks"]["output"]
    assert "nested.ipynb` is not a valid notebook (it is nested deeper" in out, out
    assert "bigint.ipynb` is not a valid notebook (it holds an integer" in out, out
    big = results["big_notebooks"]["output"]
    assert "unterminated.ipynb` is not a valid notebook (it is not valid JSON" in big, big
    assert "objects.ipynb` is not a valid notebook (it holds more than 1,000,000 values" in big
    clash = results["over_file"]["output"]
    assert "`cs231n/vis_utils.py/evil.py`: it clashes with the release" in clash, clash
    assert "name too long" in results["deep_member"]["output"]
    assert "nested too deep" in results["deep_folder"]["output"]
    # A million members listed: refused before zipfile builds an object for each.
    assert (
        "could not be graded: the zip's list of files is larger"
        in (results["index_bomb"]["output"])
    )
    assert results["index_bomb"]["score"] == 0
    assert "symbolic links are not accepted" in results["deep_folder"]["output"]
    assert "(And 402 more links or deep folders ignored.)" in results["deep_folder"]["output"]
    assert len(results["deep_folder"]["output"].splitlines()) < 110
    feedback = (tmp_path / "out" / "deep_folder" / "feedback.md").read_text(encoding="utf-8")
    assert "symbolic links are not accepted" in feedback and "name too long" in feedback


# -- without bubblewrap: the attacks land, the grader holds ----------------------------------

LEAVE_CHAIN = """
import os
here = os.path.dirname(os.readlink(f"/proc/self/fd/{sys.argv[1]}"))
try:
    os.chdir(here)
    for _ in range(1200):
        os.mkdir("d" * 40)
        os.chdir("d" * 40)
except OSError:
    pass
return self.compute_distances_one_loop(X)
"""


def test_without_bubblewrap_replaced_outputs_and_deep_chains_are_refused(
    solved, subs, tmp_path, monkeypatch
):
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: False)
    plain = Grader("assignment1", TESTS_DIR, ROOT, only=("a1.knn",), require_sandbox=False)
    try:
        plain.limits.wall_seconds = 30.0
        honest = _zip_tree(solved, subs / "honest.zip")
        replace = _hostile(solved, subs, "replace_outputs.zip", REPLACE_OUTPUTS)
        chain = _hostile(solved, subs, "leave_chain.zip", "import sys\n" + LEAVE_CHAIN)
        results, _ = run_batch(plain, [honest, replace, chain], tmp_path / "out")
        assert not list(plain._tmp.glob("job-*")), "a job folder was left behind"
    finally:
        plain.close()
    # Where the child is the grader's uid (the unsafe fallback) the link and the pipe
    # replace the outputs: refused, not followed, not waited on. Where it is a private
    # uid, it cannot touch them: graded in full.
    tests = by_test(results["replace_outputs"])
    if tests[TWO]["score"] == 0:
        why = tests[TWO]["output"]
        assert "without returning results" in why or "could not be read back" in why, why
    lost = results["replace_outputs"]["max_score"] - results["replace_outputs"]["score"]
    assert lost in (0, tests[TWO]["max_score"])
    assert results["leave_chain"]["score"] == results["leave_chain"]["max_score"]


# -- the Gradescope autograder --------------------------------------------------------------


def _run_autograder(home, timeout=900):
    env = {**os.environ, "AUTOGRADER_ROOT": str(home), "AUTOGRADER_PYTHON": sys.executable}
    env.pop("CS231N_AUTOGRADER_NO_BWRAP", None)
    done = subprocess.run(
        ["bash", str(home / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, json.loads((home / "results" / "results.json").read_text())


def test_gradescope_autograder_on_hostile_uploads(solved, subs, tmp_path):
    from cs231n.instructor.autograder import build_autograder

    ag = tmp_path / "autograder.zip"
    build_autograder(ROOT, "assignment1", ag)
    home = tmp_path / "autograder"
    with zipfile.ZipFile(ag) as zf:
        zf.extractall(home / "source")
    # The upload: the npz bomb in two_loops, a privilege probe in one_loop (which returns
    # the right answer only if nothing was allowed).
    hostile_zip = _hostile(solved, subs, "assignment1_submission.zip", NPZ_BOMB)
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(hostile_zip) as zf:
        zf.extractall(unzipped)
    knn = unzipped / KNN
    signature = "    def compute_distances_one_loop(self, X):"
    probe = PRELUDE + (
        "for p in ('/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger'):\n"
        "    refused(p, lambda p=p: open(p, 'w').close())\n"
        "refused('setuid(0)', lambda: os.setuid(0))\n"
        "if open('/proc/self/uid_map').read().split()[0] != '65534':\n"
        "    allowed.append('not uid 65534')\n"
        "if allowed:\n"
        "    raise RuntimeError('ALLOWED ' + json.dumps(allowed))\n"
        "return self.compute_distances_no_loops(X)\n"
    )
    lines = "\n".join("        " + line for line in probe.strip().splitlines())
    text = knn.read_text()
    knn.write_text(text.replace(signature, f"{signature}\n{lines}\n\n    def _unused1(self, X):"))
    _zip_tree(unzipped, hostile_zip)

    (home / "submission").mkdir()
    shutil.copy(hostile_zip, home / "submission" / hostile_zip.name)
    start = time.perf_counter()
    done, results = _run_autograder(home)
    seconds = time.perf_counter() - start
    print(
        f"\nautograder, hostile upload: {seconds:.1f} s, {results['score']:g} / "
        f"{sum(t['max_score'] for t in results['tests']):g}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert "does not allow the bubblewrap sandbox" not in results["output"]
    tests = {t["extra_data"]["id"]: t for t in results["tests"]}
    assert tests[TWO]["score"] == 0, tests[TWO]
    assert tests["a1.knn.one_loop"]["score"] == tests["a1.knn.one_loop"]["max_score"], tests[
        "a1.knn.one_loop"
    ]["output"]
    others = [t for name, t in tests.items() if name != TWO]
    assert all(t["score"] == t["max_score"] for t in others), [
        (t["name"], t["output"]) for t in others if t["score"] != t["max_score"]
    ]

    # A corrupt upload (a scrambled deflate stream), named to escape: "could not be graded".
    shutil.rmtree(home / "submission")
    (home / "submission").mkdir()
    corrupt = _corrupt_deflate(solved, subs, "corrupt.zip")
    shutil.copy(corrupt, home / "submission" / "...zip")
    done, results = _run_autograder(home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert results["score"] == 0 and results["tests"], results
    assert "could not be graded" in results["output"], results["output"]
    assert all(t["score"] == 0 for t in results["tests"])
    # An extracted upload (a folder) whose kNN file links to the reference solution that
    # the autograder keeps beside it: the link is refused, the release's stub is graded.
    shutil.rmtree(home / "submission")
    shutil.copytree(solved, home / "submission")
    linked = home / "submission" / KNN
    linked.unlink()
    linked.symlink_to(home / "source" / KNN)
    done, results = _run_autograder(home)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "symbolic links are not accepted" in results["output"], results["output"]
    tests = {t["extra_data"]["id"]: t for t in results["tests"]}
    knn = [t for name, t in tests.items() if name.startswith("a1.knn.")]
    assert knn and all(t["score"] == 0 for t in knn), knn
    others = [t for name, t in tests.items() if not name.startswith("a1.knn.")]
    assert all(t["score"] == t["max_score"] for t in others)

    # An extracted upload that is only links to the reference beside it: nothing is graded
    # (was: the reference solution, graded as the student's, full marks).
    shutil.rmtree(home / "submission")
    (home / "submission").mkdir()
    (home / "submission" / "mine").symlink_to(home / "source")
    (home / "submission" / "deep").mkdir()
    (home / "submission" / "deep" / "mine").symlink_to(home / "source")
    done, results = _run_autograder(home)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert results["score"] == 0 and "No submission was found" in results["output"], results
    assert sorted(p.name for p in home.iterdir()) == ["results", "source", "submission"]
    assert sorted(p.name for p in (home / "results").iterdir()) == ["results.json"]


def test_gradescope_never_takes_a_linked_upload(tmp_path):
    from cs231n.instructor.autograder import find_submission

    (tmp_path / "source" / "cs231n").mkdir(parents=True)
    (tmp_path / "source" / "solution.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    upload = tmp_path / "submission"
    (upload / "a" / "b").mkdir(parents=True)
    (upload / "mine").symlink_to(tmp_path / "source")
    (upload / "a" / "mine").symlink_to(tmp_path / "source")
    (upload / "a" / "b" / "cs231n").symlink_to(tmp_path / "source" / "cs231n")
    (upload / "assignment1.zip").symlink_to(tmp_path / "source" / "solution.zip")
    assert find_submission(upload, "assignment1")[0] is None
    (upload / "a" / "b" / "real" / "cs231n").mkdir(parents=True)
    assert find_submission(upload, "assignment1")[0] is None  # deeper than 2 levels
    (upload / "a" / "cs231n").mkdir()
    assert find_submission(upload, "assignment1")[0] == upload / "a"
    (upload / "mine.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    assert find_submission(upload, "assignment1")[0] == upload / "mine.zip"


def test_cs231n_grade_never_takes_a_linked_submission_from_a_folder(tmp_path):
    """Submissions extracted into one folder: a link there (to the instructor's checkout,
    say) is not a submission."""
    from cs231n.instructor.grade import expand_submissions

    batch = tmp_path / "batch"
    (batch / "alice" / "cs231n").mkdir(parents=True)
    (batch / "bob.zip").write_bytes(b"")
    (batch / "mallory").symlink_to(ROOT)
    (batch / "mallory.zip").symlink_to(batch / "bob.zip")
    assert expand_submissions([batch]) == [batch / "alice", batch / "bob.zip"]
    assert expand_submissions([batch / "mallory.zip"]) == [batch / "mallory.zip"]  # named
