"""Read and prepare file batches, in this process or spread over worker processes.

Parsing XML and laying records out as Arrow tables is CPU work that needs no
database, so for large inputs PubMed XML files are cut into chunks of whole
records (``pubmed_xml.split_pubmed_xml``) that a pool of worker processes parses
and prepares while this process writes finished batches to DuckDB, in file
order. Other formats, and small inputs, are read here.

Both paths yield the same events, in file order:
``("batch", file_index, PreparedBatch)`` and ``("done", file_index, n_items)``.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing as mp
import signal
from collections import deque
from collections.abc import Iterator, Sequence

from ingest.errors import MedsearchError, SourceError
from ingest.rows import PreparedBatch, merge_prepared, prepare_batch
from ingest.sources import PUBMED_XML, SourceFile

Event = tuple[str, int, object]


def read_prepared(files: Sequence[SourceFile], batch_size: int) -> Iterator[Event]:
    """Parse and prepare ``files`` in this process, batch by batch."""
    from ingest import sources

    for index, sf in enumerate(files):
        n_items = 0
        items = sources.iter_items(sf)
        while batch := list(itertools.islice(items, batch_size)):
            n_items += len(batch)
            yield ("batch", index, prepare_batch(batch))
        yield ("done", index, n_items)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    import ingest.pubmed_xml  # noqa: F401 - imported before the heap is frozen

    # A chunk makes a few hundred thousand objects and no cycles worth chasing: the
    # cyclic collector would walk them all, over and over, as they pile up. It runs
    # once per chunk instead, over what the chunk left behind (imports are frozen out).
    gc.freeze()
    gc.disable()


def _prepare_chunk(chunk) -> PreparedBatch | tuple[str, str | None]:
    """Worker side: one chunk of XML -> a prepared batch (errors come back as values)."""
    from ingest.pubmed_xml import parse_chunk

    gc.collect()
    try:
        return prepare_batch(parse_chunk(chunk))
    except MedsearchError as exc:
        return (exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - carried to the main process as a SourceError
        return (f"reading failed: {exc!r}", None)


#: Records per worker task. Smaller than a transaction: the first batch is ready
#: sooner and the last one leaves a worker idle for less time.
CHUNK_RECORDS = 1000
#: Chunks handed out per worker ahead of the results: cutting the file runs ahead of
#: writing batches, so no worker waits for its next chunk while this process writes.
IN_FLIGHT = 4


def read_prepared_parallel(
    files: Sequence[SourceFile], batch_size: int, workers: int, *, chunk_records: int = CHUNK_RECORDS
) -> Iterator[Event]:
    """Like :func:`read_prepared`, with PubMed XML parsed by ``workers`` processes.

    Workers parse chunks of ``chunk_records``; their results are joined again
    into batches of about ``batch_size`` records, one transaction each.
    """
    from ingest.pubmed_xml import split_pubmed_xml

    chunk_records = min(chunk_records, batch_size)
    ctx = mp.get_context("spawn")  # no fork: this process holds a DuckDB connection and threads
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        for index, sf in enumerate(files):
            if sf.format != PUBMED_XML:
                for kind, _, payload in read_prepared([sf], batch_size):
                    yield kind, index, payload
                continue
            n_items = 0
            pending: deque = deque()
            ready: list[PreparedBatch] = []
            chunks = split_pubmed_xml(sf.path, chunk_records)
            for chunk in itertools.chain(chunks, [None]):
                if chunk is not None:
                    pending.append(pool.apply_async(_prepare_chunk, (chunk,)))
                while pending and (chunk is None or len(pending) > IN_FLIGHT * workers):
                    if chunk is None and ready and len(pending) <= workers and not pending[0].ready():
                        # the last chunks are with the workers and this process would wait
                        # idle: write what is ready meanwhile
                        yield from _batches(index, ready)
                    result = pending.popleft().get()
                    if isinstance(result, tuple):
                        message, hint = result
                        yield from _batches(index, ready)
                        raise SourceError(
                            f"{sf.path}: {message}",
                            hint=hint or "Every batch before this one is stored; fix or replace "
                            "the file and run the same command again.",
                        )
                    n_items += result.seen + len(result.problems)
                    ready.append(result)
                    if sum(b.seen + len(b.problems) for b in ready) >= batch_size:
                        yield from _batches(index, ready)
            yield from _batches(index, ready)
            yield ("done", index, n_items)


def _batches(index: int, ready: list[PreparedBatch]) -> Iterator[Event]:
    """The ready chunk results as joined batches; empties ``ready``."""
    for batch in merge_prepared(ready):
        yield ("batch", index, batch)
    ready.clear()


__all__ = ["Event", "read_prepared", "read_prepared_parallel"]
