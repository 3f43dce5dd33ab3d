"""Which records a search may return: the column filters, the evidence filters and the query's
restriction, turned into one boolean mask over a snapshot's documents.

Column filters (years, publication types, journals, languages, MeSH, abstract) are one SQL
query over the snapshot's ``articles``; the query's restriction and the evidence filters
(``search/query/clinical.py``: Clinical Queries, systematic reviews, humans, ages, free full text)
are one query tree evaluated by :mod:`search.query.restrict`. Both are ANDed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ingest.errors import ConfigError
from search.index.snapshot import Snapshot
from search.query.clinical import FILTERS
from search.query.syntax import And, Node, Or, ParsedQuery
from search.types import Filters

#: Short names a clinician types, and the PubMed publication types they stand for.
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "rct": ("Randomized Controlled Trial",),
    "randomized controlled trial": ("Randomized Controlled Trial",),
    "guideline": ("Guideline", "Practice Guideline"),
    "meta-analysis": ("Meta-Analysis",),
    "meta analysis": ("Meta-Analysis",),
    "systematic review": ("Systematic Review",),
    "review": ("Review", "Systematic Review", "Scoping Review"),
    "clinical trial": ("Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II",
                       "Clinical Trial, Phase III", "Clinical Trial, Phase IV", "Randomized Controlled Trial",
                       "Controlled Clinical Trial", "Pragmatic Clinical Trial"),
}


def expand_types(types: Sequence[str]) -> tuple[str, ...]:
    """Publication types with the short names of :data:`TYPE_ALIASES` expanded."""
    out: list[str] = []
    for t in types:
        out.extend(TYPE_ALIASES.get(t.strip().lower(), (t,)))
    return tuple(dict.fromkeys(out))


def restriction_of(parsed: ParsedQuery | None, filters: Filters) -> Node | None:
    """The query's restriction AND the evidence filters of ``filters`` (None: neither).

    Named filters keep their own tree (not flattened into the query's), so the evaluator
    finds them among the snapshot's precomputed filters; age groups are ORed.
    """
    items: list[Node] = [parsed.restriction] if parsed is not None and parsed.restriction is not None else []
    names = filters.named_filters
    ages = [FILTERS[n].node for n in names if n.startswith("age/")]
    items += [FILTERS[n].node for n in names if not n.startswith("age/")]
    if ages:
        items.append(ages[0] if len(ages) == 1 else Or(tuple(ages)))
    if not items:
        return None
    return items[0] if len(items) == 1 else And(tuple(items))


def select(snap: Snapshot, filters: Filters, restriction: Node | None,
           timings: dict[str, float]) -> np.ndarray | None:
    """The documents that pass the column filters of ``filters`` and ``restriction`` (None:
    every document); adds the time of each part to ``timings`` ("filter", "restrict")."""
    out = None
    t = time.perf_counter()
    if column_filters(filters):
        types = expand_types(filters.publication_types)
        if types:
            check_types(types, snap)
        rows = snap.records.filter_rows(
            year_from=filters.year_from, year_to=filters.year_to,
            publication_types=types, journals=filters.journals,
            languages=filters.languages, mesh_terms=filters.mesh_terms,
            has_abstract=filters.has_abstract,
        )
        out = snap.mask(rows)
    timings["filter"] = ms(t)
    if restriction is not None:
        t = time.perf_counter()
        found = snap.records.restrict_mask(restriction)
        out = found if out is None else out & found
        timings["restrict"] = ms(t)
    return out


def column_filters(f: Filters) -> bool:
    """Whether ``f`` sets a filter on stored columns (the evidence filters are restrictions)."""
    return any((f.year_from, f.year_to, f.publication_types, f.journals, f.languages, f.mesh_terms,
                f.has_abstract is not None))


def check_types(types: Sequence[str], snap: Snapshot) -> None:
    """A publication type that no record of the index has is a typo more often than not."""
    known = snap.records.publication_types()
    lower = {t.lower() for t in known}
    unknown = [t for t in types if t.lower() not in lower]
    aliases = {t.lower() for names in TYPE_ALIASES.values() for t in names}
    unknown = [t for t in unknown if t.lower() not in aliases]  # a real type that no record has yet
    if unknown:
        common = ", ".join(list(known)[:8])
        raise ConfigError(
            f"Unknown publication type {unknown[0]!r}: no record in the index has it.",
            hint=f"Use a PubMed publication type ({common}, ...) or a short name: "
            f"{', '.join(TYPE_ALIASES)}.",
        )


def ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()``), rounded to microseconds."""
    return round((time.perf_counter() - start) * 1000.0, 3)
