"""``cs231n data``: download, generate, verify and locate the course's data sets.

    cs231n data where                    # where data lives and which set notebooks will use
    cs231n data download cifar10         # fetch the real CIFAR-10 (170 MB), verified
    cs231n data generate                 # (re)generate the embedded stand-in sets
    cs231n data verify                   # load every file and report what is broken

Data sets are entries of ``DATASETS``: a name, the files to fetch (URL, file name,
checksum, and whether to unpack them), the folder they provide, and a function that
checks that folder. Adding a data set (e.g. COCO captioning) is adding an entry.
Embedded stand-ins are entries of ``GENERATORS``.

For tests and mirrors, a file's URL can be overridden with ``--url`` / ``--mirror``
or an environment variable (``CS231N_CIFAR10_URL``), and its checksum with
``--checksum`` or ``CS231N_CIFAR10_CHECKSUM``.
"""

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cs231n import coco_utils, data_utils
from cs231n.data import coco_data, embedded_cifar
from cs231n.data import download as dl


@dataclass
class RemoteFile:
    """One file to fetch: where from, what it is called, how to check it."""

    url: str
    filename: str
    checksum: str  # "md5:<hex>" or "sha256:<hex>"
    unpack: bool = False  # an archive whose top folder is the data set's folder
    env: str = ""  # prefix of the env overrides: <env>_URL and <env>_CHECKSUM


@dataclass
class Dataset:
    """A data set the course downloads."""

    name: str
    description: str
    folder: str  # the folder it provides under data_root()
    files: list = field(default_factory=list)
    check: object = None  # callable(path) raising ValueError / FileNotFoundError if broken


def check_cifar10(path):
    """Load every batch of a CIFAR-10 folder; raise with the first problem found."""
    path = Path(path)
    if data_utils.is_embedded(path):
        raise ValueError(f"{path} holds the embedded stand-in, not the real CIFAR-10.")
    Xtr, ytr, Xte, yte = data_utils.load_CIFAR10(path, dtype="uint8")
    names = data_utils.cifar10_class_names(path)
    return f"{len(Xtr)} training and {len(Xte)} test images, classes {', '.join(names)}"


DATASETS = {
    "cifar10": Dataset(
        name="cifar10",
        description="CIFAR-10, python version (163 MB download, 60,000 32x32 images)",
        folder=data_utils.CIFAR10_FOLDER,
        files=[
            RemoteFile(
                url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                filename="cifar-10-python.tar.gz",
                checksum="md5:c58f30108f718f92721af3b95e74349a",
                unpack=True,
                env="CS231N_CIFAR10",
            )
        ],
        check=check_cifar10,
    ),
    "coco": Dataset(
        name="coco",
        description=coco_data.COCO_DESCRIPTION,
        folder=coco_data.COCO_FOLDER,
        files=[
            RemoteFile(
                url=coco_data.COCO_URL,
                filename=coco_data.COCO_ARCHIVE,
                checksum=None,  # none published: the unpacked folder is checked by loading it
                unpack=True,
                env="CS231N_COCO",
            )
        ],
        check=coco_data.check_coco,
    ),
}


def _check_embedded_cifar10(path):
    if not embedded_cifar.is_current(path):
        raise ValueError(f"{path} is missing, incomplete or from an older generator version.")
    Xtr, ytr, Xte, yte = data_utils.load_CIFAR10(path, dtype="uint8")
    version = embedded_cifar.GENERATOR_VERSION
    return f"{len(Xtr)} training and {len(Xte)} test images (generator v{version})"


# Embedded stand-ins: name -> (where it lives, generate(path, force), check(path)).
GENERATORS = {
    "cifar10": (
        data_utils.embedded_cifar10_path,
        lambda path, force: embedded_cifar.ensure_embedded_cifar10(path, force=force),
        _check_embedded_cifar10,
    ),
    "coco": (coco_utils.embedded_coco_path, coco_data.generate, coco_data.check_embedded_coco),
}


# ----------------------------------------------------------------------------------------
# Subcommands
# ----------------------------------------------------------------------------------------


