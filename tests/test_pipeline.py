"""Ingest runs survive crashes and kills: the store stays consistent and a re-run completes it."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys

import pytest

from ingest import pipeline, sources
from ingest.errors import MedsearchError
from ingest.store import Store
from tests.builders import real_records, replicate, write_pubmed_xml
from tests.conftest import PUBMED_DATA, REPO, assert_store_consistent


def _content(store: Store) -> list[tuple]:
    return store.con.execute("SELECT doc_id, record_hash FROM articles ORDER BY doc_id").fetchall()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    path = tmp_path_factory.mktemp("big") / "big.xml.gz"
    write_pubmed_xml(path, replicate(real_records(PUBMED_DATA), 9_000))
    return path


@pytest.mark.slow
def test_a_crash_mid_run_keeps_finished_batches_and_a_rerun_completes(tmp_path, big_file, monkeypatch):
    real_iter = sources.iter_items

    def crashing(sf):
        for n, item in enumerate(real_iter(sf)):
            if n == 2_500:
                raise OSError("the disk went away")
            yield item

    with Store(tmp_path / "crash.duckdb") as store:
        monkeypatch.setattr(sources, "iter_items", crashing)
        with pytest.raises(OSError):
            pipeline.ingest_files(store, [big_file], batch_size=1_000, progress=False, parallel=False)
        assert store.count() == 2_000  # two whole batches, nothing of the third
        assert store.runs(1)[0].status == "failed"
        assert "disk went away" in store.runs(1)[0].message
        assert_store_consistent(store)
        monkeypatch.setattr(sources, "iter_items", real_iter)
        report = pipeline.ingest_files(store, [big_file], batch_size=1_000, progress=False, parallel=False)
        assert report.result.unchanged == 2_000 and report.result.stored == 7_000
        crashed_then_resumed = _content(store)
    with Store(tmp_path / "clean.duckdb") as clean:
        pipeline.ingest_files(clean, [big_file], progress=False)
        assert _content(clean) == crashed_then_resumed


#: Ingests a file in batches of 1,000 and stops inside the third transaction, after its
#: rows are written and before its COMMIT, to be killed there.
_STOP_IN_THIRD_BATCH = """
import sys
from ingest import pipeline
from ingest.store import Store

count_into_run, calls = Store._count_into_run, []

def in_transaction(self, run_id, result):
    count_into_run(self, run_id, result)
    calls.append(run_id)
    if len(calls) == 3:
        print("inside the third transaction", flush=True)
        sys.stdin.read()  # until killed

Store._count_into_run = in_transaction
with Store(sys.argv[1]) as store:
    pipeline.ingest_files(store, [sys.argv[2]], batch_size=1_000, progress=False, parallel=False)
