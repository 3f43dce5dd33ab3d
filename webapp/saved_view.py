"""Saved searches: each with how many new results it has since its last run; run, open,
rename, delete (:mod:`search.library`).

"New" is the library's: a record that entered the search's result set since its last run
(the first run is the baseline and calls nothing new). While
the index is still the snapshot the last run searched, nothing can be new (0, known
without searching); after ``medsearch index`` published a newer one, "Check for new
results" counts them (a search per saved query, recording nothing), and "Run" records a
run and shows its results with the new ones marked.
"""

from __future__ import annotations

import streamlit as st

from ingest.errors import LibraryError
from search.library.alerts import count_new, known_new, run_query
from search.library.names import name_key
from search.library.types import SavedQuery
from webapp import cards
from webapp.errors import notify, reporting, shown
from webapp.markup import esc, md_text
from webapp.services import Services
from webapp.urlstate import AppState, describe
from webapp.widgets import go

_CHECKED = "_new_counts"  # (snapshot, name) -> new results counted by "Check"
_OUTCOME = "_run_outcome"


def render(services: Services) -> None:
    st.subheader("Saved searches")
    saved = services.library.saved.all()
    if not saved:
        st.info("No saved searches yet. Search, then press \u201cSave search\u201d above the results.")
        return
    snapshot = services.engine.snapshot.name
    st.button("Check for new results", on_click=_check, args=(services, snapshot),
              help="Runs every saved search on the current index and counts the records that entered its "
              "result set since its last run (records nothing).")
    for item in saved:
        with st.container(border=True):
            st.html(saved_html(item, _new_count(item, snapshot)))
            _buttons(services, item)
    outcome = st.session_state.get(_OUTCOME)
    if outcome is not None:
        _show_outcome(services, outcome)


def _new_count(item: SavedQuery, snapshot: str) -> int | None:
    known = known_new(item, snapshot)
    return known if known is not None else st.session_state.get(_CHECKED, {}).get((snapshot, item.id))


def saved_html(item: SavedQuery, new: int | None) -> str:
    """A saved search's name, query, filters, last run and new results (all text escaped)."""
    chips = describe(item.filters)
    last = item.last_run
    if last is None:
        runs = "Not run yet."
    else:
        runs = (f"Last run {last.ran_at:%Y-%m-%d %H:%M}: {last.n_results} results, {last.n_new} new then "
                f"({item.runs} run{'s' if item.runs != 1 else ''}).")
    if new is None:
        fresh = ("The index has changed since the last run: check or run it to see new results."
                 if last else "")
    else:
        fresh = f"{new} new result{'s' if new != 1 else ''} since the last run."
    badge = f' <span class="ms-badge ms-new">{new} new</span>' if new else ""
    return (f"<div><b>{esc(item.name)}</b>{badge}</div>"
            f'<div class="ms-meta">Query: <code>{esc(item.query)}</code>'
            f"{' &middot; Filters: ' + esc('; '.join(chips)) if chips else ''}</div>"
            f'<div class="ms-meta">{esc(runs)} {esc(fresh)}</div>')


def _buttons(services: Services, item: SavedQuery) -> None:
    run, open_, rename, delete = st.columns(4)
    run.button("Run", key=f"run-{item.id}", on_click=_run, args=(services, item.name), type="primary")
    open_.button("Open in search", key=f"open-{item.id}", on_click=_open, args=(item,))
    with rename.popover("Rename"):
        st.text_input("New name", key=f"new-name-{item.id}", max_chars=200)
        st.button("Rename", key=f"do-rename-{item.id}", on_click=_rename, args=(services, item))
    with delete.popover("Delete"):
        st.write(md_text(f"Delete \u201c{item.name}\u201d and the record of its {item.runs} runs?"))
        st.button("Delete", key=f"do-delete-{item.id}", on_click=_delete, args=(services, item.name))


@reporting
def _check(services: Services, snapshot: str) -> None:
    counts = st.session_state.setdefault(_CHECKED, {})
    for item in services.library.saved.all():
        counts[(snapshot, item.id)] = count_new(services.library.saved, item, services.engine)


@reporting
def _run(services: Services, name: str) -> None:
    item = services.library.saved.get(name)
    st.session_state[_OUTCOME] = run_query(services.library.saved, item, services.engine)


def _open(item: SavedQuery) -> None:
    go(AppState(view="search", query=item.query, filters=item.filters))


@reporting
def _rename(services: Services, item: SavedQuery) -> None:
    new = st.session_state.get(f"new-name-{item.id}") or ""
    taken = next((s.name for s in services.library.saved.all()
                  if name_key(s.name) == name_key(new) and s.id != item.id), None)
    if taken is not None:  # the library's own error speaks of the command line
        raise LibraryError(f"There is a saved search named \u201c{taken}\u201d already.",
                           hint="Pick another name, or delete that one first.")
    renamed = services.library.saved.rename(item.name, new)
    notify(f"Renamed {item.name} to {renamed.name}.")


@reporting
def _delete(services: Services, name: str) -> None:
    services.library.saved.remove(name)
    outcome = st.session_state.get(_OUTCOME)
    if outcome is not None and outcome.saved.name == name:
        st.session_state.pop(_OUTCOME)
    notify(f"Deleted the saved search {name}.")


def _show_outcome(services: Services, outcome) -> None:
    run = outcome.run
    st.divider()
    st.subheader(md_text(f"Run #{run.run_no} of {outcome.saved.name}"))
    if run.run_no == 1:
        what = "the first run: its results are the baseline, and later runs mark what enters them as new"
    else:
        what = f"{run.n_new} new (entered the results since the last run)"
    st.caption(md_text(f"{run.n_results} results shown, {what}; {run.candidates:,} records passed the filters."))
    for warning in outcome.warnings:
        st.warning(md_text(warning))
    with shown("showing the run's results"):
        ctx = cards.context(services, outcome.saved.query, new=frozenset(h.hit.doc_id for h in outcome.new_hits),
                            prefix="run")
        cards.render(ctx, [h.hit for h in outcome.hits][:50])
