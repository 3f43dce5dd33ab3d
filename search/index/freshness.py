"""Whether an index snapshot is behind its store, told without opening the store.

A reader must not open the store (its writer may hold it for an hour), so the writer
leaves two signs beside the database: ``<db>.state.json`` (the corpus fingerprint after
its last change, ``Store.close``) and ``<db>.writer.lock`` (who is writing now,
``ingest/lock.py``). A snapshot's manifest holds the fingerprint it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.lock import active_writer
from ingest.store import read_state


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Whether the snapshot matches the store; ``reasons`` say why not, ``writer`` who is writing."""

    fresh: bool
    reasons: tuple[str, ...] = ()
    built_at: str | None = None
    records: int | None = None  # records in the snapshot
    store_records: int | None = None  # records in the store after its last change, if known
    store_changed_at: str | None = None
    writer: str | None = None  # "`medsearch ingest files` (pid 123, since ...)" while one runs

    @property
    def message(self) -> str:
        if self.fresh:
            return "The search index is up to date."
        return "; ".join(self.reasons) + "; run `medsearch index`."

    def to_json(self) -> dict[str, Any]:
        return {"fresh": self.fresh, "reasons": list(self.reasons), "built_at": self.built_at,
                "records": self.records, "store_records": self.store_records,
                "store_changed_at": self.store_changed_at, "writer": self.writer, "message": self.message}


def reader_status(snapshot: Any, db_path: Path | None) -> IndexStatus:
    """The status of a loaded snapshot against the store at ``db_path`` (None: not compared)."""
    manifest = snapshot.manifest
    built_at, records = manifest.get("built_at"), manifest.get("doc_count")
    if db_path is None:
        return IndexStatus(True, (), built_at, records)
    writer = active_writer(db_path)
    state = read_state(db_path) or {}
    reasons = []
    if state.get("fingerprint") not in (None, manifest.get("fingerprint")):
        store_n = state.get("records")
        reasons.append(
            f"the index ({records} records, built {built_at}) is older than the store "
            f"({store_n} records, changed {state.get('changed_at')})"
        )
    return IndexStatus(not reasons, tuple(reasons), built_at, records, state.get("records"),
                       state.get("changed_at"), writer.describe() if writer else None)
