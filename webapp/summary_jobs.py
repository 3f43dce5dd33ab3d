"""Summaries written in a background thread, so the page stays live while a model writes.

A :class:`SummaryJob` runs one request of :mod:`search.summarize` (an overview or a TL;DR)
in a daemon thread and keeps its events as they come; the page reads them on each of its
runs (a fragment polls while the job runs). :meth:`SummaryJob.stop` cancels it: the model
is stopped at its next token (:class:`Guarded` raises there, which also closes the
runtime's stream), and what is left of the run is thrown away.

:func:`at_once` answers "is this summary ready without a model call?": it runs the request
with a model that refuses to write. If the refusal was never needed, every part came from
the summary cache (or there is no model and the summary is extractive), and the summary is
shown at once; otherwise the user asks for it (or automatic summaries start it).

No Streamlit here: the thread never touches the page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from search.llm.base import LLMError
from search.summarize import Event, Paper, Summarizer, Summary, SummaryReady

log = logging.getLogger("medsearch.app")


class Refused(LLMError):
    """The guarded model was asked to write when it may not (cancelled, or a cache check): the
    summariser takes it as a model failure, and the run's result is thrown away."""


class Guarded:
    """A chat model that writes only while ``stop`` is not set (``refuse``: never), and
    remembers whether it was asked. Everything else (name, identity for the cache keys,
    destination, deadlines) is the wrapped model's."""

    def __init__(self, inner, stop: threading.Event | None = None, *, refuse: bool = False) -> None:
        self.inner = inner
        self.stop = stop or threading.Event()
        self.refuse = refuse
        self.asked = False

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def destination(self) -> str | None:
        return self.inner.destination

    def __getattr__(self, name: str):  # deadlines and whatever else a runtime offers
        return getattr(self.inner, name)

    def stream(self, messages, options) -> Iterator[str]:
        self.asked = True
        if self.refuse or self.stop.is_set():
            raise Refused("The summary model may not write now.")
        chunks = self.inner.stream(messages, options)
        try:
            for chunk in chunks:
                if self.stop.is_set():
                    raise Refused("The summary was cancelled.")
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def guarded(summarizer: Summarizer, model: Guarded | None) -> Summarizer:
    """``summarizer`` with its model replaced by ``model`` (same cache, settings and clocks)."""
    return Summarizer(model, summarizer.cache, unavailable=summarizer.unavailable,
                      clock=summarizer.clock, abstract_chars=summarizer.abstract_chars, timer=summarizer.timer)


Request = Callable[[Summarizer], Iterator[Event]]


def overview_request(query: str, papers: Sequence[Paper]) -> Request:
    return lambda s: s.stream_overview(query, papers)


def tldr_request(query: str, paper: Paper) -> Request:
    return lambda s: s.stream_tldr(query, paper)


def at_once(summarizer: Summarizer, request: Request) -> Summary | None:
    """The summary when no model has to write it (all cached, or extractive); else ``None``."""
    if summarizer.model is None:
        return _last(request(summarizer))
    model = Guarded(summarizer.model, refuse=True)
    summary = _last(request(guarded(summarizer, model)))
    return None if model.asked else summary


@dataclass(eq=False)
class SummaryJob:
    """One summary being written in a thread; read :attr:`events` and :attr:`summary`."""

    key: tuple
    events: list[Event] = field(default_factory=list)
    summary: Summary | None = None
    error: BaseException | None = None
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _news: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def seconds(self) -> float:
        """Since the job started."""
        return time.monotonic() - self.started

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def finished(self) -> bool:
        return self.summary is not None or self.error is not None or self.cancelled

    def stop(self) -> None:
        """Cancel: the model stops at its next token; nothing more is kept."""
        self.cancelled = True
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Until the thread ends (or ``timeout`` seconds)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def news(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event (or the end); whether one came since the
        last call (one reader: the page)."""
        came = self._news.wait(timeout)
        self._news.clear()
        return came


def start(summarizer: Summarizer, request: Request, key: tuple) -> SummaryJob:
    """Start writing ``request`` in a background thread."""
    job = SummaryJob(key)
    model = Guarded(summarizer.model, job._stop) if summarizer.model is not None else None
    writer = guarded(summarizer, model)

    def work() -> None:
        try:
            for event in request(writer):
                log.debug("summary %s: %s after %.2f s", key[:1], type(event).__name__, job.seconds)
                if job._stop.is_set():
                    return
                if isinstance(event, SummaryReady):
                    job.summary = event.summary
                else:
                    job.events.append(event)
                job._news.set()
            if job.summary is None and not job._stop.is_set():
                job.error = RuntimeError("the summariser ended without a summary")
        except BaseException as exc:  # shown on the page by the reader (it is not a crash of the app)
            if not job._stop.is_set():
                log.exception("summary %s failed", key[:1])
                job.error = exc
        finally:
            job._news.set()

    job._thread = threading.Thread(target=work, name=f"summary {key[:1]}", daemon=True)
    job._thread.start()
    return job


def _last(events: Iterator[Event]) -> Summary | None:
    summary = None
    for event in events:
        if isinstance(event, SummaryReady):
            summary = event.summary
    return summary
