"""A :class:`Restriction` as a Milvus boolean filter expression (pure: no Milvus import).

What translates (``docs/scale.md`` lists it with its measurements):

- the column filters of :class:`search.types.Filters`: year range (the same overlap rule as
  ``RecordsView.filter_rows``), publication types, journals, languages, MeSH terms (any of a
  list, case ignored), has abstract;
- the named filters (Clinical Queries, systematic reviews, humans, age groups, free full
  text): their answers are computed at index time and stored per record in ``filters``;
- PubMed-syntax clauses on name fields, whole names (``[mh]``, ``[majr]``, ``[pt]``, ``[ta]``,
  ``[la]``, ``[sb]``, ``[pmid]``, ``[doi]``, ``[pmcid]``): ``ARRAY_CONTAINS(terms, "mh:...")``
  over the normalised names of ``qx_terms``; publication-date ranges ``[dp]`` over the
  record's first and last date; AND, OR and NOT of those;
- notices left out (``notice == false``), records left out by id.

What does not: word searches (untagged words, ``[tiab]``, ``[ti]``, ``[ab]``, ``[tw]``,
phrases, truncated words ``diabet*``), author names and name prefixes. Under an AND such a
clause is dropped from the expression (the expression is then a superset: ``exact`` is
False); under an OR or a NOT the whole subtree is dropped. The backend then completes the
restriction with the in-process row mask (``Restriction.rows``): a bounded id list when few
records pass, else a post-filter of an over-fetched top-k.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from search.query.syntax import And, DateRange, Node, Not, Or, Term
from search.retrieval.contract import Restriction

#: Name kinds stored as ``"<kind>:<normalised name>"`` in the ``terms`` array field.
TERM_KINDS = ("mh", "majr", "pt", "ta", "la", "sb", "pmid", "doi", "pmcid")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Translated:
    """A filter expression ("" : none) and whether it is exactly the restriction."""

    expr: str
    exact: bool


def quote(value: str) -> str:
    """A Milvus string literal (JSON escaping: backslash and double quote)."""
    return json.dumps(value, ensure_ascii=False)


def str_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def days(d: date) -> int:
    return (d - _EPOCH).days


def translate(restriction: Restriction, *, named: dict[Node, str] | None = None) -> Translated:
    """The restriction's predicate as an expression over the collection's fields."""
    parts: list[str] = []
    exact = True
    f = restriction.filters
    if f is not None:
        parts += _column_filters(f)
    if restriction.clauses is not None:
        got = _node(restriction.clauses, named or _named_filters())
        if got.expr:
            parts.append(got.expr)
        exact &= got.exact
    if not restriction.notices:
        parts.append("notice == false")
    if restriction.exclude:
        parts.append(f"doc_id not in {str_list(restriction.exclude)}")
    return Translated(" and ".join(f"({p})" for p in parts), exact)


def _column_filters(f) -> list[str]:
    from search.query.mask import expand_types

    out: list[str] = []
    if f.year_from is not None:
        out.append(f"year_last >= {int(f.year_from)}")
    if f.year_to is not None:
        out.append(f"year >= 1 and year <= {int(f.year_to)}")
    types = expand_types(f.publication_types)
    for field, values in (("pt", types), ("la", f.languages), ("mesh", f.mesh_terms), ("journal", f.journals)):
        if values:
            out.append(f"ARRAY_CONTAINS_ANY({field}, {str_list([v.lower() for v in values])})")
    if f.has_abstract is not None:
        out.append(f"has_abstract == {'true' if f.has_abstract else 'false'}")
    return out


def _node(node: Node, named: dict[Node, str]) -> Translated:
    name = named.get(node)
    if name is not None:
        return Translated(f"ARRAY_CONTAINS(filters, {quote(name)})", True)
    if isinstance(node, Term):
        expr = _term(node)
        return Translated(expr or "", expr is not None)
    if isinstance(node, DateRange):
        lo, hi = days(node.start), days(node.end)
        return Translated(f"(date_first >= {lo} and date_first <= {hi}) or "
                          f"(date_last >= {lo} and date_last <= {hi})", True)
    if isinstance(node, Not):
        inner = _node(node.item, named)
        return Translated(f"not ({inner.expr})", True) if inner.exact else Translated("", False)
    if isinstance(node, Or):
        items = [_node(it, named) for it in node.items]
        if not all(it.exact for it in items):
            return Translated("", False)
        return Translated(" or ".join(f"({it.expr})" for it in items), True)
    if isinstance(node, And):
        items = [_node(it, named) for it in node.items]
        kept = [f"({it.expr})" for it in items if it.expr]
        return Translated(" and ".join(kept), all(it.exact for it in items))
    return Translated("", False)


def _term(t: Term) -> str | None:
    """``ARRAY_CONTAINS(terms, "<kind>:<name>")`` for a whole name; None: not translatable."""
    from search.query.restrict import LANGUAGES, normalise

    code = t.field
    if code not in TERM_KINDS or t.truncated:
        return None
    if code in ("mh", "majr") and "/" in t.text:
        return None  # descriptor/qualifier pairs live in their own kind (not stored)
    if code == "sb":
        name = t.text.strip().lower()
        if name == "systematic":
            return None  # the named filter; reached through _node's lookup when written as the filter
        if name == "all":
            return "doc_id != \"\""
        value = "medline" if name == "medline" else "pmc"
    elif code in ("pmid", "doi", "pmcid"):
        value = t.text.strip().lower()
        if code == "pmcid" and value.isdigit():
            value = "pmc" + value
    elif code == "la":
        value = t.text.strip().lower()
        value = LANGUAGES.get(value, value)
    else:
        value = normalise(t.text)
    return f"ARRAY_CONTAINS(terms, {quote(f'{code}:{value}')})"


def _named_filters() -> dict[Node, str]:
    from search.query.restrict import _precomputed_filters

    return _precomputed_filters()
