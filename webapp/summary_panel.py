"""The summary panel (an overview of the top results) and the TL;DR of one paper.

An overview is written when the user asks for it (the button beside the results), or at
once when nothing has to be written (every part is in the summary cache, or there is no
language model and the summary quotes the abstracts); the **Summarize automatically**
setting starts it with every new set of results instead. It is written in a background
thread (:mod:`webapp.summary_jobs`) while a fragment shows each checked finding and
sentence as it comes, so the cards, the pager and the filters stay live; **Stop**, or a
new query, cancels it. Its key is the set it summarises (the snapshot, the question and
the top papers by relevance), so paging, sorting, and filters that leave the top papers
as they were never write it again. A finished summary is kept in the session.

Citations link to the result cards on the page, sentences that failed a grounding check
carry a visible mark, and every summary ends with its label (who wrote it, when, and that
it must be checked). When the model runs on another machine, a note says, before
anything is sent, that the question and the abstracts leave this machine.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import streamlit as st

from search.summarize import FindingReady, Paper, SentenceReady, Summary
from search.summarize.types import SENTENCE_MARKS, flag_words
from search.types import Filters, Hit, Span
from webapp import summary_jobs
from webapp.errors import show_error, shown
from webapp.markup import check_mark, cited, esc, marked, md_text
from webapp.services import Services

_DONE = "_summaries"  # key -> finished Summary, this session
_JOBS = "_summary_jobs"  # key -> SummaryJob being written
_WANTED = "_summary_wanted"  # keys the user asked for
_NOT_READY = "_summary_not_ready"  # keys known to need the model (not in the cache)
_FAILED = "_summary_failed"  # key -> the error its job ended with
#: The session's "Summarize automatically" setting (kept apart from its widget, whose value
#: Streamlit drops on a page without the panel).
AUTO = "auto_summaries"
#: A summary being written: seconds between two looks at it, and the longest run of the
#: fragment that shows it (each run of a fragment costs the server more than a look).
LOOK_S = 0.25
RUN_S = 2.0


def external_note(services: Services) -> None:
    """The privacy note shown wherever a summary may be written by a model on another host."""
    model = services.summarizer.model
    if model is not None and model.destination:
        st.warning(md_text(
            f"Summaries are written by {model.name} at {model.destination}: your question and the "
            "abstracts of the results are sent there (setting MEDSEARCH_LLM_URL)."
        ), icon=":material/cloud_upload:")


def overview_key(snapshot: str, query: str, filters: Filters, top: Sequence[Hit], n: int) -> tuple:
    """What an overview summarises: the question and its top ``n`` papers by relevance (the
    filters stand in for them when they are not known yet)."""
    papers = tuple(h.doc_id for h in top[:n])
    return ("overview", snapshot, " ".join(query.split()), papers or repr(filters), n)


def overview(services: Services, query: str, filters: Filters, top: Sequence[Hit], on_page: Sequence[str],
             snapshot: str) -> None:
    """The overview of the top results: shown when ready, written on request (or at once with
    the automatic setting). ``top``: the first hits by relevance when known (else the search
    is run for them); ``on_page``: PMIDs whose cards are on the page, which citations link to."""
    n = services.summary_papers
    with st.container(key="ms-summary"):
        st.markdown(f"#### Summary of the top {n} results")
        external_note(services)
        key = overview_key(snapshot, query, filters, top, n)
        _cancel_other_overviews(key)

        def request() -> summary_jobs.Request:
            return summary_jobs.overview_request(query, _papers(services, query, filters, top, n))

        _panel(services, key, request, on_page, ask=f"Summarize the top {n}")
        _auto_setting()


def _auto_setting() -> None:
    st.session_state["w_auto_summaries"] = bool(st.session_state.get(AUTO, False))
    st.toggle("Summarize automatically", key="w_auto_summaries", on_change=_on_auto,
              help="Write the overview as soon as the results are shown, for every new search. "
              "Off: it is written when you ask (a summary already written is shown at once).")


def _on_auto() -> None:
    st.session_state[AUTO] = bool(st.session_state.get("w_auto_summaries"))


def _cancel_other_overviews(key: tuple) -> None:
    """A new set of results cancels the overview still being written for another."""
    jobs: dict = st.session_state.setdefault(_JOBS, {})
    for other in [k for k in jobs if k[0] == "overview" and k != key]:
        jobs.pop(other).stop()
        st.session_state.setdefault(_WANTED, set()).discard(other)


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
    """One paper's TL;DR under its card, written in the background (kept for the session)."""
    from search.summarize import papers_by_id

    key = ("tldr", hit.doc_id, " ".join(query.split()))
    on_page = [hit.pmid] if hit.pmid else []
    if key not in st.session_state.setdefault(_DONE, {}) and key not in st.session_state.setdefault(_JOBS, {}):
        papers = papers_by_id(services.engine, [hit.doc_id])
        if not papers:
            st.info("This paper is no longer in the index.")
            return
        if not papers[0].abstract.strip():  # nothing to summarise, nothing quoted: say only that
            st.info(md_text(f"PMID {hit.pmid or hit.doc_id} has no abstract: there is nothing to summarise."))
            return

    def request() -> summary_jobs.Request:
        paper = papers_by_id(services.engine, [hit.doc_id])[0]
        return summary_jobs.tldr_request(query, replace(paper, is_retracted=True) if hit.is_retracted else paper)

    with st.container(key=f"ms-tldr-{_slug(key)}"):
        _panel(services, key, request, on_page, ask=None)


