"""Keeping PubMed records current: bounded pulls, refreshing a query, ``medsearch update``.

PubMed revises records after they enter it (retractions and errata linked, MeSH indexing
of in-process records, corrected abstracts, new versions) and now and then deletes one.
What the store does with a re-fetched record is the store's rule: same or newer
``(version, DateRevised)`` replaces, older is skipped, identical is left untouched.

How changes are found, with the fewest requests:

* An unbounded query (every hit, no entry-date range) is searched again restricted to
  records *modified* since it was last current (esearch ``datetype=mdat``): one search
  returns both its new records and its revised ones, one request per 9,999 changes.
* A bounded query (``--max``/``--sort``) or one with an entry-date range takes its top N
  (or its range) again for new records, and asks which of its stored records changed by
  posting them to the history server and searching ``#key`` by mdat: two requests per
  ``epost_chunk_size`` stored records, however many changed.
* ``update`` does the latter for every stored PubMed record, files' included, each
  checked from the day its stored copy is known to be current.

A stored record that efetch does not send back is fetched once more, then PubMed is asked
whether it still has it (a ``[uid]`` search); only a PMID PubMed does not find is
tombstoned as deleted (as a ``DeleteCitation`` in an update file would). Anything else is
reported as a problem and the stored copy kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ingest.entrez import SORTS, check_query
from ingest.errors import ConfigError, EntrezError, NoRecordsError
from ingest.progress import progress_bar
from ingest.pubmed_xml import parse_pubmed_xml_bytes
from ingest.records import Article, Deletion, Item, Problem
from ingest.runs import Run, RunReport

if TYPE_CHECKING:
    from ingest.entrez import EntrezClient, SearchResult
    from ingest.store import PubmedQuery, Store

log = logging.getLogger(__name__)

#: A query's changes are searched from one day before it was last current: PubMed's
#: dates are US Eastern time, and re-reading an unchanged record costs nothing.
OVERLAP = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What ``ingest pubmed`` asks for."""

    query: str
    max_records: int | None = None  # the first N in ``sort`` order; None: every hit
    sort: str = "recent"
    since: date | None = None  # entry dates
    until: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "query", checked_query(self.query))
        if self.sort not in SORTS:
            raise ConfigError(f"Unknown sort {self.sort!r}.", hint=f"Use one of {', '.join(SORTS)}.")
        if self.since and self.until and self.since > self.until:
            raise ConfigError(f"--since {self.since} is after --until {self.until}.", hint="Swap them.")

    @property
    def by_modification(self) -> bool:
        """Whether one mdat search finds both new and revised records (every hit, no range)."""
        return self.max_records is None and self.since is None and self.until is None

    @classmethod
    def of(cls, stored: PubmedQuery) -> QuerySpec:
        return cls(stored.query, stored.max_records, stored.sort, stored.since, stored.until)


@dataclass(frozen=True, slots=True)
class Changes:
    """What searching one query found: PMIDs to add, stored PMIDs PubMed modified, and
    the PMIDs the query selected (to note in ``pubmed_query_records``)."""

    new: tuple[str, ...]
    modified: tuple[str, ...]
    selected: tuple[str, ...]
    found: int | None = None  # PubMed's hit count, when the query was searched whole
    warnings: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()  # stored PMIDs PubMed confirms it no longer has


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """What ``update`` found before fetching anything (all that ``--dry-run`` shows)."""

    queries: tuple[str, ...]  # the queries brought up to date
    new: tuple[str, ...]  # PMIDs to add, over every query
    modified: tuple[str, ...]  # stored PMIDs that PubMed modified since they were current
    gone: tuple[str, ...]  # stored PMIDs PubMed confirms it no longer has (to tombstone)
    checked: int  # stored PubMed records whose modification date was asked for
    since: date | None  # the earliest day they were checked from
    selected: tuple[tuple[str, tuple[str, ...]], ...]  # (query, PMIDs it selected)
    warnings: tuple[str, ...] = ()


def checked_query(query: str) -> str:
    """The query without surrounding blanks; an empty one is a ConfigError (before any request)."""
    try:
        return check_query(query)
    except EntrezError as exc:
        raise ConfigError(
            "The PubMed query is empty.",
            hint='Give a query, e.g. "metformin AND cancer[MeSH]" (all[sb] matches every record).',
        ) from exc


# --- one query -------------------------------------------------------------------------------


