"""What the app searches, so the collection is never mistaken for PubMed itself: how many
records, where they came from (PubMed queries, files, the demo records), the newest
publication year, and when PubMed was last asked for changes.

Read from the index snapshot's manifest (``search.index.build`` keeps the store's stats in
it, with the store's last ingest runs): the app never opens the store. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Ingest runs that asked PubMed itself (E-utilities), as ``ingest.store`` records their kind.
PUBMED_KINDS = ("pubmed", "update", "refresh")
UPDATE_HOW = ("`medsearch update` fetches what PubMed added or changed for the queries ingested before; "
              "`medsearch ingest pubmed \"QUERY\"` adds another query; then `medsearch index`.")


@dataclass(frozen=True, slots=True)
class Source:
    kind: str  # "pubmed", "files", "demo", "update", ...
    target: str  # the query, or the path read
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class CorpusInfo:
    records: int
    sources: tuple[Source, ...] = ()
    newest_year: int | None = None
    last_pubmed: datetime | None = None  # the last finished run that asked PubMed

    @property
    def from_text(self) -> str:
        """Where the records came from, one phrase per source (newest first, at most three)."""
        seen: dict[tuple[str, str], None] = {}
        for s in self.sources:
            if s.kind not in ("update", "refresh"):
                seen.setdefault((s.kind, s.target), None)
        phrases = [_phrase(kind, target) for kind, target in seen]
        if not phrases:
            return "sources not recorded in this index"
        more = len(phrases) - 3
        return "; ".join(phrases[:3]) + (f"; and {more} more" if more > 0 else "")

    @property
    def pubmed_text(self) -> str:
        if self.last_pubmed is None:
            return "never updated from PubMed"
        return f"last update from PubMed {self.last_pubmed:%Y-%m-%d %H:%M}"

    def sentence(self) -> str:
        """The header's line: "2,410 records (from ...) · newest 2025 · never updated from PubMed"."""
        parts = [f"{self.records:,} records searched, from {self.from_text}"]
        if self.newest_year is not None:
            parts.append(f"newest published {self.newest_year}")
        parts.append(self.pubmed_text)
        return " · ".join(parts)


def _phrase(kind: str, target: str) -> str:
    if kind == "pubmed":
        return f"PubMed query \u201c{target}\u201d"
    if kind == "demo":
        return "the demo records"
    if kind == "files":
        return f"files {target}"
    return f"{kind} {target}".strip()


def corpus_info(manifest: Mapping[str, Any]) -> CorpusInfo:
    """The collection an index snapshot holds, from its manifest (missing parts left out)."""
    stats = manifest.get("stats") or {}
    runs = [r for r in stats.get("last_runs") or () if r.get("status") == "completed"]
    sources = tuple(Source(str(r.get("kind") or ""), str(r.get("target") or ""), _when(r.get("finished_at")))
                    for r in sorted(runs, key=lambda r: str(r.get("finished_at") or ""), reverse=True))
    years = [int(y) for y in (stats.get("by_year") or {}) if str(y).isdigit()]
    pubmed = [s.finished_at for s in sources if s.kind in PUBMED_KINDS and s.finished_at is not None]
    return CorpusInfo(int(manifest.get("doc_count") or stats.get("records") or 0), sources,
                      max(years) if years else None, max(pubmed) if pubmed else None)


def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
