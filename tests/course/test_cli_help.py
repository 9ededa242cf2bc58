"""``cs231n <command> --help`` reads as plain text: no reST markup from the docstrings."""

import argparse
import re

from cs231n.cli import build_parser


def _all_parsers(parser, name="cs231n"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _all_parsers(child, f"{name} {child_name}")


def test_every_help_text_is_plain():
    parsers = list(_all_parsers(build_parser()))
    assert len(parsers) > 5
    for name, parser in parsers:
        text = parser.format_help()
        assert "``" not in text, f"{name} --help shows reST quotes"
        assert not re.search(r"(?m)^\s*([-=~^])\1{2,}\s*$", text), (
            f"{name} --help shows an underline"
        )


def test_paragraphs_and_lists_keep_their_lines():
    text = dict(_all_parsers(build_parser()))["cs231n release"].format_help()
    assert re.search(r"\n- \S", text)  # a list item of the docstring starts its own line
