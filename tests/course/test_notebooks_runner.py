"""The notebook runner behind ``cs231n notebooks`` and ``cs231n all``: notebooks run in
parallel, one kernel each, and the table keeps the order they were given in, whatever
order they finish in; a failing notebook is reported, never hidden."""

import io
import os

import nbformat
import pytest

from cs231n.instructor.notebooks import default_jobs, headline_of, run_all, run_notebook


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "assignment9"
    folder.mkdir()
    return [
        # The slow one comes first: it finishes last, but its row stays first.
        _notebook(
            folder / "slow.ipynb", "import time; time.sleep(3)", "print('Headline: slow 1.0')"
        ),
        _notebook(folder / "broken.ipynb", "assert 1 + 1 == 3, 'arithmetic is broken'"),
        _notebook(
            folder / "threads.ipynb",
            "import os; print('Headline: BLAS threads', os.environ.get('OPENBLAS_NUM_THREADS'))",
        ),
    ]


def test_parallel_run_keeps_the_order_and_reports_failures(notebooks, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what single_threaded_blas() sets
    out = io.StringIO()
    rows = run_all(notebooks, tmp_path / "out", timeout=60, jobs=2, stream=out)
    assert [r[0] for r in rows] == [
        "assignment9/slow.ipynb",
        "assignment9/broken.ipynb",
        "assignment9/threads.ipynb",
    ]
    assert [r[1] for r in rows] == ["ok", "FAILED", "ok"]
    assert rows[0][3] == "slow 1.0"
    assert "arithmetic is broken" in rows[1][3]
    assert rows[2][3] == "BLAS threads 1"  # kernels inherit one BLAS thread
    text = out.getvalue()
    assert "2 at a time" in text
    assert "3 notebooks, 1 failed" in text
    assert "Warning" not in text and "warn" not in text.lower()
    # Executed copies are written, sources untouched.
    executed = nbformat.read(tmp_path / "out" / "assignment9" / "slow.ipynb", as_version=4)
    assert headline_of(executed) == "slow 1.0"
    assert not nbformat.read(notebooks[0], as_version=4).cells[0].get("outputs")


def test_default_jobs_is_the_usable_cores():
    assert default_jobs() == len(os.sched_getaffinity(0))


def _running(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_each_kernel_is_shut_down_when_its_notebook_is_done(tmp_path):
    """A finished notebook's kernel must not stay alive, holding what the notebook
    loaded, until the runner's worker process ends (up to 7 idle kernels per worker in
    ``cs231n all``)."""
    folder = tmp_path / "assignment9"
    folder.mkdir()
    pid_file = tmp_path / "kernel.pid"
    for name, last in (("fine.ipynb", "x = 1"), ("broken.ipynb", "1 / 0")):
        nb = _notebook(
            folder / name, f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpid()))", last
        )
        status, _, _, _ = run_notebook(nb, tmp_path / "out", timeout=60)
        assert status == ("ok" if name == "fine.ipynb" else "FAILED")
        pid = int(pid_file.read_text())
        assert pid != os.getpid()
        assert not _running(pid), f"the kernel of {name} is still running"
