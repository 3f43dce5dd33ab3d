"""``medsearch export``: a list's papers (or PMIDs) in a citation format, to stdout or a file."""

from __future__ import annotations

import argparse
import sys

from search.cli.common import (
    library_of,
    safe,
    warn,
    write_stdout,
)
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    _register_export(commands)


def _register_export(commands: argparse._SubParsersAction) -> None:
    from search.citations.export import FORMATS  # light: each format's writer loads when used

    export = commands.add_parser(
        "export", help="export a list (or PMIDs) as RIS, BibTeX, MEDLINE, CSL-JSON, CSV or references",
        description="Export the papers of a list, in its order, or of --pmids, to stdout or a file (written "
        "whole or not at all). Papers whose record is not in the index are named on stderr and left out.",
    )
    export.add_argument("name", nargs="?", help="the list to export (or give --pmids)")
    export.add_argument("--pmids", nargs="+", metavar="PMID", help="export these PMIDs instead of a list")
    export.add_argument("--format", "-f", required=True, dest="fmt", metavar="FORMAT",
                        help=f"one of {', '.join(FORMATS)}")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE: a regular file is replaced whole (its mode kept), a device or "
                        "FIFO is written through, - is stdout (the default); anything else is refused")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.errors import ConfigError
    from search.citations.export import get_format
    from search.library import open_searcher
    from search.library.files import STDOUT, check_output
    from search.library.names import parse_pmids
    from search.library.views import export_papers

    if (args.name is None) == (args.pmids is None):
        raise ConfigError("Give either a list name or --pmids.", hint='e.g. medsearch export "my list" --format ris')
    fmt = get_format(args.fmt).name  # every check before the engine loads
    if args.output == STDOUT:
        args.output = None
    if args.output is not None:
        check_output(args.output)
    notes: dict[str, str] = {}
    if args.pmids is not None:
        pmids = parse_pmids(args.pmids)
    else:
        entries = library_of(settings).lists.entries(args.name)[1]
        pmids = [e.pmid for e in entries]
        notes = {e.pmid: e.note for e in entries if e.note}
    with open_searcher(settings) as engine:
        result = export_papers(pmids, engine, fmt, args.output, notes)
    if result.missing:
        shown = ", ".join(result.missing[:20]) + (" ..." if len(result.missing) > 20 else "")
        warn(f"{len(result.missing)} papers are not in the index and were not exported: {shown}")
    if args.output is None:
        # Record text is untrusted: a terminal gets it without control characters; a pipe as is.
        write_stdout(safe(result.text) if sys.stdout.isatty() else result.text)
    else:
        print(f"Wrote {result.exported} papers as {fmt} to {safe(args.output)}.", file=sys.stderr)
    return 0
