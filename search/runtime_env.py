"""Process settings that native runtimes read once, when they load, set in one place.

:func:`configure` is called first by every entry point (``medsearch``: ``search/entry.py``;
the app: ``app.py``; the benchmarks), before anything loads a runtime, and again, as a
backstop for a Python program that uses the library directly, by each module right before
it loads the runtime that reads the setting. A value the environment already has is kept.

- ``ORT_DISABLE_TELEMETRY=1``: onnxruntime (the embedder, the reranker) otherwise sends usage
  telemetry to Microsoft from a background thread of any process that lives long enough
  (``medsearch summarize`` was seen looking up ``mobile.events.data.microsoft.com``).
  Nothing may leave the machine unless the user asks.
- ``OMP_WAIT_POLICY=PASSIVE``: llama.cpp's CPU threads wait for each other through OpenMP,
  whose default is to spin, which collapses when the cores are shared (2 threads on a busy
  2-core machine wrote 0.3 tokens/s, passive 2.7; ``search/llm/local.py``). OpenMP reads it
  once, when its library loads, and LightGBM (learned fusion) loads the same library.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: The settings, and the value each gets when the environment has none.
DEFAULTS = {"ORT_DISABLE_TELEMETRY": "1", "OMP_WAIT_POLICY": "PASSIVE"}

_configured = False
_openmp_too_late = False


def openmp_loaded() -> bool:
    """Whether this process has loaded OpenMP already (Linux; False where it cannot tell)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return False


def configure(environ: MutableMapping[str, str] | None = None) -> None:
    """Give each setting of :data:`DEFAULTS` its value unless the environment has one.
    Idempotent: only the first call in a process looks at OpenMP."""
    global _configured, _openmp_too_late
    env = os.environ if environ is None else environ
    if not _configured and environ is None:
        _openmp_too_late = "OMP_WAIT_POLICY" not in env and openmp_loaded()
        _configured = True
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)


def openmp_too_late() -> bool:
    """OpenMP was loaded before the first :func:`configure` set its wait policy."""
    return _openmp_too_late
