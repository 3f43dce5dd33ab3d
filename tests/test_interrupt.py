"""Ctrl-C during ``medsearch ingest files``, at random moments, as a terminal sends it.

Wherever it lands (parsing, a DuckDB statement, a COMMIT, the bookkeeping between
batches, the worker pool starting or stopping) the command must exit with 130 and say
"interrupted", without a traceback; the run is recorded as interrupted; the store holds
whole batches only, every committed one; and running the same command again ends with
exactly the records of a clean ingest.

The signal goes to the process group (a terminal's Ctrl-C reaches the workers too). The
moments are drawn from a seeded generator over the time a clean ingest takes, counted
from when the command creates its database: a Ctrl-C before that (while Python imports
the CLI) is outside ingest.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest import pipeline
from ingest.store import Store
from tests.builders import real_records, replicate, write_pubmed_xml
from tests.conftest import PUBMED_DATA, SHARED_DATA, assert_store_consistent, needs_data

SCIFACT = SHARED_DATA / "beir" / "scifact" / "corpus.jsonl"
#: Real inputs read in this process (under 8 MB of XML): 5,183 BEIR documents in two
#: batches, then ~180 small PubMed XML and MEDLINE files, a transaction each.
SERIAL_INPUTS = [SCIFACT, PUBMED_DATA]


@dataclass(frozen=True)
class Clean:
    """What a clean ingest of the inputs gives."""

    content: list[tuple]  # (doc_id, record_hash) of every record
    deleted: list[str]
    counts: frozenset[int]  # records stored after each whole batch (0 included)
    seconds: float  # how long the ingest took in this process


def _content(store: Store) -> list[tuple]:
    return store.con.execute("SELECT doc_id, record_hash FROM articles ORDER BY doc_id").fetchall()


def _deleted(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT doc_id FROM deleted_articles ORDER BY 1").fetchall()]


def _clean(db: Path, inputs: list[Path]) -> Clean:
    counts = {0}
    with Store(db) as store:
        apply = store.apply_prepared

        def counting(batch, run_id=None):
            result = apply(batch, run_id)
            counts.add(store.count())
            return result

        store.apply_prepared = counting  # type: ignore[method-assign]
        started = time.perf_counter()
        pipeline.ingest_files(store, inputs, progress=False)
        seconds = time.perf_counter() - started
        return Clean(_content(store), _deleted(store), frozenset(counts), seconds)


def _medsearch(db: Path, inputs: list[Path]) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "medsearch"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    env["PYTHONFAULTHANDLER"] = "1"  # a hung command's threads are shown (_interrupt)
    return subprocess.Popen(
        [str(exe), "--db", str(db), "ingest", "files", *map(str, inputs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


#: Seconds a command has to exit after its Ctrl-C (it takes under one).
EXIT_S = 120


def _interrupt(db: Path, inputs: list[Path], delay: float) -> subprocess.CompletedProcess:
    """Start the command, wait until it has created its database, wait ``delay`` more, Ctrl-C.
    ``returncode`` None: it had finished before the signal could be sent."""
    proc = _medsearch(db, inputs)
    deadline = time.monotonic() + 120
    while not db.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    sent = proc.poll() is None
    if sent:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=EXIT_S)
    except subprocess.TimeoutExpired:  # hung: every thread's stack (faulthandler), then gone
        for sig in (signal.SIGABRT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            time.sleep(5 if sig == signal.SIGABRT else 0)
        out, err = proc.communicate()
        pytest.fail(f"the command had not exited {EXIT_S} s after Ctrl-C ({delay:.3f} s in):\n{err[-12000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode if sent else None, out, err)


def _check_interrupted(got: subprocess.CompletedProcess, db: Path, clean: Clean, *, whole_batches: bool) -> None:
    lines = [line for line in got.stderr.splitlines() if line.strip()]
    if got.returncode == 0:  # the signal came as it exited: it changed nothing
        assert lines == [], got.stderr
    else:
        assert got.returncode == 130, got.stderr
        assert lines and all(line.startswith("interrupted:") for line in lines), got.stderr
    with Store(db) as store:
        runs = store.runs(5)
        count = store.count()
        if got.returncode == 0 or (runs and runs[0].status == "completed"):
            # a Ctrl-C after the run was recorded complete (while the command closed the store)
            assert runs[0].status == "completed" and _content(store) == clean.content
        elif runs:
            assert [r.status for r in runs] == ["interrupted"], runs
            assert runs[0].message == pipeline.INTERRUPTED
        else:  # before the run was opened: nothing written yet
            assert count == 0
        assert_store_consistent(store)
        if whole_batches:
            assert count in clean.counts, count


def _check_rerun(db: Path, inputs: list[Path], clean: Clean) -> None:
    again = _medsearch(db, inputs)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    with Store(db) as store:
        assert _content(store) == clean.content
        assert _deleted(store) == clean.deleted
        assert store.runs(1)[0].status == "completed"


@pytest.fixture(scope="module")
def clean_serial(tmp_path_factory) -> Clean:
    if not SCIFACT.is_file() or not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    return _clean(tmp_path_factory.mktemp("clean") / "clean.duckdb", SERIAL_INPUTS)


def _trial(tmp_path: Path, inputs: list[Path], clean: Clean, seed: int, *, whole_batches: bool) -> None:
    """One Ctrl-C at a seeded moment. A command that finished before the signal was sent, or
    exited 0 because it came too late to stop anything, interrupted nothing and proves nothing:
    the trial starts again with half the delay, until a command is stopped by the signal."""
    delay = random.Random(seed).uniform(0, clean.seconds)
    for attempt in range(10):
        db = tmp_path / f"interrupted-{seed}-{attempt}.duckdb"
        got = _interrupt(db, inputs, delay)
        if got.returncode is not None:
            _check_interrupted(got, db, clean, whole_batches=whole_batches)
            if got.returncode != 0:
                break
        delay /= 2
    else:
        pytest.fail(f"the ingest finished before each of 10 Ctrl-Cs (the last {delay * 2:.3f} s in)")
    assert got.returncode == 130
    _check_rerun(db, inputs, clean)


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("seed", [1, 2])
def test_ctrl_c_at_a_random_moment_exits_130_keeps_whole_batches_and_a_rerun_completes(
    tmp_path, clean_serial, seed
):
    _trial(tmp_path, SERIAL_INPUTS, clean_serial, seed, whole_batches=True)


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 15))
def test_ctrl_c_at_many_random_moments(tmp_path, clean_serial, seed):
    _trial(tmp_path, SERIAL_INPUTS, clean_serial, seed, whole_batches=True)


@pytest.fixture(scope="module")
def parallel_inputs(tmp_path_factory) -> tuple[list[Path], Clean]:
    """A PubMed XML file large enough to be parsed by worker processes, and a MEDLINE file."""
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    folder = tmp_path_factory.mktemp("parallel")
    big = folder / "big.xml.gz"
    write_pubmed_xml(big, replicate(real_records(PUBMED_DATA), 9_000))
    assert big.stat().st_size > pipeline.PARALLEL_MIN_BYTES
    inputs = [big, PUBMED_DATA / "neilfws_retractions.medline"]
    return inputs, _clean(folder / "clean.duckdb", inputs)


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("seed", range(101, 109))
def test_ctrl_c_while_worker_processes_parse(tmp_path, parallel_inputs, seed):
    """Workers join chunks into batches as they come, so batch sizes vary: whole batches are
    checked through consistency and the re-run."""
    inputs, clean = parallel_inputs
    _trial(tmp_path, inputs, clean, seed, whole_batches=False)


def test_a_ctrl_c_swallowed_before_it_stopped_the_work_stops_the_next_batch(tmp_path, monkeypatch):
    """DuckDB may turn the KeyboardInterrupt into its own error or drop it: the request stays."""
    from ingest import interrupts

    monkeypatch.setattr(interrupts, "_requested", False)
    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # swallowed below, as DuckDB may do
        with Store(tmp_path / "s.duckdb") as store:
            with pytest.raises(KeyboardInterrupt):
                pipeline.ingest_files(store, [PUBMED_DATA / "biopython" / "pubmed1.xml"], progress=False)
            assert store.count() == 0 and store.runs(1)[0].status == "interrupted"
    finally:
        signal.signal(signal.SIGINT, previous)
