"""``medsearch saved``: saved searches, their runs, the new results since the last run and
the alerts of newly retracted papers (``search/library``)."""

from __future__ import annotations

import argparse
import sys

from search.cli.common import (
    flush_stdout,
    library_of,
    open_store,
    positive,
    print_json,
    safe_line,
    shell_quote,
    warn,
)
from search.cli.search_cmds import add_filter_arguments, filters_from
from search.config import Settings
from search.types import MODES


def register(commands: argparse._SubParsersAction) -> None:
    _register_saved(commands)


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

    saved = library_of(settings).saved.add(args.name, args.query, filters=filters_from(args), mode=args.mode,
                                         k=args.k or DEFAULT_K)
    print(f"Saved {safe_line(saved.name)!r}: {describe(saved)} (keeps the top {saved.k}).")
    print(f"Run it with: medsearch saved run {shell_quote(saved.name)}")
    return 0


def cmd_saved_list(args: argparse.Namespace, settings: Settings) -> int:
    from search.library.alerts import known_new
    from search.library.searcher import current_index_version

    lib = library_of(settings)
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

    lib = library_of(settings)
    saved = lib.saved.get(args.name)
    pulled = _do_pull(settings, [saved], args, keep_going=False)[0].stored if args.pull else None
    def deliver(outcome) -> None:  # the run is recorded only once this returns
        if args.json:
            out = outcome.to_json()
            if args.new_only:
                out["hits"] = [h for h in out["hits"] if h["is_new"]]
            print_json(out)
        else:
            for w in outcome.warnings:
                warn(w)
            print_outcome(outcome, new_only=args.new_only)
        flush_stdout()

    with open_searcher(settings) as engine:
        run_query(lib.saved, saved, engine, pulled=pulled, deliver=deliver)
    return 0


def print_outcome(outcome, *, new_only: bool) -> None:
    run, prev = outcome.run, outcome.previous_run_at
    since = f"since the run of {prev:%Y-%m-%d %H:%M}" if prev else "the first run: its results are the baseline, nothing is new yet"
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

    lib = library_of(settings)
    pulled: dict[str, int | None] = {}
    failures = []
    if args.pull and (queries := lib.saved.all()):
        for p in _do_pull(settings, queries, args, keep_going=True):
            pulled[p.name] = None if p.error else p.stored
            if p.error:
                failures.append(QueryFailure(p.name, f"pull failed: {p.error}"))
    def deliver(digest) -> None:  # the runs are recorded only once this returns
        if args.json:
            print_json(digest.to_json())
        else:
            print_digest(digest)
        flush_stdout()

    with open_searcher(settings) as engine:
        digest = run_all(lib.saved, lib.lists, engine, pulled, failures, deliver=deliver)
    return 2 if digest.failures else 0


def print_digest(digest) -> None:
    print(f"Saved queries: {len(digest.outcomes)} run, {sum(o.run.n_new for o in digest.outcomes)} new papers.")
    for o in digest.outcomes:
        print(f"  {safe_line(o.saved.name)}: {o.run.n_new} new of {o.run.n_results}"
              + (f" ({o.run.pulled} pulled from PubMed)" if o.run.pulled is not None else ""))
        for a in o.new_hits[:5]:
            print(f"      {safe_line(a.hit.pmid or a.hit.doc_id):<10} {a.hit.year or '----'}  {safe_line(a.hit.title)[:100]}")
        if len(o.new_hits) > 5:
            print(f"      ... and {len(o.new_hits) - 5} more: medsearch saved show --new-only {shell_quote(o.saved.name)}")
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

    stored = library_of(settings).saved.stored_run(args.name, args.run_no)
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
    runs = library_of(settings).saved.runs(args.name)
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
    saved = library_of(settings).saved.rename(args.old, args.new)
    print(f"Renamed the saved query {safe_line(args.old)!r} to {safe_line(saved.name)!r}.")
    return 0


def cmd_saved_rm(args: argparse.Namespace, settings: Settings) -> int:
    saved = library_of(settings).saved.remove(args.name)
    print(f"Deleted the saved query {safe_line(saved.name)!r} and its {saved.runs} runs.")
    return 0
