"""Running untrusted code (a student's submission) in a separate, limited process.

``run_limited(args, job_dir, limits, ...)`` runs ``python -I <args>`` on the files of
``job_dir`` under these rules:

- **No host privilege.** When the grader is root, the child runs as a private,
  unprivileged host uid taken from a pool (``UID_BASE`` + slot, each slot locked with
  ``flock`` while a run holds it, so parallel runs never share a uid); otherwise as the
  grader's own uid. Inside bubblewrap it is uid 65534 with no capabilities, in new user
  (nested user namespaces refused), PID, network, IPC and UTS namespaces: no network.
- **Launched by programs, not Python hooks.** The grader starts a plain argv chain
  (``setpriv`` then ``prlimit`` from util-linux, then ``bwrap``), so nothing runs
  between ``fork`` and ``exec`` in the grader's threaded process (no ``preexec_fn``).
  As root, ``unshare --mount`` first makes a mount namespace of this run only, where
  ``mount`` makes the writable tmpfs (below) and exposes a Python installation that
  lies behind a directory the private uid cannot enter (``/root/.pyenv``).
- **Limits**: wall-clock time (the process group is killed), CPU time, address space,
  file size (which also caps printed output), open files, no core dumps, and a process
  limit (RLIMIT_NPROC, counted for the private uid, so it bites on threads too); a
  seccomp filter refuses fork/vfork and any clone that does not create a thread, and
  the memory that no limit counts (memfd files, System V shared memory and message
  queues), so memory is bounded in total by the address space and the two tmpfs.
- **Filesystem**: a read-only root holding only /usr, the Python installation, a
  read-only ``/proc/sys`` and ``/dev``, and two writable, size-limited tmpfs: ``/tmp`` and
  the job folder ``/job`` (``Limits.tmpfs_bytes`` each; for a root grader, mounted by the
  launcher with ``Limits.tmpfs_inodes`` inodes each too, since empty files and folders
  take kernel memory that no size counts), into which the job's files are
  bound read-only. Nothing the child writes reaches the host disk except through the
  files the grader opened for it (``outputs``: inherited file descriptors, each capped
  by the file size limit), so memory and disk are bounded in total.

Without bubblewrap (``force_plain``, e.g. a container that forbids namespaces) the
limits still hold and the child runs as the private uid where that uid can reach the
Python installation (``plain_runs_unprivileged()``), but the filesystem and network
are not hidden: README says so.
"""

import fcntl
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NOBODY = 65534
UID_BASE = 0x5EED0000  # the private uids: UID_BASE .. UID_BASE + UID_SLOTS - 1
UID_SLOTS = 256
BWRAP_MIN = (0, 8, 0)  # --disable-userns and --size


class SandboxError(RuntimeError):
    """The sandbox cannot be started here (missing tools, no free uid)."""


