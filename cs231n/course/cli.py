"""The ``cs231n`` command line.

Each subcommand lives in its own module of ``cs231n.course`` exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
"""

import argparse
import importlib
import re
import sys

# Subcommand modules, in the order they are listed by --help.
COMMANDS = ["data_cmd", "notebooks", "main_job"]
OPTIONAL_COMMANDS = ["release", "collect", "grade", "autograder"]  # course tooling


class PlainDocFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a module docstring as plain text: its paragraphs and lists as written,
    without reST markup (``code`` quotes, section underlines)."""

    def _fill_text(self, text, width, indent):
        lines = []
        for line in text.splitlines():
            if re.fullmatch(r"\s*([-=~^])\1{2,}\s*", line):
                continue  # a section title's underline
            lines.append(re.sub(r"``([^`]+)``", r"\1", line))
        return super()._fill_text("\n".join(lines).strip("\n"), width, indent)


def _plain_help(parser):
    """Give a parser and all its subcommands' parsers the plain-text formatter."""
    parser.formatter_class = PlainDocFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _plain_help(child)


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
    _plain_help(parser)
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
