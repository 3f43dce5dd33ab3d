"""One migration runner (``ingest.schema``) for both DuckDB files: it applies every missing
version in order, each once, and refuses a file written by a newer medsearch with the advice
to upgrade, for the store of record and for the library alike."""

from __future__ import annotations

import duckdb
import pytest

from ingest import schema
from ingest.errors import StoreError
from ingest.store import Store
from search.library import Library

STEPS = [schema.Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER)"),
         schema.Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER)"),
         schema.Migration(3, "0003_c.sql", "INSERT INTO a VALUES (3)")]


def _versions(con) -> list[tuple[int, str]]:
    return con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_every_missing_version_is_applied_in_order_and_once():
    con = duckdb.connect()
    assert schema.migrate(con, STEPS[:1], what="x") == ["0001_a.sql"]
    assert schema.migrate(con, [STEPS[0], STEPS[2]], what="x") == ["0003_c.sql"]
    # a version below the newest applied (a migration added on another branch) is applied too
    assert schema.migrate(con, STEPS, what="x") == ["0002_b.sql"]
    assert schema.migrate(con, STEPS, what="x") == []
    assert _versions(con) == [(1, "0001_a.sql"), (2, "0002_b.sql"), (3, "0003_c.sql")]
    assert con.execute("SELECT * FROM a").fetchall() == [(3,)]


def test_a_failing_migration_leaves_nothing_of_itself():
    con = duckdb.connect()
    broken = [STEPS[0], schema.Migration(2, "0002_bad.sql", "CREATE TABLE b (x INTEGER); SELECT nope")]
    with pytest.raises(duckdb.Error):
        schema.migrate(con, broken, what="x")
    assert _versions(con) == [(1, "0001_a.sql")]
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'b'").fetchone() == (0,)


def test_a_file_of_a_newer_medsearch_is_refused_by_the_runner():
    con = duckdb.connect()
    schema.migrate(con, STEPS, what="x")
    with pytest.raises(StoreError) as info:
        schema.migrate(con, STEPS[:2], what="The file f.duckdb")
    assert info.value.message == ("The file f.duckdb was written by a newer medsearch (schema 3, "
                                  "this one knows 2).")
    assert "Upgrade medsearch" in info.value.hint


def _from_the_future(con) -> None:
    con.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', now())")


@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_written_by_a_newer_medsearch_is_refused(tmp_path, read_only):
    path = tmp_path / "m.duckdb"
    with Store(path) as store:
        _from_the_future(store.con)
    with pytest.raises(StoreError) as info:
        Store(path, read_only=read_only)
    assert f"The database {path} was written by a newer medsearch (schema 9999" in info.value.message
    assert "Upgrade medsearch" in info.value.hint


def test_a_library_written_by_a_newer_medsearch_is_refused(tmp_path, monkeypatch):
    from search.library import userdata

    path = tmp_path / "library.duckdb"
    Library(path).lists.all()  # created and migrated
    con = duckdb.connect(str(path))
    _from_the_future(con)
    con.close()
    monkeypatch.setattr(userdata, "_migrated", set())  # as a new process: it checks each file once
    with pytest.raises(StoreError) as info:
        Library(path).lists.all()
    assert f"The library file {path} was written by a newer medsearch (schema 9999" in info.value.message
    assert "Upgrade medsearch" in info.value.hint and "MEDSEARCH_LIBRARY_DB" in info.value.hint


def test_both_files_record_every_packaged_migration(tmp_path):
    with Store(tmp_path / "m.duckdb") as store:
        assert [n for _, n in _versions(store.con)] == [m.name for m in schema.packaged("ingest.migrations")]
    Library(tmp_path / "library.duckdb").lists.all()
    con = duckdb.connect(str(tmp_path / "library.duckdb"))
    assert [n for _, n in _versions(con)] == [m.name for m in schema.packaged("search.library.migrations")]
    assert [n for _, n in _versions(con)][0].startswith("0001_")
