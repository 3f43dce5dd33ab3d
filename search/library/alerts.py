"""Saved-query alerts: run a saved query again, see what is new, and the nightly digest.

A result is *new* when it entered the query's result set (``search/results/result_set.py``)
since the last run: no earlier run's set held it. The first run is the baseline and calls
nothing new; a paper once in the set is never new again, wherever it ranks later. The new
papers are shown whether or not they rank in the top k.
Each run is kept with its date and what it returned (:mod:`search.library.queries`).
The search itself runs outside any library transaction, so it never holds the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.errors import MedsearchError
from search.library.lists import CitationLists
from search.library.queries import SavedQueries
from search.library.types import AlertHit, Retraction, RunOutcome, SavedQuery
from search.library.views import Records
from search.types import Filters, Hit, SearchResults


class Searcher(Records, Protocol):
    """What the library needs of the engine (``search.engine.Engine`` satisfies it)."""

    def search(self, query: str, *, k: int = 10, filters: Filters = ..., mode: str | None = None) -> SearchResults:
        ...

    def matching_ids(self, query: str, *, filters: Filters = ..., mode: str | None = None) -> frozenset[str]:
        ...

    def cards_of(self, doc_ids: Sequence[str]) -> tuple[Hit, ...]:
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


def run_query(queries: SavedQueries, saved: SavedQuery, searcher: Searcher, *, pulled: int | None = None) -> RunOutcome:
    """Search with the saved query's text, filters, mode and k; record the run."""
    results = searcher.search(saved.query, k=saved.k, filters=saved.filters, mode=saved.mode)
    matched = searcher.matching_ids(saved.query, filters=saved.filters, mode=saved.mode)
    run, new = queries.record_run(saved, results.mode, results.candidates, results.hits, pulled,
                                  results.snapshot or None, matched)
    page = {h.doc_id for h in results.hits}
    outside = searcher.cards_of(sorted(new - page)) if new - page else ()
    hits = tuple(AlertHit(h, h.doc_id in new) for h in (*results.hits, *outside))
    return RunOutcome(saved, run, hits, tuple(results.warnings))


def known_new(saved: SavedQuery, current_snapshot: str | None) -> int | None:
    """New results since the last run when known without searching: 0 when the index
    snapshot is the one that run searched; None (unknown) otherwise."""
    last = saved.last_run
    if last is not None and last.snapshot is not None and last.snapshot == current_snapshot:
        return 0
    return None


def count_new(queries: SavedQueries, saved: SavedQuery, searcher: Searcher) -> int:
    """How many records entered the result set since the last run (0 before a first run,
    which is the baseline); runs the search, records nothing."""
    if saved.last_run is None:
        return 0
    matched = searcher.matching_ids(saved.query, filters=saved.filters, mode=saved.mode)
    return len(matched - queries.seen(saved.id))


def run_all(queries: SavedQueries, lists: CitationLists, searcher: Searcher,
            pulled: dict[str, int | None] | None = None, failures: Sequence[QueryFailure] = ()) -> Digest:
    """Run every saved query (a failing one is reported, the others go on), then look for
    listed papers that became retracted. ``pulled``: records --pull stored, by query name."""
    pulled = pulled or {}
    outcomes, failed = [], list(failures)
    for saved in queries.all():
        try:
            outcomes.append(run_query(queries, saved, searcher, pulled=pulled.get(saved.name)))
        except MedsearchError as exc:
            failed.append(QueryFailure(saved.name, exc.message))
    return Digest(tuple(outcomes), tuple(failed), newly_retracted(lists, searcher))


def newly_retracted(lists: CitationLists, records: Records) -> tuple[Retraction, ...]:
    """Listed papers that the index shows retracted and no earlier digest reported."""
    listed = lists.listed()
    if not listed:
        return ()
    found = records.articles(sorted(listed))
    retracted = [p for p, a in found.items() if a.is_retracted]
    fresh = lists.notice_retractions(retracted)
    return tuple(Retraction(p, found[p].title, listed[p]) for p in sorted(fresh, key=int))
