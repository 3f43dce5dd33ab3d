"""``medsearch library``: the user's library file: what it holds, its backup and restore."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from search.cli.common import (
    library_of,
    print_json,
    safe,
    safe_line,
)
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    _register_library(commands)


def _register_library(commands: argparse._SubParsersAction) -> None:
    library = commands.add_parser(
        "library", help="where your library lives; back it up and restore it",
        description="Your saved queries and lists live in the library file (MEDSEARCH_LIBRARY_DB, default "
        "library.duckdb beside the database), apart from the corpus. Back it up to one portable JSON-lines "
        "file and restore it, here or on another machine.",
    )
    sub = library.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="the library file and what it holds",
                          description="The library file's path and how many saved queries, runs and lists it holds.")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_library_info)

    backup = sub.add_parser("backup", help="write the whole library to a JSON-lines file",
                            description="Write every saved query (with its runs) and list (with notes) to PATH, "
                            "one JSON object per line; the file is written whole or not at all.")
    backup.add_argument("path", metavar="PATH",
                        help="the backup file to write (a regular file is replaced whole, its mode kept; a device "
                        "or FIFO is written through; - is stdout); anything else is refused")
    backup.set_defaults(handler=cmd_library_backup)

    restore = sub.add_parser("restore", help="restore a backup into this library",
                             description="Restore a backup into this library, empty or not, in one transaction "
                             "(a damaged file changes nothing). A name the library already has (ignoring case) "
                             "follows --on-clash.")
    restore.add_argument("path", type=Path, metavar="PATH", help="a file written by `library backup`")
    restore.add_argument("--on-clash", choices=["rename", "skip", "replace"], default="rename",
                         help='rename (default): restore as "NAME (restored)"; skip: keep yours; '
                         "replace: yours is replaced by the backup's")
    restore.set_defaults(handler=cmd_library_restore)


def cmd_library_info(args: argparse.Namespace, settings: Settings) -> int:
    lib = library_of(settings)
    queries, lists = lib.saved.all(), lib.lists.all()
    info = {"path": str(settings.library_path), "saved_queries": len(queries),
            "runs": sum(q.runs for q in queries), "lists": len(lists), "papers_in_lists": sum(x.size for x in lists)}
    if args.json:
        print_json(info)
        return 0
    print(f"Library file: {safe(info['path'])}")
    print(f"{info['saved_queries']} saved queries ({info['runs']} runs), {info['lists']} lists "
          f"({info['papers_in_lists']} papers).")
    return 0


def cmd_library_backup(args: argparse.Namespace, settings: Settings) -> int:
    from search.library.backup import backup
    from search.library.files import STDOUT, check_output

    check_output(args.path)
    report = backup(library_of(settings).data, args.path)
    print(f"Backed up {report.saved_queries} saved queries and {report.lists} lists ({report.entries} papers) "
          f"to {'stdout' if args.path == STDOUT else safe(report.path)}.",
          file=sys.stderr if args.path == STDOUT else sys.stdout)
    return 0


def cmd_library_restore(args: argparse.Namespace, settings: Settings) -> int:
    from search.library.backup import restore

    report = restore(library_of(settings).data, args.path, on_clash=args.on_clash)
    print(f"Restored {len(report.saved_queries)} saved queries and {len(report.lists)} lists.")
    for old, new in report.renamed:
        print(f"  {safe_line(old)!r} exists already: restored as {safe_line(new)!r}")
    for name in report.skipped:
        print(f"  {safe_line(name)!r} exists already: kept yours, skipped the backup's")
    for name in report.replaced:
        print(f"  {safe_line(name)!r} exists already: replaced by the backup's")
    return 0
