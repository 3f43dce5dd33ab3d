"""Citation lists: create and pick lists, reorder and remove papers, see retracted and
missing papers marked, download the list in every export format, copy its references.

A list holds PMIDs (``search.library``): a paper whose record is not in the index stays
in the list and is shown as missing; exports leave it out and say so.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import cast

import streamlit as st

from ingest.errors import LibraryError
from search.citations.export import FORMATS, export
from search.library import list_view
from search.library.limits import MAX_NOTE_CHARS
from search.library.names import name_key
from search.library.types import EntryView
from webapp.cards import ACTIVE_LIST, active_list
from webapp.errors import notify, reporting
from webapp.markup import esc, link, md_text, pubmed_url
from webapp.services import Services
from webapp.urlstate import AppState
from webapp.widgets import go, reading

REFERENCE_STYLES = {"vancouver": "Vancouver / NLM", "ama": "AMA"}


def render(services: Services, state: AppState) -> None:
    st.subheader("Citation lists")
    lists = services.library.lists
    names = [x.name for x in lists.all()]
    _new_list_form(services)
    if not names:
        st.info("No lists yet. Create one above, or press \u201cAdd to\u201d on a search result.")
        return
    # names is not empty, so active_list finds one
    current = cast(str, state.list_name if state.list_name in names else active_list(services))
    st.session_state["w_list"] = current
    st.selectbox("List", names, key="w_list", on_change=_pick)
    view = list_view(lists, current, services.engine)
    missing, retracted = view.count("missing"), view.count("retracted")
    size = len(view.entries)
    st.caption(md_text(f"{size} paper{'s' if size != 1 else ''}; {retracted} retracted; {missing} not in the index."))
    _list_admin(services, current, len(view.entries))
    for entry in view.entries:
        _entry(services, current, entry, len(view.entries))
    if view.entries:
        _exports(services, current, view.entries)


def _pick() -> None:
    name = st.session_state.get("w_list")
    st.session_state[ACTIVE_LIST] = name
    go(replace(reading().state, view="lists", list_name=name))


def entry_html(entry: EntryView) -> str:
    """One listed paper: position, title (PubMed link), source, status, note; text escaped."""
    e, a = entry.entry, entry.article
    url = pubmed_url(e.pmid)
    title = esc(a.title) if a and a.title else "(record not in the index)"
    head = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    status = ""
    if entry.status == "retracted":
        status = '<div class="ms-retracted"><b>RETRACTED.</b> Check before citing.</div>'
    elif entry.status == "missing":
        status = ('<div class="ms-erratum">Not in the index: deleted from PubMed, or not ingested or '
                  "indexed yet. The list keeps its PMID.</div>")
    source = ""
    if a is not None:
        people = [x.display_name for x in a.authors]
        who = ", ".join(people[:3]) + (", et al" if len(people) > 3 else "")
        source = ". ".join(p for p in (who, a.journal_iso or a.journal_title or "", str(a.pub_year or "")) if p)
    note = f'<div class="ms-meta">Note: {esc(e.note)}</div>' if e.note else ""
    pmid = link(url, f"PMID {e.pmid}") if url else esc(e.pmid)
    return (f'<div class="ms-card" data-pmid="{esc(e.pmid)}"><div>{e.position}. {head}</div>{status}'
            f'<div class="ms-meta">{esc(source)} {pmid}</div>{note}</div>')


def _entry(services: Services, name: str, entry: EntryView, size: int) -> None:
    st.html(entry_html(entry))
    up, down, remove, note, _ = st.columns([1, 1, 1.3, 1.5, 2.5])
    pmid, pos = entry.entry.pmid, entry.entry.position
    up.button("Up", key=f"up-{pmid}", icon=":material/arrow_upward:", disabled=pos == 1,
              on_click=_move, args=(services, name, pmid, pos - 1))
    down.button("Down", key=f"down-{pmid}", icon=":material/arrow_downward:", disabled=pos == size,
                on_click=_move, args=(services, name, pmid, pos + 1))
    remove.button("Remove", key=f"remove-{pmid}", on_click=_remove, args=(services, name, pmid))
    with note.popover("Edit note" if entry.entry.note else "Add note", icon=":material/edit_note:"):
        st.text_area("Note", value=entry.entry.note or "", key=f"note-{pmid}", max_chars=MAX_NOTE_CHARS,
                     help="Kept with the paper in this list, and written into the exports that have a place for it.")
        st.button("Save note", key=f"save-note-{pmid}", on_click=_save_note, args=(services, name, pmid),
                  type="primary")


@reporting
def _save_note(services: Services, name: str, pmid: str) -> None:
    text = (st.session_state.get(f"note-{pmid}") or "").strip()
    services.library.lists.add(name, [pmid], note=text)
    notify(f"Saved the note on PMID {pmid}." if text else f"Removed the note on PMID {pmid}.")


@reporting
def _move(services: Services, name: str, pmid: str, position: int) -> None:
    services.library.lists.move(name, pmid, position)


@reporting
def _remove(services: Services, name: str, pmid: str) -> None:
    services.library.lists.remove(name, [pmid])
    notify(f"Removed PMID {pmid} from {name}.")


def _new_list_form(services: Services) -> None:
    with st.popover("New list", icon=":material/add:"):
        st.text_input("Name of the new list", key="w_new_list", max_chars=200)
        st.button("Create", key="w_create_list", on_click=_create, args=(services,), type="primary")


@reporting
def _create(services: Services) -> None:
    name = st.session_state.get("w_new_list") or ""
    _check_free(services, name)
    created = services.library.lists.create(name)
    st.session_state["w_new_list"] = ""
    st.session_state[ACTIVE_LIST] = created.name
    notify(f"Created the list {created.name}; the \u201cAdd to list\u201d menu of a result now offers it.")
    go(replace(reading().state, view="lists", list_name=created.name))


def _check_free(services: Services, name: str) -> None:
    """A name no other list has (the library's own error speaks of the command line)."""
    taken = next((x.name for x in services.library.lists.all() if name_key(x.name) == name_key(name)), None)
    if taken is not None:
        raise LibraryError(f"There is a list named \u201c{taken}\u201d already.",
                           hint="Pick another name, or pick that list in the List menu.")


def _list_admin(services: Services, name: str, size: int) -> None:
    rename, delete, _ = st.columns([1, 1, 3])
    with rename.popover("Rename list"):
        st.text_input("New name", key="w_list_new_name", max_chars=200)
        st.button("Rename", key="w_list_rename", on_click=_rename, args=(services, name))
    with delete.popover("Delete list"):
        st.write(md_text(f"Delete \u201c{name}\u201d" + (f" and its {size} papers? Download it first if in doubt."
                                                     if size else "?")))
        st.button("Delete", key="w_list_delete", on_click=_delete, args=(services, name))


@reporting
def _rename(services: Services, name: str) -> None:
    new = st.session_state.get("w_list_new_name") or ""
    if name_key(new) != name_key(name):
        _check_free(services, new)
    renamed = services.library.lists.rename(name, new)
    st.session_state[ACTIVE_LIST] = renamed.name
    go(replace(reading().state, view="lists", list_name=renamed.name))


@reporting
def _delete(services: Services, name: str) -> None:
    services.library.lists.delete(name, even_if_not_empty=True)
    st.session_state.pop(ACTIVE_LIST, None)
    notify(f"Deleted the list {name}.")
    go(replace(reading().state, view="lists", list_name=None))


def _exports(services: Services, name: str, entries: tuple[EntryView, ...]) -> None:
    """Download in every export format; formatted references to copy."""
    articles = [e.article for e in entries if e.article is not None]
    notes = {e.entry.pmid: e.entry.note for e in entries if e.entry.note}
    missing = [e.entry.pmid for e in entries if e.article is None]
    st.divider()
    st.markdown("**Download or copy**")
    if missing:
        st.caption(md_text(f"Not in the index, left out of the files: PMID {', '.join(missing)}."))
    fmt_col, button_col = st.columns([3, 2], vertical_alignment="bottom")
    fmt = fmt_col.selectbox("Format", list(FORMATS), key="w_export_format", format_func=lambda f: FORMATS[f].label)
    chosen = FORMATS[fmt]
    button_col.download_button(
        f"Download {chosen.extension}", data=chosen.encode(export(articles, fmt, notes=notes)),
        file_name=file_name(name, chosen.extension), mime=chosen.mime, key="w_download", on_click="ignore",
        icon=":material/download:",
    )
    style = st.radio("References to copy", list(REFERENCE_STYLES), key="w_ref_style", horizontal=True,
                     format_func=REFERENCE_STYLES.get)
    st.code(export(articles, style), language=None, wrap_lines=True)


def file_name(list_name: str, extension: str) -> str:
    """A safe file name for a list's export: letters, digits, dot, dash and underscore."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", list_name).strip("-.") or "citations"
    return f"{stem[:80]}{extension}"
