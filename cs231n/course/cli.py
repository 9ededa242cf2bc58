"""The ``cs231n`` command line.

Each subcommand lives in its own module of ``cs231n.course`` exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""

import argparse
import importlib
import sys

# Subcommand modules, in the order they are listed by --help.
COMMANDS = ["data_cmd", "notebooks", "main_job"]
OPTIONAL_COMMANDS = ["release", "collect", "grade", "autograder"]  # course tooling


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cs231n",
        description="Course tooling for the cs231n assignments: data, notebooks, releases, grading.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"cs231n.course.{name}").register(sub)
    for name in OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(f"cs231n.course.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cs231n.course.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
