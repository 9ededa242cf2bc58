"""``cs231n notebooks``: execute the solution notebooks and summarise them.

This is the project's main job: every notebook under ``assignments/`` runs top to
bottom on whichever data is present (the embedded sets when offline), and a table
shows each notebook's status, time and headline metric. A notebook states its
headline by printing a line that starts with ``Headline:``.

The source notebooks are never modified: executed copies go to ``--out``.
"""

import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

HEADLINE = "Headline:"


def find_repo_root(start=None):
    """The directory holding ``assignments/`` (the repository), searched upwards."""
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / "assignments").is_dir():
            return d
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / "assignments").is_dir():
        return pkg_root
    raise FileNotFoundError(
        "Could not find the assignments/ folder: run this from inside the cs231n repository."
    )


def discover(root, assignments=None):
    """Solution notebooks under root/assignments, optionally only some assignments."""
    paths = []
    for folder in sorted((root / "assignments").glob("assignment*")):
        if assignments and folder.name.removeprefix("assignment") not in assignments:
            continue
        paths += sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    return paths


def headline_of(nb):
    """The last ``Headline:`` line printed by a notebook, or ''."""
    found = ""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith(HEADLINE):
                        found = line[len(HEADLINE) :].strip()
    return found


def _kernel_manager(folder):
    """A kernel manager talking to its kernel over local sockets where it can.

    Over TCP every kernel warns that its traffic is not encrypted; Unix sockets (IPC)
    stay on this machine, in a folder only this user can read.
    """
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "posix":
        # The socket files' prefix must be absolute: the kernel runs in the notebook's
        # folder, the manager here.
        return AsyncKernelManager(
            kernel_name="python3", transport="ipc", ip=os.path.join(folder, "kernel")
        )
    return AsyncKernelManager(kernel_name="python3")


def run_notebook(path, out_dir, timeout=900):
    """Execute one notebook in its own folder; write the executed copy to out_dir.

    Returns (status, seconds, headline, error) with status "ok" or "FAILED".
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    status, error = "ok", ""
    with tempfile.TemporaryDirectory(prefix="cs231n-kernel-") as sockets:
        client = NotebookClient(
            nb,
            km=_kernel_manager(sockets),
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            # The kernel manager is ours, so nbclient would leave the kernel running (with
            # everything the notebook loaded) until this process ends: shut it down now.
            client.execute(cleanup_kc=True)
        except CellExecutionError as exc:
            status = "FAILED"
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        except Exception as exc:  # noqa: BLE001 - a kernel death or timeout is a failed run
            status = "FAILED"
            error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    out_path = out_dir / path.parent.name / path.name
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_path)
    return status, seconds, headline_of(nb), error


def default_jobs():
    """As many notebooks at once as this process may use cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _run_quietly(path, out_dir, timeout):
    """run_notebook in a worker process, without third-party warning noise."""
    # jupyter_client warns about its own transport and deprecations on every kernel
    # start; none of it is actionable for a student or an instructor.
    warnings.filterwarnings("ignore", module=r"jupyter_client(\..*)?")
    warnings.filterwarnings("ignore", module=r"zmq(\..*)?")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return run_notebook(path, out_dir, timeout=timeout)


def run_all(paths, out_dir, timeout=900, jobs=None, stream=sys.stdout):
    """Run the notebooks, ``jobs`` at a time, then print the summary table.

    Each notebook gets its own kernel; with one BLAS thread per kernel (see
    ``single_threaded_blas``), running as many notebooks as there are cores keeps every
    core busy. Progress lines come as notebooks finish; the table keeps the order of
    ``paths``. Returns the rows ``(name, status, seconds, headline or error)``.
    """
    paths = list(paths)
    jobs = max(1, min(jobs or default_jobs(), len(paths) or 1))
    start = time.perf_counter()
    results = {}

    def report(path, result):
        status, seconds, headline, error = result
        name = f"{path.parent.name}/{path.name}"
        results[path] = (name, status, seconds, headline or error)
        print(
            f"{status:>6} {name} in {seconds:.1f} s  {headline or error}", file=stream, flush=True
        )

    print(
        f"running {len(paths)} notebook(s), {jobs} at a time (one BLAS thread each) ...",
        file=stream,
        flush=True,
    )
    if jobs == 1:
        for path in paths:
            report(path, _run_quietly(path, out_dir, timeout))
    else:
        # "spawn": a fresh interpreter per worker, never a fork of a process with threads.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_run_quietly, p, out_dir, timeout): p for p in paths}
            for future in as_completed(futures):
                path = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a crashed worker is a failed run
                    result = ("FAILED", 0.0, "", f"{type(exc).__name__}: {exc}")
                report(path, result)
    rows = [results[p] for p in paths]
    print_summary(rows, stream, wall=time.perf_counter() - start)
    return rows


def print_summary(rows, stream=sys.stdout, wall=None):
    width = max([len(r[0]) for r in rows] + [8])
    print(file=stream)
    print(f"{'notebook':<{width}}  {'status':<6}  {'time':>7}  headline", file=stream)
    print(f"{'-' * width}  {'-' * 6}  {'-' * 7}  {'-' * 40}", file=stream)
    for name, status, seconds, headline in rows:
        print(f"{name:<{width}}  {status:<6}  {seconds:>6.1f}s  {headline}", file=stream)
    total = sum(r[2] for r in rows)
    failed = sum(r[1] != "ok" for r in rows)
    elapsed = f" ({wall:.0f} s of wall time)" if wall is not None else ""
    print(f"\n{len(rows)} notebooks, {failed} failed, {total:.0f} s in all{elapsed}.", file=stream)


def single_threaded_blas():
    """One BLAS/OpenMP thread per kernel unless the user chose otherwise.

    The notebooks do many small matrix products, which extra threads slow down on a
    machine with few cores; the kernels inherit this environment.
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _cmd(args):
    single_threaded_blas()
    root = find_repo_root()
    if args.paths:
        paths = [Path(p).resolve() for p in args.paths]
        for p in paths:
            if not p.is_file():
                print(f"cs231n notebooks: no such notebook: {p}", file=sys.stderr)
                return 2
    else:
        paths = discover(root, args.assignment)
    if not paths:
        print("cs231n notebooks: no notebooks found.", file=sys.stderr)
        return 2
    out_dir = Path(args.out).resolve() if args.out else root / "build" / "notebooks"
    rows = run_all(paths, out_dir, timeout=args.timeout, jobs=args.jobs)
    print(f"Executed copies are in {out_dir}")
    return 0 if all(r[1] == "ok" for r in rows) else 1


def register(sub):
    p = sub.add_parser(
        "notebooks",
        help="execute the solution notebooks and print a summary",
        description=__doc__,
    )
    p.add_argument("paths", nargs="*", help="notebooks to run (default: all)")
    p.add_argument(
        "-a",
        "--assignment",
        action="append",
        choices=["1", "2", "3"],
        help="only this assignment (repeatable)",
    )
    p.add_argument("--out", help="folder for the executed copies (default: build/notebooks)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    add_jobs_option(p)
    p.set_defaults(func=_cmd)


def add_jobs_option(parser):
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help=f"notebooks run at once, one kernel each (default: the cores, here {default_jobs()})",
    )
