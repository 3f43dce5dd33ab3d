"""The ``medsearch`` command line: a thin shell over the library.

Each command lives in a module of this package with a ``register(commands)`` function
that adds its sub-parser; :data:`COMMAND_MODULES` lists them in the order ``--help``
shows. Every command and option has help text (a test checks it). Errors of the
project's hierarchy print their message and hint, no traceback, exit status 2;
Ctrl-C exits with 130 after saying how to resume.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.errors import MedsearchError
from ingest.redact import redact
from search.cli.common import flush_stdout, safe
from search.config import SETTINGS, Settings

#: The modules of this package that add commands, in the order of ``medsearch --help``.
COMMAND_MODULES = (
    "ingest_cmds",
    "update_cmd",
    "corpus_cmds",
    "search_cmds",
    "similar_cmd",
    "saved_cmds",
    "lists_cmds",
    "export_cmd",
    "library_cmds",
    "summarize_cmd",
    "app_cmd",
    "serve_cmd",
)


def _settings_epilog() -> str:
    lines = ["environment variables:"]
    lines += [f"  {s.env:<20} {s.help}" for s in SETTINGS.values()]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medsearch",
        description="Medical literature search engine: ingest PubMed into DuckDB and search it.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", type=Path, help="DuckDB file of the store (default MEDSEARCH_HOME/medsearch.duckdb; env MEDSEARCH_DB)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"search.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return _interrupted()
    return guarded(lambda: args.handler(args, Settings.from_env(db=args.db)))


def _interrupted() -> int:
    print(
        "\ninterrupted: every finished batch is stored; run the same command again to continue.",
        file=sys.stderr,
    )
    return 130


def guarded(run) -> int:
    """Run a command; the project's errors print message and hint, Ctrl-C says how to resume.
    Stdout is flushed before the exit status is given: a full stdout is an error, exit 2."""
    try:
        code = run()
        flush_stdout()
        return code
    except MedsearchError as exc:  # messages are redacted where they are built; this is a second guard
        print(f"error: {safe(redact(exc.message))}", file=sys.stderr)
        if exc.hint:
            print(f"  -> {safe(redact(exc.hint))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `medsearch search ... | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # DuckDB turns a Ctrl-C inside a query into its own exception
        if type(exc).__name__ == "InterruptException" or "Query interrupted" in str(exc):
            return _interrupted()
        from ingest.diskfull import disk_full

        full = disk_full(exc)  # a writer that did not say it: the last guard
        if full is None:
            raise
        return guarded(lambda: _raise(full))


def _raise(exc: BaseException) -> int:
    raise exc


if __name__ == "__main__":
    sys.exit(main())
