"""``medsearch lists``: citation lists, their papers in order with notes, imports of citation
files (``search/library``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from search.cli.common import (
    library_of,
    positive,
    print_json,
    safe,
    safe_line,
    shell_quote,
    warn,
)
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    _register_lists(commands)


def _register_lists(commands: argparse._SubParsersAction) -> None:
    lists = commands.add_parser(
        "lists", help="citation lists: named, ordered lists of PMIDs with notes",
        description="Citation lists: named, ordered lists of PMIDs with a note per paper. A paper may be in "
        "several lists. A list keeps a PMID whatever happens to its record, and says when the record is "
        "not in the index or is retracted.",
    )
    sub = lists.add_subparsers(dest="action", required=True, metavar="ACTION")

    new = sub.add_parser("new", help="create an empty list", description="Create an empty list.")
    new.add_argument("name", help="the list's name (unique, ignoring case)")
    new.set_defaults(handler=cmd_lists_new)

    add = sub.add_parser("add", help="add PMIDs to a list (at its end)",
                         description="Append PMIDs to a list, in the order given; a PMID already in the list "
                         "keeps its place (and gets the note, if one is given). Every PMID is checked first: "
                         "one that is not a number changes nothing.")
    add.add_argument("name", help="the list's name")
    add.add_argument("pmids", nargs="+", metavar="PMID", help="PubMed ids, e.g. 31452104")
    add.add_argument("--note", help="a note stored with each of these papers")
    add.add_argument("--create", action="store_true", help="create the list if it does not exist")
    add.set_defaults(handler=cmd_lists_add)

    show = sub.add_parser("show", help="show a list with each paper's status, or all lists",
                          description="Without NAME: every list and its size. With NAME: its papers in order, "
                          "with notes; a paper whose record is not in the index, or is retracted, says so.")
    show.add_argument("name", nargs="?", help="the list's name (none: all lists)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_lists_show)

    rm = sub.add_parser("rm", help="remove PMIDs from a list, or delete the list",
                        description="With PMIDs: take them out of the list (a PMID not in it changes nothing). "
                        "Without: delete the list; a list that holds papers needs --yes.")
    rm.add_argument("name", help="the list's name")
    rm.add_argument("pmids", nargs="*", metavar="PMID", help="PMIDs to remove (none: delete the list)")
    rm.add_argument("--yes", action="store_true", help="delete a list that holds papers")
    rm.set_defaults(handler=cmd_lists_rm)

    rename = sub.add_parser("rename", help="rename a list", description="Rename a list; its papers stay.")
    rename.add_argument("old", help="the current name")
    rename.add_argument("new", help="the new name")
    rename.set_defaults(handler=cmd_lists_rename)

    move = sub.add_parser("move", help="move a paper to a position in its list",
                          description="Move a PMID to POSITION (1 = first); the papers in between shift by one.")
    move.add_argument("name", help="the list's name")
    move.add_argument("pmid", metavar="PMID", help="the PMID to move")
    move.add_argument("position", type=positive, metavar="POSITION", help="its new position, from 1")
    move.set_defaults(handler=cmd_lists_move)

    imp = sub.add_parser("import", help="add the PMIDs of a RIS, MEDLINE/.nbib, CSL-JSON, BibTeX or PMID-list file",
                         description="Read a citation file (RIS, MEDLINE/.nbib, CSL-JSON, BibTeX, or PMIDs one per "
                         "line or separated by spaces/commas; the format is recognised by content) and append its "
                         "PMIDs to the list, creating the list if needed. Entries without a PMID are listed. An "
                         "unreadable file or an unknown format changes nothing.")
    imp.add_argument("name", help="the list's name")
    imp.add_argument("file", type=Path, metavar="FILE", help="the file to read")
    imp.set_defaults(handler=cmd_lists_import)


def cmd_lists_new(args: argparse.Namespace, settings: Settings) -> int:
    lst = library_of(settings).lists.create(args.name)
    print(f"Created the list {safe_line(lst.name)!r}. Add papers with: medsearch lists add {shell_quote(lst.name)} PMID...")
    return 0


def cmd_lists_add(args: argparse.Namespace, settings: Settings) -> int:
    report = library_of(settings).lists.add(args.name, args.pmids, note=args.note, create=args.create)
    _print_added(args.name, report, noted=args.note is not None)
    return 0


def _print_added(name: str, report, *, noted: bool) -> None:
    print(f"Added {len(report.added)} papers to {safe_line(name)!r}"
          + (f"; {len(report.already)} were in it already" + (" (note updated)" if noted else "") if report.already else "")
          + ".")


def cmd_lists_show(args: argparse.Namespace, settings: Settings) -> int:
    lib = library_of(settings)
    if args.name is None:
        lists = lib.lists.all()
        if args.json:
            print_json([lst.to_json() for lst in lists])
        elif not lists:
            print("No lists. Create one with: medsearch lists new NAME")
        for lst in lists if not args.json else ():
            print(f"{safe_line(lst.name)}  ({lst.size} papers, created {lst.created_at:%Y-%m-%d})")
        return 0
    view = _list_view(lib, args.name, settings)
    if args.json:
        print_json(view.to_json())
        return 0
    print_list(view)
    return 0


def _list_view(lib, name: str, settings: Settings):
    """The list with its records; with no usable index every paper shows as not in the index."""
    from ingest.errors import SearchIndexError
    from search.library import list_view, open_searcher

    lib.lists.get(name)  # an unknown list fails before the engine loads
    try:
        with open_searcher(settings) as engine:
            return list_view(lib.lists, name, engine)
    except SearchIndexError as exc:
        warn(f"no usable search index ({exc.message}); records cannot be shown")

        class _NoRecords:
            def articles(self, doc_ids):
                return {}

        return list_view(lib.lists, name, _NoRecords())


def print_list(view) -> None:
    missing, retracted = view.count("missing"), view.count("retracted")
    extra = [f"{missing} not in the index"] if missing else []
    extra += [f"{retracted} RETRACTED"] if retracted else []
    print(f"{safe_line(view.list.name)} ({len(view.entries)} papers{'; ' + ', '.join(extra) if extra else ''})")
    for e in view.entries:
        a = e.article
        if a is None:
            line = "[not in the index: deleted from PubMed, or not ingested/indexed yet]"
        else:
            journal = a.journal_iso or a.journal_title or ""
            line = f"{a.pub_year or '----'}  {safe_line(a.title)}" + (f"  ({safe_line(journal)})" if journal else "")
        flag = "  [RETRACTED]" if e.status == "retracted" else ""
        print(f"{e.entry.position:>4}. {e.entry.pmid:<10} {line}{flag}")
        if e.entry.note:
            print(f"      note: {safe_line(e.entry.note)}")


def cmd_lists_rm(args: argparse.Namespace, settings: Settings) -> int:
    lists = library_of(settings).lists
    if args.pmids:
        gone = lists.remove(args.name, args.pmids)
        print(f"Removed {len(gone)} papers from {safe_line(args.name)!r}.")
        return 0
    lst = lists.delete(args.name, even_if_not_empty=args.yes)
    print(f"Deleted the list {safe_line(lst.name)!r} ({lst.size} papers).")
    return 0


def cmd_lists_rename(args: argparse.Namespace, settings: Settings) -> int:
    lst = library_of(settings).lists.rename(args.old, args.new)
    print(f"Renamed the list {safe_line(args.old)!r} to {safe_line(lst.name)!r}.")
    return 0


def cmd_lists_move(args: argparse.Namespace, settings: Settings) -> int:
    library_of(settings).lists.move(args.name, args.pmid, args.position)
    print(f"Moved {safe_line(args.pmid)} to position {args.position} of {safe_line(args.name)!r}.")
    return 0


def cmd_lists_import(args: argparse.Namespace, settings: Settings) -> int:
    from search.citations.importers import read_citations

    # the whole file is read and checked first: an unreadable file or unknown format changes nothing
    result = read_citations(Path(args.file))
    report = library_of(settings).lists.add(args.name, result.pmids, create=True)
    print(f"Read {safe(args.file)} as {result.format}.")
    _print_added(args.name, report, noted=False)
    without = tuple(e.label for e in result.without_pmid)
    if without:
        print(f"{len(without)} entries of the file have no PMID and were not added:")
        for label in without[:20]:
            print(f"  {safe_line(label)[:120]}")
        if len(without) > 20:
            print(f"  ... and {len(without) - 20} more")
    if result.unreadable:
        warn(f"{len(result.unreadable)} entries of the file could not be read and were not added:")
        for what in result.unreadable[:20]:
            print(f"  {safe_line(what)[:160]}", file=sys.stderr)
    return 0
