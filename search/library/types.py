"""Typed values of the library: what its functions take and give back (no dict crosses them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from ingest.records import Article
from search.types import Filters, Hit


@dataclass(frozen=True, slots=True)
class QueryRun:
    """One run of a saved query: when, how, and how many results were new."""

    run_no: int  # 1 for the first run
    ran_at: datetime
    mode: str
    candidates: int  # records that passed the filters
    n_results: int
    n_new: int  # results no earlier run of this query returned
    pulled: int | None  # records `--pull` stored before the search; None: no pull
    snapshot: str | None = None  # the index snapshot searched, when the engine says

    def to_json(self) -> dict:
        return {**asdict(self), "ran_at": self.ran_at.isoformat(timespec="seconds")}


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """A query saved under a name: its text (PubMed syntax allowed), filters and mode."""

    id: int
    name: str
    query: str
    filters: Filters
    mode: str | None  # None: the engine's default mode
    k: int  # results each run keeps
    created_at: datetime
    last_pull_at: datetime | None
    runs: int
    last_run: QueryRun | None

    def to_json(self) -> dict:
        return {
            "name": self.name, "query": self.query, "filters": asdict(self.filters), "mode": self.mode,
            "k": self.k, "created_at": self.created_at.isoformat(timespec="seconds"),
            "last_pull_at": self.last_pull_at.isoformat(timespec="seconds") if self.last_pull_at else None,
            "runs": self.runs, "last_run": self.last_run.to_json() if self.last_run else None,
        }


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A past run as recorded: (doc_id, score, is_new) of each result in rank order."""

    saved: SavedQuery
    run: QueryRun
    results: tuple[tuple[str, float, bool], ...]


@dataclass(frozen=True, slots=True)
class AlertHit:
    """A result of a saved query's run; ``is_new``: no earlier run returned it."""

    hit: Hit
    is_new: bool

    def to_json(self) -> dict:
        return {**self.hit.to_json(), "is_new": self.is_new}


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What ``saved run`` shows: the run, its results, and which of them are new."""

    saved: SavedQuery  # as it was before this run
    run: QueryRun
    hits: tuple[AlertHit, ...]
    warnings: tuple[str, ...] = ()

    @property
    def previous_run_at(self) -> datetime | None:
        return self.saved.last_run.ran_at if self.saved.last_run else None

    @property
    def new_hits(self) -> tuple[AlertHit, ...]:
        return tuple(h for h in self.hits if h.is_new)

    def to_json(self) -> dict:
        prev = self.previous_run_at
        return {
            "name": self.saved.name, "query": self.saved.query, "filters": asdict(self.saved.filters),
            "run": self.run.to_json(), "previous_run_at": prev.isoformat(timespec="seconds") if prev else None,
            "warnings": list(self.warnings), "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True, slots=True)
class CitationList:
    id: int
    name: str
    created_at: datetime
    size: int

    def to_json(self) -> dict:
        return {"name": self.name, "created_at": self.created_at.isoformat(timespec="seconds"), "size": self.size}


@dataclass(frozen=True, slots=True)
class ListEntry:
    """A paper in a list, by PMID: the list keeps it whatever the corpus says."""

    pmid: str
    position: int  # 1-based, no gaps
    note: str | None
    added_at: datetime


#: "ok": the record is in the index; "retracted": it is, and retracted; "missing": the index
#: does not hold it (deleted from PubMed, or not ingested / indexed yet).
EntryStatus = Literal["ok", "retracted", "missing"]


@dataclass(frozen=True, slots=True)
class EntryView:
    """A list entry with what the current index says about its record."""

    entry: ListEntry
    status: EntryStatus
    article: Article | None

    def to_json(self) -> dict:
        a = self.article
        return {
            "pmid": self.entry.pmid, "position": self.entry.position, "note": self.entry.note,
            "added_at": self.entry.added_at.isoformat(timespec="seconds"), "status": self.status,
            "title": a.title if a else None, "year": a.pub_year if a else None,
            "journal": (a.journal_iso or a.journal_title) if a else None, "doi": a.doi if a else None,
        }


@dataclass(frozen=True, slots=True)
class ListView:
    """A list with every entry's status: missing and retracted papers are shown, never dropped."""

    list: CitationList
    entries: tuple[EntryView, ...]

    def count(self, status: EntryStatus) -> int:
        return sum(1 for e in self.entries if e.status == status)

    def to_json(self) -> dict:
        return {
            **self.list.to_json(), "missing": self.count("missing"), "retracted": self.count("retracted"),
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass(frozen=True, slots=True)
class AddReport:
    """What ``lists add`` / ``lists import`` did."""

    added: tuple[str, ...]  # PMIDs appended, in order
    already: tuple[str, ...]  # PMIDs that were in the list (their note updated if one was given)


@dataclass(frozen=True, slots=True)
class Retraction:
    """A listed paper seen retracted for the first time (by ``saved run-all``)."""

    pmid: str
    title: str
    lists: tuple[str, ...]