# -- one summary: ready, asked for, being written --------------------------------------------------


@st.fragment
def _panel(services: Services, key: tuple, request: Callable[[], summary_jobs.Request], on_page: Sequence[str],
           *, ask: str | None) -> None:
    """Show the summary ``key`` if it is ready; else the button that asks for it (``ask``; ``None``:
    asked already), or the summary being written. A fragment: pressing the button reruns this
    panel only, not the whole page, so the summary starts at once."""
    done: dict = st.session_state.setdefault(_DONE, {})
    jobs: dict = st.session_state.setdefault(_JOBS, {})
    _collect(key)
    if key in done:
        st.html(summary_html(done[key], on_page))
        return
    failed = st.session_state.setdefault(_FAILED, {}).pop(key, None)
    if failed is not None:
        _show_failure(failed)
    if key not in jobs:
        not_ready: set = st.session_state.setdefault(_NOT_READY, set())
        if key not in not_ready:
            ready = None
            with shown("reading the summary cache"):
                ready = summary_jobs.at_once(services.summarizer, request())
            if ready is not None:
                done[key] = ready
                st.html(summary_html(ready, on_page))
                return
            not_ready.add(key)
        wanted: set = st.session_state.setdefault(_WANTED, set())
        auto = ask is not None and st.session_state.get(AUTO, False) and failed is None
        if ask is not None and key not in wanted and not auto:
            st.button(ask, key=f"ask-{_slug(key)}", on_click=wanted.add, args=(key,), type="primary",
                      icon=":material/summarize:",
                      help="An overview of these papers by the language model, each statement cited to its "
                      "paper and checked against its abstract.")
            return
        wanted.discard(key)
        with shown("starting the summary"):
            jobs[key] = summary_jobs.start(services.summarizer, request(), key)
    if key in jobs:
        _live(key, list(on_page))


@st.fragment(run_every=RUN_S)
def _live(key: tuple, on_page: list[str]) -> None:
    """The summary being written: each checked finding and sentence drawn as it comes. One run
    of this fragment lasts about ``RUN_S`` seconds, waiting on the job and drawing a small
    line every ``LOOK_S`` seconds (each drawing is where Streamlit hands a click elsewhere on
    the page its turn); the next run follows. The whole page is drawn again once it is
    finished, which also ends these runs."""
    job = st.session_state.get(_JOBS, {}).get(key)
    if job is None:  # stopped (this fragment's Stop): the whole page, with the button that asks again
        st.rerun()
    box, status = st.empty(), st.empty()
    st.button("Stop", key=f"stop-{_slug(key)}", on_click=_stop, args=(key,), icon=":material/stop_circle:",
              help="Stop writing this summary (a new search stops it too).")
    until, drawn = time.monotonic() + RUN_S - LOOK_S, -1
    while True:
        if job.finished:
            _collect(key)
            st.rerun()
        if len(job.events) != drawn:
            drawn = len(job.events)
            findings = [e.finding for e in job.events if isinstance(e, FindingReady)]
            sentences = [e.sentence for e in job.events if isinstance(e, SentenceReady)]
            box.html(_partial_html(findings, sentences, on_page))
        status.caption(f"Reading the abstracts ({job.seconds:.0f} s)" if drawn == 0 else
                       f"Writing ({job.seconds:.0f} s)")
        if time.monotonic() > until:
            return
        job.news(LOOK_S)


def _collect(key: tuple) -> None:
    """Move a finished job's summary (or error) to where the page reads it."""
    jobs: dict = st.session_state.setdefault(_JOBS, {})
    job = jobs.get(key)
    if job is None or not job.finished:
        return
    jobs.pop(key)
    if job.cancelled:
        return
    if job.summary is not None:
        st.session_state.setdefault(_DONE, {})[key] = job.summary
    elif job.error is not None:
        st.session_state.setdefault(_FAILED, {})[key] = job.error


def _stop(key: tuple) -> None:
    job = st.session_state.get(_JOBS, {}).pop(key, None)
    if job is not None:
        job.stop()
    st.session_state.setdefault(_WANTED, set()).discard(key)


def _show_failure(error: BaseException) -> None:
    from ingest.errors import MedsearchError

    if isinstance(error, MedsearchError):
        show_error(error)
    else:
        st.error("The summary could not be written. It is not your fault: the details are in the server's "
                 "log. Try again.")


def _slug(key: tuple) -> str:
    return hashlib.sha1(repr(key).encode()).hexdigest()[:12]


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
        f"<li>{esc(flag_words(f.kind, long=True))}{': ' + esc(f.detail) if f.detail else ''}"
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
    marks = [check_mark(flag_words(f.kind, long=True) + (f": {f.detail}" if f.detail else ""))
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
