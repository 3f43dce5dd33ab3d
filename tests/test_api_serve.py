"""``medsearch serve`` as a user runs it: a real process over a store the CLI built, answering
searches while a CLI ``ingest`` and ``index`` run beside it, switching to the new snapshot without
a restart, never writing a key to its log; ``--new-key``; and the refusal to serve a network
address that nobody could use.

Embeddings, reranker and summary model are off (BM25 only), so no model file is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from tests.api_server import KEYS, auth, free_port, key_entries, wait_for_http  # noqa: E402
from tests.conftest import PUBMED_DATA, REPO, run_cli  # noqa: E402

METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
EXTRA = PUBMED_DATA / "biopython" / "pubmed4.xml"
BM25_ONLY = {"MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none", "MEDSEARCH_LLM": "none"}


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    return {**env, **BM25_ONLY, "MEDSEARCH_DB": str(db), "MEDSEARCH_API_KEYS": key_entries(),
            "MEDSEARCH_API_RATE": "1000000"}


def _records(db: Path) -> int:
    from ingest.store import Store

    with Store(db, read_only=True) as store:
        return store.con.execute("SELECT count(*) FROM articles").fetchone()[0]


@pytest.fixture
def built(tmp_path):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    db = tmp_path / "m.duckdb"
    for args in (("ingest", "files", str(METAPUB)), ("index",)):
        out = run_cli("--db", str(db), *args, env=BM25_ONLY)
        assert out.returncode == 0, out.stderr
    return db


def test_serve_answers_while_ingest_and_index_run_and_then_serves_the_new_snapshot(built, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    exe = str(Path(sys.executable).parent / "medsearch")
    with open(log, "w") as out:
        server = subprocess.Popen([exe, "serve", "--port", str(port)], env=_env(built), stdout=out,
                                  stderr=subprocess.STDOUT, cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health")
        with httpx.Client(base_url=base, timeout=60, headers=auth()) as client:
            before = client.get("/status").json()
            assert before["records"] == _records(built)
            answered_during = 0
            for args in (("ingest", "files", str(EXTRA)), ("index",)):
                writer = subprocess.Popen([exe, "--db", str(built), *args], env=_env(built), cwd=REPO,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                while writer.poll() is None:
                    r = client.get("/search", params={"q": "cancer", "mode": "bm25"})
                    assert r.status_code == 200, r.text
                    answered_during += 1
                assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
            assert answered_during >= 2
            after = client.get("/status").json()  # the next request reads the new snapshot
            assert after["snapshot"] != before["snapshot"] and after["records"] == _records(built)
            assert after["records"] > before["records"] and after["index"]["fresh"] is True
            assert client.post("/lists", json={"name": "served"}).status_code == 201
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "GET /search" in text  # the access log is on ...
    assert all(key not in text for key in KEYS.values())  # ... and no key is ever in it


def test_new_key_prints_a_key_once_and_the_entry_that_holds_only_its_hash():
    from search.api.keys import KeyRing

    out = run_cli("serve", "--new-key", "ehr-panel")
    assert out.returncode == 0, out.stderr
    lines = [line.strip() for line in out.stdout.splitlines()]
    key = next(line for line in lines if line.startswith("msk_"))
    entry = next(line for line in lines if line.startswith("ehr-panel:sha256:"))
    assert key not in entry
    assert KeyRing.parse(entry).name_of(key) == "ehr-panel"


def test_a_network_address_without_keys_or_open_reads_is_refused_before_anything_starts(tmp_path):
    out = run_cli("--db", str(tmp_path / "none.duckdb"), "serve", "--host", "0.0.0.0", env=BM25_ONLY, timeout=120)
    assert out.returncode == 2
    assert "MEDSEARCH_API_KEYS" in out.stderr and "--open-reads" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_without_an_index_says_which_command_builds_it(tmp_path):
    out = run_cli("--db", str(tmp_path / "empty.duckdb"), "serve", "--port", str(free_port()), env=BM25_ONLY,
                  timeout=120)
    assert out.returncode == 2 and "medsearch index" in out.stderr and "Traceback" not in out.stderr