def _resolve(remote, args, single):
    """The (url, checksum) to use for a file after command-line and env overrides."""
    url, checksum = remote.url, remote.checksum
    if remote.env:
        url = os.environ.get(f"{remote.env}_URL") or url
        checksum = os.environ.get(f"{remote.env}_CHECKSUM") or checksum
    if args.mirror:
        url = args.mirror.rstrip("/") + "/" + remote.filename
    if single and args.url:
        url = args.url
    if single and args.checksum:
        checksum = args.checksum
    return url, checksum


def _fetch(name, ds, root, args):
    """Download (and unpack) one data set; returns its folder. Raises on failure."""
    for remote in ds.files:
        url, checksum = _resolve(remote, args, single=len(ds.files) == 1)
        target = root / remote.filename
        existed = target.exists()
        if (
            existed
            and args.force
            and (checksum is None or not dl.checksum_matches(target, checksum))
        ):
            backup = dl.move_aside(target)  # unverifiable or wrong: fetch afresh, keep the old
            print(f"{name}: moved the existing {target.name} to {backup}.")
            existed = False
        if checksum is None:
            print(f"{name}: no checksum for {remote.filename}; its contents are checked instead.")
        if existed:
            print(f"{name}: using the {remote.filename} already in {root}")
        else:
            print(f"{name}: fetching {remote.filename} from {url}")
        dl.download(url, target, checksum=checksum, progress=not args.quiet)
        if remote.unpack:
            try:
                _, backup = dl.extract_archive(target, root, ds.folder, ds.check, args.force)
            except BaseException:
                if not existed:  # this run downloaded it and it is no good: don't keep it
                    target.unlink()
                raise
            if backup is not None:
                print(f"{name}: the previous {ds.folder} was moved to {backup}.")
            if not existed and not args.keep_archive:
                target.unlink()  # this run downloaded it; the unpacked folder is the data
    return root / ds.folder


