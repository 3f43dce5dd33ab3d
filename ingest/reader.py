"""Read and prepare file batches, in this process or spread over worker processes.

Parsing XML and laying records out as Arrow tables is CPU work that needs no
database, so for large inputs PubMed XML files are cut into chunks of whole
records (``pubmed_chunks.split_pubmed_xml``) that a pool of worker processes parses
and prepares while this process writes finished batches to DuckDB, in file
order. Other formats, and small inputs, are read here.

Both paths yield the same events, in file order:
``("batch", file_index, PreparedBatch)`` and ``("done", file_index, n_items)``.
"""

from __future__ import annotations

import gc
import importlib.abc
import itertools
import multiprocessing as mp
import signal
import sys
import time
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not a Unix
    fcntl = None  # type: ignore[assignment]

from ingest import sources
from ingest.errors import MedsearchError, SourceError
from ingest.interrupts import HeldInterrupts
from ingest.pubmed_chunks import parse_chunk, split_pubmed_xml
from ingest.rows import PreparedBatch, merge_prepared, prepare_batch
from ingest.sources import PUBMED_XML, SourceFile

Event = tuple[str, int, object]


def read_prepared(files: Sequence[SourceFile], batch_size: int) -> Generator[Event, None, None]:
    """Parse and prepare ``files`` in this process, batch by batch."""
    for index, sf in enumerate(files):
        n_items = 0
        items = sources.iter_items(sf)
        while batch := list(itertools.islice(items, batch_size)):
            n_items += len(batch)
            yield ("batch", index, prepare_batch(batch))
        yield ("done", index, n_items)


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail in a worker.

    pyarrow imports pandas (0.2 s of CPU, 12 us a record of a 30,000-record file for two
    workers) the first time it converts a Python list, only to check whether it was given a
    pandas object; without pandas it skips the check. A worker gives it lists of plain values.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"no {name} in a parsing worker", name=name)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())
    import ingest.pubmed_xml  # noqa: F401 - imported before the heap is frozen

    # A chunk makes a few hundred thousand objects and no cycles worth chasing: the
    # cyclic collector would walk them all, over and over, as they pile up. It runs
    # once per chunk instead, over what the chunk left behind (imports are frozen out).
    gc.freeze()
    gc.disable()


