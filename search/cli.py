"""The ``medsearch`` command line: a thin shell over the library.

Every command and option has help text (a test checks it). Errors of the
project's hierarchy print their message and hint, no traceback, exit status 2;
Ctrl-C exits with 130 after saying how to resume.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ingest.errors import ConfigError, MedsearchError
from search.config import SETTINGS, Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


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
        "--db", type=Path, help="DuckDB file of the store (default data/medsearch.duckdb; env MEDSEARCH_DB)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="add records to the store", description="Add records to the store.")
    sources = ingest.add_subparsers(dest="source", required=True, metavar="SOURCE")

    pubmed = sources.add_parser(
        "pubmed",
        help="search PubMed and store the matching records (E-utilities)",
        description="Search PubMed through NCBI E-utilities and store the matching records. "
        "Records already stored are not fetched again, so re-running a query adds only what "
        "is new and an interrupted run resumes where it stopped.",
    )
    pubmed.add_argument("query", help='PubMed query, e.g. "metformin AND cancer[MeSH]"')
    pubmed.add_argument("--max", type=_positive, dest="max_records", help="store at most N records")
    pubmed.add_argument("--since", type=_date, help="only records entered on or after YYYY-MM-DD")
    pubmed.add_argument("--until", type=_date, help="only records entered on or before YYYY-MM-DD")
    pubmed.add_argument("--email", help="your e-mail, sent to NCBI (env NCBI_EMAIL)")
    pubmed.add_argument("--api-key", help="NCBI API key: 10 instead of 3 requests/s (env NCBI_API_KEY)")
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
    demo.set_defaults(handler=cmd_ingest_demo)

    stats = commands.add_parser(
        "stats",
        help="counts of records, by type and year, and the last ingest runs",
        description="Counts of records (with abstract, retracted, deleted), by publication "
        "type and year, and the last ingest runs.",
    )
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(handler=cmd_stats)
    return parser


def _open_store(settings: Settings, *, read_only: bool = False):
    from ingest.store import Store

    return Store(settings.db, read_only=read_only)


def _print_report(report, out=sys.stdout) -> None:
    r = report.result
    if report.found is not None:
        print(f"PubMed: {report.found} records match; {report.already_stored} already stored.", file=out)
    for w in report.warnings:
        print(f"warning: {w}", file=out)
    print(
        f"Run #{report.run_id}: {r.seen} read, {r.stored} stored, {r.unchanged} unchanged, "
        f"{r.older_skipped} older skipped, {r.deleted} deleted, "
        f"{r.problems - len(report.unsupported_files)} bad records skipped"
        + (f", {report.files_skipped} files already ingested" if report.files_skipped else "")
        + ".",
        file=out,
    )
    if report.unsupported_files:
        print(
            f"  {len(report.unsupported_files)} files in the folders are not in a record format and were "
            f"skipped (e.g. {report.unsupported_files[0].location}); all are listed in table "
            f"ingest_problems, run {report.run_id}.",
            file=out,
        )
    for p in report.problems[:20]:
        print(f"  skipped: {p.location}: {p.message}", file=out)
    if len(report.problems) > 20:
        print(f"  ... and {len(report.problems) - 20} more (table ingest_problems, run {report.run_id})", file=out)


def cmd_ingest_files(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import ingest_files

    with _open_store(settings) as store:
        report = ingest_files(store, args.paths, force=args.force)
        _print_report(report)
    return 0


def cmd_ingest_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import ingest_files

    folder = settings.demo_data
    with _open_store(settings) as store:
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
        report = ingest_files(store, [folder], kind="demo")
        _print_report(report)
        _print_stats(store.stats(), settings.db)
    return 0


def cmd_ingest_pubmed(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.entrez import EntrezClient, EntrezConfig

    from ingest.pipeline import ingest_pubmed

    settings = Settings.from_env(ncbi_email=args.email, ncbi_api_key=args.api_key, db=settings.db)
    if args.since and args.until and args.since > args.until:
        raise ConfigError(f"--since {args.since} is after --until {args.until}.", hint="Swap them.")
    if not settings.ncbi_email:
        print("warning: no e-mail given (--email or NCBI_EMAIL); NCBI asks for one.", file=sys.stderr)
    client = EntrezClient(
        EntrezConfig(email=settings.ncbi_email, api_key=settings.ncbi_api_key, base_url=settings.eutils_url)
    )
    with _open_store(settings) as store:
        report = ingest_pubmed(
            store, client, args.query, max_records=args.max_records, since=args.since, until=args.until
        )
        _print_report(report)
    return 0


def _print_stats(stats, db: Path) -> None:
    print(f"Database: {db}")
    print(f"Records: {stats.records} ({stats.with_abstract} with abstract, {stats.retracted} retracted)")
    print(f"Deleted: {stats.deleted}")
    if stats.by_source:
        print("By source: " + ", ".join(f"{k} {v}" for k, v in stats.by_source.items()))
    if stats.by_publication_type:
        print("By publication type:")
        for name, n in list(stats.by_publication_type.items())[:15]:
            print(f"  {n:>8}  {name}")
    if stats.by_year:
        print("By year: " + ", ".join(f"{y}: {n}" for y, n in stats.by_year.items()))
    if stats.last_runs:
        print("Last ingest runs:")
        for r in stats.last_runs:
            print(
                f"  #{r.id} {r.status:<11} {r.kind:<6} {r.started_at:%Y-%m-%d %H:%M}  "
                f"{r.seen} read, {r.stored} stored, {r.unchanged} unchanged, {r.deleted} deleted, "
                f"{r.problems} problems  {r.target[:60]}"
            )


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with _open_store(settings, read_only=True) as store:
        stats = store.stats()
    if args.json:
        print(json.dumps(stats.to_json(), ensure_ascii=False))
    else:
        _print_stats(stats, settings.db)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(db=args.db)
        return args.handler(args, settings)
    except MedsearchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  -> {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every finished batch is stored; run the same command again to continue.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
