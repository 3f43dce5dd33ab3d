"""The README's command synopsis names every command and every flag of the parser
(``search.cli.build_parser``), so the two cannot drift apart."""

from __future__ import annotations

import argparse
import re

import pytest

from search.cli import build_parser
from tests.conftest import REPO


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of every command that runs, the top level included."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or path == ():
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _leaves(child, (*path, name))


def _synopsis() -> dict[tuple[str, ...], str]:
    """The synopsis block of "## The command line", as command words -> the text that
    describes that command (``[FILTERS]`` spelled out)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The command line", 1)[1]
    block = section.split("```", 2)[1]
    filters = " ".join(re.findall(r"FILTERS:(.*(?:\n\s{8,}[^m\s].*)*)", block)[0].split())
    out: dict[tuple[str, ...], str] = {}
    current: tuple[str, ...] | None = None
    for line in block.splitlines():
        if line.strip().startswith("FILTERS:"):
            current = None  # the lines that define FILTERS, and their continuations
            continue
        if line.startswith("medsearch "):
            # "medsearch saved list [--json] | run NAME ...": a group's commands after " | "
            first, *segments = line[len("medsearch "):].split(" | ")
            group, *rest = first.split()
            if rest and re.fullmatch(r"[a-z][a-z-]*", rest[0]):  # "saved add NAME ..."
                current, rest = (group, rest[0]), rest[1:]
            else:
                current = (group,)
            out[current] = out.get(current, "") + " " + " ".join(rest)
            for segment in segments:
                name, *rest = segment.split()
                current = (group, name)
                out[current] = out.get(current, "") + " " + " ".join(rest)
        elif current is not None:  # a continuation of the last command's line
            out[current] += " " + line.strip()
    return {k: v.replace("[FILTERS]", filters) for k, v in out.items()}


SYNOPSIS = _synopsis()
COMMANDS = [(path, parser) for path, parser in _leaves(build_parser()) if path]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_and_flag_is_in_the_readme_synopsis(path):
    parser = dict(COMMANDS)[path]
    assert path in SYNOPSIS, f"`medsearch {' '.join(path)}` is missing from the README's synopsis"
    text = SYNOPSIS[path]
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text) for o in action.option_strings), (
            f"`medsearch {' '.join(path)}`: {'/'.join(action.option_strings)} is not in the README's synopsis")


def test_the_global_options_are_in_the_synopsis():
    top = build_parser()
    head = (REPO / "README.md").read_text(encoding="utf-8").split("## The command line", 1)[1].split("```")[1]
    first = head.strip().splitlines()[0]
    for action in top._actions:
        if action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            assert any(o in first for o in action.option_strings), action.option_strings


def test_the_modes_are_defined_once_and_the_engine_agrees():
    from search import engine, types

    assert engine.MODES == types.MODES == ("bm25", "dense", "hybrid", "rerank")
