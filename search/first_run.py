"""What the app's first-run screen needs to know, without opening the store (a writer may hold it).

- :func:`corpus_state`: whether there is an index to search, and how many records the store
  held after its last change (``<db>.state.json``, written by every writer that changed records).
- :func:`pubmed_unreachable`: one quick E-utilities request, so that an offline machine is told
  so before a load from PubMed is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.config import Settings

#: Seconds the reachability check waits for E-utilities (one try, no retries).
PROBE_TIMEOUT = 8.0


@dataclass(frozen=True, slots=True)
class CorpusState:
    """The index and the store, as seen from outside the store."""

    index_records: int | None  # records in the current index snapshot; None: no snapshot
    store_records: int | None  # records in the store after its last change; None: not known (never written)

    @property
    def searchable(self) -> bool:
        """An index with records in it: the search screen has something to show."""
        return bool(self.index_records)

    @property
    def needs_index_only(self) -> bool:
        """Records in the store, none searchable yet: only `medsearch index` is missing."""
        return not self.searchable and bool(self.store_records)


def corpus_state(settings: Settings) -> CorpusState:
    from ingest.errors import SearchIndexError
    from ingest.store import read_state
    from search.index.build import default_index_dir
    from search.index.snapshot import current_name, read_manifest

    index_dir = settings.index_dir or default_index_dir(settings.db)
    try:
        name = current_name(index_dir)
    except SearchIndexError:
        name = None
    manifest = read_manifest(index_dir / name) if name else None
    index_records = None if manifest is None else int(manifest.get("doc_count") or 0)
    state = read_state(settings.db) or {}
    store_records = state.get("records")
    return CorpusState(index_records, int(store_records) if isinstance(store_records, int) else None)


def pubmed_unreachable(settings: Settings, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why E-utilities cannot be reached from here (one esearch, one try), or None when it answered."""
    from ingest.entrez import EntrezClient, EntrezConfig
    from ingest.errors import MedsearchError

    config = EntrezConfig(email=settings.ncbi_email, api_key=settings.ncbi_api_key, base_url=settings.eutils_url,
                          timeout=timeout, max_tries=1)
    try:
        EntrezClient(config).search_top("all[sb]", 1)
    except MedsearchError as exc:
        return exc.message
    return None
