"""Facet counts and sort orders over a set of matching records, from the snapshot's columns.

Both work on :class:`search.index.records.RecordColumns` (per-record arrays loaded once
per snapshot) and a boolean mask of the matching records, so a sidebar's counts cost a
few ``numpy.bincount`` calls, not a query per facet.
"""

from __future__ import annotations

import numpy as np

from search.index.records import RecordColumns
from search.types import FacetCount, Facets, YearCount

#: Values listed per facet (most frequent first); years are never cut.
FACET_LIMIT = 20


def count_facets(cols: RecordColumns, matches: np.ndarray, limit: int = FACET_LIMIT) -> Facets:
    """Facet counts over the records where ``matches`` (a boolean mask over ``ix``) is True."""
    total = int(matches.sum())
    years = np.bincount(cols.year[matches], minlength=1)
    by_year = [YearCount(int(y), int(c)) for y, c in enumerate(years) if y and c]
    timeline: list[YearCount] = []
    if by_year:
        first, last = by_year[0].year, by_year[-1].year
        timeline = [YearCount(y, int(years[y])) for y in range(first, last + 1)]
    return Facets(
        total=total,
        publication_types=_top(np.bincount(cols.pt_code[matches[cols.pt_owner]], minlength=len(cols.pt_names)),
                               cols.pt_names, limit),
        years=tuple(reversed(by_year)),
        journals=_top(_bincount_known(cols.journal[matches], len(cols.journal_names)), cols.journal_names, limit),
        languages=_top(np.bincount(cols.la_code[matches[cols.la_owner]], minlength=len(cols.la_names)),
                       cols.la_names, limit),
        has_abstract=int(cols.has_abstract[matches].sum()),
        retracted=int(cols.retracted[matches].sum()),
        timeline=tuple(timeline),
        no_year=int(years[0]),
    )


def _bincount_known(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=size)


def _top(counts: np.ndarray, names: tuple[str, ...], limit: int) -> tuple[FacetCount, ...]:
    nonzero = np.flatnonzero(counts)
    # names are in sorted order (codes follow it), so a stable sort by count keeps ties A to Z
    order = nonzero[np.argsort(-counts[nonzero], kind="stable")][:limit]
    return tuple(FacetCount(names[i], int(counts[i])) for i in order)


# -- sort orders -----------------------------------------------------------------------------


def order_rows(cols: RecordColumns, rows: np.ndarray, sort: str, relevance: np.ndarray | None = None) -> np.ndarray:
    """``rows`` (index rows) in the order ``sort`` asks for.

    - ``date``: newest first by the earliest publication date a record gives; records
      without a date last;
    - ``author``: by the first author's name A to Z (accents and case ignored); records
      without authors last;
    - ``evidence``: by evidence level, strongest first (``search/results/evidence.py``).

    Ties go by ``relevance`` (higher first; one value per row) when given, then newer
    date, then newer PMID.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rel = np.zeros(len(rows)) if relevance is None else -np.asarray(relevance, dtype=np.float64)
    date = cols.date[rows].astype(np.int64)
    newest = -date  # missing dates hold int32 min: negated they sort last
    pmid = -cols.pmid[rows]
    if sort == "date":
        keys: tuple[np.ndarray, ...] = (pmid, rel, newest)
    elif sort == "author":
        author = cols.author[rows].astype(np.int64)
        author[author == np.iinfo(np.int32).min] = np.iinfo(np.int64).max
        keys = (pmid, newest, rel, author)
    elif sort == "evidence":
        keys = (pmid, newest, rel, cols.level[rows].astype(np.int64))
    else:
        raise ValueError(f"not a sort of stored columns: {sort!r}")
    return rows[np.lexsort(keys)]