def _prepare_chunk(chunk) -> PreparedBatch | tuple[str, str | None]:
    """Worker side: one chunk of XML -> a prepared batch (errors come back as values)."""
    gc.collect()
    # What survives it lives on from chunk to chunk (caches, pyarrow's types): frozen too,
    # the next collections skip it (walking it again took 10 ms a chunk, 20 us a record).
    gc.freeze()
    try:
        return prepare_batch(parse_chunk(chunk))
    except MedsearchError as exc:
        return (exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - carried to the main process as a SourceError
        return (f"reading failed: {exc!r}", None)


#: Records per worker task. Smaller than a transaction: the first batch is ready
#: sooner and the last one leaves a worker idle for less time.
CHUNK_RECORDS = 500
#: Chunks handed out per worker ahead of the results: cutting the file runs ahead of
#: writing batches, so no worker waits for its next chunk while this process writes.
IN_FLIGHT = 4


def read_prepared_parallel(
    files: Sequence[SourceFile], batch_size: int, workers: int, *, chunk_records: int | None = None
) -> Generator[Event, None, None]:
    """Like :func:`read_prepared`, with PubMed XML parsed by ``workers`` processes.

    Workers parse chunks of ``chunk_records``; their results are joined again
    into batches of about ``batch_size`` records, one transaction each. The
    next file is cut and handed out while the last chunks of one are parsed.
    """
    ctx = mp.get_context("spawn")  # no fork: this process holds a DuckDB connection and threads
    mask = _block_sigint()
    try:
        pool = ctx.Pool(workers, initializer=_init_worker)
    except BaseException:
        _restore_mask(mask)
        raise
    flow = _Flow(files, batch_size, workers)
    try:
        _restore_mask(mask)  # a Ctrl-C that came meanwhile is raised here, and the pool ends
        _widen_pipes(pool)
        for index, sf in enumerate(files):
            if sf.format != PUBMED_XML:
                yield from flow.drain()
                for kind, _, payload in read_prepared([sf], batch_size):
                    yield kind, index, payload
                continue
            for chunk in split_pubmed_xml(sf.path, min(chunk_records or CHUNK_RECORDS, batch_size)):
                with HeldInterrupts():  # the pool's task queue is never left locked by a Ctrl-C
                    flow.pending.append((index, pool.apply_async(_prepare_chunk, (chunk,))))
                while len(flow.pending) > IN_FLIGHT * workers:
                    yield from flow.take()
            flow.pending.append((index, None))  # the file is all handed out
        yield from flow.drain()
    finally:
        _stop_pool(pool, [result for _, result in flow.pending if result is not None])


#: Seconds the workers have, once reading stops, to finish the chunks they were handed (a chunk
#: of 500 records takes a fraction of a second); a worker still busy after that is killed.
STOP_S = 30.0


def _stop_pool(pool: Pool, handed_out: Sequence[AsyncResult]) -> None:
    """End the pool without killing a worker in the middle of a transfer.

    ``Pool.terminate`` kills the workers wherever they are. Killed while one reads a task or
    writes a result, it leaves a pipe's lock taken or a task half sent, and the pool's own
    shutdown then waits for ever: a Ctrl-C hung ``medsearch ingest files`` so in a test run, its task
    thread writing a 7.4 MB chunk that no live worker would read. ``bench/pool_stop.py``:
    10 of 60 stops hung with ``terminate``, none of 60 this way. Here no new task is taken
    (``close``), the chunks already handed out are finished (``STOP_S`` at most; about half a
    second on 2 cores), and the workers exit on their own. A Ctrl-C meanwhile is held until
    the pool is gone.
    """
    with HeldInterrupts():
        pool.close()
        deadline = time.monotonic() + STOP_S
        for result in handed_out:
            result.wait(max(0.0, deadline - time.monotonic()))
        if all(result.ready() for result in handed_out):
            pool.join()
        else:  # a worker stuck or lost: the old way
            pool.terminate()
            pool.join()


def _result(result: AsyncResult) -> Any:
    """``result.get()``, with a Ctrl-C raised here between waits, not inside the pool's locks
    (a ``KeyboardInterrupt`` raised in the middle of ``threading``'s lock handling can leave a
    lock taken that the pool's threads need to stop)."""
    with HeldInterrupts() as held:
        while not result.ready() and not held.pending:
            result.wait(0.1)
    return result.get()


def _block_sigint() -> set[int] | None:
    """Block SIGINT in this thread while the pool starts; the mask it had, None where unsupported.

    A terminal's Ctrl-C goes to every process of the group, workers included. A blocked
    signal stays blocked across fork and exec, so the workers (and the pool's threads) are
    born with it blocked and cannot die of it before ``_init_worker`` ignores it, printing
    a traceback. ``multiprocessing``'s resource tracker starts its own process so, and
    unblocks SIGINT afterwards: it is started first.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return None
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _restore_mask(mask: set[int] | None) -> None:
    """Undo :func:`_block_sigint`; a SIGINT that came meanwhile is delivered now."""
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


#: Pipe buffer for the chunks and results (Linux's default is 64 KiB): a 7 MB chunk then
#: crosses in a few writes instead of a hundred, each a switch between processes. It
#: halved the CPU time the main process spends passing chunks and results.
PIPE_BYTES = 1 << 20


def _widen_pipes(pool: object) -> None:
    """Give the pool's task and result pipes ``PIPE_BYTES`` of buffer, where the OS allows."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setpipe is None:
        return
    for queue in (getattr(pool, "_inqueue", None), getattr(pool, "_outqueue", None)):
        try:
            fcntl.fcntl(queue._writer.fileno(), setpipe, PIPE_BYTES)  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            pass  # another platform or Python, or over the user's pipe limit: the default stays


class _Flow:
    """The chunks handed out to the workers, in file order, and the results not yet written."""

    def __init__(self, files: Sequence[SourceFile], batch_size: int, workers: int) -> None:
        self.files = files
        self.batch_size = batch_size
        self.workers = workers
        self.pending: deque[tuple[int, AsyncResult | None]] = deque()  # None: the end of a file
        self.ready: list[PreparedBatch] = []  # parsed, of one file, not yet written
        self.ready_items = 0  # items in ``ready``
        self.items = 0  # items read from the file being written

    def take(self) -> Iterator[Event]:
        """Wait for the oldest chunk; yield the batches and file ends it completes."""
        index, result = self.pending.popleft()
        if result is None:
            yield from self._flush(index)
            yield ("done", index, self.items)
            self.items = 0
            return
        value = _result(result)
        if isinstance(value, tuple):
            yield from self._flush(index)
            message, hint = value
            raise SourceError(
                f"{self.files[index].path}: {message}",
                hint=hint or "Every batch before this one is stored; fix or replace "
                "the file and run the same command again.",
            )
        n = value.seen + len(value.problems)
        self.items += n
        self.ready_items += n
        self.ready.append(value)
        if self.ready_items >= self.batch_size:
            yield from self._flush(index)

    def drain(self) -> Iterator[Event]:
        """Everything handed out, to the end."""
        while self.pending:
            if self.ready and self._tail() and not self._next_ready():
                # the last chunks are with the workers and this process would wait idle:
                # write what is ready meanwhile
                yield from self._flush(self.pending[0][0])
            yield from self.take()

    def _tail(self) -> bool:
        return sum(1 for _, r in self.pending if r is not None) <= self.workers

    def _next_ready(self) -> bool:
        result = self.pending[0][1]
        return result is None or result.ready()

    def _flush(self, index: int) -> Iterator[Event]:
        for batch in merge_prepared(self.ready):
            yield ("batch", index, batch)
        self.ready.clear()
        self.ready_items = 0


__all__ = ["Event", "read_prepared", "read_prepared_parallel"]
