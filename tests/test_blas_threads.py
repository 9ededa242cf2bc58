"""Numpy's matrix products on the compiled kernels' threads (``cs231n._blas_threads``).

The suite runs with BLAS on one thread (see conftest), where nothing is shared; each
case here starts a fresh process with a two-thread BLAS, since OpenBLAS reads its
thread count when it loads. Where numpy's BLAS cannot share (not an OpenBLAS 0.3.27+
built with pthreads), the cases that need it are skipped, saying so; the CI machine's
numpy wheel can.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cs231n import fast_layers
from tests.conftest import numpy_blas_can_share

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    fast_layers.BACKEND != "cython" or not sys.platform.startswith("linux"),
    reason="the shared threads need the compiled kernels, on Linux",
)


needs_sharing = pytest.mark.skipif(
    not numpy_blas_can_share(), reason="numpy's BLAS is not an OpenBLAS 0.3.27+ (no threads callback)"
)

PRELUDE = """
import json, os, sys, threading
import numpy as np
from cs231n import fast_layers, _blas_threads
kernels = fast_layers._kernels
def report(**kw):
    print(json.dumps(kw))
"""


# Products big enough for OpenBLAS to split them over its threads, in both precisions
# and transposed layouts, checked against float128-free references: the float64
# product of exactly representable integers is exact.
PRODUCTS = """
rng = np.random.default_rng(0)
def products():
    errs = []
    for dtype in (np.float32, np.float64):
        a = rng.integers(-8, 8, (300, 400)).astype(dtype)
        b = rng.integers(-8, 8, (400, 500)).astype(dtype)
        ref = a.astype(np.int64) @ b.astype(np.int64)
        for got in (a @ b, (b.T @ a.T).T, np.dot(a, b)):
            errs.append(float(np.abs(got - ref).max()))
    return max(errs)
