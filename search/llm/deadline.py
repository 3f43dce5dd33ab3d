"""Deadlines for a model's answer: a time to the first text, a time per call, a time per summary.

A model's stream is read in a worker thread and handed over through a queue, so the reader
waits at most until the nearest deadline, whatever the server does: answer nothing (a silent
server), stream forever, or stream garbage. A deadline passed, or an answer that cannot be
read, is an :class:`~search.llm.base.LLMError`, which the summary pipeline turns into its
labelled extractive fallback at once.

Time comes from a :class:`Clock`, so tests drive the deadlines with a fake one (no test waits
for a real deadline, and none asserts on wall-clock time).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from search.llm.base import LLMError

log = logging.getLogger("medsearch.llm")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds allowed (``None``: no limit): to a call's first text, to a call's end, to a summary's end."""

    first_token_s: float | None = None
    call_s: float | None = None
    summary_s: float | None = None


#: No limits (models on this machine: loading and reading a prompt may take minutes on a busy
#: machine, and Ctrl-C stops them).
UNLIMITED = Deadlines()


class Clock(Protocol):
    """Monotonic seconds, and a wait for the next item of a queue that ends by a deadline."""

    def now(self) -> float: ...

    def get(self, items: queue.Queue, timeout: float | None) -> object:
        """The next item; :class:`queue.Empty` once ``timeout`` seconds (of this clock) pass."""
        ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def get(self, items: queue.Queue, timeout: float | None) -> object:
        return items.get(timeout=timeout)


REAL_CLOCK = RealClock()
_DONE = object()


class _Failed:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def within(stream: Iterator[str], *, model_name: str, deadlines: Deadlines, clock: Clock = REAL_CLOCK,
           until: float | None = None) -> Iterator[str]:
    """``stream``'s chunks, read in a worker thread, while the deadlines hold. ``until`` is the
    summary's deadline on ``clock`` (``None``: none). Closing the generator stops the worker at its
    next chunk (a worker blocked on a silent server ends with the connection's own time-out).
    Without any deadline the stream is read here, chunk by chunk, as the caller asks."""
    if deadlines.first_token_s is None and deadlines.call_s is None and until is None:
        yield from _read(stream, model_name)
        return
    items: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            for chunk in stream:
                if stop.is_set():
                    break
                items.put(chunk)
        except BaseException as exc:  # handed to the reader, which decides
            items.put(_Failed(exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # a stream that cannot close cleanly is abandoned
                    pass
            items.put(_DONE)

    start = clock.now()
    first_by = None if deadlines.first_token_s is None else start + deadlines.first_token_s
    call_by = None if deadlines.call_s is None else start + deadlines.call_s
    threading.Thread(target=work, name=f"stream of {model_name}", daemon=True).start()
    got_text = False
    try:
        while True:
            wanted = [(call_by, "call"), (until, "summary")] + ([] if got_text else [(first_by, "first")])
            limits: list[tuple[float, str]] = [(t, why) for t, why in wanted if t is not None]
            nearest = min(limits, default=None)
            timeout = None if nearest is None else nearest[0] - clock.now()
            if nearest is not None and timeout is not None and timeout <= 0:  # checked before every wait
                raise _late(model_name, nearest[1], deadlines)
            try:
                item = clock.get(items, timeout)
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise _unreadable(model_name, item.exc) from None
            got_text = got_text or bool(item)
            yield str(item)
    finally:
        stop.set()


def _read(stream: Iterator[str], model_name: str) -> Iterator[str]:
    try:
        yield from stream
    except (LLMError, GeneratorExit):
        raise
    except Exception as exc:
        raise _unreadable(model_name, exc) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _late(model_name: str, why: str, deadlines: Deadlines) -> LLMError:
    if why == "first":
        what = f"{model_name} sent no text within {deadlines.first_token_s:g} s"
    elif why == "call":
        what = f"{model_name} did not finish its answer within {deadlines.call_s:g} s"
    else:
        what = f"the summary's time ({deadlines.summary_s:g} s) ran out while {model_name} wrote"
    return LLMError(f"{what}.", hint="Check the endpoint (is it overloaded?), or unset MEDSEARCH_LLM_URL.")


def _unreadable(model_name: str, exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    log.warning("%s: unreadable answer: %s: %s", model_name, type(exc).__name__, exc)
    return LLMError(f"{model_name} sent an answer that could not be read ({type(exc).__name__}).",
                    hint="Check that MEDSEARCH_LLM_URL is an OpenAI-compatible chat-completions endpoint.")
