"""The summary panel (an overview of the top results) and the TL;DR of one paper.

Both stream: each paper's finding, then each sentence of the overview, as the summariser
(:mod:`search.summarize`) checks them. Citations link to the result cards on the page,
sentences that failed a grounding check carry a visible mark, and every summary ends
with its label (who wrote it, when, and that it must be checked). When the model runs
on another machine, a note says, before anything is sent, that the question and the
abstracts leave this machine. A finished summary is kept in the session, so a rerun of
the page (a click elsewhere) does not write it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import streamlit as st

from search.summarize import FindingReady, Paper, SentenceReady, Summary, SummaryReady
from search.summarize.types import SENTENCE_MARKS
from search.types import Filters, Hit, Span
from webapp.errors import shown
from webapp.markup import check_mark, cited, esc, marked, md_text
from webapp.services import Services

FLAG_WORDS = {
    "invented_citation": "citation removed: the model cited a paper it was not given",
    "ungrounded_number": "number not found in the cited abstract",
    "uncited": "sentence without a citation",
    "retracted": "retracted paper left out",
    "no_abstract": "no abstract to summarise",
    "off_topic": "not about the question",
    "no_answer": "no paper answers the question",
    "trimmed": "extra text dropped",
    "model_error": "the model failed",
    "fallback": "no language model",
    "unsupported": "not supported by the cited abstract: do not read it as fact",
    "wrong_measure": "a number stands beside another measure in the abstract",
    "unsupported_comparison": "a comparison no quoted sentence makes",
}
_DONE = "_summaries"


def external_note(services: Services) -> None:
    """The privacy note shown wherever a summary may be written by a model on another host."""
    model = services.summarizer.model
    if model is not None and model.destination:
        st.warning(md_text(
            f"Summaries are written by {model.name} at {model.destination}: your question and the "
            "abstracts of the results are sent there (setting MEDSEARCH_LLM_URL)."
        ), icon=":material/cloud_upload:")


def overview(services: Services, query: str, filters: Filters, top: Sequence[Hit], on_page: Sequence[str],
             snapshot: str) -> None:
    """The overview of the top results, streamed (or from this session's memory). ``top``: the
    first hits by relevance when the page shows them (else the search is run for them);
    ``on_page``: PMIDs whose cards are on the page, which citations link to."""
    n = services.summary_papers
    st.markdown(f"#### Summary of the top {n} results")
    if not st.toggle("Write summaries", key="w_summaries", value=True,
                     help="An overview of the top results, each statement cited to its paper."):
        return
    external_note(services)
    key = (snapshot, query, repr(filters), n)
    done: dict = st.session_state.setdefault(_DONE, {})
    box = st.empty()
    if key in done:
        box.html(summary_html(done[key], on_page))
        return
    with shown("writing the summary"):
        papers = _papers(services, query, filters, top, n)
        summary = _stream_into(box, services.summarizer.stream_overview(query, papers), on_page)
        if summary is not None:
            done[key] = summary


def _papers(services: Services, query: str, filters: Filters, top: Sequence[Hit], n: int) -> list[Paper]:
    """The papers the overview reads: the top ``n`` hits by relevance."""
    from search.summarize import papers_by_id, papers_from_search

    if not top:
        return papers_from_search(services.engine, query, n=n, filters=filters)
    top = top[:n]
    retracted = {h.pmid or h.doc_id for h in top if h.is_retracted}
    papers = papers_by_id(services.engine, [h.doc_id for h in top])
    return [replace(p, is_retracted=True) if p.pmid in retracted else p for p in papers]


def tldr(services: Services, query: str, hit: Hit) -> None:
    """One paper's TL;DR, streamed under its card (kept for the session once written)."""
    from search.summarize import papers_by_id

    done: dict = st.session_state.setdefault(_DONE, {})
    key = ("tldr", hit.doc_id, query)
    box = st.empty()
    if key in done:
        box.html(summary_html(done[key], [hit.pmid] if hit.pmid else []))
        return
    with shown("writing the TL;DR"):
        papers = papers_by_id(services.engine, [hit.doc_id])
        if not papers:
            st.info("This paper is no longer in the index.")
            return
        paper = replace(papers[0], is_retracted=True) if hit.is_retracted else papers[0]
        summary = _stream_into(box, services.summarizer.stream_tldr(query, paper), [hit.pmid or ""])
        if summary is not None:
            done[key] = summary


def _stream_into(box, events: Iterable, on_page: Sequence[str]) -> Summary | None:
    findings, sentences = [], []
    with st.spinner("Reading the abstracts..."):
        for event in events:
            if isinstance(event, FindingReady):
                findings.append(event.finding)
            elif isinstance(event, SentenceReady):
                sentences.append(event.sentence)
            elif isinstance(event, SummaryReady):
                box.html(summary_html(event.summary, on_page))
                return event.summary
            box.html(_partial_html(findings, sentences, on_page))
    return None


def _partial_html(findings, sentences, on_page: Sequence[str]) -> str:
    parts = []
    if sentences:
        parts.append(_overview(sentences, on_page))
    if findings:
        parts.append(_findings(findings, on_page))
    parts.append('<p class="ms-machine">Writing... every statement is checked before it is shown.</p>')
    return "".join(parts)


def summary_html(summary: Summary, on_page: Sequence[str]) -> str:
    """A finished summary: the overview, the findings per paper with their quotes, notes, the
    flags that concern no one sentence, the check line and the label."""
    parts = []
    if summary.sentences:
        parts.append(_overview(summary.sentences, on_page))
    if summary.findings:
        parts.append(_findings(summary.findings, on_page))
    parts += [f"<p>{cited(note, on_page)}</p>" for note in summary.notes]
    # sentence flags are marked on their sentence; papers left out are named in the notes
    named = ("retracted", "no_abstract", "off_topic", "no_answer") if summary.notes else ()
    flags = list(dict.fromkeys(f for f in summary.all_flags if f.kind not in (*SENTENCE_MARKS, *named)))
    items = "".join(
        f"<li>{esc(FLAG_WORDS.get(f.kind, f.kind))}{': ' + esc(f.detail) if f.detail else ''}"
        f"{' (PMID ' + esc(f.pmid) + ')' if f.pmid else ''}</li>" for f in flags)
    parts.append(f'<div class="ms-flags"><b>{esc(summary.check_report)}</b>'
                 f"{'<ul>' + items + '</ul>' if items else ''}</div>")
    cache = " (from the summary cache)" if summary.cached else ""
    parts.append(f'<p class="ms-machine">{esc(summary.label)}{esc(cache)}</p>')
    return "".join(parts)


def _overview(sentences, on_page: Sequence[str]) -> str:
    """Each overview sentence, its quotes folded under it."""
    items = []
    for s in sentences:
        quotes = _quotes(s)
        fold = (f'<details><summary style="font-size:.8rem">{len(s.quotes)} supporting '
                f'quote{"s" if len(s.quotes) != 1 else ""}</summary>{quotes}</details>') if quotes else ""
        items.append(f'<div style="margin:.2rem 0">{_sentence(s, on_page)}{fold}</div>')
    return '<div class="ms-overview">' + "".join(items) + "</div>"


def _findings(findings, on_page: Sequence[str]) -> str:
    extractive = any(f.source == "extractive" for f in findings)
    title = "Conclusions quoted from the abstracts" if extractive else "Finding of each paper, and its evidence"
    items = "".join(
        f"<li>{'<b>RETRACTED</b> ' if f.retracted else ''}"
        f"{' '.join(_sentence(s, on_page) for s in f.sentences) or esc('(nothing)')}"
        f"{'' if f.source == 'extractive' else ''.join(_quotes(s) for s in f.sentences)}</li>"
        for f in findings)
    return f"<details open><summary>{esc(title)}</summary><ul>{items}</ul></details>"


def _sentence(sentence, on_page: Sequence[str]) -> str:
    marks = [check_mark(FLAG_WORDS.get(f.kind, f.kind) + (f": {f.detail}" if f.detail else ""))
             for f in sentence.flags if f.kind in SENTENCE_MARKS]
    text = cited(sentence.text, on_page)
    if not sentence.supported:  # shown, but not as fact
        text = f'<span class="ms-unsupported" style="opacity:.6;text-decoration:line-through dotted">{text}</span>'
    return " ".join([text, *marks])


def _quotes(sentence) -> str:
    """The abstract sentences a sentence rests on, verbatim, the words they share with it marked."""
    from search.summarize.evidence import matched_spans

    return "".join(
        '<blockquote class="ms-quote" style="margin:.2rem 0 .3rem .4rem;padding:.1rem .6rem;'
        'border-left:3px solid rgba(128,128,128,.5);font-size:.86rem">'
        f"&ldquo;{marked(q.text, [Span('quote', a, b, '') for a, b in matched_spans(q.text, sentence.text)])}"
        f"&rdquo; <small>PMID {esc(q.pmid)}</small></blockquote>"
        for q in sentence.quotes)