"""


@pytest.mark.slow
def test_sigkill_inside_a_transaction_leaves_the_committed_batches_only(tmp_path, big_file):
    db = tmp_path / "kill.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", _STOP_IN_THIRD_BATCH, str(db), str(big_file)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout.readline() == "inside the third transaction\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as store:
        assert store.count() == 2_000  # two committed batches; nothing of the third
        assert_store_consistent(store)
        report = pipeline.ingest_files(store, [big_file], progress=False)
        assert report.result.unchanged == 2_000 and store.count() == 9_000
        assert [r.status for r in store.runs(2)] == ["completed", "interrupted"]


def _medline(first: int, n: int) -> bytes:
    return b"".join(b"PMID- %d\nTI  - Record number %d.\nDP  - 2020\n\n" % (i, i) for i in range(first, first + n))


def test_a_reader_failure_fails_cleanly_and_a_rerun_completes(tmp_path):
    """Bytes that are not UTF-8 in the middle of a MEDLINE file stop the run with a clear
    error; the batches before them stay; the repaired file completes the work."""
    path = tmp_path / "export.nbib"
    path.write_bytes(_medline(1, 5_000) + b"TI  - \xff\xfe broken\n\n" + _medline(5_001, 1_000))
    with Store(tmp_path / "w.duckdb") as store:
        with pytest.raises(MedsearchError) as info:
            pipeline.ingest_files(store, [path], progress=False, batch_size=2_000)
        assert "export.nbib" in info.value.message
        assert store.runs(1)[0].status == "failed"
        n = store.count()
        assert n == 4_000  # two whole batches; the third held the broken record
        path.write_bytes(_medline(1, 6_000))
        report = pipeline.ingest_files(store, [path], progress=False)
        assert report.result.unchanged == n and store.count() == 6_000


def _ingest_both_ways(tmp_path, paths):
    """Ingest ``paths`` serially and in worker processes into two stores holding the same records."""
    with Store(tmp_path / "serial.duckdb") as serial:
        a = pipeline.ingest_files(serial, paths, progress=False, parallel=False)
        expected = _content(serial)
    db = tmp_path / "parallel.duckdb"
    with Store(db) as par:
        b = pipeline.ingest_files(par, paths, progress=False, parallel=True)
        assert _content(par) == expected
        assert_store_consistent(par)
    return a, b, db


@pytest.mark.slow
def test_parallel_and_serial_ingest_store_the_same(tmp_path, big_file):
    a, b, _ = _ingest_both_ways(tmp_path, [big_file])
    assert a.result == b.result


@pytest.mark.slow
def test_parallel_ingest_of_records_repeated_across_chunks_matches_serial(tmp_path):
    """A PMID in two worker chunks of one batch: the batch is written in two steps, in file order."""
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    records = real_records(PUBMED_DATA)
    path = tmp_path / "repeats.xml.gz"
    write_pubmed_xml(path, itertools.chain(replicate(records, 2_500), replicate(records, 2_500, first_pmid=90_001_200)))
    a, b, db = _ingest_both_ways(tmp_path, [path])
    with Store(db) as par:
        assert par.count() == 3_700
    # write counts differ: a repeat is collapsed within a batch but replaced across chunks
    assert (a.result.seen, a.result.problems) == (b.result.seen, b.result.problems) == (5_000, 0)


def test_merge_prepared_joins_disjoint_batches_only():
    from ingest.records import Article, Deletion
    from ingest.rows import merge_prepared, prepare_batch

    def batch(*items):
        return prepare_batch(items)

    one, two = batch(Article("1", title="a"), Article("2", title="b")), batch(Article("3", title="c"))
    again, gone = batch(Article("2", title="B")), batch(Deletion("3"))
    merged = merge_prepared([one, two, again, gone])
    assert [[k[0] for k in m.keys] for m in merged] == [["1", "2", "3"], ["2"]]
    assert [m.deletions for m in merged] == [[], ["3"]]
    assert [m.tables["articles"].num_rows for m in merged] == [3, 1]
    assert merged[0].tables["articles"].column("title").to_pylist() == ["a", "b", "c"]
    assert merge_prepared([one]) == [one] and merge_prepared([]) == []


@pytest.mark.slow
def test_parallel_ingest_of_several_files_matches_serial_and_marks_each_file(tmp_path):
    """Files follow each other through the workers without a drain between them; a file
    of another format in between is read here, in its turn."""
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    records = real_records(PUBMED_DATA)
    folder = tmp_path / "in"
    folder.mkdir()
    write_pubmed_xml(folder / "a.xml.gz", replicate(records, 2_300))
    (folder / "b.nbib").write_bytes(_medline(1, 300))
    write_pubmed_xml(folder / "c.xml.gz", replicate(records, 1_700, first_pmid=91_000_000))
    write_pubmed_xml(folder / "d.xml", replicate(records, 10, first_pmid=92_000_000), compress=False)
    a, b, db = _ingest_both_ways(tmp_path, [folder])
    with Store(db) as par:
        assert par.count() == 4_310
        for path in sorted(folder.iterdir()):
            assert par.file_done(str(path.resolve()), sources.fingerprint(path)), path
        again = pipeline.ingest_files(par, [folder], progress=False, parallel=True)
    assert a.result == b.result
    assert again.files_skipped == 4 and again.result.seen == 0


def test_widening_the_worker_pipes_is_best_effort():
    """Where the pool has no pipes to widen (another platform or Python), nothing fails."""
    from ingest import reader

    reader._widen_pipes(object())


def test_ctrl_c_while_the_run_is_opened_records_it_interrupted(store, monkeypatch, tmp_path):
    path = tmp_path / "export.nbib"
    path.write_bytes(_medline(1, 10))
    start = store.start_run

    def start_then_ctrl_c(*args, **kwargs):
        run_id = start(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return run_id

    monkeypatch.setattr(store, "start_run", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest_files(store, [path], progress=False)
    run = store.runs(1)[0]
    assert (run.status, run.message) == ("interrupted", pipeline.INTERRUPTED)
    assert store.count() == 0


def test_ctrl_c_between_batches_records_the_run_interrupted_and_keeps_the_batches(store, monkeypatch, tmp_path):
    path = tmp_path / "export.nbib"
    path.write_bytes(_medline(1, 3_000))
    apply = store.apply_prepared
    calls = []

    def apply_then_ctrl_c(batch, run_id=None):
        result = apply(batch, run_id)
        calls.append(run_id)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(store, "apply_prepared", apply_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest_files(store, [path], progress=False, batch_size=1_000, parallel=False)
    assert store.count() == 2_000
    assert store.runs(1)[0].status == "interrupted" and store.runs(1)[0].stored == 2_000
    assert not store.file_done(str(path.resolve()), sources.fingerprint(path))
