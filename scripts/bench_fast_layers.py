"""Benchmark the fast convolution and max-pooling layers against their floors.

A benchmark, not a test: everything is measured side by side in one run, each
timing the best of ``--repeat`` runs, the compared timings interleaved (run A, run
B, run A, ...) so that a burst of load from other processes hits all of them alike.

Convolution (shapes below, float64 and float32). The floor of an im2col
convolution is its matrix products (GEMMs); everything else (im2col, col2im,
layout changes) is overhead. "The GEMMs it performs" are, exactly, the products
``conv_forward_fast`` / ``conv_backward_fast`` call, re-run alone on the very
operands cached by the forward pass (same shapes, dtypes and memory layouts):

  forward   w_aug @ cols              (F, K+1) x (K+1, N*Ho*Wo)   K = C*HH*WW; the
                                      last column of w_aug is b, the last row of cols ones
  backward  dout_rows @ cols.T        (F, N*Ho*Wo) x (N*Ho*Wo, K+1)  -> dw and db
            w_rows.T @ dout_rows      (K, F) x (F, N*Ho*Wo)          -> dcols

``dout`` is a fresh C-ordered array (the worst case: the backward pass reorders it).
Target: fast / GEMMs <= 1.3, forward and backward each.

A layer with few taps (K <= 160) makes no column matrix and performs no GEMM when
numpy's products run on the compiled kernels' threads (``cs231n._blas_threads``, the
default where numpy's OpenBLAS allows it) or on one thread (``OPENBLAS_NUM_THREADS=1``,
as in the single-threaded run below): the compiled kernels compute it directly. Its
reference stays the GEMMs above, the products the im2col route would perform: the
floor the direct kernels replace. With a multi-threaded BLAS that keeps threads of its
own (``CS231N_SHARE_BLAS_THREADS=0``) the layers take the im2col route (see
``_DIRECT_TAPS`` in ``cs231n/fast_layers.py``). The header line says which.

Max pooling, 2x2 stride 2: the floor is reading x once; the reference is one copy
of x (``x.copy()``). Target: fast / copy <= 4, forward and backward each.

Also printed: the speed-up over the naive layers, the ratio to PyTorch's CPU
conv2d / max_pool2d if torch happens to be installed (never required), and the
images per second of a ThreeLayerConvNet training step (forward + backward, batch
50, float32, default sizes) when ``cs231n.classifiers.cnn`` exists.

    python scripts/bench_fast_layers.py [--repeat 30] [--naive-repeat 2] [--no-naive]

On a machine busy with other work, wall-clock times of threaded code mostly
measure the scheduler; for the overhead of the layers alone, run single-threaded
on CPU time:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python scripts/bench_fast_layers.py --clock cpu
"""

import argparse
import importlib.util
import os
import time

import numpy as np

from cs231n import _blas_threads, fast_layers, layers
from cs231n.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

