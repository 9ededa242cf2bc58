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
processes take turns, ``--rounds`` times, and each reports the median of
``--repeat`` timings per round; the table shows the median over rounds and the ratio
to ``alone``. Target: <= 1.10.

    python scripts/bench_torch_import.py [--rounds 5] [--repeat 15]
"""

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import sys, time, json
order = sys.argv[1]
if order == "torch first":
    import torch
import numpy as np
from cs231n import _blas_threads, fast_layers
from cs231n.classifiers.cnn import ThreeLayerConvNet
if order == "torch after":
    import torch

def median_ms(f, repeat):
    for _ in range(3):
        f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))

repeat = int(sys.argv[2])
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
print(json.dumps({
    "step": median_ms(lambda: model.loss(X, y), repeat),
    "conv": median_ms(lambda: fast_layers.conv_backward_fast(
        dout, fast_layers.conv_forward_fast(x, w, b, p)[1]), repeat),
    "threads": fast_layers._kernels.get_thread_cap() if fast_layers.BACKEND == "cython" else None,
    "shared": _blas_threads.active(),
}))
"""

ORDERS = ("alone", "torch first", "torch after")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: nothing to compare (pip install torch).")
        return 0
    results = {order: {"step": [], "conv": []} for order in ORDERS}
    caps = {}
    for _ in range(args.rounds):
        for order in ORDERS:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, order, str(args.repeat)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[order]["step"].append(row["step"])
            results[order]["conv"].append(row["conv"])
            caps[order] = (row["threads"], row["shared"])
    base = {k: statistics.median(v) for k, v in results["alone"].items()}
    print(
        f"{'':12s} {'convnet step':>14s} {'ratio':>6s} {'conv f+b':>10s} {'ratio':>6s}"
        "  kernel threads cap  BLAS on our threads"
    )
    for order in ORDERS:
        step = statistics.median(results[order]["step"])
        conv = statistics.median(results[order]["conv"])
        print(
            f"{order:12s} {step:11.1f} ms {step / base['step']:6.2f} {conv:7.1f} ms "
            f"{conv / base['conv']:6.2f}  {caps[order][0] or 'none':>18}  "
            f"{'yes' if caps[order][1] else 'no'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
