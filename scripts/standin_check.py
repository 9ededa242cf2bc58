"""Run the assignment 1 and 2 notebooks on stand-ins for the real CIFAR-10.

The notebooks must hold on any sound 10-class image set in CIFAR-10's format, at any
size up to the real one, not only on the embedded set they are developed with. This
script writes stand-ins with ``cs231n data standin`` (full size, 50,000 / 10,000
images, by default one "hard" and one "easy" set), runs every assignment 1 and 2
notebook on each through the main job's runner (``CS231N_DATA_DIR`` pointing at the
stand-in, so the notebooks take it for the real data), and prints the runner's table:
status, time and headline accuracy per notebook.

    python scripts/standin_check.py [--difficulty hard easy] [--size full] [-j 2]

Heavy: each full-size pass is several CPU-minutes per notebook. Not part of the test
suite; its figures are reported in the issue notes.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulty", nargs="+", default=["hard", "easy"])
    parser.add_argument("--size", default="full", choices=["full", "embedded"])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--keep", help="write the stand-ins and executed notebooks here")
    args = parser.parse_args(argv)
    base = args.keep or tempfile.mkdtemp(prefix="cs231n-standin-")
    status = 0
    for difficulty in args.difficulty:
        root = os.path.join(base, f"{difficulty}-{args.size}")
        cli = [sys.executable, "-m", "cs231n"]
        if not os.path.isdir(os.path.join(root, "cifar-10-batches-py")):
            subprocess.run(
                [*cli, "data", "standin", root, "--size", args.size, "--difficulty", difficulty],
                check=True,
            )
        env = dict(os.environ, CS231N_DATA_DIR=root)
        print(f"\n== {difficulty} stand-in, {args.size} size ({root})", flush=True)
        start = time.time()
        run = subprocess.run(
            [*cli, "notebooks", "-a", "1", "-a", "2", "-j", str(args.jobs),
             "--out", os.path.join(root, "executed")],
            env=env,
        )  # fmt: skip
        print(f"{difficulty}: {time.time() - start:.0f} s wall", flush=True)
        status |= run.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
