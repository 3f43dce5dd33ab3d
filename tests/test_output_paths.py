"""Every command that writes a file the user names, against every kind of path (issue 23, row 1).

A regular file is replaced whole with its mode kept; a new file is created; ``-`` is stdout; a
character device or FIFO is written through and stays what it was; a symlink leads to what it
points at and stays a symlink; a folder, a socket or a dangling link is refused by name and
nothing is written. Device nodes and FIFOs are made here, in a temporary folder: no test
touches the real ``/dev``.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from search.cli import main
from tests.conftest import REPO
from tests.test_library import LISTED, METAPUB, corpus_settings, ingest_and_index

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
NULL, FULL = os.makedev(1, 3), os.makedev(1, 7)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    s = corpus_settings(tmp_path_factory.mktemp("out-corpus"))
    ingest_and_index(s, [METAPUB])
    return s


@pytest.fixture
def medsearch(corpus, tmp_path, monkeypatch):
    """``medsearch(*args)``: the CLI in this process on the module's corpus and a fresh library."""
    monkeypatch.setenv("MEDSEARCH_DB", str(corpus.db))
    monkeypatch.setenv("MEDSEARCH_LIBRARY_DB", str(tmp_path / "library.duckdb"))
    for name, value in {"MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none",
                        "MEDSEARCH_SEARCH_MODE": "bm25"}.items():
        monkeypatch.setenv(name, value)
    assert main(["lists", "add", "L", LISTED, "--create"]) == 0
    return lambda *args: main(list(args))


#: Each command that writes a file, as arguments before the path and a word its output holds.
COMMANDS = {
    "export": (["export", "L", "--format", "ris", "-o"], LISTED),
    "backup": (["library", "backup"], '"medsearch-library"'),
}


def _mknod(path: Path, device: int) -> None:
    os.mknod(path, 0o666 | stat.S_IFCHR, device)
    os.chmod(path, 0o666)  # mknod's mode passes through the umask


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_regular_file_is_replaced_whole_and_keeps_its_mode(medsearch, tmp_path, command):
    args, word = COMMANDS[command]
    out = tmp_path / "out.txt"
    out.write_text("old content\n")
    out.chmod(0o644)
    assert medsearch(*args, str(out)) == 0
    assert word in out.read_text() and "old content" not in out.read_text()
    assert _mode(out) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no temporary left


@pytest.mark.parametrize("command", COMMANDS)
def test_a_new_file_gets_the_mode_open_would_give(medsearch, tmp_path, command):
    args, word = COMMANDS[command]
    out = tmp_path / "new.txt"
    old = os.umask(0o022)
    try:
        assert medsearch(*args, str(out)) == 0
    finally:
        os.umask(old)
    assert word in out.read_text() and _mode(out) == 0o644


@pytest.mark.parametrize("command", COMMANDS)
def test_dash_writes_to_stdout(medsearch, capsys, command):
    args, word = COMMANDS[command]
    capsys.readouterr()
    assert medsearch(*args, "-") == 0
    assert word in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_is_refused_by_name(medsearch, tmp_path, capsys, command):
    args, _ = COMMANDS[command]
    folder = tmp_path / "folder"
    folder.mkdir()
    assert medsearch(*args, str(folder)) == 2
    assert "it is a folder" in capsys.readouterr().err and list(folder.iterdir()) == []


@needs_root
@pytest.mark.parametrize("command", COMMANDS)
def test_a_character_device_is_written_through_and_stays_a_device(medsearch, tmp_path, command):
    args, _ = COMMANDS[command]
    node = tmp_path / "mynull"
    _mknod(node, NULL)
    assert medsearch(*args, str(node)) == 0
    st = os.lstat(node)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == NULL and _mode(node) == 0o666


@needs_root
@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_device_is_an_error_exit_2(medsearch, tmp_path, capsys, command):
    args, _ = COMMANDS[command]
    node = tmp_path / "myfull"
    _mknod(node, FULL)
    assert medsearch(*args, str(node)) == 2
    assert "no space left" in capsys.readouterr().err
    assert stat.S_ISCHR(os.lstat(node).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_is_written_through_to_its_reader_and_stays_a_fifo(medsearch, tmp_path, command):
    args, word = COMMANDS[command]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there; the output fits the pipe's buffer
    try:
        assert medsearch(*args, str(fifo)) == 0
        got = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert word in got.decode() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_nobody_reads_is_refused_not_waited_on(medsearch, tmp_path, capsys, command):
    args, _ = COMMANDS[command]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert medsearch(*args, str(fifo)) == 2
    assert "nobody reads" in capsys.readouterr().err and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_symlink_to_a_file_stays_a_link_and_its_target_is_replaced(medsearch, tmp_path, command):
    args, word = COMMANDS[command]
    target = tmp_path / "target.txt"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert medsearch(*args, str(link)) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert word in target.read_text() and _mode(target) == 0o640


@needs_root
@pytest.mark.parametrize("command", COMMANDS)
def test_a_symlink_to_a_device_stays_a_link_to_the_device(medsearch, tmp_path, command):
    args, _ = COMMANDS[command]
    node = tmp_path / "mynull"
    _mknod(node, NULL)
    link = tmp_path / "link"
    link.symlink_to(node)
    assert medsearch(*args, str(link)) == 0
    assert link.is_symlink() and stat.S_ISCHR(os.lstat(node).st_mode) and os.lstat(node).st_rdev == NULL


@pytest.mark.parametrize("command", COMMANDS)
def test_a_dangling_symlink_is_refused(medsearch, tmp_path, capsys, command):
    args, _ = COMMANDS[command]
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    assert medsearch(*args, str(link)) == 2
    assert "symlink to nothing" in capsys.readouterr().err
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_socket_is_refused_by_name(medsearch, tmp_path, capsys, command):
    args, _ = COMMANDS[command]
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        assert medsearch(*args, str(path)) == 2
        assert "it is a socket" in capsys.readouterr().err and stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


@needs_root
def test_export_to_a_full_stdout_exits_2_with_a_message(corpus, tmp_path):
    node = tmp_path / "myfull"
    _mknod(node, FULL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    env.update({"MEDSEARCH_DB": str(corpus.db), "MEDSEARCH_LIBRARY_DB": str(tmp_path / "lib.duckdb"),
                "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none", "MEDSEARCH_SEARCH_MODE": "bm25"})
    exe = Path(sys.executable).parent / "medsearch"
    with open(node, "wb") as full:
        done = subprocess.run([str(exe), "export", "--pmids", LISTED, "--format", "ris"], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Cannot write to stdout" in done.stderr and "Traceback" not in done.stderr
