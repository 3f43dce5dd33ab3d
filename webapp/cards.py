"""Result cards with their buttons: TL;DR, similar articles, add to (or remove from) a list.

The card itself is HTML from :mod:`webapp.markup` (escaped record text, highlights,
badges, warnings, "why this rank"); the buttons are widgets under it. Buttons act through
callbacks on the library, and say what they did on the next run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import streamlit as st

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
    new: frozenset[str] = frozenset()  # doc ids to badge NEW (a saved search's run)
    prefix: str = "r"  # keeps widget keys unique when two groups of cards share a page


def context(services: Services, query: str, **extra) -> CardContext:
    """The context of a page of cards (reads which lists hold which PMIDs: one short query)."""
    listed = services.library.lists.listed()
    return CardContext(services, query, active_list(services), listed, **extra)


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
    target = ctx.active_list
    if hit.pmid and target and target in lists:
        listing.button(f"Remove from {md_text(_short(target))}", key=f"rm-{key}",
                       on_click=_remove, args=(ctx.services, target, hit.pmid))
    else:
        listing.button(f"Add to {md_text(_short(target or DEFAULT_LIST))}", key=f"add-{key}",
                       on_click=_add, args=(ctx.services, target or DEFAULT_LIST, hit.pmid),
                       disabled=not hit.pmid, help="Pick the list in the sidebar.")
    if hit.doc_id in st.session_state.get(_TLDR, set()):
        summary_panel.tldr(ctx.services, ctx.query, hit)


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
def _remove(services: Services, name: str, pmid: str) -> None:
    services.library.lists.remove(name, [pmid])
    notify(f"Removed PMID {pmid} from {name}.")
