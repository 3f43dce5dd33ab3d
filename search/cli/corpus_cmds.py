"""``medsearch stats`` and ``medsearch index``: what the store holds, and its search index."""

from __future__ import annotations

import argparse
from pathlib import Path

from search.cli.common import open_store, print_json, safe_line
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
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


def print_stats(stats, db: Path) -> None:
    print(f"Database: {db}")
    print(f"Records: {stats.records} ({stats.with_abstract} with abstract, {stats.retracted} retracted)")
    print(f"Deleted: {stats.deleted}")
    if stats.by_source:
        print("By source: " + ", ".join(f"{safe_line(k)} {v}" for k, v in stats.by_source.items()))
    if stats.by_publication_type:
        print("By publication type:")
        for name, n in list(stats.by_publication_type.items())[:15]:
            print(f"  {n:>8}  {safe_line(name)}")
    if stats.by_year:
        print("By year: " + ", ".join(f"{y}: {n}" for y, n in stats.by_year.items()))
    if stats.last_runs:
        print("Last ingest runs:")
        for r in stats.last_runs:
            print(
                f"  #{r.id} {r.status:<11} {r.kind:<6} {r.started_at:%Y-%m-%d %H:%M}  "
                f"{r.seen} read, {r.stored} stored, {r.unchanged} unchanged, {r.deleted} deleted, "
                f"{r.problems} problems  {safe_line(r.target)[:60]}"
            )


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings, read_only=True) as store:
        stats = store.stats()
    if args.json:
        print_json(stats.to_json())
    else:
        print_stats(stats, settings.db)
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from search.index import IndexManager
    from search.service import index_settings

    with open_store(settings) as store:
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