CONV_CASES = [
    # (x shape, w shape, stride, pad)
    ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ((50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ((64, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]
POOL_SHAPES = [(100, 3, 32, 32), (64, 64, 16, 16)]
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


CLOCK = time.perf_counter  # --clock cpu: time.thread_time


def interleaved_best(fns, repeat):
    """Best time (s) of each function on CLOCK, running them in turn `repeat` times."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = CLOCK()
            fn()
            best[i] = min(best[i], CLOCK() - start)
    return best


def load_torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def ms(seconds):
    return f"{seconds * 1e3:8.3f}"


def bench_conv(dtype, args, torch):
    return [bench_conv_case(dtype, *case, args, torch) for case in CONV_CASES]


def conv_gemms(x, w, b, conv_param, dout):
    """The matrix products conv_forward_fast and conv_backward_fast perform, alone.

    Returns two functions that run exactly those products, on operands of the same
    shapes, dtypes and memory layouts, chunk by chunk as the layer does: the forward
    ``w_aug @ cols`` into the output, and the backward ``d @ cols.T`` and
    ``w_rows.T @ d`` (d: the chunk of dout as a (F, B * P) matrix).
    """
    out, cache = conv_forward_fast(x, w, b, conv_param)
    x, w_shape, w_aug, stride, pad, _, chunks, per_chunk, kept_cols, kernels = cache
    F, C, HH, WW = w_shape
    K, N = C * HH * WW, x.shape[0]
    P = out.shape[2] * out.shape[3]
    cols = kernels.im2col(x[: chunks[0][1]], HH, WW, pad, stride, True)  # real values
    buf = np.empty((K + 1, per_chunk * P), dtype=w_aug.dtype)
    buf[:, : cols.shape[1]] = cols
    d_chunks = [
        np.ascontiguousarray(dout[n0:n1].transpose(1, 0, 2, 3)).reshape(F, -1) for n0, n1 in chunks
    ]
    w_rows_T = w_aug[:, :K].T
    dw_part = np.empty((F, K + 1), dtype=w_aug.dtype)
    dcols = np.empty((K, per_chunk * P), dtype=w_aug.dtype)

    def forward():
        res = np.empty((F, N * P), dtype=w_aug.dtype)
        for n0, n1 in chunks:
            np.matmul(w_aug, buf[:, : (n1 - n0) * P], out=res[:, n0 * P : n1 * P])

    def backward():
        for (n0, n1), d in zip(chunks, d_chunks):
            m = (n1 - n0) * P
            np.matmul(d, buf[:, :m].T, out=dw_part)
            np.matmul(w_rows_T, d, out=dcols[:, :m])

    return forward, backward, len(chunks)


def bench_conv_case(dtype, x_shape, w_shape, stride, pad, args, torch):
    """Time one convolution case; return a dict of times in seconds."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)  # C order
    gemm_forward, gemm_backward, num_chunks = conv_gemms(x, w, b, conv_param, dout)
    # The one product on the whole batch, for comparison: (F, K+1) x (K+1, N*P).
    whole_cols = fast_layers._kernels.im2col(x, w_shape[2], w_shape[3], pad, stride, True)
    w_aug = cache[2]
    fwd, gemm_f, bwd, gemm_b, gemm_whole = interleaved_best(
        [
            lambda: conv_forward_fast(x, w, b, conv_param),
            gemm_forward,
            lambda: conv_backward_fast(dout, cache),
            gemm_backward,
            lambda: w_aug @ whole_cols,
        ],
        args.repeat,
    )
    row = {
        "case": f"x{x_shape} w{w_shape} s{stride} p{pad}",
        "chunks": num_chunks,
        "fwd": fwd,
        "gemm_f": gemm_f,
        "bwd": bwd,
        "gemm_b": gemm_b,
        "gemm_whole": gemm_whole,
    }
    if not args.no_naive:
        naive_out, naive_cache = layers.conv_forward_naive(x, w, b, conv_param)
        row["naive_f"], row["naive_b"] = interleaved_best(
            [
                lambda: layers.conv_forward_naive(x, w, b, conv_param),
                lambda: layers.conv_backward_naive(dout, naive_cache),
            ],
            args.naive_repeat,
        )
        err = np.abs(naive_out - out).max() / np.abs(naive_out).max()
        assert err < (1e-4 if dtype == np.float32 else 1e-10), f"fast != naive ({err:.1e})"
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
        tx.requires_grad_(True)
        tw.requires_grad_(True)
        tb.requires_grad_(True)
        tdout = torch.from_numpy(dout)
        tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)

        def torch_backward():
            torch.autograd.grad(tout, (tx, tw, tb), tdout, retain_graph=True)

        with torch.no_grad():
            row["torch_f"] = interleaved_best(
                [lambda: torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)],
                args.repeat,
            )[0]
        row["torch_b"] = interleaved_best([torch_backward], args.repeat)[0]
    return row


def bench_pool(dtype, args, torch):
    return [bench_pool_case(dtype, x_shape, args, torch) for x_shape in POOL_SHAPES]


def bench_pool_case(dtype, x_shape, args, torch):
    """Time one pooling case; return a dict of times in seconds."""
    x = np.random.default_rng(0).standard_normal(x_shape).astype(dtype)
    out, cache = max_pool_forward_fast(x, POOL_PARAM)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    copy, fwd, bwd = interleaved_best(
        [
            lambda: x.copy(),
            lambda: max_pool_forward_fast(x, POOL_PARAM),
            lambda: max_pool_backward_fast(dout, cache),
        ],
        args.repeat * 4,
    )
    row = {"case": f"x{x_shape}", "copy": copy, "fwd": fwd, "bwd": bwd}
    if not args.no_naive:
        _, naive_cache = layers.max_pool_forward_naive(x, POOL_PARAM)
        row["naive_f"], row["naive_b"] = interleaved_best(
            [
                lambda: layers.max_pool_forward_naive(x, POOL_PARAM),
                lambda: layers.max_pool_backward_naive(dout, naive_cache),
            ],
            args.naive_repeat,
        )
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tout = torch.nn.functional.max_pool2d(tx, 2, 2)
        tdout = torch.from_numpy(dout)
        with torch.no_grad():
            row["torch_f"] = interleaved_best(
                [lambda: torch.nn.functional.max_pool2d(tx, 2, 2)], args.repeat * 4
            )[0]
        row["torch_b"] = interleaved_best(
            [lambda: torch.autograd.grad(tout, tx, tdout, retain_graph=True)],
            args.repeat * 4,
        )[0]
    return row


def print_conv(dtype, rows, torch):
    print(f"\nConvolution, {np.dtype(dtype).name}: best times in ms")
    print(
        f"  {'case':<40} {'fwd':>8} {'GEMMs':>8} {'ratio':>6}  {'bwd':>8} {'GEMMs':>8} "
        f"{'ratio':>6}  {'chunks':>6} {'fwd/1GEMM':>9}"
        + (f"  {'naive/fast f, b':>15}" if "naive_f" in rows[0] else "")
        + (f"  {'fast/torch f, b':>15}" if torch is not None else "")
    )
    for r in rows:
        line = (
            f"  {r['case']:<40} {r['fwd'] * 1e3:8.3f} {r['gemm_f'] * 1e3:8.3f} "
            f"{r['fwd'] / r['gemm_f']:5.2f}x  {r['bwd'] * 1e3:8.3f} {r['gemm_b'] * 1e3:8.3f} "
            f"{r['bwd'] / r['gemm_b']:5.2f}x  {r['chunks']:6d} {r['fwd'] / r['gemm_whole']:8.2f}x"
        )
        if "naive_f" in r:
            line += f"  {r['naive_f'] / r['fwd']:6.0f}x {r['naive_b'] / r['bwd']:6.0f}x"
        if torch is not None:
            line += f"  {r['fwd'] / r['torch_f']:6.2f}x {r['bwd'] / r['torch_b']:6.2f}x"
        print(line)
    print(
        "  target: fwd / GEMMs <= 1.3 and bwd / GEMMs <= 1.3 (the GEMMs the layer performs; "
        "fwd/1GEMM: against one product on the whole batch)"
    )


def print_pool(dtype, rows, torch):
    print(f"\nMax pooling 2x2 stride 2, {np.dtype(dtype).name}: best times in us")
    for r in rows:
        line = (
            f"  {r['case']:<20} copy {r['copy'] * 1e6:7.1f}  fwd {r['fwd'] * 1e6:7.1f} "
            f"({r['fwd'] / r['copy']:4.1f}x)  bwd {r['bwd'] * 1e6:7.1f} "
            f"({r['bwd'] / r['copy']:4.1f}x)"
        )
        if "naive_f" in r:
            speedups = f"{r['naive_f'] / r['fwd']:5.0f}x {r['naive_b'] / r['bwd']:5.0f}x"
            line += f"  | naive speed-up {speedups}"
        if torch is not None:
            line += (
                f"  | fast/torch {r['fwd'] / r['torch_f']:4.2f}x {r['bwd'] / r['torch_b']:4.2f}x"
            )
        print(line)
    print("  target: fwd / copy <= 4 and bwd / copy <= 4")


def bench_convnet(args):
    if importlib.util.find_spec("cs231n.classifiers.cnn") is None:
        print("\nThreeLayerConvNet: cs231n.classifiers.cnn not found, skipped")
        return
    from cs231n.classifiers.cnn import ThreeLayerConvNet

    rng = np.random.default_rng(0)
    model = ThreeLayerConvNet(dtype=np.float32)
    X = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=50)
    (step,) = interleaved_best([lambda: model.loss(X, y)], max(5, args.repeat // 3))
    print(
        f"\nThreeLayerConvNet (defaults, float32), training step (loss and gradients) on "
        f"a batch of 50: {step * 1e3:.1f} ms = {50 / step:,.0f} images/s"
    )


def describe_machine():
    blas = ""
    if importlib.util.find_spec("threadpoolctl"):
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('architecture', '')} x{i['num_threads']}"
            for i in threadpool_info()
        )
    names = (
        "OPENBLAS_CORETYPE",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OMP_WAIT_POLICY",
        "GOMP_SPINCOUNT",
        "CS231N_SHARE_BLAS_THREADS",
    )
    env = {k: os.environ[k] for k in names if k in os.environ}
    shared = (
        "numpy's products on the kernels' threads"
        if _blas_threads.active()
        else "numpy's BLAS on its own threads"
    )
    print(
        f"backend {fast_layers.BACKEND}; {shared}; numpy {np.__version__}; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
        + (f"; {blas}" if blas else "")
        + (f"; {env}" if env else "")
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="best of this many runs")
    parser.add_argument("--naive-repeat", type=int, default=2, help="runs of the naive layers")
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive layers")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: this thread's CPU time, which a busy machine inflates far less; only "
        "meaningful single-threaded (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1)",
    )
    args = parser.parse_args(argv)
    global CLOCK
    if args.clock == "cpu":
        CLOCK = time.thread_time
        single = all(os.environ.get(k) == "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
        if not single:
            parser.error("--clock cpu needs OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1")
    print(f"clock: {args.clock} ({CLOCK.__name__})")
    torch = load_torch()
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    describe_machine()
    for dtype in (np.float64, np.float32):
        print_conv(dtype, bench_conv(dtype, args, torch), torch)
    for dtype in (np.float64, np.float32):
        print_pool(dtype, bench_pool(dtype, args, torch), torch)
    bench_convnet(args)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
