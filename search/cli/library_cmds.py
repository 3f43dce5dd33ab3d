"""``medsearch saved | lists | export | library``: saved queries with alerts, citation lists,
exports and backups of the user's library (``search/library``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from search.cli.common import open_store, positive, print_json, safe, safe_line, warn
from search.cli.search_cmds import add_filter_arguments, filters_from
from search.config import Settings
from search.types import MODES


def register(commands: argparse._SubParsersAction) -> None:
    _register_saved(commands)
    _register_lists(commands)
    _register_export(commands)
    _register_library(commands)


def _library(settings: Settings):
    from search.library import Library

    return Library(settings.library_path)


def _q(name: str) -> str:
    """A name as the user would type it in a shell command (for hints)."""
    return shlex.quote(safe_line(name))


# -- saved queries ------------------------------------------------------------------------

def _register_saved(commands: argparse._SubParsersAction) -> None:
    saved = commands.add_parser(
        "saved", help="saved queries with alerts: which results are new since the last run",
        description="Save a query (PubMed syntax allowed) with its filters and mode under a name, and "
        "run it again later to see which results are new since its last run, as PubMed's saved-search "
        "alerts do. Every run is kept with its date and results (library file: MEDSEARCH_LIBRARY_DB).",
    )
    sub = saved.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = sub.add_parser("add", help="save a query under a name",
                         description="Save a query with its filters and mode under a name (unique, ignoring case).")
    add.add_argument("name", help="a name for the query, e.g. \"sglt2 heart failure\"")
    add.add_argument("query", help='the query, as for `medsearch search`, e.g. "metformin AND cancer[MeSH]"')
    add_filter_arguments(add)
    add.add_argument("--mode", choices=MODES, help="retrieval mode (default: the engine's default at run time)")
    add.add_argument("-k", type=positive, default=None, help="results each run keeps and compares (default 50)")
    add.set_defaults(handler=cmd_saved_add)

    ls = sub.add_parser("list", help="the saved queries with their last run",
                        description="The saved queries, each with its last run: when, how many results, how "
                        "many were new. --check also runs every query now (recording nothing) to count the "
                        "results that are new since its last run.")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.add_argument("--check", action="store_true",
                    help="search now to count new results since each query's last run (loads the engine)")
    ls.set_defaults(handler=cmd_saved_list)

    run = sub.add_parser("run", help="run a saved query and mark the results new since its last run",
                         description="Run a saved query, record the run, and show its results with the new ones "
                         "(returned by no earlier run) marked. --pull first fetches the query's new PubMed "
                         "records (entered since its last pull) into the store and updates the index.")
    run.add_argument("name", help="the saved query's name")
    run.add_argument("--new-only", action="store_true", help="show only the new results")
    run.add_argument("--json", action="store_true", help="print the run and its hits as JSON")
    _pull_arguments(run)
    run.set_defaults(handler=cmd_saved_run)

    run_all = sub.add_parser("run-all", help="run every saved query and print a digest (for a nightly job)",
                             description="Run every saved query (with --pull: fetch their new PubMed records "
                             "first, then index once) and print a digest: new papers per query, and papers of "
                             "your lists that became retracted since the last digest. A query that fails is "
                             "reported and the others still run; the exit status is then 2.")
    run_all.add_argument("--json", action="store_true", help="print the digest as JSON")
    _pull_arguments(run_all)
    run_all.set_defaults(handler=cmd_saved_run_all)

    show = sub.add_parser("show", help="what a past run returned (no new search)",
                          description="The results a run of a saved query returned (default its last run), as "
                          "recorded, with the new ones marked; titles from the current index.")
    show.add_argument("name", help="the saved query's name")
    show.add_argument("--run", type=positive, dest="run_no", metavar="N", help="the run number (default the last)")
    show.add_argument("--new-only", action="store_true", help="show only the results new in that run")
    show.add_argument("--json", action="store_true", help="print the run and its results as JSON")
    show.set_defaults(handler=cmd_saved_show)

    history = sub.add_parser("history", help="the runs of a saved query",
                             description="Every run of a saved query, newest first: date, mode, results, new, pulled.")
    history.add_argument("name", help="the saved query's name")
    history.add_argument("--json", action="store_true", help="print a JSON list")
    history.set_defaults(handler=cmd_saved_history)

    rename = sub.add_parser("rename", help="rename a saved query", description="Rename a saved query; its runs stay.")
    rename.add_argument("old", help="the current name")
    rename.add_argument("new", help="the new name")
    rename.set_defaults(handler=cmd_saved_rename)

    rm = sub.add_parser("rm", help="delete a saved query and its runs",
                        description="Delete a saved query with the record of its runs.")
    rm.add_argument("name", help="the saved query's name")
    rm.set_defaults(handler=cmd_saved_rm)


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    from search.library.pull import DEFAULT_PULL_MAX

    parser.add_argument("--pull", action="store_true",
                        help="first fetch new PubMed records of the query (E-utilities) and update the index")
    parser.add_argument("--max", type=positive, default=DEFAULT_PULL_MAX, dest="max_records",
                        help=f"with --pull: records fetched at most per query (default {DEFAULT_PULL_MAX})")


def describe(saved) -> str:
    """The query with its filters and mode, on one line."""
    f = saved.filters
    parts = []
    if f.year_from or f.year_to:
        parts.append(f"years {f.year_from or '...'}-{f.year_to or '...'}")
    for label, values in (("type", f.publication_types), ("journal", f.journals), ("language", f.languages),
                          ("MeSH", f.mesh_terms)):
        if values:
            parts.append(f"{label} {' or '.join(values)}")
    if f.has_abstract:
        parts.append("with abstract")
    if saved.mode:
        parts.append(f"mode {saved.mode}")
    return safe_line(saved.query) + (f"  [{safe_line('; '.join(parts))}]" if parts else "")


def cmd_saved_add(args: argparse.Namespace, settings: Settings) -> int:
    from search.library import DEFAULT_K

    saved = _library(settings).saved.add(args.name, args.query, filters=filters_from(args), mode=args.mode,
                                         k=args.k or DEFAULT_K)
    print(f"Saved {safe_line(saved.name)!r}: {describe(saved)} (keeps the top {saved.k}).")
    print(f"Run it with: medsearch saved run {_q(saved.name)}")
    return 0


def cmd_saved_list(args: argparse.Namespace, settings: Settings) -> int:
    from search.library.alerts import known_new
    from search.library.searcher import current_index_version

    lib = _library(settings)
    queries = lib.saved.all()
    current = current_index_version(settings)
    new = {s.name: known_new(s, current) for s in queries}
    if args.check and any(n is None for n in new.values()):
        from search.library import count_new, open_searcher

        with open_searcher(settings) as engine:
            new = {s.name: count_new(lib.saved, s, engine) if new[s.name] is None else new[s.name] for s in queries}
    if args.json:
        print_json([{**s.to_json(), "new_since_last_run": new[s.name]} for s in queries])
        return 0
    if not queries:
        print('No saved queries. Save one with: medsearch saved add NAME "QUERY"')
        return 0
    for s in queries:
        last = s.last_run
        when = f"last run {last.ran_at:%Y-%m-%d %H:%M}: {last.n_results} results, {last.n_new} new" if last else "never run"
        pending = new[s.name]
        since = "" if last is None else (
            f"; {pending} new since" if pending is not None else "; index updated since (--check counts new results)")
        print(f"{safe_line(s.name)}  ({s.runs} runs, {when}{since})")
        print(f"    {describe(s)}")
    return 0


def _do_pull(settings: Settings, saved: list, args: argparse.Namespace, *, keep_going: bool):
    from search.library.pull import pull

    with open_store(settings) as store:
        pulled = pull(store, settings, saved, max_records=args.max_records, progress=not args.json,
                      keep_going=keep_going)
    for p in pulled:
        if p.error:
            warn(f"pull of {p.name!r} failed: {p.error}")
        else:
            print(f"PubMed: {p.found} records match {safe_line(p.name)!r}; {p.stored} new stored.", file=sys.stderr)
    return pulled


def cmd_saved_run(args: argparse.Namespace, settings: Settings) -> int:
    from search.library import open_searcher, run_query

    lib = _library(settings)
    saved = lib.saved.get(args.name)
    pulled = _do_pull(settings, [saved], args, keep_going=False)[0].stored if args.pull else None
    with open_searcher(settings) as engine:
        outcome = run_query(lib.saved, saved, engine, pulled=pulled)
    if args.json:
        out = outcome.to_json()
        if args.new_only:
            out["hits"] = [h for h in out["hits"] if h["is_new"]]
        print_json(out)
        return 0
    for w in outcome.warnings:
        warn(w)
    print_outcome(outcome, new_only=args.new_only)
    return 0


def print_outcome(outcome, *, new_only: bool) -> None:
    run, prev = outcome.run, outcome.previous_run_at
    since = f"since the run of {prev:%Y-%m-%d %H:%M}" if prev else "first run: every result is new"
    print(f"{safe_line(outcome.saved.name)!r} run #{run.run_no} ({run.mode}, {run.ran_at:%Y-%m-%d %H:%M}): "
          f"{run.n_new} new of {run.n_results} ({since}).")
    for a in outcome.hits:
        if new_only and not a.is_new:
            continue
        h = a.hit
        flag = "  [RETRACTED]" if h.is_retracted else ""
        mark = "NEW" if a.is_new else "   "
        print(f"{h.rank:>3}. {mark} {safe_line(h.pmid or h.doc_id):<10} {h.year or '----'}  {safe_line(h.title)}{flag}")


def cmd_saved_run_all(args: argparse.Namespace, settings: Settings) -> int:
    from search.library import QueryFailure, open_searcher, run_all

    lib = _library(settings)
    pulled: dict[str, int | None] = {}
    failures = []
    if args.pull and (queries := lib.saved.all()):
        for p in _do_pull(settings, queries, args, keep_going=True):
            pulled[p.name] = None if p.error else p.stored
            if p.error:
                failures.append(QueryFailure(p.name, f"pull failed: {p.error}"))
    with open_searcher(settings) as engine:
        digest = run_all(lib.saved, lib.lists, engine, pulled, failures)
    if args.json:
        print_json(digest.to_json())
    else:
        print_digest(digest)
    return 2 if digest.failures else 0


def print_digest(digest) -> None:
    print(f"Saved queries: {len(digest.outcomes)} run, {sum(o.run.n_new for o in digest.outcomes)} new papers.")
    for o in digest.outcomes:
        print(f"  {safe_line(o.saved.name)}: {o.run.n_new} new of {o.run.n_results}"
              + (f" ({o.run.pulled} pulled from PubMed)" if o.run.pulled is not None else ""))
        for a in o.new_hits[:5]:
            print(f"      {safe_line(a.hit.pmid or a.hit.doc_id):<10} {a.hit.year or '----'}  {safe_line(a.hit.title)[:100]}")
        if len(o.new_hits) > 5:
            print(f"      ... and {len(o.new_hits) - 5} more: medsearch saved show {_q(o.saved.name)} --new-only")
    for f in digest.failures:
        print(f"  {safe_line(f.name)}: FAILED: {safe_line(f.message)}")
    if digest.retractions:
        print(f"Newly retracted papers in your lists: {len(digest.retractions)}")
        for r in digest.retractions:
            print(f"  {r.pmid:<10} {safe_line(r.title)[:100]}  (lists: {safe_line(', '.join(r.lists))})")
    else:
        print("No newly retracted papers in your lists.")


def cmd_saved_show(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.errors import SearchIndexError
    from search.library import open_searcher

    stored = _library(settings).saved.stored_run(args.name, args.run_no)
    rows = [r for r in stored.results if r[2] or not args.new_only]
    try:
        with open_searcher(settings) as engine:
            found = engine.articles([d for d, _, _ in rows])
    except SearchIndexError as exc:
        warn(f"no usable search index ({exc.message}); titles cannot be shown")
        found = {}
    if args.json:
        hits = [{"doc_id": d, "rank": i, "score": score, "is_new": new, "in_index": d in found,
                 "title": found[d].title if d in found else None, "year": found[d].pub_year if d in found else None,
                 "is_retracted": found[d].is_retracted if d in found else None}
                for i, (d, score, new) in enumerate(stored.results, start=1) if new or not args.new_only]
        print_json({"name": stored.saved.name, "query": stored.saved.query, "run": stored.run.to_json(), "hits": hits})
        return 0
    run = stored.run
    print(f"{safe_line(stored.saved.name)!r} run #{run.run_no} ({run.mode}, {run.ran_at:%Y-%m-%d %H:%M}): "
          f"{run.n_new} new of {run.n_results}.")
    for rank, (doc_id, _, new) in enumerate(stored.results, start=1):
        if args.new_only and not new:
            continue
        a = found.get(doc_id)
        text = f"{a.pub_year or '----'}  {safe_line(a.title)}" if a else "[not in the index now]"
        flag = "  [RETRACTED]" if a is not None and a.is_retracted else ""
        print(f"{rank:>3}. {'NEW' if new else '   '} {safe_line(doc_id):<10} {text}{flag}")
    return 0


def cmd_saved_history(args: argparse.Namespace, settings: Settings) -> int:
    runs = _library(settings).saved.runs(args.name)
    if args.json:
        print_json([r.to_json() for r in runs])
        return 0
    if not runs:
        print(f"{safe_line(args.name)!r} has not run yet.")
    for r in runs:
        pulled = f", {r.pulled} pulled" if r.pulled is not None else ""
        print(f"#{r.run_no:<4} {r.ran_at:%Y-%m-%d %H:%M}  {r.mode:<7} {r.n_results} results, {r.n_new} new{pulled}")
    return 0


def cmd_saved_rename(args: argparse.Namespace, settings: Settings) -> int:
    saved = _library(settings).saved.rename(args.old, args.new)
    print(f"Renamed the saved query {safe_line(args.old)!r} to {safe_line(saved.name)!r}.")
    return 0


def cmd_saved_rm(args: argparse.Namespace, settings: Settings) -> int:
    saved = _library(settings).saved.remove(args.name)
    print(f"Deleted the saved query {safe_line(saved.name)!r} and its {saved.runs} runs.")
    return 0


# -- citation lists -----------------------------------------------------------------------

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
    lst = _library(settings).lists.create(args.name)
    print(f"Created the list {safe_line(lst.name)!r}. Add papers with: medsearch lists add {_q(lst.name)} PMID...")
    return 0


def cmd_lists_add(args: argparse.Namespace, settings: Settings) -> int:
    report = _library(settings).lists.add(args.name, args.pmids, note=args.note, create=args.create)
    _print_added(args.name, report, noted=args.note is not None)
    return 0


def _print_added(name: str, report, *, noted: bool) -> None:
    print(f"Added {len(report.added)} papers to {safe_line(name)!r}"
          + (f"; {len(report.already)} were in it already" + (" (note updated)" if noted else "") if report.already else "")
          + ".")


def cmd_lists_show(args: argparse.Namespace, settings: Settings) -> int:
    lib = _library(settings)
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
    lists = _library(settings).lists
    if args.pmids:
        gone = lists.remove(args.name, args.pmids)
        print(f"Removed {len(gone)} papers from {safe_line(args.name)!r}.")
        return 0
    lst = lists.delete(args.name, even_if_not_empty=args.yes)
    print(f"Deleted the list {safe_line(lst.name)!r} ({lst.size} papers).")
    return 0


def cmd_lists_rename(args: argparse.Namespace, settings: Settings) -> int:
    lst = _library(settings).lists.rename(args.old, args.new)
    print(f"Renamed the list {safe_line(args.old)!r} to {safe_line(lst.name)!r}.")
    return 0


def cmd_lists_move(args: argparse.Namespace, settings: Settings) -> int:
    _library(settings).lists.move(args.name, args.pmid, args.position)
    print(f"Moved {safe_line(args.pmid)} to position {args.position} of {safe_line(args.name)!r}.")
    return 0


def cmd_lists_import(args: argparse.Namespace, settings: Settings) -> int:
    from search.citations.importers import read_citations

    # the whole file is read and checked first: an unreadable file or unknown format changes nothing
    result = read_citations(Path(args.file))
    report = _library(settings).lists.add(args.name, result.pmids, create=True)
    print(f"Read {safe(args.file)} as {result.format}.")
    _print_added(args.name, report, noted=False)
    without = tuple(e.label for e in result.without_pmid)
    if without:
        print(f"{len(without)} entries of the file have no PMID and were not added:")
        for label in without[:20]:
            print(f"  {safe_line(label)[:120]}")
        if len(without) > 20:
            print(f"  ... and {len(without) - 20} more")
    return 0


# -- export -------------------------------------------------------------------------------

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
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default stdout)")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.errors import ConfigError
    from search.citations.export import get_format
    from search.library import open_searcher
    from search.library.files import check_writable
    from search.library.names import parse_pmids
    from search.library.views import export_papers

    if (args.name is None) == (args.pmids is None):
        raise ConfigError("Give either a list name or --pmids.", hint='e.g. medsearch export "my list" --format ris')
    fmt = get_format(args.fmt).name  # every check before the engine loads
    if args.output is not None:
        check_writable(args.output)
    notes: dict[str, str] = {}
    if args.pmids is not None:
        pmids = parse_pmids(args.pmids)
    else:
        entries = _library(settings).lists.entries(args.name)[1]
        pmids = [e.pmid for e in entries]
        notes = {e.pmid: e.note for e in entries if e.note}
    with open_searcher(settings) as engine:
        result = export_papers(pmids, engine, fmt, args.output, notes)
    if result.missing:
        shown = ", ".join(result.missing[:20]) + (" ..." if len(result.missing) > 20 else "")
        warn(f"{len(result.missing)} papers are not in the index and were not exported: {shown}")
    if args.output is None:
        # Record text is untrusted: a terminal gets it without control characters; a pipe as is.
        sys.stdout.write(safe(result.text) if sys.stdout.isatty() else result.text)
    else:
        print(f"Wrote {result.exported} papers as {fmt} to {safe(args.output)}.", file=sys.stderr)
    return 0


# -- backup / restore ---------------------------------------------------------------------

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
    backup.add_argument("path", type=Path, metavar="PATH", help="the backup file to write")
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
    lib = _library(settings)
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
    from search.library.files import check_writable

    check_writable(args.path)
    report = backup(_library(settings).data, args.path)
    print(f"Backed up {report.saved_queries} saved queries and {report.lists} lists ({report.entries} papers) "
          f"to {safe(report.path)}.")
    return 0


def cmd_library_restore(args: argparse.Namespace, settings: Settings) -> int:
    from search.library.backup import restore

    report = restore(_library(settings).data, args.path, on_clash=args.on_clash)
    print(f"Restored {len(report.saved_queries)} saved queries and {len(report.lists)} lists.")
    for old, new in report.renamed:
        print(f"  {safe_line(old)!r} exists already: restored as {safe_line(new)!r}")
    for name in report.skipped:
        print(f"  {safe_line(name)!r} exists already: kept yours, skipped the backup's")
    for name in report.replaced:
        print(f"  {safe_line(name)!r} exists already: replaced by the backup's")
    return 0
