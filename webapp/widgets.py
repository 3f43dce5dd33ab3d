"""The search box, the view switch and the sidebar's filters, kept in step with the URL.

The URL (``st.query_params``) is the one source of truth for the search: every run reads
it (:func:`reading`), and a widget changed by the user writes it in its callback
(:func:`go`), so a search can be bookmarked, shared and reloaded. Widgets take their
values from ``st.session_state`` only (never a ``value=`` argument), set by :func:`sync`
from the URL whenever the URL changed under them (a shared link, back/forward, a button
that opens another search) or when Streamlit dropped a widget's value because the widget
was not drawn in the last run (another view was open).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import streamlit as st

from ingest.errors import MedsearchError
from search.query.clinical import CATEGORY_TITLES
from search.types import AGE_GROUPS, MAX_YEAR, MIN_YEAR, SORTS, Filters, YearCount
from webapp.markup import md_text
from webapp.urlstate import VIEWS, AppState, Reading, read, without_filters, write

#: Publication types offered before a search gives counts of its own.
COMMON_TYPES = ("Meta-Analysis", "Systematic Review", "Randomized Controlled Trial", "Clinical Trial",
                "Practice Guideline", "Review", "Observational Study", "Case Reports")
VIEW_TITLES = {"search": "Search", "saved": "Saved searches", "lists": "Citation lists"}
SORT_TITLES = {"relevance": "Relevance", "date": "Newest first", "author": "First author",
               "evidence": "Evidence level"}
_SYNCED = "_synced_url"
_FILTER_ERROR = "_filter_error"


@dataclass(frozen=True, slots=True)
class Counts:
    """Facet counts shown beside the filters (``search.types.Facets`` of the current search)."""

    total: int = 0
    types: Mapping[str, int] = field(default_factory=dict)
    journals: Mapping[str, int] = field(default_factory=dict)
    languages: Mapping[str, int] = field(default_factory=dict)
    timeline: tuple[YearCount, ...] = ()


# -- the URL ---------------------------------------------------------------------------------


def reading() -> Reading:
    """The state the URL holds now."""
    return read({name: st.query_params.get_all(name) for name in st.query_params})


def go(state: AppState) -> None:
    """Make ``state`` the URL's; the next run sets the widgets from it. Call it from a
    callback, or follow it with ``st.rerun()``."""
    st.query_params.from_dict(write(state))
    st.session_state[_SYNCED] = None


def sync(state: AppState) -> None:
    """Set the widgets from ``state`` where the URL changed, or where a value went missing."""
    params = write(state)
    changed = st.session_state.get(_SYNCED) != params
    for key, value in _widget_values(state).items():
        if changed or key not in st.session_state:
            st.session_state[key] = value
    if changed:  # the pager takes its page as a default (its page count changes with the query)
        st.session_state.pop("w_page", None)
    st.session_state[_SYNCED] = params


def _widget_values(state: AppState) -> dict[str, object]:
    f = state.filters
    cat, _, scope = (f.clinical or "").partition("/")
    return {
        "w_view": state.view, "w_q": state.query, "w_sort": state.sort,
        "w_from": f.year_from, "w_to": f.year_to, "w_types": list(f.publication_types),
        "w_journals": list(f.journals), "w_langs": list(f.languages), "w_abstract": bool(f.has_abstract),
        "w_cq": cat, "w_cq_scope": scope or "broad", "w_sr": f.systematic_review,
        "w_humans": f.humans_only, "w_ages": list(f.ages), "w_fft": f.free_full_text,
        "w_notices": f.include_notices,
    }


def filters_from_widgets() -> Filters:
    """The filters the sidebar's widgets hold (``ConfigError`` for an impossible combination)."""
    s = st.session_state
    cat = s.get("w_cq") or ""
    return Filters(
        year_from=_year(s.get("w_from")), year_to=_year(s.get("w_to")),
        publication_types=tuple(s.get("w_types") or ()), journals=tuple(s.get("w_journals") or ()),
        languages=tuple(s.get("w_langs") or ()), has_abstract=True if s.get("w_abstract") else None,
        clinical=f"{cat}/{s.get('w_cq_scope') or 'broad'}" if cat else None,
        systematic_review=bool(s.get("w_sr")), humans_only=bool(s.get("w_humans")),
        ages=tuple(s.get("w_ages") or ()), free_full_text=bool(s.get("w_fft")),
        include_notices=bool(s.get("w_notices")),
        mesh_terms=reading().state.filters.mesh_terms,  # no widget: kept from the URL (a saved search's)
    )


