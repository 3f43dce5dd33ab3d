"""Background jobs (search/jobs): real `medsearch` commands in a detached process, their state in
files beside the store, found again from another process; the progress file the commands write;
the app's plans refusing bad input; the commands' exit 2 on a query with no hits and a folder
with no record files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.errors import ConfigError, JobError, NoRecordsError, SourceError
from ingest.lock import WriterLock
from search import jobs
from search.jobs import plans
from search.jobs.files import LOG_FILE, PROGRESS_FILE, VANISHED
from search.jobs.job import Job, Progress, Step
from tests.conftest import REPO, run_cli

#: A small folder of real PubMed XML (Biopython's test files: 14 records).
SMALL = "pubmed/biopython"
#: The environment of a job: BM25 only, so `index` takes a second.
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))},
       "MEDSEARCH_EMBEDDING_MODEL": "none"}


def _wait(db: Path, until, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.current(db)
        if job is not None and until(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def _files_job(db: Path, *paths: Path) -> Job:
    plan = plans.from_files([str(p) for p in paths])
    return jobs.start(db, plan.kind, plan.title, plan.steps, env=ENV)


def test_a_job_runs_its_commands_in_order_and_ends_done(shared_data, tmp_path):
    db = tmp_path / "store.duckdb"
    job = _files_job(db, shared_data / SMALL)
    assert job.running and [s.args[0] for s in job.steps] == ["ingest", "index"]
    done = _wait(db, lambda j: not j.running)
    assert done.status == jobs.DONE and done.exit_code == 0 and done.step == 1, done
    assert done.fraction == 1.0
    log = (done.folder / LOG_FILE).read_text()
    assert log.index("$ medsearch ingest files") < log.index("$ medsearch index")
    stats = json.loads(run_cli("--db", str(db), "stats", "--json").stdout)
    assert stats["records"] > 0
    # the last command's progress bar, as the command wrote it: the index's BM25 over every record
    bar = json.loads((done.folder / PROGRESS_FILE).read_text())
    assert bar["stage"] == "bm25" and bar["n"] == bar["total"] == stats["records"] and bar["closed"]


def test_a_job_started_by_another_process_is_found_running_and_one_runs_at_a_time(shared_data, tmp_path):
    """The page that started a job is gone (a reload, another app process): the job is found
    from its files; while it runs (here: waiting for the store's writer lock, which this test
    holds), a second job is refused; stopping it stops its command as Ctrl-C would."""
    db = tmp_path / "store.duckdb"
    lock = WriterLock(db, "a test holding the store")
    lock.acquire()
    try:
        code = ("import sys; from pathlib import Path; from search.jobs import start, plans; "
                f"p = plans.from_files([{str(shared_data / SMALL)!r}]); "
                f"start(Path({str(db)!r}), p.kind, p.title, p.steps)")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=ENV, timeout=60)
        job = _wait(db, lambda j: j.pid is not None and "waiting for" in (j.last_line or ""))
        assert job.running and job.step == 0 and "a test holding the store" in job.last_line
        with pytest.raises(JobError, match="already running") as refused:
            _files_job(db, shared_data / SMALL)
        assert "Wait for it to finish" in refused.value.hint
        assert jobs.stop(job)
        stopped = _wait(db, lambda j: not j.running)
    finally:
        lock.release()
    assert stopped.status == jobs.STOPPED and stopped.exit_code == 130 and stopped.step == 0, stopped
    assert not db.exists()  # the ingest never got the store: nothing written
    again = _files_job(db, shared_data / SMALL)  # a stopped job no longer blocks the next
    assert _wait(db, lambda j: j.id == again.id and not j.running).status == jobs.DONE


def test_a_failed_command_ends_the_job_with_its_exit_status_and_error_line(tmp_path):
    db = tmp_path / "store.duckdb"
    steps = (Step("Loading", ("ingest", "files", str(tmp_path / "nowhere"))), plans.INDEX_STEP)
    jobs.start(db, "first-run", "Loading a folder that is not there", steps, env=ENV)
    failed = _wait(db, lambda j: not j.running)
    assert failed.status == jobs.FAILED and failed.exit_code == 2 and failed.step == 0
    assert failed.error == f"{tmp_path / 'nowhere'}: no such file or folder"
    assert failed.hint and failed.hint.startswith("give files or folders holding")
    assert "$ medsearch index" not in (failed.folder / LOG_FILE).read_text()  # the index step never ran
    assert jobs.current(db) == failed  # kept: read again, the same result


def test_a_job_whose_process_was_killed_reads_as_failed_not_running(shared_data, tmp_path):
    db = tmp_path / "store.duckdb"
    with WriterLock(db, "a test holding the store"):
        job = _files_job(db, shared_data / SMALL)
        job = _wait(db, lambda j: j.pid is not None and "waiting for" in (j.last_line or ""))
        os.killpg(job.pid, signal.SIGKILL)
        gone = _wait(db, lambda j: not j.running, timeout=30)
    assert gone.status == jobs.FAILED and gone.error == VANISHED
    assert _files_job(db, shared_data / SMALL).running  # and a new one may start
    _wait(db, lambda j: not j.running)


def test_no_job_reads_as_none(tmp_path):
    assert jobs.current(tmp_path / "store.duckdb") is None


def test_job_json_round_trip_and_fraction_of_a_step_with_a_bar():
    job = Job("20260101T000000000000", "update", "Update", Path("/d/s.duckdb"),
              (Step("a", ("update", "--email", "x@example.org")), Step("b", ("index",))), step=1, pid=7)
    assert Job.from_json(json.loads(json.dumps(job.to_json()))) == job
    assert job.email == "x@example.org"
    halfway = job.with_(progress=Progress("bm25", 50, 100, "doc"))
    assert halfway.fraction == 0.75  # one of two steps done, the second half done
    assert job.with_(progress=Progress("ingest", 50, None, "rec")).fraction == 0.5  # no total: the steps only
    with pytest.raises(ValueError):
        Job.from_json({"id": "x"})


def test_progress_bar_writes_its_state_as_json_where_the_variable_says(tmp_path, monkeypatch):
    from ingest.progress import PROGRESS_FILE_ENV, progress_bar

    out = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(out))
    bar = progress_bar(True, desc="efetch", unit=" rec", total=400)
    bar.update(150)
    bar.set_postfix_str("batch 1", refresh=False)
    bar.update(250)
    bar.close()
    assert json.loads(out.read_text()) == {"stage": "efetch", "n": 400, "total": 400, "unit": "rec",
                                           "detail": "batch 1", "closed": True}
    assert list(progress_bar(True, desc="bm25", unit=" doc", total=3, items=iter("abc"))) == ["a", "b", "c"]
    assert json.loads(out.read_text())["n"] == 3
    out.unlink()
    progress_bar(False, desc="quiet", unit=" rec").close()  # a bar turned off writes nothing
    assert not out.exists()


@pytest.mark.parametrize("email, says", [("", "An e-mail address is needed"), ("  ", "An e-mail address is needed"),
                                         ("not an address", "is not an e-mail address")])
def test_loading_from_pubmed_without_a_usable_email_is_refused(email, says):
    with pytest.raises(ConfigError, match=says):
        plans.from_pubmed("asthma", 100, "recent", email)


def test_a_pubmed_plan_is_the_ingest_command_then_index():
    plan = plans.from_pubmed("  asthma AND children[mh] ", 250, "relevance", "me@example.org")
    assert [s.args for s in plan.steps] == [
        ("ingest", "pubmed", "asthma AND children[mh]", "--max", "250", "--sort", "relevance", "--email",
         "me@example.org"), ("index",)]
    with pytest.raises(ConfigError, match="query is empty"):
        plans.from_pubmed(" ", 100, "recent", "me@example.org")
    with pytest.raises(ConfigError, match="between 1 and"):
        plans.from_pubmed("asthma", plans.MAX_PUBMED_RECORDS + 1, "recent", "me@example.org")


def test_a_folder_without_record_files_is_refused_by_the_plan_and_the_command(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.md").write_text("not a record\n")
    with pytest.raises(NoRecordsError, match="No record files in") as refused:
        plans.from_files([str(folder)])
    assert "PubMed XML" in refused.value.hint
    with pytest.raises(SourceError, match="no such file or folder"):
        plans.from_files([str(tmp_path / "nowhere")])
    with pytest.raises(ConfigError, match="No file or folder given"):
        plans.from_files(["", "  "])
    db = tmp_path / "store.duckdb"
    out = run_cli("--db", str(db), "ingest", "files", str(folder))
    assert out.returncode == 2 and "error: No record files in" in out.stderr
    assert not db.exists()  # refused before the store was opened


def test_a_pubmed_query_with_no_hits_exits_2_and_is_not_remembered(server, tmp_path):

    db = tmp_path / "store.duckdb"
    env = {"NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "me@example.org"}
    out = run_cli("--db", str(db), "ingest", "pubmed", "qwertyuiopzzz", "--max", "10", env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "error: PubMed finds no records for 'qwertyuiopzzz'" in out.stderr
    assert "Check the query in PubMed" in out.stderr
    assert not db.exists()  # PubMed was asked before the store file was created


def test_a_pubmed_query_with_pubmed_unreachable_exits_2_and_creates_no_store(tmp_path, monkeypatch, capsys):
    import socket

    from ingest import eutils_http
    from search.cli import main

    with socket.socket() as s:  # a port on this machine where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(eutils_http.EntrezConfig, "__init__", _no_backoff(eutils_http.EntrezConfig.__init__))
    for name in [k for k in os.environ if k.startswith(("MEDSEARCH_", "NCBI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NCBI_EUTILS_URL", f"http://127.0.0.1:{port}/entrez/eutils/")
    monkeypatch.setenv("NCBI_EMAIL", "me@example.org")
    db = tmp_path / "new" / "store.duckdb"
    assert main(["--db", str(db), "ingest", "pubmed", "asthma", "--max", "10"]) == 2
    err = capsys.readouterr().err
    assert "error: NCBI esearch failed after" in err and "Connection refused" in err
    assert "check your network connection" in err
    assert not db.exists() and not db.parent.exists()


def _no_backoff(init):
    """EntrezConfig.__init__ with retries that do not wait (connection refused is retried)."""

    def wrapped(self, *args, **kwargs):
        init(self, *args, **{**kwargs, "backoff_factor": 0.0})

    return wrapped


def test_the_error_of_a_command_is_its_last_error_line_with_its_hint_else_its_last_line(tmp_path):
    from search.jobs.files import last_line
    from search.jobs.runner import error_of

    log = tmp_path / "log.txt"
    before = "$ medsearch ingest files a\nerror: an earlier command's error\n"
    log.write_text(before + "$ medsearch index\nwarning: slow\nerror: Cannot write x.\n  -> Free space.\nbye\n")
    assert error_of(log, len(before)) == ("Cannot write x.", "Free space.")
    log.write_text(before + "Traceback (most recent call last):\n  File ...\nRuntimeError: boom\n")
    assert error_of(log, len(before)) == ("RuntimeError: boom", None)
    log.write_text("ingest: 10 rec\ringest: 20 rec\r\n\n")
    assert last_line(log) == "ingest: 20 rec"
