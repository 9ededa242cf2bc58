"""The compiled kernels with PyTorch in the same process (PyTorch is optional: these
tests run where it is installed).

Imported first, PyTorch's OpenMP runtime is the one our extension gets, started with
spin-waiting threads; ``fast_layers`` must notice, run its kernels on one thread, and
still give the numpy backend's results. Each case runs in a fresh process, since the
import order is the point.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import numpy_blas_can_share

pytest.importorskip("torch", reason="PyTorch is optional; these checks run where it is installed")

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, json
if sys.argv[1] == "first":
    import torch
import numpy as np
from cs231n import fast_layers
if sys.argv[1] == "after":
    import torch
torch.ones(64, 64) @ torch.ones(64, 64)  # PyTorch's own threads have run
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 6, 21, 21))
xp = rng.standard_normal((8, 6, 20, 20))
w = rng.standard_normal((5, 6, 3, 3))
b = rng.standard_normal(5)
p = {"stride": 2, "pad": 1}
out, cache = fast_layers.conv_forward_fast(x, w, b, p)
dout = rng.standard_normal(out.shape)
grads = fast_layers.conv_backward_fast(dout, cache)
pooled, pcache = fast_layers.max_pool_forward_fast(xp, {"pool_height": 2, "pool_width": 2, "stride": 2})
dpool = fast_layers.max_pool_backward_fast(np.ones_like(pooled), pcache)
with fast_layers.use_backend("numpy"):
    ref_out, ref_cache = fast_layers.conv_forward_fast(x, w, b, p)
    ref_grads = fast_layers.conv_backward_fast(dout, ref_cache)
    ref_pooled, ref_pcache = fast_layers.max_pool_forward_fast(
        xp, {"pool_height": 2, "pool_width": 2, "stride": 2})
    ref_dpool = fast_layers.max_pool_backward_fast(np.ones_like(ref_pooled), ref_pcache)
err = max(float(np.abs(a - r).max()) for a, r in
          zip((out, *grads, pooled, dpool), (ref_out, *ref_grads, ref_pooled, ref_dpool)))
from cs231n import _blas_threads
print(json.dumps({"backend": fast_layers.BACKEND, "cap": fast_layers._kernels.get_thread_cap(),
                  "err": err, "shared": _blas_threads.active()}))
"""


def run(order, blas_threads):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = blas_threads
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "CS231N_NUMPY_FALLBACK"):
        env.pop(var, None)
    env["CS231N_KERNEL_THREADS"] = "0"  # ask for every core: only a spinning runtime caps
    out = subprocess.run(
        [sys.executable, "-c", CHILD, order], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("blas_threads", ["1", "2"])
@pytest.mark.parametrize("order", ["first", "after"])
def test_kernels_are_right_with_torch_loaded(order, blas_threads):
    from cs231n import fast_layers

    if fast_layers.BACKEND != "cython":
        pytest.skip("the compiled extension is not built here")
    result = run(order, blas_threads)
    assert result["backend"] == "cython"
    assert result["err"] < 1e-10, result
    # Torch first: its spinning runtime is ours too, so one thread per kernel, unless
    # numpy's products run on that same team. Torch after: our runtime was loaded first
    # with our wait policy; no cap.
    assert result["cap"] == (1 if order == "first" and not result["shared"] else 0), result
    # A multi-threaded numpy BLAS runs its products on that same runtime's team, in
    # either order (where numpy's OpenBLAS has the threads callback, as on CI).
    if blas_threads == "1" or not numpy_blas_can_share():
        assert not result["shared"], result
    else:
        assert result["shared"], result
