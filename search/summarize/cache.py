"""The summary cache, kept with the user's data (``MEDSEARCH_LIBRARY_DB``), not in the corpus.

The corpus store has one writer (an ingest may hold it for an hour); the user-data file is
opened for one short transaction per operation (:class:`search.library.userdata.UserData`), so the
cache works while an ingest runs. What a model wrote is stored before the grounding checks,
which run again on every read: they are cheap, and an improved check applies to old entries.

A cache that cannot be read or written (the file held by another program for too long) is
logged and skipped: the summary is then written again rather than not shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from ingest.errors import StoreError
from search.library.userdata import UserData

log = logging.getLogger("medsearch.summaries")
Kind = Literal["finding", "overview"]


@dataclass(frozen=True, slots=True)
class CachedOutput:
    output: str
    model: str
    created_at: datetime


def cache_key(kind: Kind, model_identity: str, prompt_version: str, query: str,
              papers: Sequence[tuple[str, ...]]) -> str:
    """SHA-256 of everything that decides the output: ``papers`` are (PMID, record version, ...)."""
    parts = [kind, model_identity, prompt_version, " ".join(query.split()), [list(p) for p in papers]]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


class SummaryCache:
    def __init__(self, path: str | Path, *, wait_seconds: float = 3.0) -> None:
        self.userdata = UserData(path, wait_seconds=wait_seconds)

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedOutput]:
        """The entries found for ``keys`` (one short read)."""
        if not keys:
            return {}
        try:
            with self.userdata.connect() as con:
                rows = con.execute(
                    "SELECT key, output, model, created_at FROM summary_cache "
                    "WHERE list_contains(?::VARCHAR[], key)", [list(keys)],
                ).fetchall()
        except StoreError as exc:
            log.warning("summary cache not read: %s", exc.message)
            return {}
        return {k: CachedOutput(out, model, created) for k, out, model, created in rows}

    def put(self, key: str, kind: Kind, model: str, output: str, created_at: datetime) -> None:
        from ingest.redact import redact

        model, output = redact(model), redact(output)  # a server may echo a key: never stored
        try:
            with self.userdata.transaction() as con:
                con.execute(
                    "INSERT OR REPLACE INTO summary_cache (key, kind, model, output, created_at) "
                    "VALUES (?, ?, ?, ?, ?)", [key, kind, model, output, created_at],
                )
        except StoreError as exc:
            log.warning("summary cache not written: %s", exc.message)

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        with self.userdata.transaction() as con:
            n = con.execute("SELECT count(*) FROM summary_cache").fetchall()[0][0]
            con.execute("DELETE FROM summary_cache")
        return n