@dataclass
class Limits:
    """Resource limits for one sandboxed run."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 60
    memory_bytes: int = 3 * 1024**3  # address space
    file_bytes: int = 64 * 1024**2  # per file; also the cap on printed output
    tmpfs_bytes: int = 64 * 1024**2  # each of /tmp and /job
    tmpfs_inodes: int = 16384  # files and folders in each (a root grader's sandbox only)
    open_files: int = 64
    processes: int = 32  # processes and threads of the private uid (RLIMIT_NPROC)


@dataclass
class Outcome:
    """How a sandboxed run ended."""

    returncode: int | None
    timed_out: bool
    seconds: float
    output: str  # the first part of stdout + stderr
    isolation: str  # "bwrap", "rlimits+private uid" or "rlimits"

    @property
    def signal(self):
        """The signal that killed the child, or None."""
        rc = self.returncode
        if rc is not None and rc < 0:
            return -rc
        if self.isolation == "bwrap" and rc is not None and 128 < rc < 128 + 65:
            return rc - 128  # bwrap reports a killed child as 128 + signal
        return None

    @property
    def reason(self):
        if self.timed_out:
            return "it ran out of time"
        sig = self.signal
        if sig is not None:
            names = {
                signal.SIGXCPU: "it used too much CPU time",
                signal.SIGXFSZ: "it wrote or printed too much output",
                signal.SIGKILL: "it was killed (out of time or memory)",
                signal.SIGSEGV: "it crashed (segmentation fault)",
            }
            return names.get(sig, f"it was killed by signal {sig}")
        return f"it exited with status {self.returncode}"


# -- seccomp: refuse new processes, allow threads -----------------------------------------

_ARCH = {  # audit arch, clone, clone3, fork, vfork
    "x86_64": (0xC000003E, 56, 435, 57, 58),
    "aarch64": (0xC00000B7, 220, 435, None, None),
}
# Memory a process can hold that neither RLIMIT_AS (it is not mapped) nor the tmpfs sizes
# count: memfd files (each under the file size limit, one per open file: 4 GiB), System
# V shared memory (a detached segment persists: attach, fill, detach, again) and message
# queues. Measured: 600 MiB of memfds and 1.5 GiB of detached segments under a 1 GiB
# address-space limit.
_UNCOUNTED_MEMORY = {  # memfd_create, shmget, shmat, msgget
    "x86_64": (319, 29, 30, 68),
    "aarch64": (279, 194, 196, 186),
}
_X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: same audit arch, other numbers
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_no_processes():
    """A classic-BPF seccomp program (bytes) refusing fork, vfork and non-thread clone,
    and the memory no limit counts (``_UNCOUNTED_MEMORY``); on x86_64 the x32 ABI too."""
    machine = platform.machine()
    arch = _ARCH.get(machine)
    if arch is None:
        return None
    audit, clone, clone3, fork, vfork = arch
    LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    prog = [
        _bpf(LD_W_ABS, 0, 0, 4),  # A = arch
        _bpf(JEQ, 1, 0, audit),
        _bpf(RET, 0, 0, _RET_ALLOW),  # another ABI: leave it alone
        _bpf(LD_W_ABS, 0, 0, 0),  # A = syscall number
    ]
    if machine == "x86_64":  # x32 numbers would pass every check below
        prog += [_bpf(JGE, 0, 1, _X32_SYSCALL_BIT), _bpf(RET, 0, 0, _RET_ERRNO | _ENOSYS)]
    for nr in (fork, vfork, *_UNCOUNTED_MEMORY[machine]):
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


# -- what this machine offers ---------------------------------------------------------------


def _tool(name):
    exe = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not exe:
        raise SandboxError(f"`{name}` (util-linux) is needed to launch the sandbox; install it.")
    return exe


@cache
def bwrap_problem():
    """'' when bubblewrap (>= 0.8) is installed and works here; else why not, in words."""
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not installed"
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
        found = tuple(int(x) for x in re.findall(r"\d+", version.stdout)[:3])
        if found < BWRAP_MIN:
            want = ".".join(map(str, BWRAP_MIN))
            return f"bubblewrap {version.stdout.strip()} is too old (>= {want} is needed)"
        # The real launch, as the grader will do it, on a trivial program.
        outcome = run_limited(["-c", "pass"], None, Limits(wall_seconds=20), _check=True)
    except (OSError, subprocess.SubprocessError, SandboxError) as exc:
        return f"bubblewrap cannot run here ({exc})"
    if outcome.returncode != 0:
        return f"bubblewrap cannot create its namespaces here ({outcome.output.strip()[:300]})"
    return ""


def bwrap_works():
    """True when bubblewrap is installed and can create its namespaces here."""
    return not bwrap_problem()


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


def plain_runs_unprivileged():
    """Whether, without bubblewrap, the child runs as a private uid (the grader is root and
    that uid can reach the Python installation); otherwise it runs as the grader's uid."""
    roots = [os.path.realpath(sys.executable), *python_roots()]
    return os.geteuid() == 0 and all(_others_can_enter(r) for r in roots)


def _others_can_enter(path):
    """Whether a uid that owns nothing here could reach ``path`` (every parent searchable)."""
    path = Path(os.path.realpath(path))
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def share_read_only(folder):
    """Let the sandbox's private uid read ``folder`` (files 0644, folders 0755), not write it."""
    for top, _dirs, files in os.walk(folder):
        os.chmod(top, 0o755)
        for name in files:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


