"""The app's state as URL query parameters, so a search can be bookmarked, shared and reloaded.

``?q=metformin&from=2015&type=Meta-Analysis&type=Review&clinical=therapy/narrow&page=2``

:func:`read` turns the parameters into an :class:`AppState` and names what it had to
ignore (a link typed by hand may hold anything); :func:`write` gives the parameters of a
state, defaults left out, so that ``read(write(s)) == s``. Pure functions: no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from ingest.errors import MedsearchError
from search.types import AGE_GROUPS, SORTS, Filters

VIEWS = ("search", "saved", "lists")
#: The most characters of a query kept from a link (the engine's own limit is lower).
MAX_QUERY = 4000
_FLAG_PARAMS = {"abstract": "has_abstract", "sr": "systematic_review", "humans": "humans_only",
                "fft": "free_full_text", "notices": "include_notices"}
_LIST_PARAMS = {"type": "publication_types", "journal": "journals", "lang": "languages", "age": "ages",
                "mesh": "mesh_terms"}
#: The most values of one list filter read from a link (a real search uses a handful).
MAX_LINK_VALUES = 50
_KNOWN = {"q", "view", "sort", "page", "similar", "list", "from", "to", "clinical", *_FLAG_PARAMS, *_LIST_PARAMS}
_STREAMLIT = {"embed", "embed_options"}  # Streamlit's own


@dataclass(frozen=True, slots=True)
class AppState:
    """What the URL says: the view, the search (query, filters, order, page), the paper whose
    similar articles are shown, and the citation list open in the lists view."""

    view: str = "search"
    query: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    similar: str | None = None  # a PMID: show the articles similar to it instead of the query's
    list_name: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    state: AppState
    problems: tuple[str, ...] = ()  # parameters ignored, and why


def read(params: Mapping[str, Sequence[str]]) -> Reading:
    """The state in ``params`` (name -> every value given, as ``st.query_params.get_all``)."""
    problems: list[str] = []

    def last(name: str) -> str | None:
        values = [v for v in params.get(name, ()) if v.strip()]
        return values[-1].strip() if values else None

    view = last("view") or "search"
    if view not in VIEWS:
        problems.append(f"Unknown view {view!r} in the link; the search is shown.")
        view = "search"
    sort = last("sort") or "relevance"
    if sort not in SORTS:
        problems.append(f"Unknown sort {sort!r} in the link; results are sorted by relevance.")
        sort = "relevance"
    page = _whole(last("page"), "page", problems) or 1
    if page < 1:
        problems.append("The page in the link is below 1; the first page is shown.")
        page = 1
    similar = last("similar")
    if similar is not None and not similar.isdigit():
        problems.append(f"{similar!r} in the link is not a PMID; similar articles are not shown.")
        similar = None
    query = (last("q") or "")[:MAX_QUERY]
    filters = _filters(params, last, problems)
    unknown = sorted(set(params) - _KNOWN - _STREAMLIT)
    if unknown:
        shown = ", ".join(repr(u[:30]) for u in unknown[:3]) + (f" and {len(unknown) - 3:,} more" if len(unknown) > 3 else "")
        problems.append(f"The link holds parameters this app does not know ({shown}); they were ignored.")
    return Reading(AppState(view, query, filters, sort, page, similar, last("list")), tuple(problems))


def write(state: AppState) -> dict[str, str | list[str]]:
    """The query parameters of ``state``; values at their default are left out."""
    out: dict[str, str | list[str]] = {}
    if state.view != "search":
        out["view"] = state.view
    if state.query:
        out["q"] = state.query
    f = state.filters
    if f.year_from is not None:
        out["from"] = str(f.year_from)
    if f.year_to is not None:
        out["to"] = str(f.year_to)
    for param, name in _LIST_PARAMS.items():
        if getattr(f, name):
            out[param] = list(getattr(f, name))
    for param, name in _FLAG_PARAMS.items():
        if getattr(f, name):
            out[param] = "1"
    if f.clinical:
        out["clinical"] = f.clinical
    if state.sort != "relevance":
        out["sort"] = state.sort
    if state.page != 1:
        out["page"] = str(state.page)
    if state.similar:
        out["similar"] = state.similar
    if state.list_name:
        out["list"] = state.list_name
    return out


def without_filters(state: AppState) -> AppState:
    """The same search with every filter reset (the query and view kept)."""
    return replace(state, filters=Filters(), page=1, similar=None)


def _filters(params: Mapping[str, Sequence[str]], last, problems: list[str]) -> Filters:
    values: dict[str, object] = {}
    for key, name in (("from", "year_from"), ("to", "year_to")):
        year = _whole(last(key), "year", problems)
        if year is not None:
            values[name] = year
    for param, name in _LIST_PARAMS.items():
        found = tuple(dict.fromkeys(v.strip() for v in params.get(param, ()) if v.strip()))
        if len(found) > MAX_LINK_VALUES:
            problems.append(f"The link holds {len(found):,} values of {param!r}; the first {MAX_LINK_VALUES} "
                            "were used, the rest ignored.")
            found = found[:MAX_LINK_VALUES]
        if found:
            values[name] = found
    for param, name in _FLAG_PARAMS.items():
        if last(param) in ("1", "true", "yes"):
            values[name] = True
    if last("clinical"):
        values["clinical"] = last("clinical")
    ages = cast(tuple[str, ...], values.get("ages", ()))  # values holds mixed types
    bad_ages = [a for a in ages if a.lower().removeprefix("age/") not in AGE_GROUPS]
    if bad_ages:
        problems.append(f"Unknown age group {bad_ages[0]!r} in the link; it was ignored.")
        values["ages"] = tuple(a for a in ages if a not in bad_ages)
    return _checked_filters(values, problems)


def _checked_filters(values: dict[str, object], problems: list[str]) -> Filters:
    """``Filters(**values)``, dropping the value that Filters refuses (a reversed year range, an
    unknown Clinical Queries category) and saying so."""
    try:
        return Filters(**values)  # type: ignore[arg-type]
    except MedsearchError as exc:
        problems.append(f"{exc.message} The link's filter was ignored.")
    for dropped in (("clinical",), ("year_from", "year_to"), ("clinical", "year_from", "year_to")):
        rest = {k: v for k, v in values.items() if k not in dropped}
        try:
            return Filters(**rest)  # type: ignore[arg-type]
        except MedsearchError:
            continue
    return Filters()


def _whole(raw: str | None, what: str, problems: list[str]) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        problems.append(f"The {what} {raw!r} in the link is not a whole number; it was ignored.")
        return None


def describe(filters: Filters) -> tuple[str, ...]:
    """The filters in effect, one short phrase each, for the line above the results."""
    from search.query.clinical import CATEGORY_TITLES

    f, out = filters, []
    if f.year_from is not None or f.year_to is not None:
        out.append(f"{f.year_from or '...'}-{f.year_to or '...'}")
    for values in (f.publication_types, f.journals, f.languages, f.mesh_terms):
        if values:
            out.append(" or ".join(values))
    if f.clinical:
        cat, _, scope = f.clinical.partition("/")
        out.append(f"Clinical Queries: {CATEGORY_TITLES.get(cat, cat)}, {scope}")
    if f.systematic_review:
        out.append("systematic reviews")
    if f.humans_only:
        out.append("humans")
    if f.ages:
        out.append("ages: " + ", ".join(f.ages))
    if f.free_full_text:
        out.append("free full text")
    if f.has_abstract:
        out.append("has abstract")
    if f.include_notices:
        out.append("notices included")
    return tuple(out)
