"""``medsearch ingest pubmed | files | demo``: add records to the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.entrez import SORTS
from ingest.errors import ConfigError
from search.cli.common import date_arg, open_store, positive, safe_line
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    ingest = commands.add_parser("ingest", help="add records to the store", description="Add records to the store.")
    sources = ingest.add_subparsers(dest="source", required=True, metavar="SOURCE")

    pubmed = sources.add_parser(
        "pubmed",
        help="search PubMed and store the matching records (E-utilities)",
        description="Search PubMed through NCBI E-utilities and store the matching records. "
        "Records already stored are not fetched again, so re-running a query adds only what "
        "is new and an interrupted run resumes where it stopped. The query is remembered for "
        "`medsearch update`.",
    )
    pubmed.add_argument("query", help='PubMed query, e.g. "metformin AND cancer[MeSH]"')
    pubmed.add_argument(
        "--max", type=positive, dest="max_records",
        help="take only the first N records in --sort order (costs requests in proportion to N)",
    )
    pubmed.add_argument(
        "--sort", choices=tuple(SORTS), default="recent",
        help="order that --max takes the first N in: recent (newest entry date, default), "
        "relevance (PubMed's Best Match) or pub_date (newest publication date)",
    )
    pubmed.add_argument("--since", type=date_arg, help="only records entered on or after YYYY-MM-DD")
    pubmed.add_argument("--until", type=date_arg, help="only records entered on or before YYYY-MM-DD")
    pubmed.add_argument(
        "--refresh", action="store_true",
        help="also re-fetch this query's stored records that PubMed modified since its last run "
        "(retractions, errata, MeSH indexing, corrections)",
    )
    add_ncbi_arguments(pubmed)
    pubmed.set_defaults(handler=cmd_ingest_pubmed)

    files = sources.add_parser(
        "files",
        help="store records from PubMed XML, MEDLINE/.nbib or BEIR corpus.jsonl files",
        description="Store records from files or folders (recursed): PubMed XML (.xml, .xml.gz; "
        "efetch output, annual baseline and daily update files, DeleteCitation deletes), "
        "MEDLINE text (.txt, .medline, .nbib) and BEIR corpus.jsonl. Files already read to "
        "the end are skipped unless --force.",
    )
    files.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file or folder")
    files.add_argument("--force", action="store_true", help="read files again even if already ingested")
    files.set_defaults(handler=cmd_ingest_files)

    demo = sources.add_parser(
        "demo",
        help="store the demo records (env MEDSEARCH_DEMO_DATA)",
        description="Store the real PubMed records of the demo folder (MEDSEARCH_DEMO_DATA).",
    )
    demo.add_argument("--if-empty", action="store_true", help="do nothing if the store already has records")
    demo.add_argument("--if-present", action="store_true",
                      help="do nothing (exit 0) when no demo folder is configured (a clone without ../shared)")
    demo.set_defaults(handler=cmd_ingest_demo)


def add_ncbi_arguments(parser: argparse.ArgumentParser) -> None:
    """--email and --api-key, for every command that talks to NCBI."""
    parser.add_argument("--email", help="your e-mail, sent to NCBI (env NCBI_EMAIL)")
    parser.add_argument(
        "--api-key",
        help="NCBI API key: 10 instead of 3 requests/s (env NCBI_API_KEY, which keeps it out of "
        "the process list)",
    )


def entrez_client(args: argparse.Namespace, settings: Settings):
    """The E-utilities client of the settings, with --email/--api-key applied."""
    from ingest.entrez import EntrezClient, EntrezConfig

    settings = Settings.from_env(ncbi_email=args.email, ncbi_api_key=args.api_key, db=settings.db)
    if not settings.ncbi_email:
        print("warning: no e-mail given (--email or NCBI_EMAIL); NCBI asks for one.", file=sys.stderr)
    return EntrezClient(
        EntrezConfig(email=settings.ncbi_email, api_key=settings.ncbi_api_key, base_url=settings.eutils_url)
    )


def print_report(report, out=sys.stdout) -> None:
    r = report.result
    if report.found is not None:
        print(f"PubMed: {report.found} records match; {report.already_stored} already stored.", file=out)
    for w in report.warnings:
        print(f"warning: {safe_line(w)}", file=out)
    notes = sum(1 for p in report.problems if not p.skipped)  # stored, less a bad identifier
    print(
        f"Run #{report.run_id}: {r.seen} read, {r.stored} stored, {r.unchanged} unchanged, "
        f"{r.older_skipped} older skipped, {r.deleted} deleted, "
        f"{r.problems - len(report.unsupported_files) - notes} bad records skipped"
        + (f", {notes} bad identifiers left out" if notes else "")
        + (f", {report.files_skipped} files already ingested" if report.files_skipped else "")
        + ".",
        file=out,
    )
    if report.unsupported_files:
        print(
            f"  {len(report.unsupported_files)} files in the folders are not in a record format and were "
            f"skipped (e.g. {safe_line(report.unsupported_files[0].location)}); all are listed in table "
            f"ingest_problems, run {report.run_id}.",
            file=out,
        )
    for p in report.problems[:20]:
        print(f"  {'skipped' if p.skipped else 'note'}: {safe_line(p.location)}: {safe_line(p.message)}", file=out)
    if len(report.problems) > 20:
        print(f"  ... and {len(report.problems) - 20} more (table ingest_problems, run {report.run_id})", file=out)


def cmd_ingest_files(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import ingest_files
    from ingest.sources import require_record_files

    require_record_files(args.paths)  # a folder with no record files: exit 2, nothing written
    with open_store(settings) as store:
        report = ingest_files(store, args.paths, force=args.force)
        print_report(report)
    return 0


def cmd_ingest_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import ingest_files
    from ingest.sources import require_record_files
    from search.cli.corpus_cmds import print_stats

    folder = settings.demo_data
    if args.if_present and not folder.is_dir():
        print(f"No demo folder at {folder} (MEDSEARCH_DEMO_DATA): demo data not loaded.")
        return 0
    with open_store(settings) as store:
        if args.if_empty and store.count() > 0:
            print(f"{settings.db} already holds {store.count()} records; demo data not loaded.")
            return 0
        if not folder.is_dir():
            raise ConfigError(
                f"The demo data folder {folder} does not exist.",
                hint="Set MEDSEARCH_DEMO_DATA to a folder of PubMed XML/MEDLINE files, or fill "
                'the database from PubMed: medsearch ingest pubmed "your query" --max 500 '
                "--email you@example.org",
            )
        require_record_files([folder])
        report = ingest_files(store, [folder], kind="demo")
        print_report(report)
        print_stats(store.stats(), settings.db)
    return 0


def cmd_ingest_pubmed(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.entrez import check_top
    from ingest.pipeline import ingest_pubmed
    from ingest.pubmed_update import QuerySpec, no_hits

    # the query and dates are checked before anything opens or goes out
    spec = QuerySpec(args.query, args.max_records, args.sort, args.since, args.until)
    client = entrez_client(args, settings)
    if not settings.db.exists():
        # a new store: PubMed must answer, with hits, before the store file is created, so an
        # unreachable PubMed or a query with no hits leaves nothing behind (exit 2)
        found, warnings = client.count(spec.query, since=spec.since, until=spec.until)
        if found == 0:
            raise no_hits(spec, warnings)
        if spec.max_records is not None:
            check_top(found, spec.max_records, spec.sort)
    with open_store(settings) as store:
        report = ingest_pubmed(
            store, client, spec.query, max_records=spec.max_records, sort=spec.sort,
            since=spec.since, until=spec.until, refresh=args.refresh, require_hits=True,
        )
        print_report(report)
    return 0
