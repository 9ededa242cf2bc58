"""Running untrusted code (a student's submission) in a separate, limited process.

``run_limited(args, job_dir, limits)`` runs ``python -I <args>`` with ``job_dir`` as the
working directory and the only writable place, under these limits:

- wall-clock time (the whole process group is killed) and CPU time (RLIMIT_CPU);
- memory (RLIMIT_AS), file size (RLIMIT_FSIZE, which also caps printed output, since
  stdout and stderr go to a file), open files (RLIMIT_NOFILE), no core dumps;
- processes: with bubblewrap, a seccomp filter refuses fork/vfork and any clone that
  does not create a thread, so the child cannot start processes at all; without it,
  RLIMIT_NPROC (enforced by the kernel for non-root users only);
- with bubblewrap (``bwrap``, Debian package ``bubblewrap``): new user, PID, network,
  IPC and UTS namespaces (no network at all), uid 65534, all capabilities dropped, and a
  filesystem made only of /usr, the Python installation (read-only), a private /tmp and
  the job directory — so the grading tests, the reference solution and other
  submissions are not even visible.

Without bubblewrap (e.g. a container that forbids namespaces) the limits still hold,
the process runs as uid 65534 when the grader is root, and it gets a clean environment,
but the filesystem and network are not hidden: README says so.
"""

import ctypes
import os
import platform
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NOBODY = 65534


