"""Ingest runs: read items from a source, write them batch by batch, keep the books.

Every batch is one transaction (``Store.apply_batch``): a crash or a kill loses
at most the batch in flight, and running the same command again completes the
work, because stored records are recognised (files: by fingerprint and record
hash; PubMed: by the PMIDs already in the store).

Ctrl-C stops a run between two writes, never inside one (``ingest.interrupts``): the
run is recorded as interrupted and ``KeyboardInterrupt`` reaches the caller (the CLI
exits with 130).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ingest import reader, sources
from ingest.interrupts import HeldInterrupts
from ingest.progress import progress_bar
from ingest.pubmed_update import QuerySpec, pull
from ingest.runs import INTERRUPTED, Run, RunReport  # noqa: F401 - INTERRUPTED: part of this API
from ingest.store import Store

if TYPE_CHECKING:
    from ingest.entrez import EntrezClient
    from ingest.rows import PreparedBatch

#: Records per transaction when reading files: large enough to amortise the
#: per-statement cost of DuckDB, small enough that a kill loses little.
FILE_BATCH = 5000

#: Inputs larger than this are parsed in a worker process (spawning one costs ~1 s).
PARALLEL_MIN_BYTES = 8_000_000


def ingest_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    force: bool = False,
    batch_size: int = FILE_BATCH,
    progress: bool = True,
    kind: str = "files",
    parallel: bool | None = None,
) -> RunReport:
    """Ingest files and folders; files already read to the end are skipped unless ``force``.

    ``parallel``: parse PubMed XML in worker processes while this one writes
    (default: when the input is larger than ``PARALLEL_MIN_BYTES`` and the
    machine has 2+ cores).
    """
    files, discovery_problems = sources.discover(paths)
    target = " ".join(str(p) for p in paths)
    with Run(store, kind, target, {"force": force}) as run:
        if discovery_problems:
            run.apply(discovery_problems)
            run.report.problems = []
            run.report.unsupported_files = list(discovery_problems)
        todo = _files_to_read(store, files, force, run.report)
        parallel = _parallel(todo, parallel)
        events = _read(todo, batch_size, parallel)
        bar = progress_bar(progress, desc="ingest", unit=" rec")
        # With parsing workers on the other cores, DuckDB's own threads would only compete
        # with them: one thread writes the batches with less CPU time in all.
        threads = store.threads(1) if parallel else contextlib.nullcontext()
        try:
            with threads:
                for event, index, payload in events:
                    sf, key, fp = todo[index]
                    if event == "batch":  # the reader's events: ("batch", i, PreparedBatch), ("done", i, int)
                        batch = cast("PreparedBatch", payload)
                        run.apply_prepared(batch)
                        bar.set_postfix_str(sf.path.name, refresh=False)
                        bar.update(batch.seen + len(batch.problems))
                    else:
                        with HeldInterrupts():
                            store.mark_file_done(key, fp, run.report.run_id, cast(int, payload))
        finally:
            bar.close()
            with HeldInterrupts():
                events.close()  # the worker processes stop now, not when the reader is collected
    return run.report


def _files_to_read(store: Store, files: Sequence, force: bool, report: RunReport) -> list[tuple]:
    """``(SourceFile, key, fingerprint)`` of the files to read: not yet read to the end, or forced."""
    todo = []
    for sf in files:
        key, fp = str(sf.path.resolve()), sources.fingerprint(sf.path)
        with HeldInterrupts():
            done = not force and store.file_done(key, fp)
        if done:
            report.files_skipped += 1
        else:
            todo.append((sf, key, fp))
    return todo


def _parallel(todo: list[tuple], parallel: bool | None) -> bool:
    """Whether to parse in worker processes: as asked, else for large PubMed XML inputs on 2+ cores."""
    if parallel is None:
        xml_bytes = sum(sf.path.stat().st_size for sf, _, _ in todo if sf.format == sources.PUBMED_XML)
        parallel = (os.cpu_count() or 1) > 1 and xml_bytes > PARALLEL_MIN_BYTES
    return parallel


def _read(todo: list[tuple], batch_size: int, parallel: bool) -> Generator[reader.Event, None, None]:
    """The reader's events for these files: in worker processes when ``parallel``."""
    to_read = [sf for sf, _, _ in todo]
    if parallel:
        return reader.read_prepared_parallel(to_read, batch_size, workers=max(2, os.cpu_count() or 1))
    return reader.read_prepared(to_read, batch_size)


def ingest_pubmed(
    store: Store,
    client: EntrezClient,
    query: str,
    *,
    max_records: int | None = None,
    sort: str = "recent",
    since: date | None = None,
    until: date | None = None,
    refresh: bool = False,
    progress: bool = True,
    require_hits: bool = False,
) -> RunReport:
    """Search PubMed, then fetch and store the matching records not yet stored.

    ``max_records``: the first N in ``sort`` order ("recent", "relevance", "pub_date"),
    in requests proportional to N. ``refresh``: also re-fetch this query's stored records
    that PubMed modified since the query was last current (``ingest.pubmed_update``).
    The query is remembered in the store for ``medsearch update``. ``require_hits``: a query
    new to the store that PubMed finds nothing for is a :class:`NoRecordsError`, and is not
    remembered (``medsearch ingest pubmed``: exit 2).
    """

    spec = QuerySpec(query, max_records, sort, since, until)  # checked before any request
    params = {"max": max_records, "sort": sort, "since": since, "until": until, "refresh": refresh}
    with Run(store, "pubmed", spec.query, params) as run:
        pull(store, client, run, spec, refresh=refresh, progress=progress, require_hits=require_hits)
    return run.report