# -- the private uid ------------------------------------------------------------------------


def _lock_dir():
    """A folder only this user can write, for the uid locks (checked, never followed)."""
    path = Path(tempfile.gettempdir()) / f"cs231n-sandbox-uids-{os.geteuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.geteuid():
        raise SandboxError(f"{path} is not a private folder of this user; remove it.")
    if st.st_mode & 0o077:
        raise SandboxError(f"{path} is open to other users; remove it.")
    return path


@contextmanager
def private_uid():
    """Yield a host uid no other run is using (root), or None (not root: our own uid)."""
    if os.geteuid() != 0:
        yield None
        return
    folder = _lock_dir()
    for slot in range(UID_SLOTS):
        fd = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield UID_BASE + slot
        finally:
            os.close(fd)  # releases the lock
        return
    raise SandboxError(f"all {UID_SLOTS} sandbox uids are in use.")


def _count_processes(uid):
    """Processes and threads the host uid has now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    count += len(os.listdir(f"{entry.path}/task"))
            except OSError:
                pass
    return count


# -- the launch chain -----------------------------------------------------------------------

# Mount each (kind, source or options, mount point) triple, "bind" or "tmpfs", then run
# the rest of the arguments. Arguments are data ("$1"), never parsed as shell code.
_MOUNT_THEN_EXEC = (
    'while [ "$1" != -- ]; do if [ "$1" = tmpfs ]; then mount -t tmpfs -o "$2" tmpfs "$3" '
    '|| exit 125; else mount --bind "$2" "$3" || exit 125; fi; shift 3; done; shift; exec "$@"'
)


def _bwrap_args(staged, binds, limits, seccomp_fd):
    """bubblewrap's arguments: a read-only root of /usr, Python and the job's files."""
    cmd = [
        shutil.which("bwrap"),
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
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
    ]
    for link in ("lib", "lib64", "bin", "sbin", "lib32"):
        if os.path.islink(f"/{link}"):
            cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    size = str(limits.tmpfs_bytes)
    cmd += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    for inside in ("/tmp", "/job"):
        if inside in staged:  # mounted by the launcher, with a bounded number of inodes
            cmd += ["--bind", staged[inside], inside]
        else:
            cmd += ["--size", size, "--tmpfs", inside]
    # Python after the tmpfs: a virtual environment under /tmp (a CI checkout) must not
    # be hidden by the private /tmp mounted over it.
    for root in python_roots():
        cmd += ["--ro-bind", staged.get(root, root), root]
    for source, inside in binds:
        cmd += ["--ro-bind", str(source), f"/job/{inside}"]
    cmd += ["--remount-ro", "/dev", "--remount-ro", "/"]
    cmd += ["--chdir", "/job", "--setenv", "HOME", "/tmp"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


def _launch_command(uid, limits, stage_dir, use_bwrap, binds, seccomp_fd):
    """The argv that starts the sandbox, up to (not including) ``python -I ...``."""
    cmd = []
    staged = {}
    if uid is not None and use_bwrap:
        # As root, in a mount namespace of this run only: the writable /tmp and /job are
        # tmpfs bounded in size *and in inodes* (bubblewrap's --tmpfs bounds only the
        # size: 800,000 empty files took 660 MiB of the host's kernel memory in 13 s);
        # a Python installation the private uid cannot reach is exposed by a bind.
        mounts = []
        for inside, name in (("/tmp", "tmp"), ("/job", "jobfs")):
            point = Path(stage_dir) / name
            point.mkdir(exist_ok=True)
            staged[inside] = str(point)
            options = (
                f"size={limits.tmpfs_bytes},nr_inodes={limits.tmpfs_inodes},mode=0755,"
                f"uid={uid},gid={uid},nosuid,nodev"
            )
            mounts += ["tmpfs", options, str(point)]
        for i, root in enumerate(r for r in python_roots() if not _others_can_enter(r)):
            point = Path(stage_dir) / f"python{i}"
            point.mkdir(exist_ok=True)
            staged[root] = str(point)
            mounts += ["bind", root, str(point)]
        cmd += [_tool("unshare"), "--mount", "--propagation", "private", "--"]
        cmd += ["/bin/sh", "-c", _MOUNT_THEN_EXEC, "sh", *mounts, "--"]
    if uid is not None:
        cmd += [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    nproc = limits.processes
    if uid is None:  # our own uid: the limit counts what we run already
        nproc += _count_processes(os.getuid())
    cmd += [
        _tool("prlimit"),
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        f"--cpu={max(1, int(limits.cpu_seconds))}",
        f"--nofile={limits.open_files}",
        f"--nproc={nproc}",
        "--core=0",
        "--",
    ]
    if use_bwrap:
        cmd += _bwrap_args(staged, binds, limits, seccomp_fd)
    return cmd


ENV = {
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


def _open_new(path):
    """A new file only the grader can reach, opened for writing (never follows links)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o600)