def _year(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


# -- callbacks -------------------------------------------------------------------------------


def _on_query() -> None:
    query = " ".join(str(st.session_state.get("w_q") or "").split())
    go(replace(reading().state, view="search", query=query, page=1, similar=None))


def _on_filters() -> None:
    try:
        filters = filters_from_widgets()
    except MedsearchError as exc:
        st.session_state[_FILTER_ERROR] = exc
        return
    st.session_state.pop(_FILTER_ERROR, None)
    go(replace(reading().state, filters=filters, page=1))


def _on_sort() -> None:
    go(replace(reading().state, sort=st.session_state.get("w_sort") or "relevance", page=1))


def _on_view() -> None:
    go(replace(reading().state, view=st.session_state.get("w_view") or "search"))


def _on_reset() -> None:
    st.session_state.pop(_FILTER_ERROR, None)
    go(without_filters(reading().state))


# -- the widgets -----------------------------------------------------------------------------


def view_switch() -> None:
    st.radio("View", VIEWS, key="w_view", format_func=VIEW_TITLES.get, horizontal=True,
             on_change=_on_view, label_visibility="collapsed")


def search_box() -> None:
    left, right = st.columns([6, 1], vertical_alignment="bottom")
    left.text_input(
        "Search PubMed records", key="w_q", on_change=_on_query,
        placeholder="A clinical question, keywords, or PubMed syntax: statins AND 2015:2020[dp]",
        label_visibility="collapsed",
    )
    right.button("Search", on_click=_on_query, type="primary", width="stretch")


def reset_button(where, *, key: str) -> None:
    where.button("Reset filters", on_click=_on_reset, key=key)


def filters_sidebar(counts: Counts | None) -> None:
    """Year range, article type with counts, Clinical Queries, humans, journal, language,
    abstract, sort; a chart of the matching records by year."""
    counts = counts or Counts()
    bar = st.sidebar
    bar.header("Filters")
    error = st.session_state.get(_FILTER_ERROR)
    if isinstance(error, MedsearchError):
        bar.error(md_text(f"{error.message} {error.hint or ''}"))
    bar.selectbox("Sort by", SORTS, key="w_sort", format_func=SORT_TITLES.__getitem__, on_change=_on_sort)
    left, right = bar.columns(2)
    left.number_input("From year", MIN_YEAR, MAX_YEAR, value=None, step=1, key="w_from", on_change=_on_filters)
    right.number_input("To year", MIN_YEAR, MAX_YEAR, value=None, step=1, key="w_to", on_change=_on_filters)
    _choice(bar, "Article type", "w_types", counts.types, COMMON_TYPES)
    bar.selectbox("Clinical Queries", ["", *CATEGORY_TITLES], key="w_cq", on_change=_on_filters,
                  format_func=lambda c: CATEGORY_TITLES.get(c, "Any study category"),
                  help="PubMed's Clinical Queries filters for therapy, diagnosis, etiology, prognosis "
                  "and clinical prediction guides.")
    bar.radio("Scope", ["broad", "narrow"], key="w_cq_scope", horizontal=True, on_change=_on_filters,
              format_func={"broad": "Broad (sensitive)", "narrow": "Narrow (specific)"}.get,
              disabled=not st.session_state.get("w_cq"))
    bar.checkbox("Systematic reviews", key="w_sr", on_change=_on_filters)
    bar.checkbox("Humans only", key="w_humans", on_change=_on_filters)
    bar.multiselect("Age", AGE_GROUPS, key="w_ages", on_change=_on_filters, placeholder="Any age")
    bar.checkbox("Free full text (in PMC)", key="w_fft", on_change=_on_filters)
    bar.checkbox("Has abstract", key="w_abstract", on_change=_on_filters)
    bar.checkbox("Include notices", key="w_notices", on_change=_on_filters,
                 help="Retraction notices, errata and expressions of concern are left out of the results "
                 "by default: they show on the card of the paper they concern.")
    _choice(bar, "Journal", "w_journals", counts.journals, ())
    _choice(bar, "Language", "w_langs", counts.languages, ())
    reset_button(bar, key="reset-side")
    if counts.timeline:
        bar.caption("Matching records by year")
        bar.vega_lite_chart(year_chart(counts.timeline), height=160, width="stretch")


def year_chart(timeline: tuple[YearCount, ...]) -> dict:
    """A bar chart of records by year: a plain Vega-Lite spec, with no zoom or pan (Streamlit's
    bar chart binds its scales to zooming, which Vega-Lite refuses on a band scale, warning in
    the browser's console)."""
    return {
        "data": {"values": [{"year": str(y.year), "records": y.count} for y in timeline]},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {  # domains given: Vega-Lite computes none (and warns of none while data arrive)
            "x": {"field": "year", "type": "ordinal", "title": None,
                  "scale": {"domain": [str(y.year) for y in timeline]}},
            "y": {"field": "records", "type": "quantitative", "title": None, "stack": None,
                  "scale": {"domain": [0, max(y.count for y in timeline)]}}},
    }


def _choice(bar, label: str, key: str, counts: Mapping[str, int], fallback: tuple[str, ...]) -> None:
    """A multiselect whose options are the values with counts, the chosen ones always included."""
    chosen = list(st.session_state.get(key) or ())
    options = list(dict.fromkeys([*counts, *chosen] if counts else [*fallback, *chosen]))

    def shown(value: str) -> str:
        return f"{value} ({counts[value]:,})" if value in counts else value

    bar.multiselect(label, options, key=key, format_func=shown, on_change=_on_filters,
                    placeholder="Any" if options else "Search first")
