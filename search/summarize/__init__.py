"""Summaries that cite their sources and say when they cannot be trusted.

The Python API (the CLI's ``medsearch summarize`` and the app call it)::

    from search.summarize import open_summarizer, papers_from_search
    summarizer = open_summarizer(settings)
    papers = papers_from_search(engine, "metformin and cancer risk", n=5)
    for event in summarizer.stream_overview("metformin and cancer risk", papers):
        ...  # FindingReady, SentenceReady, then SummaryReady(summary)

Every event carries text that has passed the grounding checks (:mod:`.grounding`); the
final :class:`Summary` carries the model, the time, the fixed check line (``label``), the
given and cited PMIDs, and every flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from search.config import Settings
from search.summarize.pipeline import Summarizer
from search.summarize.types import (
    CHECK_LINE,
    Event,
    Finding,
    FindingReady,
    Flag,
    Paper,
    Sentence,
    SentenceReady,
    Summary,
    SummaryReady,
)

__all__ = [
    "CHECK_LINE", "Event", "Finding", "FindingReady", "Flag", "Paper", "Sentence", "SentenceReady",
    "Summarizer", "Summary", "SummaryReady", "open_summarizer", "papers_from_search", "papers_by_id",
]


def open_summarizer(settings: Settings) -> Summarizer:
    """The configured model (or, when none can be used, the extractive fallback) and the cache.

    Nothing heavy happens here: a local model loads on its first request.
    """
    from search.llm import ModelUnavailable, open_model
    from search.summarize.cache import SummaryCache

    cache = SummaryCache(settings.library_path)
    try:
        return Summarizer(open_model(settings), cache, abstract_chars=settings.summary_abstract_chars)
    except ModelUnavailable as exc:
        reason = f"{exc.message} {exc.hint}" if exc.hint else exc.message
        return Summarizer(None, cache, unavailable=reason, abstract_chars=settings.summary_abstract_chars)


def papers_by_id(engine, doc_ids: Sequence[str]) -> list[Paper]:
    """Full records of ``doc_ids`` from the engine's snapshot, in order; missing ids are skipped."""
    articles = engine.articles(list(doc_ids))
    return [Paper.from_article(articles[d]) for d in doc_ids if d in articles]


def papers_from_search(engine, query: str, *, n: int, filters=None, mode: str | None = None) -> list[Paper]:
    """The top ``n`` hits of ``query`` as papers; a hit marked retracted makes its paper retracted."""
    from dataclasses import replace

    from search.types import Filters

    results = engine.search(query, k=n, filters=filters or Filters(), mode=mode)
    articles = engine.articles([h.doc_id for h in results.hits])
    papers = []
    for hit in results.hits:
        if hit.doc_id in articles:
            paper = Paper.from_article(articles[hit.doc_id])
            papers.append(replace(paper, is_retracted=True) if hit.is_retracted else paper)
    return papers
