"""The small protocol every chat model of the project speaks, its errors, and stream timing.

A model takes chat messages and yields its answer as text chunks while it is generated
(one chunk is about one token). Three implementations: a GGUF file run on this machine by
OpenVINO (:mod:`search.llm.openvino_local`) or by llama.cpp (:mod:`search.llm.local`), both
:class:`LocalFileModel`; :mod:`search.llm.endpoint` (any OpenAI-compatible chat-completions
server). The tests' scripted model (fixed answers) is ``tests/scripted_model.py``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from ingest.errors import MedsearchError

log = logging.getLogger("medsearch.llm")


class LLMError(MedsearchError):
    """A language model failed while generating (endpoint error, runtime crash)."""


class ModelUnavailable(LLMError):
    """No language model can be used: none configured, not installed, or it failed to load."""


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Sampling settings: greedy decoding by default, so the same request gives the same text."""

    max_tokens: int = 160
    temperature: float = 0.0
    repeat_penalty: float = 1.1  # llama.cpp only; endpoints do not all accept it


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. ``name`` is shown on every summary; ``identity`` goes into cache keys (it
    names the exact weights, never a credential); ``destination`` is the host text is sent to,
    ``None`` when generation stays on this machine."""

    @property
    def name(self) -> str: ...

    @property
    def identity(self) -> str: ...

    @property
    def destination(self) -> str | None: ...

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]: ...


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """One generation: seconds to the first chunk, chunks (about one token each), chunks/s."""

    first_token_s: float | None
    total_s: float
    tokens: int

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token (prompt reading excluded)."""
        if self.first_token_s is None or self.tokens < 2 or self.total_s <= self.first_token_s:
            return None
        return (self.tokens - 1) / (self.total_s - self.first_token_s)

    def to_json(self) -> dict[str, float | int | None]:
        tps = self.tokens_per_s
        return {"first_token_s": _round(self.first_token_s), "total_s": _round(self.total_s),
                "tokens": self.tokens, "tokens_per_s": _round(tps)}


class LocalFileModel:
    """What every model file run on this machine shares: its name (shown on summaries), its
    identity (cache keys: the weights, so every runtime of the same file shares the cache),
    its CPU threads, and no destination (nothing leaves the machine)."""

    def __init__(self, path: Path, *, name: str | None = None, identity: str | None = None,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self._name = name or self.path.name
        self._identity = identity or file_identity(self.path)
        self.threads = threads or default_threads()

    @property
    def name(self) -> str:
        return self._name

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def destination(self) -> str | None:
        return None


def runtime_missing(runtime: str, extra: str = "summaries") -> ModelUnavailable:
    """The error for a local runtime whose package is not installed, e.g. ``"OpenVINO (openvino-genai)"``,
    naming the extra that brings it."""
    return ModelUnavailable(f"The {runtime} runtime is not installed.",
                            hint=f"Install the {extra} extra: pip install 'medsearch[{extra}]' "
                            f"(in a checkout: .venv/bin/pip install -e '.[{extra}]').")


def check_model_file(path: Path) -> None:
    """:class:`ModelUnavailable` unless ``path`` is a file."""
    if not path.is_file():
        raise ModelUnavailable(f"The summary model file {path} does not exist.",
                               hint="Set MEDSEARCH_LLM to the path of a .gguf file, or to 'packaged'.")


_DONE = object()


def worker_stream(generate: Callable[[Callable[[object], None], threading.Event], None], *,
                  thread_name: str, error: Callable[[Exception], LLMError]) -> Iterator[object]:
    """A blocking, calling-back generation turned into a generator.

    ``generate(put, stop)`` runs in a worker thread, calls ``put`` with each item it makes and
    should stop soon after ``stop`` is set, which happens when the consumer closes the
    generator. An exception in the worker is raised to the consumer as ``error(exc)``.
    """
    items: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            generate(items.put, stop)
        except Exception as exc:  # surfaced to the consumer below
            items.put(exc)
        finally:
            items.put(_DONE)

    threading.Thread(target=work, name=thread_name, daemon=True).start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, Exception):
                raise error(item)
            yield item
    finally:
        stop.set()


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def file_identity(path: Path) -> str:
    """Names a model file for cache keys: its name, size and modification time."""
    try:
        st = path.stat()
        return f"gguf:{path.name}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"gguf:{path.name}"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


class TimedStream:
    """Iterate a model's stream, measuring time to first token and tokens/s, logged at the end.

    The stream is held to the model's deadlines (its ``deadlines`` attribute, if any: see
    :mod:`search.llm.deadline`) and to ``until``, the summary's deadline on ``clock``.
    ``stats`` is set once the stream is exhausted or closed.
    """

    def __init__(self, model: ChatModel, messages: Sequence[Message], options: GenerationOptions, *,
                 clock=None, until: float | None = None) -> None:
        from search.llm.deadline import REAL_CLOCK

        self.model = model
        self.messages = messages
        self.options = options
        self.clock = clock or REAL_CLOCK
        self.until = until
        self.stats: GenerationStats | None = None

    def __iter__(self) -> Iterator[str]:
        from search.llm.deadline import UNLIMITED, within

        clock = self.clock
        start = clock.now()
        first: float | None = None
        count = 0
        deadlines = getattr(self.model, "deadlines", None) or UNLIMITED
        chunks = within(self.model.stream(self.messages, self.options), model_name=self.model.name,
                        deadlines=deadlines, clock=clock, until=self.until)
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if first is None:
                    first = clock.now() - start
                count += 1
                yield chunk
        finally:
            close = getattr(chunks, "close", None)  # a generator: stops the runtime's stream
            if close is not None:
                close()
            self.stats = GenerationStats(first, clock.now() - start, count)
            tps = self.stats.tokens_per_s
            log.info(
                "%s: first token after %s s, %d tokens, %s tokens/s", self.model.name,
                "-" if first is None else f"{first:.2f}", count, "-" if tps is None else f"{tps:.1f}",
            )
