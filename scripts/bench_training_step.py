"""A training step of our networks next to the same networks in PyTorch, on the CPU.

What a student feels is the time of a training step. This script measures, float32,
batch 50, loss and all gradients (no parameter update, which both sides leave to an
optimiser):

- ``ThreeLayerConvNet`` (defaults: conv 32 7x7 - ReLU - max pool 2x2 - affine 100 -
  ReLU - affine 10 - softmax) against the same layers in ``torch.nn``;
- ``FullyConnectedNet([100, 100], normalization="batchnorm", dropout_keep_ratio=0.5)``
  against Linear - BatchNorm1d - ReLU - Dropout (x2) - Linear.

In the convnet both sides skip the gradient of the images (PyTorch because the input
batch does not require one; ours through ``conv_param["input_grad"] = False`` in
``ThreeLayerConvNet``). In the fully connected net ours still computes it, as the
course's ``FullyConnectedNet`` does (its first layer's backward pass is the same
``affine_backward`` as every other's): one product of the step's three large ones that
PyTorch skips, so that comparison leans against us.

Each side runs in a process of its own with the same number of threads (numpy's BLAS
and PyTorch's intra-op pool both use every core, or ``--threads``). The two processes
take turns (``_turns.py``): ``--rounds`` bursts each of ``--burst`` seconds of steps,
with ``--gap`` seconds of rest before each, so that the machine's slow stretches fall on
both sides alike. Printed: each side's median step over all its bursts, and the median
(and quartiles) of the rounds' ratios. Then the split of our step's time, from a
profile: convolution, pooling, ReLU, affine, batch norm, dropout, loss, and the rest
(Python between the layers).

    python scripts/bench_training_step.py [--rounds 30] [--burst 0.1] [--gap 0.12] [--threads N]

Our side runs numpy's matrix products on the compiled kernels' threads where numpy's
OpenBLAS allows it (``cs231n._blas_threads``); ``CS231N_SHARE_BLAS_THREADS=0`` in the
environment measures it with BLAS on threads of its own.

PyTorch is optional: without it only our side and the split are printed.
"""

import argparse
import os
import statistics
import sys

from _turns import Side, ratio_quartiles, take_turns

CHILD = r"""
import sys
side, net = sys.argv[1], sys.argv[2]
import numpy as np
rng = np.random.default_rng(0)
N = 50
if net == "cnn":
    X = rng.standard_normal((N, 3, 32, 32)).astype(np.float32)
else:
    X = rng.standard_normal((N, 3 * 32 * 32)).astype(np.float32)
y = rng.integers(0, 10, N)

if side == "cs231n":
    from cs231n.classifiers.cnn import ThreeLayerConvNet
    from cs231n.classifiers.fc_net import FullyConnectedNet
    np.random.seed(0)
    if net == "cnn":
        model = ThreeLayerConvNet(dtype=np.float32)
    else:
        model = FullyConnectedNet([100, 100], normalization="batchnorm",
                                  dropout_keep_ratio=0.5, dtype=np.float32, weight_scale=5e-2)
    step = lambda: model.loss(X, y)
else:
    import torch
    from torch import nn
    torch.manual_seed(0)
    if net == "cnn":
        model = nn.Sequential(nn.Conv2d(3, 32, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 16 * 16, 100), nn.ReLU(),
                              nn.Linear(100, 10))
    else:
        model = nn.Sequential(nn.Linear(3072, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(100, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(100, 10))
    model.train()
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        for p in model.parameters():
            p.grad = None
        loss_fn(model(tX), ty).backward()

serve({"step": step})
"""

CATEGORIES = [
    ("convolution", ("conv_forward", "conv_backward", "im2col", "col2im", "channels_first")),
    ("max pooling", ("max_pool",)),
    ("batch norm", ("batchnorm",)),
    ("dropout", ("dropout",)),
    ("ReLU", ("relu_forward", "relu_backward")),
    ("affine", ("affine_forward", "affine_backward")),
    ("loss", ("softmax_loss",)),
]


