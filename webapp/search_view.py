"""The search screen: the results of the URL's query (or the articles similar to one paper),
with paging, the filters in effect, "save this search", and the summary of the top results.

It is drawn in two parts so that the first page of results reaches the browser before
anything slow: :func:`results_part` (results, then facet counts for the sidebar), and
:func:`summary_part`, which streams the summary into a column beside the first page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ingest.errors import LibraryError, MedsearchError
from search.types import Filters, Hit, SearchResults
from webapp import cards, queries, summary_panel
from webapp.errors import notify, reporting, show_error, shown
from webapp.markup import esc, md_text
from webapp.services import Services
from webapp.urlstate import AppState, describe
from webapp.widgets import Counts, go, reading, reset_button, search_box

EXAMPLES = ("metformin and breast cancer risk", "statins primary prevention cardiovascular",
            "retracted[sb] AND 2005:2010[dp]")


@dataclass(frozen=True)
class Drawn:
    """What the results part leaves for the rest of the run."""

    counts: Counts | None = None  # facet counts for the sidebar
    results: SearchResults | None = None
    slot: DeltaGenerator | None = None  # the container the summary streams into


def results_part(services: Services, state: AppState) -> Drawn:
    search_box()
    if state.similar:
        _similar(services, state)
        return Drawn()
    if not state.query:
        _landing()
        return Drawn()
    engine = services.engine
    key = queries.snapshot_key(engine)
    results = None
    with shown("searching"):
        results = queries.search(engine, key, state.query, state.filters, state.sort, state.page)
    if results is None:
        return Drawn()
    _header(services, state, results)
    slot, column = None, st.container()
    if results.hits:  # the summary of the top results goes beside every page of them
        column, slot = st.columns([3, 2], gap="large")
    with column:
        cards.render(cards.context(services, state.query), results.hits)
        _pager(services, state, results)
    counts = None
    with shown("counting the results by filter"):
        counts = _counts(services, key, state)
    return Drawn(counts, results, slot)


def summary_part(services: Services, state: AppState, drawn: Drawn) -> None:
    results = drawn.results
    if results is None or drawn.slot is None:
        return
    top: tuple[Hit, ...] = ()
    if results.sort == "relevance" and results.offset == 0:
        top = results.hits
    else:  # the same set: its first page by relevance (cached, or one search)
        with shown("finding the top results"):
            top = queries.search(services.engine, queries.snapshot_key(services.engine), state.query,
                                 state.filters, "relevance", 1).hits
    if len(top) < min(services.summary_papers, results.total):
        top = ()  # more papers than a page holds: the summariser searches for them
    with drawn.slot:
        summary_panel.overview(services, state.query, state.filters, top,
                               [h.pmid for h in results.hits if h.pmid], results.snapshot)


def _header(services: Services, state: AppState, results: SearchResults) -> None:
    first, last = results.offset + 1, results.offset + len(results.hits)
    shown_range = f"{first:,}-{last:,} of " if results.hits else ""
    st.html(f'<div class="ms-head" data-query="{esc(state.query)}" data-total="{results.total}">'
            f"<b>{shown_range}{results.total:,} results</b> for &ldquo;{esc(state.query)}&rdquo;"
            f'<span class="ms-meta"> &middot; {esc(results.documents)} records searched '
            f"&middot; {esc(results.mode)}</span></div>")
    if results.restriction:
        st.caption(md_text(f"Restricted by (PubMed syntax): {results.restriction}"))
    chips = describe(state.filters)
    left, mid, right = st.columns([5, 1.3, 1.3], vertical_alignment="center")
    left.caption(md_text("Filters: " + "; ".join(chips)) if chips else "No filters.")
    if chips:
        reset_button(mid, key="reset-head")
    with right.popover("Save search", width="stretch"):
        _save_form(services, state)
    for warning in results.warnings:
        st.warning(md_text(warning))
    if results.did_you_mean:
        st.button(f"Search for: {results.did_you_mean}", key="did-you-mean", on_click=go,
                  args=(replace(state, query=results.did_you_mean, page=1),),
                  help="The query with each word no record has replaced by the closest word of the collection.")
    if not results.hits:
        _no_results(state, results)


def _no_results(state: AppState, results: SearchResults) -> None:
    if results.total and state.page > 1:
        st.info("This page is past the last result.")
        return
    if state.filters.active:
        st.info(md_text(f"No results with these filters ({results.candidates:,} records pass them). "
                        "Remove a filter, or reset them all."))
    elif not results.warnings:
        st.info("No results. Try other words, a synonym, or fewer terms.")


_CLASH = "_save_clash"  # the name of a saved search the user may replace


def _save_form(services: Services, state: AppState) -> None:
    st.text_input("Name of the saved search", key="w_save_name", max_chars=200,
                  placeholder=state.query[:60])
    st.button("Save", key="w_save", on_click=_save, args=(services, state), type="primary")
    clash = st.session_state.get(_CLASH)
    if clash:
        st.button(f"Replace {md_text(clash)}", key="w_save_replace", on_click=_save,
                  args=(services, state, clash), help="Deletes the saved search of that name (and the record "
                  "of its runs), then saves this search under its name.")


@reporting
def _save(services: Services, state: AppState, replace_name: str | None = None) -> None:
    from search.library.names import name_key

    saved_searches = services.library.saved
    name = replace_name or (st.session_state.get("w_save_name") or "").strip() or state.query[:60]
    st.session_state.pop(_CLASH, None)
    taken = next((s.name for s in saved_searches.all() if name_key(s.name) == name_key(name)), None)
    if taken is not None and replace_name is None:
        st.session_state[_CLASH] = taken
        raise LibraryError(f"There is a saved search named \u201c{taken}\u201d already.",
                           hint="Type another name and press Save, or press Replace to save this search "
                           "in its place.")
    if taken is not None:
        saved_searches.remove(taken)
    saved = saved_searches.add(name, state.query, filters=state.filters)
    st.session_state["w_save_name"] = ""
    notify(f"Saved this search as {saved.name}. See it under Saved searches.")


def _pager(services: Services, state: AppState, results: SearchResults) -> None:
    pages = queries.page_count(results, services.engine)
    if pages > 1:
        st.pagination(pages, default=min(state.page, pages), key="w_page", on_change=_on_page,
                      max_visible_pages=7)


def _on_page() -> None:
    page = st.session_state.get("w_page") or 1
    go(replace(reading().state, page=int(page)))


def _counts(services: Services, key: str, state: AppState) -> Counts:
    engine = services.engine
    found = queries.facets(engine, key, state.query, state.filters)
    types = found.publication_types
    if state.filters.publication_types:  # counts of the other types, as if none were picked
        types = queries.facets(engine, key, state.query, replace(state.filters, publication_types=())).publication_types
    return Counts(found.total, {c.value: c.count for c in types}, {c.value: c.count for c in found.journals},
                  {c.value: c.count for c in found.languages}, found.timeline)


def _similar(services: Services, state: AppState) -> None:
    st.button("Back to the results", icon=":material/arrow_back:", on_click=_back)
    engine = services.engine
    try:
        found = queries.similar(engine, queries.snapshot_key(engine), state.similar or "", state.filters)
    except MedsearchError as exc:
        show_error(exc)
        return
    st.subheader("Similar articles")
    ctx = cards.context(services, found.query, prefix="s")
    st.caption("Articles similar to:")
    cards.card(replace(ctx, prefix="src"), found.source, show_rank=False)
    st.divider()
    for warning in found.warnings:
        st.warning(md_text(warning))
    cards.render(ctx, found.hits)


def _back() -> None:
    go(replace(reading().state, similar=None))


def _landing() -> None:
    st.markdown("Search the records in this index: type a clinical question, keywords, or PubMed "
                "syntax, and press Enter.")
    cols = st.columns(len(EXAMPLES))
    for col, example in zip(cols, EXAMPLES, strict=True):
        col.button(md_text(example), key=f"ex-{example}", on_click=_example, args=(example,))


def _example(query: str) -> None:
    go(replace(reading().state, view="search", query=query, page=1, similar=None, filters=Filters()))
