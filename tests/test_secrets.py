"""An NCBI API key never leaves in what we print, log or store, whatever a server echoes."""

from __future__ import annotations

import logging

import pytest

from ingest import redact as redact_module
from ingest.entrez import EntrezClient, EntrezConfig
from ingest.errors import EntrezError
from ingest.redact import MASK, redact, register_secret
from ingest.store import Store
from tests.conftest import run_cli

SECRET = "k3y-Sup3r+Secret/0123456789"  # '+' and '/' change when URL-encoded
CLI_SECRET = "0123456789abcdefSecretKey42"  # the CLI accepts letters and digits only


@pytest.fixture(autouse=True)
def no_secret_registered_yet(monkeypatch):
    """The registry of secrets is process-wide: each test starts with it empty (and leaves it
    as it was), so a test passes only if its own client registered the key."""
    monkeypatch.setattr(redact_module, "_secrets", set())


def _every_text_in(db) -> str:
    """Every value of every table of the store, as text."""
    with Store(db) as store:
        tables = [r[0] for r in store.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()]
        return "\n".join(str(store.con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


def test_a_400_page_that_repeats_the_request_leaks_no_key(server, tmp_path):
    db = tmp_path / "m.duckdb"
    Store(db).close()  # an existing store: the failed run is recorded in it (a new one is not created)
    server.inject("esearch", "echo")
    env = {"NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org"}
    out = run_cli("--db", str(db), "ingest", "pubmed", "x", "--api-key", CLI_SECRET, env=env)

    assert out.returncode == 2 and "HTTP 400" in out.stderr
    assert server.requests[0].params["api_key"] == CLI_SECRET  # the page did carry the key
    assert CLI_SECRET not in out.stdout + out.stderr
    assert f"api_key={MASK}" in out.stderr  # the echoed request is quoted, less the key
    stored = _every_text_in(db)
    assert CLI_SECRET not in stored and "HTTP 400" in stored and MASK in stored


def test_retry_warnings_in_the_log_leak_no_key(server, caplog):
    # the key alone, as no "api_key=" pattern would find it: only the client's registration does
    body = f"<eSearchResult><ERROR>Search Backend failed: try again (key {SECRET})</ERROR></eSearchResult>"
    server.inject("esearch", "status", times=5, status=400, body=body.encode(), content_type="text/xml")
    config = EntrezConfig(email="a@example.org", api_key=SECRET, base_url=server.url, max_tries=2)
    client = EntrezClient(config, sleep=lambda s: None)
    with caplog.at_level(logging.DEBUG), pytest.raises(EntrezError) as caught:
        client.search("cancer")
    assert "Search Backend failed" in caplog.text and SECRET not in caplog.text
    assert SECRET not in str(caught.value) and SECRET not in caught.value.url


def test_a_key_echoed_as_json_is_redacted(server):
    body = f'{{"error":"API key invalid","api-key":"{SECRET}","detail":"{SECRET} is not a key"}}'.encode()
    server.inject("esearch", "status", status=400, body=body, content_type="application/json")
    client = EntrezClient(EntrezConfig(email="a@example.org", api_key=SECRET, base_url=server.url))
    with pytest.raises(EntrezError) as caught:
        client.search("cancer")
    assert "API key invalid" in caught.value.message and SECRET not in str(caught.value)


def test_the_client_registers_its_key():
    assert redact(f"the key {SECRET} alone") == f"the key {SECRET} alone"  # nothing registered yet
    EntrezClient(EntrezConfig(email="a@example.org", api_key=SECRET))
    assert redact(f"the key {SECRET} alone") == f"the key {MASK} alone"


@pytest.mark.parametrize(
    "text",
    [
        f"GET /esearch.fcgi?term=a&api_key={SECRET}&email=a@b.org",
        "GET /esearch.fcgi?term=a&api_key=k3y-Sup3r%2BSecret%2F0123456789",
        '{"api-key": "some-other-key"}',
        f"the key {SECRET} alone",
    ],
)
def test_redact_removes_keys_in_any_form(text):
    register_secret(SECRET)
    out = redact(text)
    assert SECRET not in out and "some-other-key" not in out and "Secret%2F" not in out
    assert MASK in out


def test_redact_keeps_the_email_and_ordinary_text():
    text = "esearch.fcgi?term=cancer&tool=medsearch&email=librarian@example.org"
    assert redact(text) == text