def cmd_download(args):
    root = Path(args.root) if args.root else data_utils.data_root()
    names = list(DATASETS) if args.dataset == "all" else [args.dataset]
    if (args.url or args.checksum) and (len(names) > 1 or len(DATASETS[names[0]].files) != 1):
        print("--url and --checksum apply to one data set of one file.", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        ds = DATASETS[name]
        dest = root / ds.folder
        if dest.exists() and not args.force:
            print(f"{name}: already present at {dest} (--force downloads it again).")
            continue
        try:
            dest = _fetch(name, ds, root, args)
            summary = ds.check(dest) if ds.check else "ok"
            print(f"{name}: installed at {dest}: {summary}.")
        except (dl.DownloadError, OSError, ValueError) as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            status = 1
    return status


def cmd_generate(args):
    names = list(GENERATORS) if args.dataset == "all" else [args.dataset]
    for name in names:
        where, generate, check = GENERATORS[name]
        path = Path(args.out) / where().name if args.out else where()
        generate(path, args.force)
        print(f"{name} (embedded): {path}: {check(path)}.")
    return 0


def cmd_standin(args):
    import time

    out = Path(args.out) / data_utils.CIFAR10_FOLDER
    start = time.time()
    try:
        embedded_cifar.write_standin_cifar10(out, args.size, args.difficulty, args.seed)
    except (FileExistsError, ValueError) as exc:
        print(f"cs231n data standin: {exc}", file=sys.stderr)
        return 1
    print(
        f"Wrote a {args.size}-size CIFAR-10 stand-in ({args.difficulty}) to {out} in "
        f"{time.time() - start:.0f} s: {check_cifar10(out)}. Run the notebooks on it with "
        f"CS231N_DATA_DIR={Path(args.out).resolve()}."
    )
    return 0


def _report(label, path, check):
    """Print one line for a data folder; returns True when it is usable."""
    if not Path(path).exists():
        print(f"  {label:<22} absent      {path}")
        return None
    try:
        summary = check(path)
    except (OSError, ValueError) as exc:
        print(f"  {label:<22} BROKEN      {path}\n      {exc}")
        return False
    print(f"  {label:<22} ok          {path}\n      {summary}")
    return True


def cmd_verify(args):
    print(f"Data root: {data_utils.data_root()}")
    broken = False
    for name, ds in DATASETS.items():
        ok = _report(f"{name} (real)", data_utils.data_root() / ds.folder, ds.check)
        broken |= ok is False
    for name, (where, _, check) in GENERATORS.items():
        ok = _report(f"{name} (embedded)", where(), check)
        broken |= ok is False
    if broken:
        print(
            "Some data is broken: re-download with `cs231n data download NAME --force` or "
            "regenerate with `cs231n data generate --force`."
        )
    return 1 if broken else 0


def _real_present(name, path):
    """Cheaply: does the real data set look installed at path?"""
    if name == "cifar10":
        return data_utils.is_complete(path) and not data_utils.is_embedded(path)
    return path.is_dir() and any(path.iterdir())


def cmd_where(args):
    root = data_utils.data_root()
    if os.environ.get("CS231N_DATA_DIR"):
        how = "from CS231N_DATA_DIR"
    elif root.name == "datasets":
        how = "the repository's datasets/ folder"
    else:
        how = "the user cache"
    print(f"Data root: {root}  ({how}; set CS231N_DATA_DIR to change it)")
    for name in dict.fromkeys([*DATASETS, *GENERATORS]):
        print(f"  {name}")
        real = root / DATASETS[name].folder if name in DATASETS else None
        if real is not None:
            state = "present" if _real_present(name, real) else "absent"
            print(f"    real:      {real}  [{state}]")
        if name in GENERATORS:
            where, _, check = GENERATORS[name]
            try:
                check(where())
                state = "generated"
            except (OSError, ValueError):
                state = "generated on first use"
            print(f"    embedded:  {where()}  [{state}]")
        uses = "real" if real is not None and _real_present(name, real) else "embedded"
        print(f"    notebooks use the {uses} set")
    return 0


def register(sub):
    p = sub.add_parser(
        "data",
        help="download, generate, verify and locate data sets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub2 = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    d = sub2.add_parser("download", help="download a real data set, verified")
    d.add_argument("dataset", choices=[*DATASETS, "all"], help="which data set")
    d.add_argument(
        "--force",
        action="store_true",
        help="download again even if present (the old copy is moved aside, not deleted)",
    )
    d.add_argument("--root", help="data folder (default: cs231n data where)")
    d.add_argument("--url", help="fetch from this URL instead (one-file data sets)")
    d.add_argument("--mirror", help="fetch every file from MIRROR/<file name>")
    d.add_argument(
        "--checksum", help="expected checksum of --url's file, 'md5:<hex>' or 'sha256:<hex>'"
    )
    d.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_download)

    g = sub2.add_parser("generate", help="generate the embedded stand-in data sets")
    g.add_argument("dataset", nargs="?", default="all", choices=[*GENERATORS, "all"])
    g.add_argument("--force", action="store_true", help="regenerate even if up to date")
    g.add_argument("--out", help="parent folder to write to (default: the embedded folder)")
    g.set_defaults(func=cmd_generate)

    s = sub2.add_parser(
        "standin",
        help="write a stand-in for the real CIFAR-10 (full size, chosen difficulty)",
        description="Write generated images in CIFAR-10's exact format, without the "
        "embedded set's mark, into OUT/cifar-10-batches-py: with CS231N_DATA_DIR=OUT the "
        "notebooks take it for the real data set. For checking that the notebooks hold on "
        "any sound data at full size (scripts/standin_check.py runs them).",
    )
    s.add_argument("out", help="parent folder to write into (must not hold the set yet)")
    s.add_argument("--size", choices=["full", "embedded"], default="full")
    s.add_argument("--difficulty", choices=["easy", "standard", "hard"], default="hard")
    s.add_argument("--seed", type=int, default=embedded_cifar.SEED + 1)
    s.set_defaults(func=cmd_standin)

    v = sub2.add_parser("verify", help="load every data file and report problems")
    v.set_defaults(func=cmd_verify)

    w = sub2.add_parser("where", help="show where data lives and which set notebooks use")
    w.set_defaults(func=cmd_where)
