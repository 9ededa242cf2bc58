"""Train the small CNN that assignment 3's network-visualization notebook ships with.

Trains ``cs231n.classifiers.pretrained_cnn.PretrainedCNN`` with the course's own
``Solver`` (Adam) and fast layers, then writes its weights, float32 in a compressed
.npz, to ``cs231n/weights/pretrained_cnn_<dataset>.npz`` (atomically), together with
metadata: architecture, class names, normalization statistics, the data set's
fingerprint, the generator commit (for the embedded set), accuracies and the
command's arguments.

Usage::

    python scripts/train_pretrained_cnn.py                    # the embedded image set
    python scripts/train_pretrained_cnn.py --dataset cifar10  # real CIFAR-10 (downloaded)

The split is the training batches minus their last ``--num-val`` images (training),
those images (validation, used to pick the best epoch) and the test batch (test,
reported only). Training is deterministic for a given seed and machine. It takes
about 10 minutes on one CPU core for the embedded set (12 epochs of 9,000 images).

On a machine whose cores are busy with other work, threaded kernels can wait on each
other and run many times slower; run single-threaded there::

    OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 python scripts/train_pretrained_cnn.py
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cs231n import data_utils
from cs231n.classifiers.pretrained_cnn import PretrainedCNN, weights_path
from cs231n.data import embedded_cifar
from cs231n.solver import Solver

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=["embedded", "cifar10"], default="embedded")
    p.add_argument("--data-dir", help="CIFAR-10-format folder (default: the dataset's usual place)")
    p.add_argument("--out", help="where to write the weights (default: the shipped location)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--lr-decay", type=float, default=0.85)
    p.add_argument("--reg", type=float, default=1e-4)
    p.add_argument("--num-val", type=int, default=1000)
    p.add_argument("--num-train", type=int, default=None, help="use only this many (default all)")
    p.add_argument("--seed", type=int, default=231)
    p.add_argument("--no-save", action="store_true", help="train and report, write nothing")
    return p.parse_args(argv)


def data_folder(args):
    """The CIFAR-10-format folder to train on, generated if it is the embedded set."""
    if args.data_dir:
        return Path(args.data_dir)
    if args.dataset == "embedded":
        return embedded_cifar.ensure_embedded_cifar10(data_utils.embedded_cifar10_path())
    path = data_utils.real_cifar10_path()
    if not data_utils.is_complete(path) or data_utils.is_embedded(path):
        sys.exit(f"No real CIFAR-10 at {path}: run `cs231n data download cifar10` first.")
    return path


def generator_commit():
    """The last git commit of the embedded-set generator, or 'unknown' outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", "cs231n/data/embedded_cifar.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "cs231n/data/embedded_cifar.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return (out or "uncommitted") + ("+modified" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    args = parse_args(argv)
    folder = data_folder(args)
    is_embedded = data_utils.is_embedded(folder)
    if (args.dataset == "embedded") != is_embedded:
        sys.exit(f"{folder} does not hold the {args.dataset} data set.")
    print(f"Training on the {args.dataset} data set at {folder}")

    images, labels, test_images, test_labels = data_utils.load_CIFAR10(folder, dtype=np.float32)
    class_names = data_utils.cifar10_class_names(folder)
    N = len(images) - args.num_val
    n_train = N if args.num_train is None else min(args.num_train, N)
    mean = images[:N].mean(axis=(0, 1, 2), dtype=np.float64)  # (3,), per channel
    std = images[:N].std(axis=(0, 1, 2), dtype=np.float64)
    model = PretrainedCNN(
        reg=args.reg, dtype=np.float32, seed=args.seed, class_names=class_names, mean=mean, std=std
    )
    data = {
        "X_train": model.preprocess(images[:n_train]),
        "y_train": labels[:n_train],
        "X_val": model.preprocess(images[N:]),
        "y_val": labels[N:],
    }
    X_test, y_test = model.preprocess(test_images), test_labels

    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": args.learning_rate},
        lr_decay=args.lr_decay,
        batch_size=args.batch_size,
        num_epochs=args.epochs,
        num_train_samples=1000,
        print_every=50,
        seed=args.seed,
    )
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start

    val_acc = float(np.mean(model.predict(data["X_val"]) == data["y_val"]))
    test_acc = float(np.mean(model.predict(X_test) == y_test))
    print(f"Trained in {seconds:.0f} s: val accuracy {val_acc:.4f}, test accuracy {test_acc:.4f}")

    if args.no_save:
        return
    out = Path(args.out) if args.out else weights_path(args.dataset)
    meta = {
        "dataset": args.dataset,
        "data_fingerprint": embedded_cifar.fingerprint(folder),
        "val_accuracy": round(val_acc, 4),
        "test_accuracy": round(test_acc, 4),
        "num_train": int(n_train),
        "num_val": int(args.num_val),
        "train_seconds": round(seconds),
        "train_args": {k: v for k, v in vars(args).items() if k not in ("out", "data_dir")},
    }
    if is_embedded:
        meta["generator_version"] = embedded_cifar.GENERATOR_VERSION
        meta["generator_commit"] = generator_commit()
    model.save(out, **meta)
    print(f"Wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
