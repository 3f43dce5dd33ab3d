"""Ctrl-C while worker processes parse: how often stopping the pool hangs, side by side in one run.

Each trial starts a pool of 2 spawned workers, as ``medsearch ingest files`` does for large
PubMed XML (``ingest.reader.read_prepared_parallel``). The workers return results of 0.1–2 MB,
as prepared batches are. The main process keeps 8 tasks in flight, and a SIGINT arrives
0.3–1.0 s in. Two ways of ending the pool are compared:

- ``terminate``: ``with pool:``, a plain ``result.get()``; the pool ends by ``Pool.terminate``,
  as the reader did up to this change;
- ``medsearch``: the reader's way now: submissions and waits with the Ctrl-C held
  (``ingest.reader._result``), the pool ended by ``ingest.reader._stop_pool``.

A trial that has not ended 20 s after its SIGINT is a hang: ``faulthandler`` prints where each
thread waits, and the process exits. The trials of both ways interleave, so both see the same
machine.

    .venv/bin/python bench/pool_stop.py [--trials 100]
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANG_S = 20
HUNG = 3  # the exit status of a trial that hung


def _work(size: int) -> bytes:
    return os.urandom(size)


def _init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as ingest.reader's workers do


def _trial(way: str, seed: int) -> int:
    """One pool, one SIGINT; 0 when it ended, HUNG when it had not 20 s after."""
    sys.path.insert(0, str(REPO))
    from ingest.interrupts import HeldInterrupts
    from ingest.reader import _result, _stop_pool

    rng = random.Random(seed)
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(2, initializer=_init)
    pending: list = []
    timer = threading.Timer(rng.uniform(0.3, 1.0), lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        if way == "terminate":
            with pool:
                while True:
                    pending.append(pool.apply_async(_work, (rng.randint(100_000, 2_000_000),)))
                    while len(pending) > 8:
                        pending.pop(0).get()
        else:
            try:
                while True:
                    with HeldInterrupts():
                        pending.append(pool.apply_async(_work, (rng.randint(100_000, 2_000_000),)))
                    while len(pending) > 8:
                        _result(pending.pop(0))
            finally:
                _stop_pool(pool, pending)
    except KeyboardInterrupt:
        pass
    faulthandler.cancel_dump_traceback_later()
    return 0


def _run_trial(way: str, seed: int) -> tuple[bool, float]:
    """(hung, seconds) of one trial in its own process group (its workers are killed after it)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--trial", way, str(seed)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err, text=True, start_new_session=True)
        try:
            proc.wait(timeout=HANG_S + 15)
        except subprocess.TimeoutExpired:
            pass
        took = time.perf_counter() - start
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a hung trial's workers, and the trial if need be
        proc.wait()
        err.seek(0)
        text = err.read()
    hung = "Timeout (" in text or proc.returncode != 0
    if hung:
        where = [line.strip() for line in text.splitlines() if "pool.py" in line or "queues.py" in line]
        print(f"  {way} seed {seed} hung: " + " | ".join(where[:4]), flush=True)
    return hung, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100, help="trials of each way")
    parser.add_argument("--trial", nargs=2, metavar=("WAY", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trial:
        sys.exit(_trial(args.trial[0], int(args.trial[1])))
    ways = ("terminate", "medsearch")
    hangs = {way: 0 for way in ways}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    for seed in range(args.trials):
        for way in ways:
            hung, took = _run_trial(way, seed)
            hangs[way] += hung
            if not hung:
                seconds[way].append(took)
        if (seed + 1) % 10 == 0:
            print(f"{seed + 1} trials: " + ", ".join(f"{w} {hangs[w]} hung" for w in ways), flush=True)
    print(f"\n{'way':<10} {'trials':>6} {'hung':>5} {'mean s (ended)':>15}")
    for way in ways:
        ok = seconds[way]
        print(f"{way:<10} {args.trials:>6} {hangs[way]:>5} {sum(ok) / max(1, len(ok)):>15.2f}")


if __name__ == "__main__":
    main()
