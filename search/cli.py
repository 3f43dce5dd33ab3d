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

    index = commands.add_parser(
        "index",
        help="build or update the search index (BM25 + embeddings)",
        description="Build the search index of the store, or bring it up to date after an "
        "ingest: BM25 is rebuilt when the corpus changed, embeddings are computed only for "
        "new or changed records. Index folder: MEDSEARCH_INDEX_DIR (default beside the database).",
    )
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser(
        "search",
        help="search the store: ranked PMIDs, titles, years and scores",
        description="Search the store. Filters apply before ranking: a filter that leaves 3 "
        "records returns those 3. Repeat --type/--journal/--language/--mesh for OR.",
    )
    search.add_argument("query", help='the question or keywords, e.g. "metformin breast cancer"')
    search.add_argument("-k", type=_positive, default=10, help="number of results (default 10)")
    search.add_argument("--json", action="store_true", help="print the full hits as JSON")
    search.add_argument("--year-from", type=int, help="only records published in or after this year")
    search.add_argument("--year-to", type=int, help="only records published in or before this year")
    search.add_argument("--type", action="append", default=[], metavar="T", dest="types",
                        help='publication type, e.g. "Randomized Controlled Trial", "Meta-Analysis", '
                        '"Systematic Review", "Guideline", "Review" (repeatable)')
    search.add_argument("--journal", action="append", default=[], help="journal title or ISO abbreviation (repeatable)")
    search.add_argument("--language", action="append", default=[], help="language code, e.g. eng (repeatable)")
    search.add_argument("--mesh", action="append", default=[], help="MeSH descriptor, e.g. Metformin (repeatable)")
    search.add_argument("--has-abstract", action="store_true", help="only records with an abstract")
    search.add_argument("--mode", choices=["bm25", "dense", "hybrid", "rerank"],
                        help="retrieval mode (default MEDSEARCH_SEARCH_MODE, else the best on dev)")
    search.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder (hybrid instead of rerank)")
    search.set_defaults(handler=cmd_search)

    ev = commands.add_parser(
        "eval",
        help="measure nDCG@10, Recall@100 and MRR@10 on a BEIR folder",
        description="Ingest a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into its "
        "own cached database under data/eval/, index it, run the split's queries and print "
        "nDCG@10, Recall@100 and MRR@10 for each mode (trec_eval definitions, linear gain).",
    )
    ev.add_argument("beir_dir", type=Path, metavar="BEIR_DIR", help="a folder in BEIR layout")
    ev.add_argument("--split", default="test", help="qrels split to evaluate (default test)")
    ev.add_argument("--mode", default="all", choices=["bm25", "dense", "hybrid", "rerank", "all"],
                    help="mode to evaluate (default all)")
    ev.add_argument("--json", action="store_true",
                    help='print one JSON object: a key per mode, each {"ndcg@10", "recall@100", "mrr@10"}, '
                    'and "default" naming the mode `medsearch search` uses')
    ev.add_argument("--cache-dir", type=Path, default=Path("data/eval"),
                    help="where the cached databases and indexes go (default data/eval)")
    ev.set_defaults(handler=cmd_eval)

    train = commands.add_parser(
        "train-reranker",
        help="train the cross-encoder reranker (see search/models/reranker/MODEL_CARD.md)",
        description="Train a cross-encoder from the packaged MiniLM weights on the BEIR train "
        "splits; all further options are listed by `medsearch train-reranker --help`.",
        add_help=False,
    )
    train.add_argument("args", nargs=argparse.REMAINDER, help="options of the trainer (see its --help)")
    train.set_defaults(handler=cmd_train_reranker)
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


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from search.index import IndexManager
    from search.service import index_settings

    with _open_store(settings) as store:
        manager = IndexManager(store, settings.index_dir, index_settings(settings))
        report = manager.build_or_update(progress=True)
    if report.up_to_date:
        print(f"The search index in {report.index_dir} is up to date ({report.doc_count} records).")
        return 0
    dense = report.dense
    print(f"Indexed {report.doc_count} records in {report.index_dir}:")
    print(f"  BM25: {'rebuilt' if report.lexical_rebuilt else 'unchanged'}")
    if dense is not None:
        print(f"  embeddings: {dense.embedded} computed, {dense.kept} kept, {dense.removed} removed")
    print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))
    return 0


def _filters(args: argparse.Namespace):
    from search.types import Filters

    return Filters(
        year_from=args.year_from, year_to=args.year_to, publication_types=tuple(args.types),
        journals=tuple(args.journal), languages=tuple(args.language), mesh_terms=tuple(args.mesh),
        has_abstract=True if args.has_abstract else None,
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from search.service import open_engine

    with _open_store(settings, read_only=True) as store:
        engine = open_engine(settings, store)
        mode = args.mode
        if args.no_rerank and (mode or engine.config.mode) == "rerank":
            mode = "hybrid"
        results = engine.search(args.query, k=args.k, filters=_filters(args), mode=mode)
    if args.json:
        print(json.dumps(results.to_json(), ensure_ascii=False))
        return 0
    for w in results.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not results.hits:
        print(f"No results ({results.candidates} records pass the filters).")
        return 0
    for h in results.hits:
        flag = "  [RETRACTED]" if h.is_retracted else ""
        print(f"{h.rank:>3}. {h.doc_id:<10} {h.year or '----'}  {h.score:8.4f}  {h.title}{flag}")
    total = sum(results.timings_ms.values())
    print(f"({results.mode}, {results.candidates} records searched, {total:.0f} ms)")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from search.engine import MODES
    from search.evaluate import evaluate_beir
    from search.service import engine_config, index_settings, reranker_from

    reranker = reranker_from(settings)
    modes = [m for m in MODES if m != "rerank" or reranker is not None] if args.mode == "all" else [args.mode]
    report = evaluate_beir(
        args.beir_dir, split=args.split, modes=modes, cache_dir=args.cache_dir,
        config=engine_config(settings, reranker), index_settings=index_settings(settings),
        reranker=reranker, progress=not args.json,
    )
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    print(f"{report.folder} ({report.split} split, {report.documents} documents)")
    print(f"{'mode':<8} {'nDCG@10':>8} {'Recall@100':>10} {'MRR@10':>8} {'queries':>8} {'seconds':>8}")
    for mode, r in report.results.items():
        star = " *" if mode == report.default_mode else ""
        print(f"{mode:<8} {r.ndcg10:8.4f} {r.recall100:10.4f} {r.mrr10:8.4f} {r.queries:8d} {r.seconds:8.1f}{star}")
    print("* the mode `medsearch search` uses by default")
    return 0


def cmd_train_reranker(args: argparse.Namespace, settings: Settings) -> int:
    from search import train_reranker

    return train_reranker.main(args.args) or 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "train-reranker" in argv:  # the trainer parses its own options, --help included
        from search import train_reranker

        at = argv.index("train-reranker")
        return _guarded(lambda: train_reranker.main(argv[at + 1 :]) or 0)
    args = build_parser().parse_args(argv)
    return _guarded(lambda: args.handler(args, Settings.from_env(db=args.db)))


def _guarded(run) -> int:
    """Run a command; the project's errors print message and hint, Ctrl-C says how to resume."""
    try:
        return run()
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