def run_limited(
    args,
    job_dir,
    limits=None,
    *,
    binds=(),
    stdin_path=None,
    outputs=None,
    force_plain=False,
    _check=False,
):
    """Run ``python -I *args`` in the sandbox under ``limits``; return an Outcome.

    Parameters
    ----------
    args : list of str, the arguments after ``python -I``; ``{name}`` in them becomes the
        file descriptor number of ``outputs[name]``
    job_dir : path of a folder of the grader's for this run's files (the log, mount
        points), made 0711 (the private uid may pass, not list); None for a throwaway one
    limits : Limits
    binds : pairs (host path, name): files or folders shown read-only as ``/job/<name>``
        (with bubblewrap; without it the child runs in the folder of the first one)
    stdin_path : file given to the child as standard input (e.g. its task)
    outputs : {name: path}: new files the grader creates and the child may only write
        through the inherited descriptor (it never sees their path)
    force_plain : bool, skip bubblewrap (resource limits and private uid only)
    """
    limits = limits or Limits()
    outputs = outputs or {}
    use_bwrap = not force_plain and (_check or bwrap_works())
    own_dir = job_dir is None
    job_dir = Path(tempfile.mkdtemp(prefix="sandbox-")) if own_dir else Path(job_dir)
    job_dir.chmod(0o711)
    fds = {}
    stdin = None
    try:
        with private_uid() as uid:
            seccomp_fd = None
            if use_bwrap:
                prog = seccomp_no_processes()
                if prog is not None:
                    seccomp_fd, w = os.pipe()
                    os.write(w, prog)
                    os.close(w)
            for name, path in outputs.items():
                fds[name] = _open_new(path)  # 0600: only the descriptor is shared
            log_fd = _open_new(job_dir / "child.log")
            fds["_log"] = log_fd
            stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
            if not use_bwrap and not plain_runs_unprivileged():
                uid = None  # it could not even start Python (README: the unsafe mode)
            cwd = "/" if use_bwrap or not binds else str(Path(binds[0][0]).parent)
            cmd = _launch_command(uid, limits, job_dir, use_bwrap, binds, seccomp_fd)
            cmd += [sys.executable, "-I"]
            cmd += [a.format(**{k: v for k, v in fds.items() if k != "_log"}) for a in args]
            pass_fds = tuple(v for k, v in fds.items() if k != "_log")
            pass_fds += (seccomp_fd,) if seccomp_fd is not None else ()
            for fd in pass_fds:
                os.set_inheritable(fd, True)
            start = time.perf_counter()
            timed_out = False
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=ENV,
                stdin=stdin,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=pass_fds,
                start_new_session=True,
            )
            if seccomp_fd is not None:
                os.close(seccomp_fd)
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
            output = os.pread(log_fd, 20_000, 0).decode("utf-8", errors="replace")
    finally:
        if stdin not in (None, subprocess.DEVNULL):
            stdin.close()
        for fd in fds.values():
            os.close(fd)
        if own_dir:
            shutil.rmtree(job_dir, ignore_errors=True)
        else:
            (job_dir / "child.log").unlink(missing_ok=True)
    isolation = "bwrap" if use_bwrap else ("rlimits+private uid" if uid else "rlimits")
    return Outcome(proc.returncode, timed_out, seconds, output, isolation)