@dataclass
class Limits:
    """Resource limits for one sandboxed run."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 3 * 1024**3
    file_bytes: int = 64 * 1024**2  # also the cap on printed output
    open_files: int = 64
    processes: int = 32  # only used without bubblewrap (RLIMIT_NPROC)


@dataclass
class Outcome:
    """How a sandboxed run ended."""

    returncode: int | None
    timed_out: bool
    seconds: float
    output: str  # the first part of stdout + stderr
    isolation: str  # "bwrap", "rlimits+nobody" or "rlimits"

    @property
    def reason(self):
        if self.timed_out:
            return "it ran out of time"
        rc = self.returncode
        if rc is not None and rc < 0:
            sig = -rc
            names = {
                signal.SIGXCPU: "it used too much CPU time",
                signal.SIGXFSZ: "it wrote or printed too much output",
                signal.SIGKILL: "it was killed (out of time or memory)",
                signal.SIGSEGV: "it crashed (segmentation fault)",
            }
            return names.get(sig, f"it was killed by signal {sig}")
        return f"it exited with status {rc}"


# -- seccomp: refuse new processes, allow threads -----------------------------------------

_ARCH = {  # audit arch, clone, clone3, fork, vfork
    "x86_64": (0xC000003E, 56, 435, 57, 58),
    "aarch64": (0xC00000B7, 220, 435, None, None),
}
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_no_processes():
    """A classic-BPF seccomp program (bytes) refusing fork, vfork and non-thread clone."""
    arch = _ARCH.get(platform.machine())
    if arch is None:
        return None
    audit, clone, clone3, fork, vfork = arch
    LD_W_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
    prog = [
        _bpf(LD_W_ABS, 0, 0, 4),  # A = arch
        _bpf(JEQ, 1, 0, audit),
        _bpf(RET, 0, 0, _RET_ALLOW),  # another ABI: leave it alone
        _bpf(LD_W_ABS, 0, 0, 0),  # A = syscall number
    ]
    for nr in (fork, vfork):
        if nr is not None:
            prog += [_bpf(JEQ, 0, 1, nr), _bpf(RET, 0, 0, _RET_ERRNO | _EPERM)]
    prog += [
        _bpf(JEQ, 0, 1, clone3),
        _bpf(RET, 0, 0, _RET_ERRNO | _ENOSYS),  # libc falls back to clone
        _bpf(JEQ, 0, 3, clone),
        _bpf(LD_W_ABS, 0, 0, 16),  # A = low word of clone's flags
        _bpf(JSET, 1, 0, _CLONE_THREAD),
        _bpf(RET, 0, 0, _RET_ERRNO | _EPERM),
        _bpf(RET, 0, 0, _RET_ALLOW),
    ]
    return b"".join(prog)


# -- isolation ------------------------------------------------------------------------------


@cache
def bwrap_works():
    """True when bubblewrap is installed and can create its namespaces here."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        r = subprocess.run(
            [exe, "--unshare-all", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def python_roots():
    """The directories a sandboxed Python needs to see (read-only)."""
    roots = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for mod in ("numpy",):
        try:
            spec = __import__(mod)
            roots.add(os.path.dirname(os.path.dirname(spec.__file__)))
        except ImportError:
            pass
    # Keep only the outermost directories, and none that is (or contains) /usr.
    roots = sorted(os.path.realpath(r) for r in roots)
    keep = []
    for r in roots:
        if r.startswith("/usr") or any(r == k or r.startswith(k + "/") for k in keep):
            continue
        keep.append(r)
    return keep


def _bwrap_command(job_dir, seccomp_fd):
    cmd = [
        shutil.which("bwrap"),
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for link in ("lib", "lib64", "bin", "sbin", "lib32"):
        if os.path.islink(f"/{link}"):
            cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    for root in python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--bind", str(job_dir), "/job", "--chdir", "/job", "--setenv", "HOME", "/tmp"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


def _nobody_can_run(exe):
    """Whether uid 65534 could execute ``exe`` (every parent directory searchable)."""
    path = Path(os.path.realpath(exe))
    if not path.stat().st_mode & 0o001:
        return False
    return all(p.stat().st_mode & 0o001 for p in path.parents)


def _preexec(limits, drop_to_nobody):
    def apply():
        os.setsid()
        for res, value in (
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, limits.processes),
        ):
            resource.setrlimit(res, (value, value))
        if drop_to_nobody:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader

    return apply


def run_limited(args, job_dir, limits=None, log_path=None, force_plain=False):
    """Run ``python -I *args`` in ``job_dir`` under ``limits``; return an Outcome.

    Parameters
    ----------
    args : list of str, the arguments after ``python -I`` (paths relative to the job dir)
    job_dir : path, the child's working directory and only writable place
    limits : Limits
    log_path : path outside job_dir for the child's stdout+stderr (default job_dir/../log)
    force_plain : bool, skip bubblewrap even if it works (for tests of the fallback)
    """
    limits = limits or Limits()
    job_dir = Path(job_dir).resolve()
    log_path = Path(log_path or job_dir.parent / f"{job_dir.name}.log")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "CS231N_NUMPY_FALLBACK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    use_bwrap = not force_plain and bwrap_works()
    pass_fds = ()
    seccomp_r = None
    if use_bwrap:
        prog = seccomp_no_processes()
        if prog is not None:
            seccomp_r, seccomp_w = os.pipe()
            os.write(seccomp_w, prog)
            os.close(seccomp_w)
            pass_fds = (seccomp_r,)
        cmd = _bwrap_command(job_dir, seccomp_r) + [sys.executable, "-I", *args]
        drop = False  # bubblewrap maps the child to uid 65534 itself
    else:
        cmd = [sys.executable, "-I", *args]
        drop = os.geteuid() == 0 and _nobody_can_run(sys.executable)
        if drop:
            os.chmod(job_dir, 0o777)
            for p in job_dir.rglob("*"):
                os.chmod(p, 0o777 if p.is_dir() else 0o666)
    start = time.perf_counter()
    timed_out = False
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=job_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_preexec(limits, drop),
            pass_fds=pass_fds,
        )
        if seccomp_r is not None:
            os.close(seccomp_r)
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    seconds = time.perf_counter() - start
    with open(log_path, "rb") as f:
        output = f.read(20_000).decode("utf-8", errors="replace")
    log_path.unlink(missing_ok=True)
    isolation = "bwrap" if use_bwrap else ("rlimits+nobody" if drop else "rlimits")
    return Outcome(proc.returncode, timed_out, seconds, output, isolation)
