"""Summary events as server-sent events, written by a worker that never waits for the client.

The summariser's events (``search.summarize.types``) are produced in a worker thread and
queued for the response, so a slow or vanished client never holds the model: the summary runs
to its end at the model's pace (and lands in the summary cache), whatever the client reads.
Each event is the value's own JSON (``to_json()`` where it has one, else its dataclass fields),
so fields added to findings or sentences reach clients without a change here::

    event: finding      data: {"index": 1, "total": 5, "finding": {...}}
    event: sentence     data: {"sentence": {"text": ..., "cited": [...], "flags": [...], ...}}
    event: summary      data: {"summary": {"text": ..., "flags": [...], "model": ..., "label": ...}}
    event: error        data: a problem+json body (the stream then ends)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

from ingest.errors import MedsearchError

log = logging.getLogger("medsearch.api")
MEDIA_TYPE = "text/event-stream"
_NAMES = {"FindingReady": "finding", "SentenceReady": "sentence", "SummaryReady": "summary"}
_END = object()


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: its ``to_json()``, or its dataclass fields, recursively."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        shown = getattr(type(value), "shown", None)
        if isinstance(shown, property):  # a sentence as it is shown, with its check marks
            data["shown"] = shown.__get__(value)
        return data
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value


def event_of(event: Any) -> tuple[str, dict[str, Any]]:
    """(SSE event name, data) of one summariser event."""
    name = _NAMES.get(type(event).__name__, "event")
    return name, jsonable(event)


def sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def error_data(exc: MedsearchError) -> dict[str, Any]:
    from search.api.problems import status_of

    return {"type": f"urn:medsearch:problem:{type(exc).__name__}", "status": status_of(exc),
            "detail": exc.message, "hint": exc.hint}


def stream_events(events: Callable[[], Iterator[Any]], *, done: Callable[[], None]) -> AsyncIterator[str]:
    """The SSE text of ``events()``. Called in the event loop: the worker thread starts now and
    runs to the end whatever the client does (even one that never reads); ``done`` is called
    when it ends (it frees the caller's summary slot)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop closed (server shutting down): nobody reads
            pass

    def work() -> None:
        try:
            for event in events():
                put(sse(*event_of(event)))
        except MedsearchError as exc:
            put(sse("error", error_data(exc)))
        except Exception:
            log.exception("a streamed summary failed")
            put(sse("error", {"type": "about:blank", "status": 500,
                              "detail": "The summary failed; the details are in the server log.",
                              "hint": "Try again."}))
        finally:
            done()
            put(_END)

    threading.Thread(target=work, name="summary worker", daemon=True).start()

    async def body() -> AsyncIterator[str]:
        while (item := await queue.get()) is not _END:
            yield item

    return body()
