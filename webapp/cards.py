"""Result cards with their buttons: TL;DR, similar articles, and a list menu where the user
picks the citation list to add the paper to (or remove it from), or names a new one.

The card itself is HTML from :mod:`webapp.markup` (escaped record text, highlights,
badges, warnings, "why this rank"); the buttons are widgets under it. Buttons act through
callbacks on the library, and say what they did on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import streamlit as st

from ingest.errors import LibraryError
from search.library.names import name_key
from search.types import Hit
from webapp import summary_panel
from webapp.errors import notify, reporting
from webapp.markup import card_html, md_text
from webapp.services import Services
from webapp.widgets import go, reading

#: The list "Add to list" creates when the user has none yet.
DEFAULT_LIST = "Reading list"
ACTIVE_LIST = "active_list"
_TLDR = "_tldr_wanted"


@dataclass(frozen=True)
class CardContext:
    """What every card of a page needs: the services, the query (for TL;DRs), the list that
    "Add to list" adds to, and which lists hold each PMID."""

    services: Services
    query: str
    active_list: str | None
    listed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    list_names: tuple[str, ...] = ()  # every list, for the card's list menu
    new: frozenset[str] = frozenset()  # doc ids to badge NEW (a saved search's run)
    prefix: str = "r"  # keeps widget keys unique when two groups of cards share a page


def context(services: Services, query: str, **extra) -> CardContext:
    """The context of a page of cards (reads which lists hold which PMIDs: one short query)."""
    listed = services.library.lists.listed()
    names = tuple(x.name for x in services.library.lists.all())
    return CardContext(services, query, active_list(services), listed, names, **extra)


def active_list(services: Services) -> str | None:
    """The list "Add to list" adds to: the one picked this session, else the first one."""
    chosen = st.session_state.get(ACTIVE_LIST)
    names = [x.name for x in services.library.lists.all()]
    if chosen in names:
        return chosen
    return names[0] if names else None


def render(ctx: CardContext, hits: Sequence[Hit], *, show_rank: bool = True) -> None:
    for hit in hits:
        card(ctx, hit, show_rank=show_rank)


def card(ctx: CardContext, hit: Hit, *, show_rank: bool = True) -> None:
    lists = ctx.listed.get(hit.pmid or "", ())
    st.html(card_html(hit, new=hit.doc_id in ctx.new, listed_in=lists, show_rank=show_rank))
    key = f"{ctx.prefix}-{hit.doc_id}"
    tldr, similar, listing = st.columns([1, 1.4, 2.2])
    tldr.button("TL;DR", key=f"tldr-{key}", on_click=_want_tldr, args=(hit.doc_id,),
                help="A one- or two-sentence summary of this paper, cited to it.")
    similar.button("Similar articles", key=f"sim-{key}", on_click=_similar, args=(hit.pmid,),
                   disabled=not hit.pmid)
    with listing.popover(_lists_label(lists), width="stretch", key=f"lists-{key}"):
        _list_menu(ctx, hit, lists, key)
    if hit.doc_id in st.session_state.get(_TLDR, set()):
        summary_panel.tldr(ctx.services, ctx.query, hit)


def _lists_label(lists: Sequence[str]) -> str:
    if not lists:
        return "Add to list"
    return f"In {md_text(_short(lists[0]))}" if len(lists) == 1 else f"In {len(lists)} lists"


def _list_menu(ctx: CardContext, hit: Hit, lists: Sequence[str], key: str) -> None:
    """One button per list (add, or remove where the paper is), and a new list by name."""
    if not hit.pmid:
        st.caption("Only records with a PMID can be listed.")
        return
    names = list(ctx.list_names) or [DEFAULT_LIST]
    for name in names:
        if name in lists:
            st.button(f"Remove from {md_text(_short(name))}", key=f"rm-{key}-{name}", on_click=_remove,
                      args=(ctx.services, name, hit.pmid), width="stretch")
        else:
            st.button(f"Add to {md_text(_short(name))}", key=f"add-{key}-{name}", on_click=_add,
                      args=(ctx.services, name, hit.pmid), width="stretch",
                      type="primary" if name == ctx.active_list else "secondary")
    st.text_input("New list", key=f"new-{key}", max_chars=200, placeholder="Name of a new list")
    st.button("Create and add", key=f"create-{key}", on_click=_create_and_add,
              args=(ctx.services, f"new-{key}", hit.pmid))


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 3] + "..."


def _want_tldr(doc_id: str) -> None:
    st.session_state.setdefault(_TLDR, set()).add(doc_id)


def _similar(pmid: str | None) -> None:
    if pmid:
        go(replace(reading().state, view="search", similar=pmid, page=1))


@reporting
def _add(services: Services, name: str, pmid: str) -> None:
    report = services.library.lists.add(name, [pmid], create=True)
    st.session_state[ACTIVE_LIST] = services.library.lists.get(name).name
    notify(f"PMID {pmid} is already in {name}." if report.already else f"Added PMID {pmid} to {name}.")


@reporting
def _create_and_add(services: Services, field_key: str, pmid: str) -> None:
    name = (st.session_state.get(field_key) or "").strip()
    if not name:
        raise LibraryError("The new list has no name.", hint="Type its name, then press Create and add.")
    taken = next((x.name for x in services.library.lists.all() if name_key(x.name) == name_key(name)), None)
    if taken is not None:
        raise LibraryError(f"There is a list named \u201c{taken}\u201d already.",
                           hint="Press its Add to button in the same menu, or type another name.")
    services.library.lists.create(name)
    st.session_state[field_key] = ""
    _add(services, name, pmid)


@reporting
def _remove(services: Services, name: str, pmid: str) -> None:
    services.library.lists.remove(name, [pmid])
    notify(f"Removed PMID {pmid} from {name}.")
