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

import itertools
import multiprocessing as mp
import signal
from collections import deque
from collections.abc import Iterator, Sequence

from ingest.errors import MedsearchError, SourceError
from ingest.rows import PreparedBatch, prepare_batch
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


def _prepare_chunk(chunk) -> PreparedBatch | tuple[str, str | None]:
    """Worker side: one chunk of XML -> a prepared batch (errors come back as values)."""
    from ingest.pubmed_xml import parse_chunk

    try:
        return prepare_batch(parse_chunk(chunk))
    except MedsearchError as exc:
        return (exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - carried to the main process as a SourceError
        return (f"reading failed: {exc!r}", None)


def read_prepared_parallel(files: Sequence[SourceFile], batch_size: int, workers: int) -> Iterator[Event]:
    """Like :func:`read_prepared`, with PubMed XML parsed by ``workers`` processes."""
    from ingest.pubmed_xml import split_pubmed_xml

    ctx = mp.get_context("spawn")  # no fork: this process holds a DuckDB connection and threads
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        for index, sf in enumerate(files):
            if sf.format != PUBMED_XML:
                for kind, _, payload in read_prepared([sf], batch_size):
                    yield kind, index, payload
                continue
            n_items = 0
            pending: deque = deque()
            chunks = split_pubmed_xml(sf.path, batch_size)
            for chunk in itertools.chain(chunks, [None]):
                if chunk is not None:
                    pending.append(pool.apply_async(_prepare_chunk, (chunk,)))
                while pending and (chunk is None or len(pending) > 2 * workers):
                    result = pending.popleft().get()
                    if isinstance(result, tuple):
                        message, hint = result
                        raise SourceError(
                            f"{sf.path}: {message}",
                            hint=hint or "Every batch before this one is stored; fix or replace "
                            "the file and run the same command again.",
                        )
                    n_items += result.seen + len(result.problems)
                    yield ("batch", index, result)
            yield ("done", index, n_items)


__all__ = ["Event", "read_prepared", "read_prepared_parallel"]
