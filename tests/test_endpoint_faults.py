"""Summary endpoints that misbehave (issue 23, row 5): garbage, an endless stream, a silent
server, a slow server. Each gives the labelled extractive fallback, at once, and the time to
that fallback is read from a fake clock (no test waits for a real deadline or asserts on
wall-clock time)."""

from __future__ import annotations

import queue
import threading

import pytest

from search.llm.deadline import Deadlines, within
from search.llm.endpoint import CALL_S, FIRST_TOKEN_S, EndpointModel
from search.summarize import Summarizer
from tests.chat_server import ChatServer
from tests.test_summarize import MET, PROPOFOL, QUESTION, real


class FakeClock:
    """Monotonic seconds that move only when the reader waits: ``per_item`` for each item that
    arrives, ``per_empty`` (at most the wait asked for) for each short real poll that finds
    nothing. A silent server thus costs exactly the deadline on this clock."""

    def __init__(self, per_item: float = 0.01, per_empty: float = 1.0, poll_s: float = 0.1) -> None:
        self.t = 1000.0
        self.per_item, self.per_empty, self.poll_s = per_item, per_empty, poll_s
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds

    def get(self, items: queue.Queue, timeout: float | None) -> object:
        try:
            item = items.get(timeout=self.poll_s)
        except queue.Empty:
            self.advance(self.per_empty if timeout is None else min(timeout, self.per_empty))
            raise
        self.advance(self.per_item)
        return item


@pytest.fixture
def server():
    with ChatServer(lambda messages: "Tamsulosin did not help [PMID 25998582].") as s:
        yield s


def _summarise(server: ChatServer, clock: FakeClock, papers) -> tuple[object, float]:
    model = EndpointModel(server.url, "test-model")
    start = clock.now()
    summary = Summarizer(model, timer=clock).overview(QUESTION, papers)
    return summary, clock.now() - start


def _details(summary) -> str:
    return " ".join(f.detail for f in summary.all_flags)


def test_a_garbage_stream_falls_back_at_once_without_a_traceback(server):
    server.behaviour = "garbage"
    clock = FakeClock(per_empty=0.1)  # a loaded machine has 30 s of real time to deliver the garbage
    summary, waited = _summarise(server, clock, [real(MET), real(PROPOFOL)])
    assert summary.fallback and summary.model == "extractive"
    assert "could not be read" in _details(summary) or "malformed" in _details(summary)
    assert waited < FIRST_TOKEN_S  # no deadline was waited for
    assert len(server.requests) == 1  # the second paper went straight to its conclusion


def test_a_silent_server_falls_back_after_the_first_token_limit(server):
    server.behaviour = "silent"
    clock = FakeClock()
    summary, waited = _summarise(server, clock, [real(MET), real(PROPOFOL)])
    assert summary.fallback and "sent no text within 30 s" in _details(summary)
    assert waited == FIRST_TOKEN_S  # one limit, not one per retry nor one per paper
    assert len(server.requests) == 1


def test_an_endless_stream_falls_back_at_the_call_deadline(server):
    server.behaviour = "endless"
    clock = FakeClock(per_item=0.1, per_empty=0.1)
    summary, waited = _summarise(server, clock, [real(MET), real(PROPOFOL)])
    assert summary.fallback and "did not finish its answer within 90 s" in _details(summary)
    assert CALL_S <= waited < CALL_S + 1
    assert len(server.requests) == 1


def test_a_server_slower_than_the_first_token_limit_falls_back_at_that_limit(server):
    server.behaviour, server.slow_s = "slow", 20.0  # 20 real s: 200 polls of 1 fake s each, past the limit
    clock = FakeClock()
    summary, waited = _summarise(server, clock, [real(MET)])
    assert summary.fallback and waited == FIRST_TOKEN_S


def test_a_normal_server_is_not_cut_off(server):
    clock = FakeClock(per_empty=0.1)
    summary, _ = _summarise(server, clock, [real(MET)])
    assert not summary.fallback and summary.model != "extractive"


def test_the_summary_deadline_bounds_many_slow_calls():
    """Each call within its own limits, together past the summary's: the rest fall back."""
    clock = FakeClock()

    class Plodding:
        name, identity, destination = "plodding", "plodding", None
        deadlines = Deadlines(first_token_s=None, call_s=90, summary_s=100)
        calls = 0

        def stream(self, messages, options):
            type(self).calls += 1
            clock.advance(60)  # a minute of "prompt reading" on the fake clock
            yield "Tamsulosin did not help [PMID 25998582]. Nor did nifedipine. "

    summary = Summarizer(Plodding(), timer=clock).overview(QUESTION, [real(MET), real(PROPOFOL), real(MET)])
    # the first call ends at 60 s; the second passes the summary's 100 s and the overview is not asked for
    assert Plodding.calls == 2 and summary.fallback
    assert "summary's time (100 s) ran out" in _details(summary)


def test_within_turns_any_exception_of_a_stream_into_the_models_error():
    def broken():
        yield "x"
        raise KeyError("choices")

    from search.llm.base import LLMError

    chunks = within(broken(), model_name="m", deadlines=Deadlines(call_s=5), clock=FakeClock())
    assert next(chunks) == "x"
    with pytest.raises(LLMError, match="could not be read"):
        next(chunks)
