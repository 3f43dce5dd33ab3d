"""Summaries in the app (AppTest over the real records of tests/test_app.py, a scripted model):
written only when asked, or at once when nothing has to be written; never again for the same
set of papers (paging, sorting); cancelled by Stop and by a new query; the automatic setting;
a TL;DR of a record without an abstract quotes nothing."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.scripted_model import ScriptedModel
from tests.test_app import (
    FAO_QUERY,
    app,
    ask_for_summary,
    cards,
    corpus,
    make_services,
    no_failure,
    summary_of,
    text,
)

__all__ = ["corpus"]  # the module's store, from tests/test_app.py


def _answer(messages) -> str:
    if messages[0].content.startswith("You answer"):
        pmid = re.search(r"\[PMID (\d+)\]", messages[-1].content).group(1)
        return f"Fatty acid oxidation protects cancer cells from chemotherapy [PMID {pmid}]."
    return "Cancer cells used fatty acid oxidation to resist chemotherapy."


class Gated(ScriptedModel):
    """The scripted model, holding each answer after its first token until ``gate`` opens."""

    def __init__(self, script) -> None:
        super().__init__(script, name="gated")
        self.gate, self.streaming = threading.Event(), threading.Event()

    def stream(self, messages, options):
        for piece in super().stream(messages, options):
            self.streaming.set()
            self.gate.wait(60)
            yield piece


@pytest.fixture
def model():
    return ScriptedModel(_answer, name="scripted-llm")


def _words(html: str | None) -> str:
    assert html is not None, "no summary shown"
    return re.sub(r"<[^>]+>", "", html)


def _jobs(at) -> dict:
    return at.session_state["_summary_jobs"] if "_summary_jobs" in at.session_state else {}


def test_the_overview_is_written_only_when_asked(corpus, tmp_path, model):
    db, _ = corpus
    at = app(make_services(db, tmp_path / "lib.duckdb", model, cache=True), q=FAO_QUERY)
    no_failure(at)
    assert summary_of(at) is None and model.requests == []
    assert any((b.key or "").startswith("ask-") for b in at.button)
    summary = ask_for_summary(at)
    assert "Written by scripted-llm" in summary
    assert model.requests


def test_paging_and_sorting_show_the_same_summary_without_writing_it_again(corpus, tmp_path, model):
    db, _ = corpus
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q="cancer")
    first = _words(ask_for_summary(at))
    calls = len(model.requests)
    at.selectbox(key="w_sort").set_value("date").run()
    no_failure(at)
    assert at.query_params["sort"] == "date" and _words(summary_of(at)) == first  # links differ: other cards
    at.query_params["page"] = "2"
    at.run()
    assert _words(summary_of(at)) == first
    assert len(model.requests) == calls


def test_a_summary_in_the_cache_is_shown_at_once_in_another_session(corpus, tmp_path, model):
    db, _ = corpus
    services = make_services(db, tmp_path / "lib.duckdb", model, cache=True)
    ask_for_summary(app(services, q=FAO_QUERY))
    calls = len(model.requests)
    other = app(services, q=FAO_QUERY)  # a new session: nothing in its memory
    found = summary_of(other)
    assert found is not None and "summary cache" in found
    assert len(model.requests) == calls


def test_stop_cancels_the_summary_being_written(corpus, tmp_path):
    db, _ = corpus
    model = Gated(_answer)
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q=FAO_QUERY)
    next(b for b in at.button if (b.key or "").startswith("ask-")).click().run()
    assert model.streaming.wait(30)
    (job,) = _jobs(at).values()
    stop = next(b for b in at.button if (b.key or "").startswith("stop-"))
    stop.click().run()
    no_failure(at)
    model.gate.set()
    job.wait(30)
    assert job.cancelled and job.summary is None and len(model.requests) == 1
    assert summary_of(at) is None and not _jobs(at)
    assert any((b.key or "").startswith("ask-") for b in at.button)  # it can be asked for again


def test_a_new_query_cancels_the_summary_of_the_last_one(corpus, tmp_path):
    db, _ = corpus
    model = Gated(_answer)
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q=FAO_QUERY)
    next(b for b in at.button if (b.key or "").startswith("ask-")).click().run()
    assert model.streaming.wait(30)
    (job,) = _jobs(at).values()
    at.text_input(key="w_q").input("protein expression").run()
    no_failure(at)
    assert at.query_params["q"] == "protein expression" and cards(at)
    model.gate.set()
    job.wait(30)
    assert job.cancelled and job.summary is None and len(model.requests) == 1
    assert not _jobs(at)  # and the new query's summary waits to be asked for
    assert any((b.key or "").startswith("ask-") for b in at.button)


def test_with_the_automatic_setting_the_summary_starts_by_itself(corpus, tmp_path, model):
    db, _ = corpus
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q=FAO_QUERY)
    assert model.requests == []
    at.toggle(key="w_auto_summaries").set_value(True).run()
    deadline = time.monotonic() + 60
    while summary_of(at) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        at.run()
    assert model.requests
    at.query_params["view"] = "lists"  # a page without the panel: the setting stays
    at.run()
    at.query_params.pop("view")
    at.run()
    assert at.toggle(key="w_auto_summaries").value is True


def test_the_tldr_of_a_record_without_an_abstract_quotes_nothing(corpus, tmp_path, model):
    db, articles = corpus
    pmid = next(a.pmid for a in articles.values() if a.pmid and not a.abstract_text.strip())
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q=f"{pmid}[pmid]")  # no overview until asked
    assert cards(at) == [pmid]
    before = {h.value for h in at.html}
    at.button(key=f"tldr-r-{pmid}").click().run()
    no_failure(at)
    assert "has no abstract: there is nothing to summarise" in text(at.info)
    added = " ".join(h.value for h in at.html if h.value not in before)  # what the TL;DR drew
    assert "quoted" not in added.lower() and "Extractive summary" not in added
    assert model.requests == []


class _Loadable:
    """A model with what the app's preload may call, recording the calls."""

    def __init__(self, warm: bool) -> None:
        self.calls: list[str] = []
        if warm:
            self.warm_up = lambda: self.calls.append("warm_up")

    def load(self) -> None:
        self.calls.append("load")


@pytest.mark.parametrize("warm", [True, False])
def test_the_preload_warms_a_model_that_compiles_on_first_use_else_only_loads_it(warm):
    from search.summarize import Summarizer
    from webapp.services import preload_summary_model

    model = _Loadable(warm)
    thread = preload_summary_model(Summarizer(model))  # type: ignore[arg-type]
    assert thread is not None
    thread.join(10)
    assert model.calls == (["warm_up"] if warm else ["load"])
    assert preload_summary_model(Summarizer(None)) is None  # extractive: nothing to load
