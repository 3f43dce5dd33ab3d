"""A saved search as an Atom 1.0 (or RSS 2.0) feed, written by feedgen.

Entries are the results of the search now, the NEW ones first (those that entered its result
set since its last recorded run, ``search.library.preview_query``), each titled "NEW: ..." and
in the category ``new``; a retracted paper says so in its title. An entry's id is the paper's
PubMed URL, so a feed reader shows each paper once, however often its rank moves. Record text
is untrusted: characters XML cannot carry are dropped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from search.library.types import AlertHit, RunOutcome

ATOM = "application/atom+xml"
RSS = "application/rss+xml"
PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
#: What XML 1.0 cannot hold (C0 controls but tab, newline, CR; surrogates; U+FFFE, U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _aware(when: datetime | None) -> datetime:
    when = when or datetime.now()
    return when if when.tzinfo else when.astimezone()


def _entry_link(a: AlertHit) -> str:
    return f"{PUBMED}{a.hit.pmid}/" if a.hit.pmid else f"urn:medsearch:doc:{a.hit.doc_id}"


def build_feed(outcome: RunOutcome, self_url: str, fmt: str = "atom") -> tuple[bytes, str]:
    """(the feed document, its media type) for ``outcome``; ``fmt`` is ``atom`` or ``rss``."""
    from feedgen.feed import FeedGenerator

    saved = outcome.saved
    now = datetime.now(UTC)
    fg = FeedGenerator()
    fg.id(f"urn:medsearch:saved:{saved.id}")
    fg.title(xml_text(f"medsearch: {saved.name}"))
    fg.subtitle(xml_text(f"{saved.query} — {outcome.run.n_new} new since the last run"
                         if saved.last_run else f"{saved.query} — not run yet: nothing is new"))
    fg.link(href=self_url, rel="self")
    fg.link(href=self_url.split("/saved/")[0] + "/docs", rel="alternate")
    fg.updated(now)
    fg.generator("medsearch")
    previous = _aware(saved.last_run.ran_at) if saved.last_run else _aware(saved.created_at)
    ordered = [*outcome.new_hits, *(a for a in outcome.hits if not a.is_new)]
    for a in ordered:
        h = a.hit
        fe = fg.add_entry(order="append")
        link = _entry_link(a)
        fe.id(link)
        flag = "[RETRACTED] " if h.is_retracted else ""
        fe.title(xml_text(("NEW: " if a.is_new else "") + flag + (h.title or h.doc_id)))
        fe.link(href=link)
        fe.updated(now if a.is_new else previous)
        who = ", ".join(filter(None, (h.authors_short, h.journal, str(h.year or "")))) or h.doc_id
        fe.summary(xml_text(f"{who}. PMID {h.pmid or h.doc_id}." + (f" {h.abstract[:600]}" if h.abstract else "")))
        if a.is_new:
            fe.category(term="new", label="New since the last run")
        if h.is_retracted:
            fe.category(term="retracted", label="Retracted")
    if fmt == "rss":
        fg.description(xml_text(f"The results of the saved search {saved.name!r}, new ones first."))
        return fg.rss_str(pretty=True), RSS
    return fg.atom_str(pretty=True), ATOM
