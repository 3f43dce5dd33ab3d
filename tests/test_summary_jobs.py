"""Summaries written in the background (webapp.summary_jobs): a job stopped mid-answer stops
the model at its next token and keeps nothing; ``at_once`` hands over a summary only when no
model has to write (all in the summary cache, or no model at all)."""

from __future__ import annotations

import threading

from search.summarize import FindingReady, Paper, Summarizer
from search.summarize.cache import SummaryCache
from tests.scripted_model import ScriptedModel
from webapp import summary_jobs

PAPERS = [
    Paper(pmid="101", title="Statins and stroke", abstract="Statins lowered the rate of stroke by 20% in older adults.", year=2020),
    Paper(pmid="102", title="Statins and myalgia", abstract="Myalgia was reported by 5% of patients taking statins.", year=2021),
]
QUESTION = "statins in older adults"


def _answer(messages) -> str:
    pmid = "101" if "stroke" in messages[-1].content else "102"
    return f"Statins were studied in older adults [PMID {pmid}]."


def test_a_summary_needing_the_model_is_not_ready_at_once_and_nothing_is_sent(tmp_path):
    model = ScriptedModel(_answer)
    summarizer = Summarizer(model, SummaryCache(tmp_path / "lib.duckdb"))
    assert summary_jobs.at_once(summarizer, summary_jobs.overview_request(QUESTION, PAPERS)) is None
    assert model.requests == []


def test_once_written_the_summary_is_ready_at_once_from_the_cache(tmp_path):
    model = ScriptedModel(_answer)
    summarizer = Summarizer(model, SummaryCache(tmp_path / "lib.duckdb"))
    job = summary_jobs.start(summarizer, summary_jobs.overview_request(QUESTION, PAPERS), ("overview", 1))
    job.wait(60)
    assert job.summary is not None and job.error is None
    calls = len(model.requests)
    assert calls >= len(PAPERS)
    ready = summary_jobs.at_once(summarizer, summary_jobs.overview_request(QUESTION, PAPERS))
    assert ready is not None and ready.cached
    assert ready.text == job.summary.text
    assert len(model.requests) == calls


def test_without_a_model_the_extractive_summary_is_ready_at_once():
    summarizer = Summarizer(None, None, unavailable="MEDSEARCH_LLM=none")
    ready = summary_jobs.at_once(summarizer, summary_jobs.overview_request(QUESTION, PAPERS))
    assert ready is not None and ready.model == "extractive"


def test_a_stopped_job_stops_the_model_at_its_next_token_and_keeps_nothing(tmp_path):
    gate, streaming = threading.Event(), threading.Event()
    tokens_sent: list[str] = []

    class Slow(ScriptedModel):
        def stream(self, messages, options):
            for piece in super().stream(messages, options):
                tokens_sent.append(piece)
                streaming.set()
                gate.wait(30)  # one token, then wait until the test lets it go on
                yield piece

    model = Slow(_answer)
    summarizer = Summarizer(model, SummaryCache(tmp_path / "lib.duckdb"))
    job = summary_jobs.start(summarizer, summary_jobs.overview_request(QUESTION, PAPERS), ("overview", 2))
    assert streaming.wait(30)
    job.stop()
    gate.set()
    job.wait(30)
    assert not job.running
    assert job.cancelled and job.summary is None and job.error is None
    assert len(model.requests) == 1  # the first finding's request; nothing asked after the stop
    assert len(tokens_sent) <= 2  # the token in flight, at most one more before the check
    assert not any(isinstance(e, FindingReady) for e in job.events)
    # and nothing half-written went into the cache: the summary still needs the model
    assert summary_jobs.at_once(summarizer, summary_jobs.overview_request(QUESTION, PAPERS)) is None
