"""Saved-query alerts: run a saved query again, see what is new, and the nightly digest.

As in PubMed's saved-search alerts, a result is *new* when no earlier run of the same
saved query returned it (a paper that left the top k and came back is not new again).
Each run is kept with its date and what it returned (:mod:`search.library.queries`).
The search itself runs outside any library transaction, so it never holds the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ingest.errors import MedsearchError
from search.library.lists import CitationLists
from search.library.queries import SavedQueries
from search.library.types import AlertHit, QueryRun, Retraction, RunOutcome, SavedQuery
from search.library.views import Records
from search.types import Filters, SearchResults

log = logging.getLogger("medsearch.library")


class Searcher(Records, Protocol):
    """What the library needs of the engine (``search.engine.Engine`` satisfies it)."""

    def search(self, query: str, *, k: int = 10, filters: Filters = ..., mode: str | None = None) -> SearchResults:
        ...


@dataclass(frozen=True, slots=True)
class QueryFailure:
    """A saved query that could not run (or pull) in ``run-all``; the others went on."""

    name: str
    message: str


@dataclass(frozen=True, slots=True)
class Digest:
    """What ``saved run-all`` reports: new papers per query, failures, newly retracted papers."""

    outcomes: tuple[RunOutcome, ...]
    failures: tuple[QueryFailure, ...]
    retractions: tuple[Retraction, ...]

    def to_json(self) -> dict:
        return {
            "queries": [
                {"name": o.saved.name, "new": o.run.n_new, "results": o.run.n_results, "pulled": o.run.pulled,
                 "ran_at": o.run.ran_at.isoformat(timespec="seconds"),
                 "new_hits": [h.to_json() for h in o.new_hits]}
                for o in self.outcomes
            ],
            "failures": [{"name": f.name, "message": f.message} for f in self.failures],
            "newly_retracted": [{"pmid": r.pmid, "title": r.title, "lists": list(r.lists)} for r in self.retractions],
        }


def run_query(queries: SavedQueries, saved: SavedQuery, searcher: Searcher, *, pulled: int | None = None,
              deliver: Callable[[RunOutcome], None] | None = None) -> RunOutcome:
    """Search with the saved query's text, filters, mode and k; record the run. With ``deliver``
    (the CLI prints the outcome), the run is recorded only once ``deliver`` has returned, so
    results never shown stay new."""
    results = searcher.search(saved.query, k=saved.k, filters=saved.filters, mode=saved.mode)
    if deliver is not None:
        deliver(_pending(queries, saved, results, pulled))
    return _record(queries, saved, results, pulled)


def _record(queries: SavedQueries, saved: SavedQuery, results: SearchResults, pulled: int | None) -> RunOutcome:
    run, new = queries.record_run(saved, results.mode, results.candidates, results.hits, pulled,
                                  results.snapshot or None)
    hits = tuple(AlertHit(h, h.doc_id in new) for h in results.hits)
    return RunOutcome(saved, run, hits, tuple(results.warnings))


def _pending(queries: SavedQueries, saved: SavedQuery, results: SearchResults, pulled: int | None) -> RunOutcome:
    """What recording the run would give (new = no earlier run returned it), recording nothing."""
    seen = queries.seen(saved.id)
    hits = tuple(AlertHit(h, h.doc_id not in seen) for h in results.hits)
    run_no = (saved.last_run.run_no if saved.last_run else 0) + 1
    run = QueryRun(run_no, datetime.now(), results.mode, results.candidates, len(hits),
                   sum(h.is_new for h in hits), pulled, results.snapshot or None)
    return RunOutcome(saved, run, hits, tuple(results.warnings))


def known_new(saved: SavedQuery, current_snapshot: str | None) -> int | None:
    """New results since the last run when known without searching: 0 when the index
    snapshot is the one that run searched; None (unknown) otherwise."""
    last = saved.last_run
    if last is not None and last.snapshot is not None and last.snapshot == current_snapshot:
        return 0
    return None


def count_new(queries: SavedQueries, saved: SavedQuery, searcher: Searcher) -> int:
    """How many of today's results no run returned yet; runs the search, records nothing."""
    results = searcher.search(saved.query, k=saved.k, filters=saved.filters, mode=saved.mode)
    seen = queries.seen(saved.id)
    return sum(1 for h in results.hits if h.doc_id not in seen)


def run_all(queries: SavedQueries, lists: CitationLists, searcher: Searcher,
            pulled: dict[str, int | None] | None = None, failures: Sequence[QueryFailure] = (), *,
            deliver: Callable[[Digest], None] | None = None) -> Digest:
    """Run every saved query, then look for listed papers that became retracted.

    Each query is isolated: one that fails, for any reason, is reported and the others go on.
    Nothing is recorded until the digest is delivered: ``deliver`` (the CLI prints it) gets the
    digest first; only when it returns are the runs recorded (their results marked seen) and
    the retractions marked noticed. A digest that never reaches the user (a crash, a full disk)
    leaves every new paper new for the next run. ``pulled``: records --pull stored, by query name."""
    pulled = pulled or {}
    searched, failed = [], list(failures)
    for saved in queries.all():
        try:
            results = searcher.search(saved.query, k=saved.k, filters=saved.filters, mode=saved.mode)
            searched.append((saved, results, _pending(queries, saved, results, pulled.get(saved.name))))
        except MedsearchError as exc:
            failed.append(QueryFailure(saved.name, exc.message))
        except Exception as exc:  # a bug must not cost the other queries their run
            log.exception("saved query %r failed", saved.name)
            failed.append(QueryFailure(saved.name, f"it could not run ({type(exc).__name__}); the details are "
                                       "in the log"))
    listed = lists.listed()
    retracted = _retracted(listed, searcher)
    fresh = lists.unnoticed_retractions(p.pmid for p in retracted)
    pending = Digest(tuple(p for _, _, p in searched), tuple(failed),
                     tuple(r for r in retracted if r.pmid in fresh))
    if deliver is not None:
        deliver(pending)
    outcomes = []
    for saved, results, _ in searched:
        try:
            outcomes.append(_record(queries, saved, results, pulled.get(saved.name)))
        except MedsearchError as exc:  # deleted while it ran: reported, the others recorded
            failed.append(QueryFailure(saved.name, exc.message))
    noticed = lists.notice_retractions(fresh)
    return Digest(tuple(outcomes), tuple(failed), tuple(r for r in retracted if r.pmid in noticed))


def _retracted(listed: dict[str, tuple[str, ...]], records: Records) -> list[Retraction]:
    if not listed:
        return []
    found = records.articles(sorted(listed))
    return [Retraction(p, found[p].title, listed[p]) for p in sorted(found, key=int) if found[p].is_retracted]


def newly_retracted(lists: CitationLists, records: Records) -> tuple[Retraction, ...]:
    """Listed papers that the index shows retracted and no earlier digest reported (marked now)."""
    retracted = _retracted(lists.listed(), records)
    fresh = lists.notice_retractions(r.pmid for r in retracted)
    return tuple(r for r in retracted if r.pmid in fresh)
