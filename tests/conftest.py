"""Shared fixtures: where the real data lies, a fresh store, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDSEARCH_SHARED_DATA", REPO.parent / "shared" / "data"))
PUBMED_DATA = SHARED_DATA / "pubmed"
#: `make test-strict` (what CI runs) sets it: a skipped test is a failure there, so a missing
#: ../shared, browser, model or optional runtime cannot pass unnoticed.
STRICT = os.environ.get("MEDSEARCH_STRICT_TESTS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in strict mode (MEDSEARCH_STRICT_TESTS=1), which CI runs: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"module skipped in strict mode (MEDSEARCH_STRICT_TESTS=1): {reason}"


@pytest.fixture(autouse=True)
def _secrets_registry_per_test():
    """Each test starts from the redaction registry the session had: a secret one test registers
    (the property test's random settings register values such as "http://") must not redact
    another test's messages. The registry is process-wide by design (``ingest.redact``)."""
    from ingest import redact

    with redact._lock:
        saved = set(redact._secrets)
    yield
    with redact._lock:
        redact._secrets.clear()
        redact._secrets.update(saved)


def require_shared_data() -> Path:
    if not PUBMED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set MEDSEARCH_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


@pytest.fixture(scope="module")
def replay_server():
    """PubMed's E-utilities replayed on 127.0.0.1 from the real responses, one per test module."""
    require_shared_data()
    from tests.eutils_server import EUtilsServer

    with EUtilsServer() as srv:
        yield srv


@pytest.fixture
def server(replay_server):
    """The replay server with its request log and injected faults cleared before and after a test."""
    replay_server.reset()
    yield replay_server
    replay_server.reset()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The demo records in a real index snapshot (tests/engine_snapshot.py), built once per module."""
    from tests.engine_snapshot import real_snapshot

    return real_snapshot(tmp_path_factory)


@pytest.fixture(scope="module")
def engine(real):
    """An engine over ``real`` (BM25 and the fake embedder)."""
    from tests.engine_snapshot import engine_over

    return engine_over(real.db)


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    """A read-only connection to a snapshot's record tables (with the query-syntax tables) of the
    demo records, built once per module."""
    import duckdb

    from ingest.pipeline import ingest_files
    from ingest.store import Store
    from tests.snapshot_db import make_snapshot

    tmp = tmp_path_factory.mktemp("snapshot")
    with Store(tmp / "store.duckdb") as store:
        ingest_files(store, [require_shared_data() / "pubmed"], progress=False)
    make_snapshot(tmp / "store.duckdb", tmp / "corpus.duckdb")
    con = duckdb.connect(str(tmp / "corpus.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture
def store(tmp_path):
    from ingest.store import Store

    with Store(tmp_path / "store.duckdb") as s:
        yield s


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None):
    """Run the installed ``medsearch`` entry point for real, as a user would."""
    exe = Path(sys.executable).parent / "medsearch"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    full_env.update(env or {})
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd or REPO
    )


#: Mark for tests that read the real data beside the checkout.
needs_data = pytest.mark.skipif(
    not PUBMED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA} (set MEDSEARCH_SHARED_DATA)"
)


def assert_store_consistent(store) -> None:
    """No part of a record without its record; no record without the parts its row lists."""
    for table in ("authors", "mesh_headings", "abstract_sections", "publication_types", "article_ids"):
        orphans = store.con.execute(
            f"SELECT count(*) FROM {table} WHERE doc_id NOT IN (SELECT doc_id FROM articles)"
        ).fetchone()[0]
        assert orphans == 0, table
    partless = store.con.execute(
        "SELECT count(*) FROM articles a WHERE len(a.publication_types) > 0 AND NOT EXISTS "
        "(SELECT 1 FROM publication_types p WHERE p.doc_id = a.doc_id)"
    ).fetchone()[0]
    assert partless == 0
