"""A GGUF model run on this machine's CPU by llama.cpp, through the prebuilt ``xllamacpp`` wheel.

Why xllamacpp and not llama-cpp-python: both wrap llama.cpp, but llama-cpp-python ships no
wheel and compiles for about 7 minutes at install, which a fresh-clone ``make test`` cannot
afford; xllamacpp installs in seconds. It embeds llama.cpp's server: requests go straight
to it in-process (no HTTP), and it also opens a listener on a random loopback port, which
we close to other local programs with a random API key and no slot endpoint.

The model loads on the first request, not when the object is made, so a summary served
from the cache never pays for loading 1.1 GB.

llama.cpp's CPU threads wait for each other through OpenMP. OpenMP's default is to spin while
waiting, which collapses when the cores are shared: 2 threads on a 2-core machine running other
work wrote 0.3 tokens/s where 1 thread wrote 2.0; with ``OMP_WAIT_POLICY=PASSIVE`` 2 threads
wrote 2.7. So that policy is set unless the environment sets one, by
:func:`search.runtime_env.configure`, which the entry points call first. OpenMP reads it once,
when its library loads, and LightGBM (the learned fusion) loads the same library: a Python
program that searches before it summarises calls ``configure()`` first.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

from search import runtime_env
from search.llm.base import (
    GenerationOptions,
    LLMError,
    LocalFileModel,
    Message,
    ModelUnavailable,
    check_model_file,
    log,
    runtime_missing,
    worker_stream,
)

#: Context window: a long abstract (~1,000 tokens) plus instructions and the answer fit.
N_CTX = 4096


class LocalModel(LocalFileModel):
    """A GGUF file run by llama.cpp on the CPU, loaded lazily; thread-safe."""

    def __init__(self, path: Path, **kwargs) -> None:  # name, identity, threads: LocalFileModel
        super().__init__(path, **kwargs)
        self._server = None
        self._lock = threading.Lock()

    def load(self):
        """The llama.cpp server with the model loaded (loads it on the first call)."""
        with self._lock:
            if self._server is None:
                self._server = _start_server(self.path, self.threads)
            return self._server

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        server = self.load()
        request = {
            "messages": [m.to_json() for m in messages], "stream": True,
            "max_tokens": options.max_tokens, "temperature": options.temperature,
            "repeat_penalty": options.repeat_penalty, "seed": 0,
        }

        # llama.cpp calls back once per token from inside a blocking call; returning True stops it.
        def generate(put, stop: threading.Event) -> None:
            server.handle_chat_completions(request, lambda data: put(data) or stop.is_set())

        failed = lambda exc: LLMError(f"llama.cpp failed while generating: {exc}",  # noqa: E731
                                      hint="Try again; if it keeps failing, set MEDSEARCH_LLM=none.")
        for chunk in worker_stream(generate, thread_name="llama.cpp generation", error=failed):
            if text := _delta_text(cast(dict, chunk)):  # llama.cpp's chunks are JSON objects
                yield text


def _delta_text(chunk: dict) -> str:
    if "error" in chunk or "code" in chunk:
        error = chunk.get("error", chunk)
        message = error.get("message", error) if isinstance(error, dict) else error
        raise LLMError(f"llama.cpp refused the request: {message}",
                       hint="The prompt may be longer than the model's context; try fewer papers.")
    choices = chunk.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""


def _start_server(path: Path, threads: int):
    try:
        import xllamacpp
    except ImportError:
        raise runtime_missing("llama.cpp (xllamacpp)", "llamacpp") from None
    check_model_file(path)
    runtime_env.configure()
    if runtime_env.openmp_too_late():
        log.warning("OpenMP was loaded before search.runtime_env.configure() set OMP_WAIT_POLICY=PASSIVE: "
                    "on shared cores generation may be several times slower; call it first.")
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs every request otherwise
    params.endpoint_slots = False  # the slots endpoint would show other requests' prompts
    params.api_keys = [secrets.token_hex(16)]  # nobody else on the machine can use the listener
    try:
        return xllamacpp.Server(params)
    except Exception as exc:
        raise ModelUnavailable(f"llama.cpp could not load {path.name}: {exc}",
                               hint="Check that the file is a GGUF model, or set MEDSEARCH_LLM=none.") from exc
