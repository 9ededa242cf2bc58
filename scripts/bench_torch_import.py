"""What importing PyTorch in the same process costs the fast layers.

PyTorch ships its own OpenMP runtime. Imported before ``cs231n``, it is the runtime our
extension gets, already started with threads that spin-wait after every parallel
region and take the cores from numpy's BLAS (a convnet step measured 5x slower before
``cs231n.fast_layers`` learnt to notice and run its kernels on one thread). This
script measures, each in its own fresh process, in the same run:

- ``alone``: no torch;
- ``torch first``: ``import torch`` before ``cs231n``;
- ``torch after``: ``import torch`` after ``cs231n``;

on a ThreeLayerConvNet training step (default sizes, float32, batch 50) and on the
float32 conv forward + backward of x (64, 64, 16, 16), w (64, 64, 3, 3). The three
processes stay up and take turns (``_turns.py``): ``--rounds`` bursts of ``--burst``
seconds per process and case. The table shows each process's median time over all its
bursts, and the median (quartiles in brackets) of the rounds' ratios to ``alone``.
Target: <= 1.10.

    python scripts/bench_torch_import.py [--rounds 20] [--burst 0.1] [--gap 0.12]
"""

import argparse
import statistics
import sys

from _turns import Side, ratio_quartiles, take_turns

CHILD = r"""
import sys
order = sys.argv[1]
if order == "torch first":
    import torch
import numpy as np
from cs231n import _blas_threads, fast_layers
from cs231n.classifiers.cnn import ThreeLayerConvNet
if order == "torch after":
    import torch

rng = np.random.default_rng(0)
np.random.seed(0)
model = ThreeLayerConvNet(dtype=np.float32)
X = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 10, 50)
x = rng.standard_normal((64, 64, 16, 16)).astype(np.float32)
w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
b = np.zeros(64, np.float32)
p = {"stride": 1, "pad": 1}
out, cache = fast_layers.conv_forward_fast(x, w, b, p)
dout = rng.standard_normal(out.shape).astype(np.float32)
conv = lambda: fast_layers.conv_backward_fast(dout, fast_layers.conv_forward_fast(x, w, b, p)[1])
serve(
    {"step": lambda: model.loss(X, y), "conv": conv},
    {
        "threads": fast_layers._kernels.get_thread_cap() if fast_layers.BACKEND == "cython" else None,
        "shared": _blas_threads.active(),
    },
)
"""

ORDERS = ("alone", "torch first", "torch after")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="bursts per process and case")
    parser.add_argument("--burst", type=float, default=0.1, help="seconds of steps per burst")
    parser.add_argument("--gap", type=float, default=0.12, help="seconds of rest before each")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: nothing to compare (pip install torch).")
        return 0
    sides = [Side(order, CHILD, (order,)) for order in ORDERS]
    caps = {side.name: (side.info["threads"], side.info["shared"]) for side in sides}
    times, medians = take_turns(sides, ["step", "conv"], args.rounds, args.burst, args.gap)
    print(
        f"{'':12s} {'convnet step':>11s} {'ratio (quartiles)':>17s} {'conv f+b':>11s} "
        f"{'ratio (quartiles)':>17s}  kernel threads cap  BLAS on our threads"
    )
    for order in ORDERS:
        cells = []
        for case in ("step", "conv"):
            q1, q2, q3 = ratio_quartiles(medians[case], order, "alone")
            ms = statistics.median(times[case][order])
            cells.append(f"{ms:8.2f} ms {q2:5.2f} ({q1:.2f}-{q3:.2f})")
        print(
            f"{order:12s} {cells[0]} {cells[1]}  {caps[order][0] or 'none':>18}  "
            f"{'yes' if caps[order][1] else 'no'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
