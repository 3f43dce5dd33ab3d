"""Saved-query alerts: run a saved query again, see what is new, and the nightly digest.

A result is *new* when it entered the query's result set (``search/results/result_set.py``)
since the last run: no earlier run's set held it. The first run is the baseline and calls
nothing new; a paper once in the set is never new again, wherever it ranks later. The new
papers are shown whether or not they rank in the top k.
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
from search.library.queries import SavedQueries, entered
from search.library.types import AlertHit, QueryRun, Retraction, RunOutcome, SavedQuery
from search.library.views import Records
from search.types import Filters, Hit, SearchResults

log = logging.getLogger("medsearch.library")


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


def run_query(queries: SavedQueries, saved: SavedQuery, searcher: Searcher, *, pulled: int | None = None,
              deliver: Callable[[RunOutcome], None] | None = None) -> RunOutcome:
    """Search with the saved query's text, filters, mode and k; record the run. With ``deliver``
    (the CLI prints the outcome), the run is recorded only once ``deliver`` has returned, so
    results never shown stay new."""
    results, matched = _search(searcher, saved)
    if deliver is not None:
        deliver(_pending(queries, saved, searcher, results, matched, pulled))
    return _record(queries, saved, searcher, results, matched, pulled)


def preview_query(queries: SavedQueries, saved: SavedQuery, searcher: Searcher) -> RunOutcome:
    """What a run of the saved query would show now, recording nothing (the rule of
    :func:`run_query`): for readers that poll, such as the HTTP API's feeds, which must not
    use up the user's new papers."""
    results, matched = _search(searcher, saved)
    return _pending(queries, saved, searcher, results, matched, None)


def _search(searcher: Searcher, saved: SavedQuery) -> tuple[SearchResults, frozenset[str]]:
    """The page of results and the whole result set of a saved query."""
    results = searcher.search(saved.query, k=saved.k, filters=saved.filters, mode=saved.mode)
    matched = searcher.matching_ids(saved.query, filters=saved.filters, mode=saved.mode)
    return results, matched


def _record(queries: SavedQueries, saved: SavedQuery, searcher: Searcher, results: SearchResults,
            matched: frozenset[str], pulled: int | None) -> RunOutcome:
    run, new = queries.record_run(saved, results.mode, results.candidates, results.hits, pulled,
                                  results.snapshot or None, matched)
    return _outcome(saved, run, new, results, searcher)


def _pending(queries: SavedQueries, saved: SavedQuery, searcher: Searcher, results: SearchResults,
             matched: frozenset[str], pulled: int | None) -> RunOutcome:
    """What recording the run would give, recording nothing: the rule of
    :meth:`~search.library.queries.SavedQueries.record_run` (the first run is the baseline and
    calls nothing new; after it, new = entered the result set since the last run)."""
    baseline = saved.last_run is None
    members = set(matched) | {h.doc_id for h in results.hits}
    new = entered(members, () if baseline else queries.seen(saved.id), baseline)
    run_no = (saved.last_run.run_no if saved.last_run else 0) + 1
    run = QueryRun(run_no, datetime.now(), results.mode, results.candidates, len(results.hits), len(new),
                   pulled, results.snapshot or None)
    return _outcome(saved, run, new, results, searcher)


def _outcome(saved: SavedQuery, run: QueryRun, new: frozenset[str], results: SearchResults,
             searcher: Searcher) -> RunOutcome:
    """The run with its page of hits and, after them, the new records below the page."""
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
            results, matched = _search(searcher, saved)
            pending = _pending(queries, saved, searcher, results, matched, pulled.get(saved.name))
            searched.append((saved, results, matched, pending))
        except MedsearchError as exc:
            failed.append(QueryFailure(saved.name, exc.message))
        except Exception as exc:  # a bug must not cost the other queries their run
            log.exception("saved query %r failed", saved.name)
            failed.append(QueryFailure(saved.name, f"it could not run ({type(exc).__name__}); the details are "
                                       "in the log"))
    listed = lists.listed()
    retracted = _retracted(listed, searcher)
    fresh = lists.unnoticed_retractions(p.pmid for p in retracted)
    digest = Digest(tuple(p for *_, p in searched), tuple(failed),
                    tuple(r for r in retracted if r.pmid in fresh))
    if deliver is not None:
        deliver(digest)
    outcomes = []
    for saved, results, matched, _ in searched:
        try:
            outcomes.append(_record(queries, saved, searcher, results, matched, pulled.get(saved.name)))
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
