"""``medsearch update [--dry-run]``: bring stored PubMed queries and records up to date."""

from __future__ import annotations

import argparse

from search.cli.common import open_store, print_json, safe_line
from search.cli.ingest_cmds import add_ncbi_arguments, entrez_client, print_report
from search.config import Settings

#: PMIDs listed per kind of change before "... and N more" (--json lists them all).
SHOWN = 50


def register(commands: argparse._SubParsersAction) -> None:
    update = commands.add_parser(
        "update",
        help="fetch what PubMed added or revised since the last update",
        description="For every query ingested before (`ingest pubmed`), store its new records; "
        "for every stored PubMed record, files' included, re-fetch it if PubMed modified it "
        "since it was stored or last checked (retractions, errata, MeSH indexing, corrections). "
        "A newer version replaces the stored one; a record PubMed confirms deleted is removed. "
        "Interrupted: finished batches are kept, and running it again continues.",
    )
    update.add_argument(
        "--dry-run", action="store_true",
        help="only say what would change (counts and PMIDs); fetch no records, write nothing",
    )
    update.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    add_ncbi_arguments(update)
    update.set_defaults(handler=cmd_update)


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pubmed_update import plan_update, update

    client = entrez_client(args, settings)
    if args.dry_run:
        with open_store(settings, read_only=True) as store:
            plan = plan_update(store, client)
        if args.json:
            print_json(plan_json(plan))
        else:
            print_plan(plan, dry_run=True)
        return 0
    with open_store(settings) as store:
        plan, report = update(store, client)
        print_plan(plan, dry_run=False)
        print_report(report)
    return 0


def plan_json(plan) -> dict:
    return {
        "queries": list(plan.queries),
        "new": list(plan.new),
        "modified": list(plan.modified),
        "gone": list(plan.gone),
        "checked": plan.checked,
        "checked_since": plan.since.isoformat() if plan.since else None,
        "warnings": list(plan.warnings),
    }


def print_plan(plan, *, dry_run: bool) -> None:
    since = f" (modified since {plan.since.isoformat()} or later)" if plan.since else ""
    print(
        f"PubMed update: {len(plan.queries)} stored queries, {plan.checked} stored PubMed records "
        f"checked{since}."
    )
    verb = ("would add", "would re-fetch", "would remove") if dry_run else ("adding", "re-fetching", "removing")
    print(f"  {verb[0]} {len(plan.new)} new records{_listed(plan.new)}")
    print(f"  {verb[1]} {len(plan.modified)} records PubMed modified{_listed(plan.modified)}")
    print(f"  {verb[2]} {len(plan.gone)} records PubMed deleted{_listed(plan.gone)}")
    for w in plan.warnings:
        print(f"warning: {safe_line(w)}")
    if dry_run:
        print("Dry run: nothing was fetched or written.")


def _listed(pmids: tuple[str, ...]) -> str:
    if not pmids:
        return "."
    shown = ", ".join(pmids[:SHOWN])
    more = f" ... and {len(pmids) - SHOWN} more" if len(pmids) > SHOWN else ""
    return f": {shown}{more}."
