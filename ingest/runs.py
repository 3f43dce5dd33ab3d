"""The books of one ingest run: opened in ``ingest_runs`` before the first write, closed after
the last as completed, failed or interrupted, with every batch written through it counted.

Shared by the runs of ``ingest.pipeline`` (files, a PubMed query) and ``ingest.pubmed_update``
(update, refresh).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.errors import MedsearchError
from ingest.interrupts import HeldInterrupts, raise_if_requested
from ingest.records import Item, Problem
from ingest.rows import PreparedBatch, prepare_batch
from ingest.store import BatchResult, Store


@dataclass(slots=True)
class RunReport:
    """The outcome of one ingest run, for the CLI to print."""

    run_id: int
    result: BatchResult = field(default_factory=BatchResult)
    problems: list[Problem] = field(default_factory=list)
    files_skipped: int = 0  # already ingested, same fingerprint
    unsupported_files: list[Problem] = field(default_factory=list)  # not a record format
    found: int | None = None  # PubMed: how many records the query matches
    already_stored: int | None = None  # PubMed: how many of those were in the store
    warnings: list[str] = field(default_factory=list)


#: ``ingest_runs.message`` of a run stopped by Ctrl-C.
INTERRUPTED = "interrupted by the user"


class Run:
    """Start/finish bookkeeping shared by every kind of run.

    Opening and closing the run's record wait for Ctrl-C (``HeldInterrupts``), so a run
    that was opened is always closed: completed, failed, or interrupted.
    """

    def __init__(self, store: Store, kind: str, target: str, params: dict) -> None:
        self.store = store
        try:
            with HeldInterrupts():
                self.report = RunReport(run_id=store.start_run(kind, target, params))
        except KeyboardInterrupt:  # came while the run was being opened: it ends here
            if hasattr(self, "report"):
                self.__exit__(KeyboardInterrupt, None, None)
            raise

    def apply(self, batch: Sequence[Item]) -> BatchResult:
        return self.apply_prepared(prepare_batch(batch))

    def apply_prepared(self, batch: PreparedBatch) -> BatchResult:
        raise_if_requested()  # a Ctrl-C that DuckDB swallowed stops the run between batches
        result = self.store.apply_prepared(batch, self.report.run_id)
        self.report.result += result
        self.report.problems.extend(batch.problems)
        return result

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        run_id = self.report.run_id
        with HeldInterrupts():
            if exc_type is None:
                self.store.finish_run(run_id, "completed")
            elif issubclass(exc_type, KeyboardInterrupt):
                self.store.finish_run(run_id, "interrupted", INTERRUPTED)
            else:
                message = exc.message if isinstance(exc, MedsearchError) else repr(exc)
                self.store.finish_run(run_id, "failed", message)