"""


def run(body, timeout=120, **env_changes):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    for var in ("CS231N_SHARE_BLAS_THREADS", "OMP_THREAD_LIMIT", "CS231N_NUMPY_FALLBACK"):
        env.pop(var, None)
    env.update(env_changes)
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + PRODUCTS + textwrap.dedent(body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])




@needs_sharing
def test_products_run_on_the_kernels_threads_and_stay_exact():
    res = run(
        """
        before = kernels.blas_jobs_counts()[0]
        err = products()
        calls = kernels.blas_jobs_counts()[0] - before
        report(paths=_blas_threads.installed_paths(), calls=calls, err=err,
               direct=fast_layers._goes_direct(kernels, 27))
        """
    )
    assert res["paths"] and all("openblas" in os.path.basename(p).lower() for p in res["paths"])
    assert res["calls"] >= 6, "numpy's products did not reach the callback"
    assert res["err"] == 0.0
    assert res["direct"], "with the products on our threads, a first layer should go direct"


@needs_sharing
def test_layers_match_the_numpy_backend_with_shared_threads():
    res = run(
        """
        from cs231n.classifiers.cnn import ThreeLayerConvNet
        rng = np.random.default_rng(1)
        X = rng.standard_normal((20, 3, 16, 16))
        y = rng.integers(0, 10, 20)
        model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, hidden_dim=50,
                                  weight_scale=1e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        with fast_layers.use_backend("numpy"):
            ref_loss, ref_grads = model.loss(X, y)
        err = max(float(np.abs(grads[k] - ref_grads[k]).max() / (np.abs(ref_grads[k]).max() + 1e-30))
                  for k in grads)
        report(shared=_blas_threads.active(), loss=abs(loss - ref_loss), err=err,
               calls=kernels.blas_jobs_counts()[0])
        """
    )
    assert res["shared"]
    assert res["loss"] < 1e-12 and res["err"] < 1e-10


@needs_sharing
def test_concurrent_products_from_python_threads_are_each_right():
    """Two Python threads multiplying at once: the callback takes one call at a time."""
    res = run(
        """
        errs = []
        def work():
            for _ in range(5):
                errs.append(products())
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads: t.start()
        for t in threads: t.join()
        report(err=max(errs), n=len(errs), shared=_blas_threads.active())
        """
    )
    assert res["shared"] and res["n"] == 15 and res["err"] == 0.0


@needs_sharing
def test_a_short_openmp_team_gets_threads_of_its_own():
    """With OMP_THREAD_LIMIT=1 OpenMP cannot give the jobs a team; they must still run
    at once (they wait on each other), on threads started for them."""
    res = run(
        """
        err = products()
        report(err=err, counts=kernels.blas_jobs_counts(), shared=_blas_threads.active())
        """,
        OMP_THREAD_LIMIT="1",
    )
    assert res["shared"] and res["err"] == 0.0
    calls, spawned = res["counts"]
    assert calls >= 6 and spawned == calls


@pytest.mark.parametrize("blas_threads", ["1", "2"])
def test_a_forked_child_multiplies_and_convolves(blas_threads):
    """OpenMP's threads do not survive a fork: in the child the kernels run on one
    thread and the products go back to OpenBLAS (which restarts its own), instead of
    waiting forever for threads that are gone (a child's first convolution hung so,
    before, after any parallel kernel in the parent)."""
    if blas_threads == "2" and not numpy_blas_can_share():
        pytest.skip("numpy's BLAS is not an OpenBLAS 0.3.27+ (no threads callback)")
    res = run(
        """
        x = rng.standard_normal((16, 3, 32, 32)); w = rng.standard_normal((4, 3, 3, 3))
        b = rng.standard_normal(4); p = {"stride": 1, "pad": 1}
        ref_out, _ = fast_layers.conv_forward_fast(x, w, b, p)
        products()  # the team has run in the parent
        r, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            import signal
            signal.alarm(50)  # a hung child must not outlive the test
            os.close(r)
            out, _ = fast_layers.conv_forward_fast(x, w, b, p)
            msg = json.dumps({"err": products(), "conv": float(np.abs(out - ref_out).max()),
                              "shared": _blas_threads.active()})
            os.write(wfd, msg.encode()); os._exit(0)
        os.close(wfd)
        child = json.loads(os.read(r, 1000).decode())
        _, status = os.waitpid(pid, 0)
        report(child=child, status=status, parent_err=products(), shared=_blas_threads.active())
        """,
        timeout=60,
        OPENBLAS_NUM_THREADS=blas_threads,
    )
    assert res["status"] == 0
    child = res["child"]
    assert child["err"] == 0.0 and not child["shared"]
    assert child["conv"] < 1e-12  # im2col in the child: another order of the sums
    assert res["parent_err"] == 0.0 and res["shared"] == (blas_threads == "2")


@pytest.mark.parametrize(
    "env",
    [{"CS231N_SHARE_BLAS_THREADS": "0"}, {"OPENBLAS_NUM_THREADS": "1"}],
    ids=["switched-off", "blas-on-one-thread"],
)
def test_nothing_is_shared_when_switched_off_or_single_threaded(env):
    res = run(
        """
        err = products()
        report(shared=_blas_threads.active(), calls=kernels.blas_jobs_counts()[0], err=err,
               direct=fast_layers._goes_direct(kernels, 27))
        """,
        **env,
    )
    assert not res["shared"] and res["calls"] == 0 and res["err"] == 0.0
    # BLAS on one thread still takes the direct route; a multi-threaded BLAS that keeps
    # its own threads does not.
    assert res["direct"] == (env.get("OPENBLAS_NUM_THREADS") == "1")


@needs_sharing
def test_unshare_gives_the_products_back():
    res = run(
        """
        _blas_threads.unshare()
        before = kernels.blas_jobs_counts()[0]
        err = products()
        report(shared=_blas_threads.active(), calls=kernels.blas_jobs_counts()[0] - before,
               err=err, direct=fast_layers._goes_direct(kernels, 27))
        """
    )
    assert res == {"shared": False, "calls": 0, "err": 0.0, "direct": False}
