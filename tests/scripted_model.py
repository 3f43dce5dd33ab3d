"""A model that answers from a script: for tests, and for anyone checking the pipeline offline.

The script is a function from the messages to the answer (or a list of answers given in
turn). The answer is streamed in small pieces like a real model's tokens, and every request
is recorded in :attr:`ScriptedModel.requests` so tests can read the prompts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence

from search.llm.base import GenerationOptions, LLMError, Message

Script = Callable[[Sequence[Message]], str]
_PIECES = re.compile(r"\S+\s*|\s+")


class ScriptedModel:
    def __init__(self, script: Script | Sequence[str], *, name: str = "scripted",
                 destination: str | None = None, fail_on_call: int | None = None) -> None:
        """``fail_on_call``: the 1-based request that raises :class:`LLMError` after one piece."""
        if callable(script):
            self._script = script
        else:
            answers = list(script)
            self._script = lambda messages: answers[(len(self.requests) - 1) % len(answers)]
        self._name = name
        self._destination = destination
        self.fail_on_call = fail_on_call
        self.requests: list[tuple[Message, ...]] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def identity(self) -> str:
        return f"scripted:{self._name}"

    @property
    def destination(self) -> str | None:
        return self._destination

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        with self._lock:
            self.requests.append(tuple(messages))
            call = len(self.requests)
            answer = self._script(messages)
        for i, piece in enumerate(_PIECES.findall(answer)):
            if call == self.fail_on_call and i == 1:
                raise LLMError("The scripted model fails as told.", hint="This is a test.")
            yield piece
