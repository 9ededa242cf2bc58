"""The ``cs231n`` command line.

A student has two commands: ``data`` (get, check or build the data sets) and
``collect`` (pack a submission). The course staff's commands (``notebooks``, ``all``,
``release``, ``grade``, ``autograder``) live in ``cs231n.instructor``, which only the
course's own repository holds; its ``pyproject.toml`` adds them to the command line as
entry points of the group ``cs231n.commands``, so nothing here imports them. A student's
release has no such entry points: naming one of those commands there says so in one line.

Each subcommand lives in a module exposing ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int``.
"""

import argparse
import importlib
import importlib.util
import re
import sys
from importlib.metadata import entry_points

STUDENT_COMMANDS = {"data": "cs231n.data.command", "collect": "cs231n.submission.collect"}
# The course staff's commands, by name only (and in the order --help lists them).
STAFF_COMMANDS = ("notebooks", "all", "release", "grade", "autograder")
COMMAND_GROUP = "cs231n.commands"


def _importable(module):
    """Whether ``module`` can be imported here (an entry point may outlive its package)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def commands():
    """{name: module name} of the commands offered here, in --help's order."""
    found = dict(STUDENT_COMMANDS)
    extra = {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP) if _importable(ep.value)}
    order = {name: i for i, name in enumerate(STAFF_COMMANDS)}
    for name in sorted(extra, key=lambda n: (order.get(n, len(order)), n)):
        if name not in found:
            found[name] = extra[name]
    return found


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
    offered = commands()
    staff = any(name in offered for name in STAFF_COMMANDS)
    parser = argparse.ArgumentParser(
        prog="cs231n",
        description=(
            "Course tooling for the cs231n assignments: data, notebooks, releases, grading."
            if staff
            else "The cs231n assignments' tools: the data sets, and packing your submission."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in offered.values():
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:  # an entry point whose module is gone
            if not module.startswith(str(exc.name)):
                raise
    _plain_help(parser)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    offered = commands()
    if argv and not argv[0].startswith("-") and argv[0] not in offered:
        if argv[0] in STAFF_COMMANDS:
            print(
                f"cs231n: '{argv[0]}' is a course-staff command, not part of a student's "
                f"release; the commands here are {', '.join(offered)} (cs231n --help).",
                file=sys.stderr,
            )
        else:
            print(
                f"cs231n: there is no command '{argv[0]}'; the commands are "
                f"{', '.join(offered)} (cs231n --help).",
                file=sys.stderr,
            )
        return 2
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