def _category(name):
    for category, needles in CATEGORIES:
        if any(n in name for n in needles):
            return category
    return None


def profile_split(net, steps=30):
    """Our step's time by kind of layer, and the rest (Python between the layers).

    Every layer function the models call is wrapped with a timer that counts its own
    time, not that of the layers it calls (a sandwich such as ``conv_relu_pool_forward``
    counts only its glue; the conv, ReLU and pool inside count for themselves).
    """
    import time

    import numpy as np

    from cs231n import fast_layers, layer_utils, layers
    from cs231n.classifiers import cnn, fc_net

    spent = dict.fromkeys([c for c, _ in CATEGORIES], 0.0)
    stack = []

    def wrap(func, category):
        def timed(*args, **kwargs):
            stack.append(0.0)
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = stack.pop()
                if stack:
                    stack[-1] += elapsed
                if category is not None:
                    spent[category] += elapsed - inner

        return timed

    originals = []
    for module in (layers, fast_layers, layer_utils, cnn, fc_net):
        for name in dir(module):
            value = getattr(module, name)
            if callable(value) and (
                "_forward" in name or "_backward" in name or name.endswith("_loss")
            ):
                originals.append((module, name, value))
    wrapped = {}
    for module, name, value in originals:
        if id(value) not in wrapped:
            wrapped[id(value)] = wrap(value, _category(name))
        setattr(module, name, wrapped[id(value)])
    try:
        rng = np.random.default_rng(0)
        np.random.seed(0)
        if net == "cnn":
            model = cnn.ThreeLayerConvNet(dtype=np.float32)
            X = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
        else:
            model = fc_net.FullyConnectedNet(
                [100, 100], normalization="batchnorm", dropout_keep_ratio=0.5, dtype=np.float32
            )
            X = rng.standard_normal((50, 3072)).astype(np.float32)
        y = rng.integers(0, 10, 50)
        model.loss(X, y)
        for key in spent:
            spent[key] = 0.0
        start = time.perf_counter()
        for _ in range(steps):
            model.loss(X, y)
        total = time.perf_counter() - start
    finally:
        for module, name, value in originals:
            setattr(module, name, value)
    split = {k: v / total for k, v in spent.items()}
    split["rest (Python, glue)"] = max(1 - sum(split.values()), 0.0)
    return split, 1000 * total / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="bursts per side")
    parser.add_argument("--burst", type=float, default=0.1, help="seconds of steps per burst")
    parser.add_argument("--gap", type=float, default=0.12, help="seconds of rest before each burst")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    try:
        import torch  # noqa: F401

        sides = ("cs231n", "torch")
    except ImportError:
        sides = ("cs231n",)
        print("PyTorch is not installed: our side only.")
    print(f"{args.threads} threads each; load average {os.getloadavg()[0]:.1f}")
    names = {"cnn": "ThreeLayerConvNet", "fcn": "FullyConnectedNet+BN+dropout"}
    for net in ("cnn", "fcn"):
        procs = [Side(side, CHILD, (side, net), env) for side in sides]
        times, medians = take_turns(procs, ["step"], args.rounds, args.burst, args.gap)
        ms = {side: statistics.median(t) for side, t in times["step"].items()}
        row = "  ".join(f"{side} {v:6.2f} ms = {50e3 / v:6,.0f} img/s" for side, v in ms.items())
        ratio = ""
        if "torch" in ms:
            q1, q2, q3 = ratio_quartiles(medians["step"], "cs231n", "torch")
            ratio = f"  ratio ours/torch {q2:.2f} (rounds' quartiles {q1:.2f}-{q3:.2f})"
        print(f"{names[net]:30s} {row}{ratio}")
    for net in ("cnn", "fcn"):
        split, ms = profile_split(net)
        parts = ", ".join(f"{k} {v:.0%}" for k, v in split.items() if v >= 0.005)
        print(f"split of our {names[net]} step (profiled, {ms:.1f} ms): {parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
