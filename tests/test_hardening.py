"""What a hostile probe of the command line broke, one test per class of bug: damaged indexes,
filesystem errors on our paths, foreign databases, settings and arguments validated before any
work, open failures named for their cause, control characters in record text."""

from __future__ import annotations

import hashlib
import json
import os
import string

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from search.config import SETTINGS, Settings
from tests.conftest import PUBMED_DATA, needs_data, run_cli

BM25_ONLY = {"MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none"}


def _ok_error(result, *needles):
    """Exit status 2, every needle in stderr, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr.replace("error:", "")
    for n in needles:
        assert n in result.stderr, (n, result.stderr)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    db = tmp_path_factory.mktemp("hard") / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "files", str(PUBMED_DATA / "biopython"), env=BM25_ONLY).returncode == 0
    assert run_cli("--db", str(db), "index", env=BM25_ONLY).returncode == 0
    return db


# -- row 2: index integrity -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("part", ["bm25/vocab.index.json", "bm25/data.csc.index.npy", "corpus.duckdb"])
def test_a_damaged_index_is_reported_and_index_repairs_it(indexed, tmp_path, part):
    import shutil

    db = tmp_path / "m.duckdb"
    shutil.copy(indexed, db)
    shutil.copytree(indexed.with_name("m.index"), tmp_path / "m.index")
    with open(tmp_path / "m.index" / "v000001" / part, "r+b") as f:
        f.truncate(100)
    _ok_error(run_cli("--db", str(db), "search", "protein", env=BM25_ONLY), "damaged", part, "medsearch index")
    repaired = run_cli("--db", str(db), "index", env=BM25_ONLY)
    assert repaired.returncode == 0 and "damaged" in repaired.stdout, repaired.stdout + repaired.stderr
    assert run_cli("--db", str(db), "search", "protein", env=BM25_ONLY).returncode == 0


# -- row 3: filesystem errors on our paths ------------------------------------------------------------


def test_a_file_shaped_index_dir_is_an_error_with_a_hint(indexed, tmp_path):
    file = tmp_path / "some-file"
    file.write_text("x")
    env = {**BM25_ONLY, "MEDSEARCH_INDEX_DIR": str(file)}
    _ok_error(run_cli("--db", str(indexed), "index", env=env), "MEDSEARCH_INDEX_DIR", "is not a folder")
    _ok_error(run_cli("--db", str(indexed), "search", "x", env=env), "MEDSEARCH_INDEX_DIR")


def test_an_index_dir_below_a_file_is_an_error_with_a_hint(indexed, tmp_path):
    file = tmp_path / "some-file"
    file.write_text("x")
    env = {**BM25_ONLY, "MEDSEARCH_INDEX_DIR": str(file / "below")}
    _ok_error(run_cli("--db", str(indexed), "index", env=env), "Cannot create the index folder")


# -- row 4: a DuckDB file of another program -----------------------------------------------------------


@needs_data
@pytest.mark.parametrize("command", [["ingest", "files", "PUBMED"], ["index"], ["stats"]])
def test_a_foreign_duckdb_file_is_refused_and_left_unchanged(tmp_path, command):
    db = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE articles (id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO articles VALUES (1, 'theirs')")
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    args = [str(PUBMED_DATA / "biopython" / "pubmed1.xml") if a == "PUBMED" else a for a in command]
    _ok_error(run_cli("--db", str(db), *args), "another program", "articles")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    con = duckdb.connect(str(db), read_only=True)
    assert {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()} == {"articles"}
    con.close()


# -- row 11: open failures named for their cause ---------------------------------------------------------


@pytest.mark.slow
def test_open_failures_name_their_real_cause(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some text, not a database at all\n" * 100)
    _ok_error(run_cli("--db", "/dev/null", "stats"), "not a regular file")
    _ok_error(run_cli("--db", str(text), "stats"), "is not a DuckDB database")
    _ok_error(run_cli("--db", str(tmp_path), "stats"), "is a folder")
    for result in (run_cli("--db", "/dev/null", "stats"), run_cli("--db", str(text), "stats")):
        assert "Another medsearch process" not in result.stderr


@pytest.mark.slow
def test_a_database_held_by_another_program_names_that_process(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "held.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        out = run_cli("--db", str(db), "stats")
        _ok_error(out, f"process {holder.pid}")
        assert "Another medsearch process" not in out.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_index_of_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "missing.duckdb"
    _ok_error(run_cli("--db", str(missing), "index", env=BM25_ONLY), "No database at")
    assert not missing.exists()


@pytest.mark.slow
@needs_data
def test_index_reads_a_read_only_database(indexed, tmp_path):
    import shutil

    db = tmp_path / "ro.duckdb"
    shutil.copy(indexed, db)
    os.chmod(db, 0o444)
    try:
        out = run_cli("--db", str(db), "index", env=BM25_ONLY)
        assert out.returncode == 0, out.stderr
        assert run_cli("--db", str(db), "search", "protein", env=BM25_ONLY).returncode == 0
    finally:
        os.chmod(db, 0o644)


# -- rows 5 and 12: one validation layer, before any work ------------------------------------------------


@pytest.mark.parametrize(
    "env, args, needle",
    [
        ({"NCBI_EUTILS_URL": "http://[::1"}, ["stats"], "NCBI_EUTILS_URL is not a valid URL"),
        ({"NCBI_EUTILS_URL": "http://"}, ["ingest", "pubmed", "x"], "NCBI_EUTILS_URL has no host"),
        ({"NCBI_EUTILS_URL": "ftp://example.org/"}, ["stats"], "must be an http(s) URL"),
        ({"MEDSEARCH_SEARCH_MODE": "fast"}, ["stats"], "MEDSEARCH_SEARCH_MODE must be one of"),
        ({"MEDSEARCH_SEARCH_MODE": "hybrid", "MEDSEARCH_EMBEDDING_MODEL": "none"}, ["stats"], "needs embeddings"),
        ({"MEDSEARCH_DB": ":memory:"}, ["stats"], "in-memory database"),
        ({"MEDSEARCH_ALLOW_DOWNLOAD": "yes"}, ["stats"], "MEDSEARCH_ALLOW_DOWNLOAD must be one of 0, 1"),
        ({}, ["--db", ":memory:", "stats"], "in-memory database"),
        ({}, ["search", "x", "--year-from", "2030", "--year-to", "2000"], "starts after it ends"),
        ({}, ["search", "x", "--year-from", "20300"], "is not a publication year"),
    ],
)
@pytest.mark.slow
def test_impossible_settings_and_arguments_exit_2_before_any_work(tmp_path, env, args, needle):
    if "--db" not in args and "MEDSEARCH_DB" not in env:
        args = ["--db", str(tmp_path / "none.duckdb"), *args]
    _ok_error(run_cli(*args, env=env), needle)
    assert not (tmp_path / "none.duckdb").exists()


def test_two_wrong_settings_are_both_reported(tmp_path):
    result = run_cli("--db", str(tmp_path / "x.duckdb"), "stats",
                     env={"NCBI_EUTILS_URL": "http://[::1", "MEDSEARCH_EMBEDDING_BACKEND": "gpu"})
    _ok_error(result, "2 settings are wrong", "NCBI_EUTILS_URL", "MEDSEARCH_EMBEDDING_BACKEND")


@pytest.mark.slow
@needs_data
def test_an_unknown_publication_type_is_an_error(indexed):
    _ok_error(run_cli("--db", str(indexed), "search", "protein", "--type", "Randmized Trial", env=BM25_ONLY),
              "Unknown publication type 'Randmized Trial'", "rct")
    ok = run_cli("--db", str(indexed), "search", "protein", "--type", "journal article", env=BM25_ONLY)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.slow
@needs_data
def test_embeddings_off_and_no_reranker_search_with_bm25_by_default(indexed):
    out = run_cli("--db", str(indexed), "search", "protein", "--json", env=BM25_ONLY)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["mode"] == "bm25"


_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.ascii_letters + string.digits + ":/[]@.-_ %", max_size=40),
    st.sampled_from(["http://[::1", "http://", "https://x:99999/", "none", "0", "1", "-3", ":memory:", "/dev/null"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([s.env for s in SETTINGS.values()]), _VALUES, max_size=4))
def test_any_settings_either_load_or_raise_the_projects_config_error(env):
    env = {k: v.replace("\x00", "") for k, v in env.items()}
    try:
        Settings.from_env(env)
    except ConfigError as exc:
        assert exc.message and exc.hint


# -- row 8: record text is untrusted ----------------------------------------------------------------------

HOSTILE = "\x1b[2J\x1b]0;pwned\x07Aspirin\x9b31m trial\rhidden\x08 \x00end"


@pytest.mark.slow
def test_control_characters_in_record_text_never_reach_the_terminal(tmp_path):
    corpus = tmp_path / "beir" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(json.dumps({"_id": "d1", "title": HOSTILE, "text": "aspirin " + HOSTILE}) + "\n"
                      + json.dumps({"_id": "d2", "title": "Other", "text": "unrelated words"}) + "\n")
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "files", str(corpus), env=BM25_ONLY).returncode == 0
    assert run_cli("--db", str(db), "index", env=BM25_ONLY).returncode == 0
    human = run_cli("--db", str(db), "search", "aspirin", env=BM25_ONLY)
    assert human.returncode == 0 and "Aspirin" in human.stdout
    for ch in ("\x1b", "\x07", "\x9b", "\r", "\x08", "\x00"):
        assert ch not in human.stdout + human.stderr
    raw = run_cli("--db", str(db), "search", "aspirin", "--json", env=BM25_ONLY)
    assert "\x1b" not in raw.stdout and "\\u001b" in raw.stdout and "\\u009b" in raw.stdout
    hit = json.loads(raw.stdout)["hits"][0]
    assert hit["title"].startswith("\x1b[2J") and "\x9b" in hit["title"]  # the JSON keeps the text, escaped
    stats = run_cli("--db", str(db), "stats", env=BM25_ONLY)
    assert "\x1b" not in stats.stdout


# -- rows 9 and 10: bounded work, and only records that matched ---------------------------------------


@pytest.mark.slow
@needs_data
def test_a_huge_query_is_refused_with_the_limit_before_any_work(indexed, monkeypatch):
    """100 kB of query text: the CLI says the limit; the engine refuses it before it tokenizes
    the text or asks the BM25 index anything (counted, not timed)."""
    import base64

    from search.assembly import open_engine

    query = base64.b64encode(os.urandom(75_000)).decode()
    _ok_error(run_cli("--db", str(indexed), "search", query, env=BM25_ONLY), "limit is 2,000")
    engine = open_engine(Settings.from_env(BM25_ONLY, db=indexed))
    calls = []
    tokenize, lexical = engine._tokenize, engine.snapshot.lexical
    search_tokens = lexical.search_tokens
    monkeypatch.setattr(engine, "_tokenize", lambda text: calls.append("tokenize") or tokenize(text))
    monkeypatch.setattr(lexical, "search_tokens", lambda *a, **kw: calls.append("bm25") or search_tokens(*a, **kw))
    assert engine.search("protein", mode="bm25").hits and {"tokenize", "bm25"} <= set(calls)  # counted
    calls.clear()
    with pytest.raises(ConfigError, match="limit is 2,000"):
        engine.search(query, mode="bm25")
    assert calls == []


@pytest.mark.slow
@needs_data
def test_a_query_that_matches_nothing_lists_nothing_and_says_why(indexed):
    out = run_cli("--db", str(indexed), "search", "zzzzqqq", "--mode", "bm25", "-k", "5", env=BM25_ONLY)
    assert out.returncode == 0 and "No results" in out.stdout and "No record matches" in out.stderr
    punct = run_cli("--db", str(indexed), "search", "?!;", env=BM25_ONLY)
    assert "No results" in punct.stdout and "no words to search for" in punct.stderr