def pull(
    store: Store, client: EntrezClient, run: Run, spec: QuerySpec, *, refresh: bool, progress: bool,
    require_hits: bool = False,
) -> None:
    """Ingest ``spec`` into ``run``: new records, and with ``refresh`` revised stored ones.
    ``require_hits``: a query new to the store with no hits raises NoRecordsError before
    anything of it is stored."""
    started = date.today()
    known = store.pubmed_queries(spec.query)
    last = known[0].current_through if known else None
    if refresh and last is not None:
        changes = query_changes(store, client, spec, last - OVERLAP)
    else:
        changes = _plain(store, client, spec)
    if require_hits and not known and changes.found == 0:
        raise no_hits(spec, changes.warnings)
    store.remember_pubmed_query(
        spec.query, max_records=spec.max_records, sort=spec.sort, since=spec.since,
        until=spec.until, run_id=run.report.run_id,
    )
    store.link_pubmed_query_records(spec.query, changes.selected)
    report = run.report
    report.found = changes.found
    report.warnings.extend(changes.warnings)
    report.already_stored = None if changes.found is None else changes.found - len(changes.new)
    if spec.max_records is not None and changes.found is not None:
        report.already_stored = min(spec.max_records, changes.found) - len(changes.new)
    store_records(store, client, run, changes.new, stored=False, progress=progress)
    store_records(store, client, run, changes.modified, stored=True, progress=progress)
    tombstone(run, changes.gone)
    store.mark_pubmed_query_current(spec.query, started)


def no_hits(spec: QuerySpec, warnings: Sequence[str]) -> NoRecordsError:
    dates = "" if not (spec.since or spec.until) else \
        f" entered {spec.since or 'any time'} to {spec.until or 'today'}"
    said = f" (PubMed says: {'; '.join(warnings)})" if warnings else ""
    return NoRecordsError(f"PubMed finds no records for {spec.query!r}{dates}{said}.",
                          hint="Check the query in PubMed's own search (https://pubmed.ncbi.nlm.nih.gov/), "
                          "e.g. fewer words or no field tags, and run it again.")


def _plain(store: Store, client: EntrezClient, spec: QuerySpec) -> Changes:
    """New records of a query: its top N, or every hit, less those stored or deleted."""
    found = _search(client, spec)
    new = tuple(store.missing_ids(found.ids))
    return Changes(new, (), tuple(found.ids), found.count, tuple(found.warnings))


def _search(client: EntrezClient, spec: QuerySpec) -> SearchResult:
    if spec.max_records is None:
        return client.search(spec.query, since=spec.since, until=spec.until)
    return client.search_top(
        spec.query, spec.max_records, sort=spec.sort, since=spec.since, until=spec.until
    )


def query_changes(store: Store, client: EntrezClient, spec: QuerySpec, since: date) -> Changes:
    """New records of ``spec`` and its stored records PubMed modified on or after ``since``."""
    if spec.by_modification:
        found = client.search(spec.query, since=since, datetype="mdat")
        new, stored = store.missing_ids(found.ids), store.stored_ids(found.ids)
        return Changes(tuple(new), tuple(stored), tuple(found.ids), None, tuple(found.warnings))
    plain = _plain(store, client, spec)
    check = client.check_stored(store.pubmed_query_stored_ids(spec.query), since)
    gone = tuple(client.gone(check.unlisted)) if check.unlisted else ()
    return Changes(plain.new, check.modified, plain.selected, plain.found, plain.warnings, gone)


# --- every query, every stored record --------------------------------------------------------


def plan_update(store: Store, client: EntrezClient, *, progress: bool = True) -> UpdatePlan:
    """Search what changed at PubMed for every stored query and record; write nothing."""

    queries = store.pubmed_queries()
    new: dict[str, None] = {}
    modified: dict[str, None] = {}
    unlisted: dict[str, None] = {}
    selected: list[tuple[str, tuple[str, ...]]] = []
    warnings: list[str] = []
    for stored in queries:
        spec = QuerySpec.of(stored)
        if stored.current_through is None:  # never completed: what a plain run would add
            changes = _plain(store, client, spec)
        else:
            changes = query_changes(store, client, spec, stored.current_through - OVERLAP)
        new.update(dict.fromkeys(changes.new))
        modified.update(dict.fromkeys(changes.modified))
        selected.append((spec.query, changes.selected))
        warnings.extend(f"{spec.query}: {w}" for w in changes.warnings)
    plan = store.pubmed_check_plan()
    bar = progress_bar(progress, total=len(plan), unit=" rec", desc="check")
    try:
        for ids, day in chunks_by_day(plan, client.config.epost_chunk_size):
            check = client.check_stored(ids, day)
            modified.update(dict.fromkeys(check.modified))
            unlisted.update(dict.fromkeys(check.unlisted))
            bar.update(len(ids))
    finally:
        bar.close()
    gone = client.gone(list(unlisted)) if unlisted else []
    return UpdatePlan(
        queries=tuple(q.query for q in queries),
        new=tuple(new),
        modified=tuple(p for p in modified if p not in new and p not in unlisted),
        gone=tuple(gone),
        checked=len(plan),
        since=plan[0][1] if plan else None,
        selected=tuple(selected),
        warnings=tuple(warnings),
    )


