"""``medsearch stats`` and ``medsearch index``: what the store holds, and its search index."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.errors import ConfigError
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
        "ingest: a new snapshot (records, BM25, embeddings) is written beside the current one and "
        "switched in atomically, so searches keep working meanwhile; embeddings are computed only "
        "for texts not embedded before. The current snapshot is checked against its checksums and "
        "rebuilt if damaged. Index folder: MEDSEARCH_INDEX_DIR (default beside the database).",
    )
    index.add_argument("--force", action="store_true",
                       help="build a new snapshot even if the current one is up to date and intact")
    index.add_argument("--if-records", action="store_true",
                       help="do nothing (exit 0) when the store has no records yet (`make run` on a new clone)")
    index.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="embed as a Ray Data job: a local Ray without ADDRESS, a cluster with host:port "
                       "(needs the scale extra; resumable; docs/scale.md)")
    index.add_argument("--ray-workers", type=int, default=None, metavar="N",
                       help="embedding actors of the Ray job (default: one per CPU, each single-threaded)")
    index.add_argument("--ray-worker-cpus", type=int, default=None, metavar="N",
                       help="CPUs (and encoder threads) of each actor (default: a local Ray shares this "
                       "machine's cores out among the workers; a cluster gives each 1)")
    index.add_argument("--vectors", type=Path, metavar="FILE",
                       help="import precomputed vectors keyed by PMID (Parquet: pmid, vector; or NumPy FILE.npy "
                       "with FILE.ids.txt and FILE.json) made by the configured model, instead of computing them")
    index.add_argument("--allow-unknown", action="store_true",
                       help="with --vectors: skip ids the store does not hold instead of refusing the file")
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
    from ingest.errors import StoreError
    from ingest.lock import active_writer

    writer = active_writer(settings.db)
    try:
        if writer is not None:
            raise StoreError(f"The store is being written by {writer.describe()}.")
        with open_store(settings, read_only=True) as store:
            stats = store.stats()
    except StoreError as exc:
        if "being written" not in exc.message:
            raise
        return _snapshot_stats(args, settings, exc.message)
    if args.json:
        print_json(stats.to_json())
    else:
        print_stats(stats, settings.db)
    return 0


def _snapshot_stats(args: argparse.Namespace, settings: Settings, why: str) -> int:
    """While a writer holds the store: the counts of the current index snapshot, said so."""
    import sys

    from search.index.build import default_index_dir
    from search.index.snapshot import current_name, read_manifest

    index_dir = settings.index_dir or default_index_dir(settings.db)
    name = current_name(index_dir)
    manifest = read_manifest(index_dir / name) if name else None
    if manifest is None or "stats" not in manifest:
        from ingest.errors import StoreError

        raise StoreError(why, hint="Wait for it to finish; there is no search index to show counts from yet.")
    note = f"{why} These are the counts of the search index built at {manifest['built_at']}."
    if args.json:
        print_json({**manifest["stats"], "source": "index", "note": note})
        return 0
    print(f"note: {note}", file=sys.stderr)
    from ingest.store import Stats

    print_stats(Stats.from_json(manifest["stats"]), settings.db)
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from search.assembly import index_settings
    from search.index.build import IndexManager

    if args.if_records and not settings.db.exists():
        print(f"No records in {settings.db} yet: nothing to index. The app's first-run screen loads some.")
        return 0
    target = None
    if settings.backend == "milvus":  # the target answers before any work
        from search.assembly import milvus_target
        from search.retrieval.milvus.connect import connect

        target = milvus_target(settings)
        connect(target)
    if args.ray is not None:
        from search.index.ray_embed import check_address, check_counts, require_ray

        check_counts(args.ray_workers, args.ray_worker_cpus)
        require_ray()
        check_address(args.ray or None)
    with open_store(settings, read_only=True, lock=True) as store:
        if args.if_records and store.count() == 0:
            print(f"No records in {settings.db} yet: nothing to index. The app's first-run screen loads some.")
            return 0
        manager = IndexManager(store, settings.index_dir, index_settings(settings))
        if args.vectors is not None or args.ray is not None:
            _precompute(args, settings, manager)
        report = manager.build_or_update(progress=True, force=args.force)
        if target is not None:
            _publish_milvus(manager, target)
    if report.up_to_date:
        print(f"The search index in {report.index_dir} is up to date ({report.doc_count} records, "
              f"snapshot {report.snapshot}).")
        return 0
    dense = report.dense
    print(f"Indexed {report.doc_count} records in {report.index_dir} (snapshot {report.snapshot}; "
          f"{report.bytes_on_disk / 1e6:.1f} MB):")
    print("  why: " + "; ".join(report.reasons))
    print(f"  BM25: {'rebuilt' if report.lexical_rebuilt else 'copied (corpus unchanged)'}")
    if dense is not None:
        print(f"  embeddings: {dense.embedded} computed, {dense.kept} kept, {dense.removed} removed")
    print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))
    return 0


def _publish_milvus(manager, target) -> None:
    """Write the current snapshot into a new Milvus collection and switch the alias to it
    (kept when the alias already serves this corpus and model)."""
    from search.retrieval.milvus.collection import build_from_snapshot

    snap = manager.load()
    try:
        built = build_from_snapshot(snap, target, progress=True)
    finally:
        snap.close()
    if built.published:
        print(f"Milvus: {built.records} records in {built.collection}, published as {target.collection} "
              f"at {target.uri} ({built.seconds:.1f} s).")
    else:
        print(f"Milvus: {target.collection} at {target.uri} already serves this index ({built.collection}).")


def _precompute(args: argparse.Namespace, settings: Settings, manager) -> None:
    """--vectors and --ray: vectors into the build's journal, before the plain build takes them."""
    from search.retrieval.dense import DenseParams

    if manager.settings.embedder is None:
        raise ConfigError("--vectors and --ray need an embedding model (MEDSEARCH_EMBEDDING_MODEL is none).",
                          hint="Set the model that made the vectors, or index without them.")
    embedder = manager.embedder()
    params = DenseParams.of(embedder)
    if args.vectors is not None:
        from search.index.vectors_import import import_vectors

        got = import_vectors(manager.store, manager.index_dir, params, args.vectors, allow_unknown=args.allow_unknown)
        print(f"Vectors: {got.imported:,} imported from {got.path}; {got.missing:,} records to embed"
              + (f"; {got.unknown:,} unknown ids skipped (e.g. {', '.join(got.unknown_examples)})" if got.unknown else ""))
    if args.ray is not None:
        from search.index.journal import EmbeddingJournal
        from search.index.ray_embed import embed_on_ray, pending

        previous = set(manager._previous_dense(embedder).text_hashes)
        todo, skipped = pending(manager.store, manager.index_dir, params, previous)
        s = manager.settings
        ray_report = embed_on_ray(
            todo, EmbeddingJournal(manager.index_dir, params),
            {"name": s.embedder, "backend": s.backend, "query_prefix": s.query_prefix, "doc_prefix": s.doc_prefix,
             "allow_download": s.allow_download},
            address=args.ray or None, workers=args.ray_workers, cpus_per_worker=args.ray_worker_cpus,
            skipped=skipped, progress=True)
        print(f"Ray: {ray_report.embedded:,} texts embedded by {ray_report.workers} workers of "
              f"{ray_report.cpus_per_worker} CPU{'s' if ray_report.cpus_per_worker > 1 else ''} in "
              f"{ray_report.seconds:.1f} s ({ray_report.skipped:,} already embedded)")
