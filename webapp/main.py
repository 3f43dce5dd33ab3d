"""The page: the frame, the services, then the view the URL asks for, the sidebar, and the
summary last.

Order matters for speed: the first page of results is drawn first, then the sidebar's
filters (their counts come from the same search), and only then the summary panel, which
shows a summary that is ready or starts one in the background (never holding the page).

``main`` reads top to bottom as the screens a user can meet: the services cannot be
loaded (:func:`_services` says why), or one of the three views.
"""

from __future__ import annotations

import streamlit as st

from webapp import frame, lists_view, saved_view, search_view, status_panel
from webapp.corpus_info import corpus_info
from webapp.errors import show_error, show_notices, shown
from webapp.markup import STYLE, esc, md_text
from webapp.services import Services, shared_services
from webapp.urlstate import AppState
from webapp.widgets import filters_sidebar, reading, sync, view_switch


def main(services: Services | None = None) -> None:
    """Draw the app; ``services`` replaces the process's shared ones (tests pass their own)."""
    frame.configure()
    st.html(STYLE)
    st.html(frame.LAYOUT_STYLE)
    state_read = reading()
    sync(state_read.state)
    st.html('<div class="ms-brand">medsearch <span>&middot; medical literature search</span></div>')
    if services is None:
        from webapp import first_run

        if first_run.shown_instead():  # nothing to search yet, or a first load is at work
            return
        services = _services()
        if services is None:
            return
    state = state_read.state
    _corpus_line(services)
    frame.keyboard((state.view, state.query, state.filters, state.sort, state.page, state.similar))
    view_switch()
    show_notices()
    for problem in state_read.problems:
        st.warning(md_text(problem))
    if state.view == "saved":
        with shown("showing your saved searches"):
            saved_view.render(services)
        _sidebar(services)
    elif state.view == "lists":
        with shown("showing your citation lists"):
            lists_view.render(services, state)
        _sidebar(services)
    else:
        _search(services, state)


def _search(services: Services, state: AppState) -> None:
    drawn = search_view.results_part(services, state)
    filters_sidebar(drawn.counts)
    _sidebar(services)
    search_view.summary_part(services, state, drawn)


def _corpus_line(services: Services) -> None:
    """What is searched: the collection, never to be mistaken for PubMed."""
    with shown("reading what the index holds"):
        info = corpus_info(services.engine.snapshot.manifest)
        st.html(f'<div class="ms-meta ms-corpus">{esc(info.sentence())}</div>')


def _sidebar(services: Services) -> None:
    status_panel.status(services)


def _services() -> Services | None:
    """The shared services, or None after showing why they could not be loaded."""
    from ingest.errors import MedsearchError

    try:
        return shared_services()
    except MedsearchError as exc:
        st.subheader("The search index cannot be opened")
        show_error(exc)
        st.caption("After fixing this, reload the page: the app does not need a restart.")
    except Exception:
        with shown("loading the search index and models"):
            raise
    return None
