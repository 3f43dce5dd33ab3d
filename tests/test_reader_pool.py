"""How the parallel reader's worker pool ends (``ingest.reader._stop_pool``, ``_result``).

``Pool.terminate`` kills workers wherever they are; one killed while it writes a result leaves
the result pipe's lock taken, and the pool's shutdown then waits forever (a Ctrl-C hung
``medsearch ingest files`` once in CI; ``bench/pool_stop.py`` counts such hangs). The reader
lets the chunks it handed out finish instead, so a worker is never killed mid-task unless it is
stuck, and takes a Ctrl-C between waits, not inside the pool's locks. Real spawned workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time

import pytest

from ingest import reader


def _slow(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


def _pool(workers: int = 2):
    """A pool as the reader starts it, and its worker processes (the pool forgets the exited ones)."""
    pool = mp.get_context("spawn").Pool(workers, initializer=reader._init_worker)
    return pool, list(pool._pool)


def test_stopping_the_pool_lets_the_tasks_handed_out_finish_instead_of_killing_their_workers():
    pool, workers = _pool()
    handed_out = [pool.apply_async(_slow, (1.0,)), pool.apply_async(_slow, (1.5,))]
    time.sleep(0.3)  # both are being worked on
    reader._stop_pool(pool, handed_out)
    assert [r.get(timeout=0) for r in handed_out] == ["slept 1.0", "slept 1.5"]
    assert [p.exitcode for p in workers] == [0, 0]  # they ended on their own, not by SIGTERM


def test_a_worker_still_busy_after_the_grace_period_is_killed(monkeypatch):
    monkeypatch.setattr(reader, "STOP_S", 0.5)
    pool, workers = _pool(1)
    stuck = pool.apply_async(_slow, (600.0,))
    time.sleep(0.3)
    reader._stop_pool(pool, [stuck])  # returns: the stuck worker is terminated
    assert not stuck.ready()
    assert workers[0].exitcode == -signal.SIGTERM


def test_a_ctrl_c_while_waiting_for_a_chunk_stops_the_wait_and_the_pool_still_ends_cleanly():
    pool, _ = _pool(1)
    busy = pool.apply_async(_slow, (3.0,))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            reader._result(busy)
        assert not busy.ready()  # raised while the chunk was still being parsed, not after it
    finally:
        timer.cancel()
        reader._stop_pool(pool, [busy])
    assert busy.get(timeout=0) == "slept 3.0"


def test_a_ctrl_c_while_the_pool_stops_is_held_until_it_has_stopped():
    pool, workers = _pool(1)
    busy = pool.apply_async(_slow, (1.5,))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        reader._stop_pool(pool, [busy])
    assert busy.get(timeout=0) == "slept 1.5"  # the stop went on to the end before the Ctrl-C
    assert workers[0].exitcode == 0
