"""From inside the sandbox: what student code can and cannot do (issue: a grader that a
hostile submission cannot escape, sink, hang or swell).

Each test runs a small probe script through ``sandbox.run_limited`` exactly as the
grader runs student code, and reads its findings back through an inherited descriptor.
"""

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cs231n.instructor import sandbox

pytestmark = pytest.mark.skipif(
    not sandbox.bwrap_works() and not os.environ.get("CS231N_REQUIRE_SANDBOX"),
    reason="bubblewrap is needed for these checks",
)

PROBE = r"""
import errno, json, os, socket, sys, threading, time
found = {}

def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except Exception as exc:  # what refused it
        found[name] = f"refused: {type(exc).__name__}: {exc}"

time.sleep(float(sys.argv[2]))  # time for the test to look at this process from outside
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches"):
    attempt(path, lambda path=path: open(path, "w").close())
attempt("write /", lambda: open("/evil", "w").close())
attempt("write /usr", lambda: open("/usr/evil", "w").close())
attempt("network", lambda: socket.create_connection(("127.0.0.1", 22), timeout=2))
attempt("fork", lambda: os.fork() or os._exit(0))

def fill(folder):
    # Files each under the per-file limit, 200 MiB in all: past the 64 MiB tmpfs.
    for i in range(10):
        with open(f"{folder}/part{i}", "wb") as f:
            for _ in range(20):
                f.write(b"x" * 2**20)
                f.flush()
attempt("fill /tmp", lambda: fill("/tmp"))
attempt("fill /job", lambda: fill("/job"))

threads, stop = [], threading.Event()
def spawn():
    for _ in range(300):
        t = threading.Thread(target=stop.wait)
        t.start()
        threads.append(t)
attempt("300 threads", spawn)
found["threads started"] = len(threads)
stop.set()
with os.fdopen(int(sys.argv[1]), "w") as out:
    json.dump(found, out)
"""


def run_probe(pause=0.0, marker="probe"):
    # As the grader does: a folder the private uid may pass through (pytest's tmp_path
    # lies under a 0700 folder it cannot enter).
    base = Path(tempfile.mkdtemp(prefix="cs231n-sandbox-test-"))
    try:
        base.chmod(0o711)
        script = base / "probe.py"
        script.write_text(PROBE)
        script.chmod(0o644)
        result = base / "result.json"
        job = base / "job"
        job.mkdir()
        outcome = sandbox.run_limited(
            ["/job/probe.py", "{result}", str(pause), marker],
            job,
            sandbox.Limits(wall_seconds=60),
            binds=[(script, "probe.py")],
            outputs={"result": result},
        )
        assert outcome.returncode == 0, outcome.output
        return json.loads(result.read_text()), outcome
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _host_uids_of(marker):
    """Host (real, effective) uids of the processes whose command line holds ``marker``."""
    uids = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            if marker.encode() not in cmdline or b"python" not in cmdline[0]:
                continue
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        uids.add(tuple(int(v) for v in line.split()[1:3]))
    return uids


def test_student_code_has_no_host_privilege_and_bounded_resources():
    """Seen from the host, the student's process is a private unprivileged uid (the
    report found host root); from inside, every resource it could abuse is refused."""
    marker = f"cs231n-probe-{os.getpid()}"
    seen = {}
    watcher = threading.Thread(
        target=lambda: (time.sleep(1.5), seen.setdefault("uids", _host_uids_of(marker)))
    )
    watcher.start()
    found, outcome = run_probe(pause=4.0, marker=marker)
    watcher.join()
    assert outcome.isolation == "bwrap"
    assert seen["uids"], "the probe process was not found"
    for real, effective in seen["uids"]:
        if os.geteuid() == 0:
            assert sandbox.UID_BASE <= real < sandbox.UID_BASE + sandbox.UID_SLOTS
        assert real != 0 and effective != 0, seen
    for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches"):
        assert found[path].startswith("refused"), (path, found[path])
    for name in ("write /", "write /usr", "network", "fork"):
        assert found[name].startswith("refused"), (name, found[name])
    for folder in ("/tmp", "/job"):  # memory and disk bounded in total, not per file
        assert "No space left" in found[f"fill {folder}"], found[f"fill {folder}"]
    assert found["300 threads"].startswith("refused")
    assert found["threads started"] < sandbox.Limits().processes
