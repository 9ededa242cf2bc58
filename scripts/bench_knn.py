"""Benchmark the three kNN distance computations against one matrix product.

A benchmark, not a test: it measures, side by side in one run, on the shapes of the
kNN notebook (500 test x 5000 training examples x 3072 features, float64),

- ``compute_distances_two_loops`` (on a subset of the test rows, scaled up: it costs
  the same per row, and the full run would take tens of seconds),
- ``compute_distances_one_loop``,
- ``compute_distances_no_loops``,
- the matrix product ``X_test @ X_train.T`` alone, the floor for the no-loop version,

and prints each time (best of n runs, time.perf_counter) with two ratios:
no-loop / matmul (target <= 2: the vectorised version is one matmul plus cheap
elementwise work) and two-loop / one-loop (target >= 10).

With ``--predict``, it times instead what a student waits for, ``predict(X, k=5)`` with
the no-loop distances (10,000 training x 2,000 test examples by default), beside
scikit-learn's brute-force ``KNeighborsClassifier`` on the same data when scikit-learn
is installed (it is not a dependency), and prints the ratio (target <= 1.2) and how
often the two agree.

    python scripts/bench_knn.py [--num-test 500] [--num-train 5000] [--dim 3072]
    python scripts/bench_knn.py --predict [--num-test 2000] [--num-train 10000] [--k 5]
"""

import argparse
import time

import numpy as np

from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor


def best_of(fn, repeat):
    """The shortest of `repeat` wall-clock timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predict", action="store_true", help="time predict() vs scikit-learn")
    parser.add_argument("--num-test", type=int, default=None, help="500 (2000 with --predict)")
    parser.add_argument("--num-train", type=int, default=None, help="5000 (10000 with --predict)")
    parser.add_argument("--k", type=int, default=5, help="neighbours for --predict")
    parser.add_argument("--dim", type=int, default=3072)
    parser.add_argument(
        "--two-loop-rows", type=int, default=25, help="test rows timed for the two-loop version"
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)
    if args.num_test is None:
        args.num_test = 2000 if args.predict else 500
    if args.num_train is None:
        args.num_train = 10000 if args.predict else 5000
    if args.predict:
        return bench_predict(args)

    rng = np.random.default_rng(0)
    # Pixel-like values, as the notebook's flattened CIFAR-10 images.
    X_train = rng.uniform(0, 255, size=(args.num_train, args.dim))
    y_train = rng.integers(0, 10, size=args.num_train)
    X_test = rng.uniform(0, 255, size=(args.num_test, args.dim))
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)

    rows = min(args.two_loop_rows, args.num_test)
    scale = args.num_test / rows
    subset = X_test[:rows]
    times = {
        "matmul X_test @ X_train.T": best_of(lambda: X_test @ X_train.T, args.repeat),
        "no loops": best_of(lambda: knn.compute_distances_no_loops(X_test), args.repeat),
        "one loop": best_of(lambda: knn.compute_distances_one_loop(X_test), args.repeat),
        f"two loops ({rows} rows x {scale:g})": scale
        * best_of(lambda: knn.compute_distances_two_loops(subset), max(1, args.repeat - 1)),
    }

    # The versions must agree, or the timings compare different things.
    dists = knn.compute_distances_no_loops(subset)
    assert np.allclose(dists, knn.compute_distances_two_loops(subset), rtol=1e-10, atol=0)
    assert np.allclose(dists, knn.compute_distances_one_loop(subset), rtol=1e-10, atol=0)

    print(
        f"kNN distances: {args.num_test} test x {args.num_train} train x {args.dim} features, "
        f"float64, best of {args.repeat}"
    )
    width = max(len(name) for name in times)
    for name, seconds in times.items():
        print(f"  {name:<{width}}  {seconds:9.3f} s")
    t_mm, t_no, t_one, t_two = times.values()
    print(f"  no-loop / matmul    = {t_no / t_mm:6.2f}x  (target <= 2)")
    print(f"  two-loop / one-loop = {t_two / t_one:6.2f}x  (target >= 10)")


def bench_predict(args):
    """predict(k) with the no-loop distances, beside scikit-learn's brute force."""
    rng = np.random.default_rng(0)
    X_train = rng.uniform(0, 255, size=(args.num_train, args.dim))
    y_train = rng.integers(0, 10, size=args.num_train)
    X_test = rng.uniform(0, 255, size=(args.num_test, args.dim))
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)
    ours = best_of(lambda: knn.predict(X_test, k=args.k), args.repeat)
    dists = knn.compute_distances_no_loops(X_test)
    t_dists = best_of(lambda: knn.compute_distances_no_loops(X_test), args.repeat)
    t_labels = best_of(lambda: knn.predict_labels(dists, k=args.k), args.repeat)
    print(
        f"kNN predict(k={args.k}): {args.num_test} test x {args.num_train} train x "
        f"{args.dim} features, float64, best of {args.repeat}"
    )
    print(f"  cs231n predict          {ours:8.3f} s")
    print(f"    distances (no loops)  {t_dists:8.3f} s")
    print(f"    predict_labels        {t_labels:8.3f} s")
    try:
        from sklearn.neighbors import KNeighborsClassifier
    except ImportError:
        print("  scikit-learn is not installed: no comparison.")
        return
    clf = KNeighborsClassifier(n_neighbors=args.k, algorithm="brute").fit(X_train, y_train)
    theirs = best_of(lambda: clf.predict(X_test), args.repeat)
    agree = np.mean(clf.predict(X_test) == knn.predict(X_test, k=args.k))
    print(f"  scikit-learn brute      {theirs:8.3f} s")
    print(
        f"  cs231n / scikit-learn = {ours / theirs:6.2f}x  (target <= 1.2); same labels on {agree:.1%}"
    )


if __name__ == "__main__":
    main()