def update(store: Store, client: EntrezClient, *, progress: bool = True) -> tuple[UpdatePlan, RunReport]:
    """Bring every stored query and every stored PubMed record up to date (run kind 'update')."""

    started = date.today()
    with Run(store, "update", "PubMed", {"queries": len(store.pubmed_queries())}) as run:
        plan = plan_update(store, client, progress=progress)
        run.report.warnings.extend(plan.warnings)
        for query, ids in plan.selected:
            store.link_pubmed_query_records(query, ids)
        store_records(store, client, run, plan.new, stored=False, progress=progress)
        store_records(store, client, run, plan.modified, stored=True, progress=progress)
        tombstone(run, plan.gone)
        for query in plan.queries:
            store.mark_pubmed_query_current(query, started)
    return plan, run.report


# --- fetching and storing --------------------------------------------------------------------


def store_records(
    store: Store, client: EntrezClient, run: Run, ids: Sequence[str], *, stored: bool,
    progress: bool,
) -> None:
    """Fetch ``ids`` and write them batch by batch.

    ``stored``: the ids are stored records being re-fetched; one efetch reply that misses
    one is not evidence that PubMed deleted it (see the module docstring).
    """
    if not ids:
        return
    unreturned: list[str] = []
    bar = progress_bar(progress, total=len(ids), unit=" rec", desc="re-fetch" if stored else "efetch")
    try:
        for batch in client.fetch(ids):
            items = parse_pubmed_xml_bytes(batch.xml, location=f"efetch batch {batch.index}")
            if stored:
                unreturned.extend(batch.missing)
            else:
                items.extend(not_returned(batch.ids, items, batch.index))
            run.apply(items)
            bar.update(len(batch.ids))
    finally:
        bar.close()
    if unreturned:
        _settle_unreturned(client, run, unreturned)


def _settle_unreturned(client: EntrezClient, run: Run, ids: list[str]) -> None:
    """Fetch once more what efetch left out; tombstone only what PubMed says it lacks."""
    still: list[str] = []
    for batch in client.fetch(ids):
        run.apply(parse_pubmed_xml_bytes(batch.xml, location=f"efetch again, batch {batch.index}"))
        still.extend(batch.missing)
    if not still:
        return
    gone = set(client.gone(still))
    tombstone(run, [p for p in still if p in gone])
    items: list[Item] = [
        Problem(
            f"PMID {p}",
            "efetch sent no record twice, but PubMed still finds the PMID; the stored copy is kept",
        )
        for p in still
        if p not in gone
    ]
    if items:
        run.apply(items)


def tombstone(run: Run, pmids: Sequence[str]) -> None:
    """Remove records PubMed confirmed deleted, as a DeleteCitation would (deleted_articles)."""
    if not pmids:
        return
    log.warning("PubMed no longer has %d stored records: %s", len(pmids), ", ".join(list(pmids)[:10]))
    run.apply([Deletion(p, location="PubMed: PMID not found") for p in pmids])


def not_returned(requested: Sequence[str], items: Sequence[Item], index: int) -> list[Problem]:
    """A Problem for every requested PMID that efetch did not send back."""
    got = {i.doc_id for i in items if isinstance(i, Article)}
    got |= {i.doc_id for i in items if not isinstance(i, (Article, Problem))}
    return [
        Problem(f"efetch batch {index}", f"PMID {pmid} was requested but not returned by efetch")
        for pmid in requested
        if pmid not in got
    ]


def chunks_by_day(plan: Sequence[tuple[str, date]], size: int) -> Iterable[tuple[list[str], date]]:
    """(ids, earliest day) for consecutive chunks of a plan sorted by day."""
    for start in range(0, len(plan), size):
        chunk = plan[start : start + size]
        yield [pmid for pmid, _ in chunk], min(day for _, day in chunk)
