"""`streamlit run app.py` for the browser tests (tests/test_browser.py, tests/test_browser_first_run.py).

Started on a free port of 127.0.0.1 and waited for (``/_stcore/health``); stopped with SIGTERM, as a
service manager or Ctrl-C stops it; then its log is read for the app's tracebacks.

A server that has not exited a minute after SIGTERM fails the test that started it, with what
its threads were doing: it runs with ``PYTHONFAULTHANDLER=1``, so the SIGABRT sent then makes
Python write every thread's stack into the log before the process ends. (Once, in CI, the server
did not stop within 30 s of SIGTERM while a page was still connected; nothing showed why.)
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

#: How long the server has to exit after SIGTERM (it takes about a second on a loaded machine).
STOP_S = 60
#: How long it has to start: import Streamlit and answer /_stcore/health.
START_S = 120

#: Streamlit 1.67's websocket endpoint, when a browser page closes while the server is closing
#: the same socket, logs this traceback from its own code (seen once in a fresh-clone run, in
#: teardown). It is not the app's failure; any other traceback is.
STREAMLIT_CLOSE_RACE = 'WebSocketDisconnected: Cannot call "send" once a close message has been sent.'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_tracebacks(log: str) -> list[str]:
    """The tracebacks in a server log (a chain of them counted as one), less Streamlit's own
    websocket close race."""
    chained = re.sub(r"\n\s*(During handling of the above exception, another exception occurred|"
                     r"The above exception was the direct cause of the following exception):\s*\n\s*"
                     r"Traceback \(most recent call last\):", "\n", log)
    blocks = chained.split("Traceback (most recent call last):")[1:]
    return [b for b in blocks if not (STREAMLIT_CLOSE_RACE in b and "starlette_websocket.py" in b
                                      and "/webapp/" not in b and "app.py\"" not in b)]


@dataclass
class AppServer:
    url: str
    proc: subprocess.Popen
    log: Path


def stop(proc: subprocess.Popen, log: Path, *, within: float = STOP_S) -> str | None:
    """SIGTERM, then wait ``within`` seconds. None when the server exited in time; otherwise it
    is aborted (its threads' stacks go to ``log``), killed if need be, and the reason is returned."""
    if proc.poll() is not None:
        return None
    proc.terminate()
    try:
        proc.wait(timeout=within)
        return None
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack into the log
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
    text = log.read_text(errors="replace")
    return (f"the app had not exited {within:.0f} s after SIGTERM; aborted, its threads were:\n"
            f"{text[-12000:]}")


@contextmanager
def streamlit_app(env: Mapping[str, str], log: Path) -> Iterator[AppServer]:
    """`streamlit run app.py` with exactly ``env`` (plus PYTHONFAULTHANDLER), its output in ``log``.

    On leaving: stopped (see :func:`stop`); a server that would not stop, or a traceback of the
    app's in its log, fails the test, unless the test is already failing."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env={**env, "PYTHONFAULTHANDLER": "1"}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the server did not start in {START_S} s"
            time.sleep(0.3)
        yield AppServer(url, proc, log)
    except BaseException:
        stop(proc, log)  # the test's own failure is the one to report
        raise
    hung = stop(proc, log)
    assert hung is None, hung
    text = log.read_text(errors="replace")
    assert not app_tracebacks(text), text[-3000:]
