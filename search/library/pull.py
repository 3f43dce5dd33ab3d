"""``--pull``: ask PubMed for new records of saved queries, store them, update the index.

One writer at a time holds the corpus store (ingest's lock): a pull waits for a running
ingest or index to finish. The library file is not touched here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.errors import MedsearchError
from search.config import Settings
from search.library.types import SavedQuery

if TYPE_CHECKING:
    from ingest.store import Store

#: Records one pull fetches at most per query (the newest first, as esearch returns them).
DEFAULT_PULL_MAX = 500


@dataclass(frozen=True, slots=True)
class Pulled:
    """What a pull did for one saved query; ``error`` set when PubMed could not be asked."""

    name: str
    found: int | None  # records PubMed matched
    stored: int
    error: str | None = None


def pull(store: Store, settings: Settings, saved: Sequence[SavedQuery], *, max_records: int = DEFAULT_PULL_MAX,
         progress: bool = False, keep_going: bool = False) -> tuple[Pulled, ...]:
    """For each saved query, fetch into ``store`` (open for writing) the records PubMed
    entered since the query's last pull (on its first pull: the newest, up to
    ``max_records``) and re-fetch its stored records PubMed revised since (a retraction,
    an erratum: ``ingest_pubmed``'s refresh), then update the index once.

    ``keep_going``: a query whose pull fails is reported in its :class:`Pulled` and the
    others go on (``run-all``); otherwise the error propagates."""
    from ingest.pipeline import ingest_pubmed

    client = entrez_client(settings)
    out = []
    for s in saved:
        since = s.last_pull_at.date() if s.last_pull_at else None
        try:
            report = ingest_pubmed(store, client, s.query, max_records=max_records, since=since, refresh=True,
                                   progress=progress)
        except MedsearchError as exc:
            if not keep_going:
                raise
            out.append(Pulled(s.name, None, 0, exc.message))
            continue
        out.append(Pulled(s.name, report.found, report.result.stored))
    update_index(store, settings, progress=progress)
    return tuple(out)


def entrez_client(settings: Settings):
    from ingest.entrez import EntrezClient, EntrezConfig

    return EntrezClient(
        EntrezConfig(email=settings.ncbi_email, api_key=settings.ncbi_api_key, base_url=settings.eutils_url)
    )


def update_index(store: Store, settings: Settings, *, progress: bool = False) -> None:
    """Bring the search index up to date with the store (the one call into the indexer)."""
    from search.assembly import index_settings
    from search.index.build import IndexManager

    IndexManager(store, settings.index_dir, index_settings(settings)).build_or_update(progress=progress)
