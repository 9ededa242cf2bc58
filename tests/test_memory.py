"""Importing cs231n keeps freed memory for the next minibatch (see cs231n/_memory.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource
import numpy as np
import cs231n
from cs231n import _memory
from cs231n.classifiers.cnn import ThreeLayerConvNet
rng = np.random.default_rng(0)
np.random.seed(0)
model = ThreeLayerConvNet(dtype=np.float32)
X = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 10, 50)
def step():
    model.loss(X, y)
step()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
print(json.dumps({"tuned": _memory.tuned, "faults": faults}))
"""


def run(**env):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    full.pop("CS231N_MALLOC_TUNING", None) if "CS231N_MALLOC_TUNING" not in env else None
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=full)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux only"
)
def test_a_training_step_reuses_the_pages_of_the_last():
    tuned = run()
    if not tuned["tuned"]:
        pytest.skip("not glibc: malloc is left as it is")
    # A convnet training step's temporaries are tens of MB: after the first step, the
    # next ones find their pages already mapped.
    assert tuned["faults"] < 200, tuned
    untuned = run(CS231N_MALLOC_TUNING="0")
    assert not untuned["tuned"]
    # The cost the tuning removes: ~6,000 faults a step when the first layer makes a
    # column matrix, ~1,700 when it is computed directly (BLAS on one thread).
    assert untuned["faults"] > max(1000, 5 * tuned["faults"]), (tuned, untuned)
