"""MEDSEARCH_HOME: one folder for everything medsearch writes; refused at start-up when it
cannot be one. And `make run`'s first steps in a clone with no demo folder and no records."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import ConfigError
from search.config import PROJECT_ROOT, Settings
from tests.conftest import run_cli


def test_every_path_defaults_under_the_home_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"MEDSEARCH_HOME": str(tmp_path / "h")})
    assert settings.db == tmp_path / "h" / "medsearch.duckdb"
    assert settings.library_path == tmp_path / "h" / "library.duckdb"
    assert settings.models_dir == tmp_path / "h" / "models"


def test_an_explicit_database_beats_the_home_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"MEDSEARCH_HOME": str(tmp_path / "h"), "MEDSEARCH_DB": str(tmp_path / "x.duckdb")})
    assert settings.db == tmp_path / "x.duckdb" and settings.models_dir == tmp_path / "h" / "models"


def test_from_a_checkout_the_home_is_the_checkouts_data_folder() -> None:
    assert (PROJECT_ROOT / "pyproject.toml").is_file()  # this suite runs from a clone
    assert Settings.from_env({}).home == PROJECT_ROOT / "data"


def test_a_home_that_is_a_file_is_refused_at_start_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        Settings.from_env({"MEDSEARCH_HOME": str(home)})
    result = run_cli("stats", env={"MEDSEARCH_HOME": str(home)})
    assert result.returncode == 2 and "MEDSEARCH_HOME" in result.stderr and "Traceback" not in result.stderr


def test_a_home_below_a_file_is_refused_as_not_writable(tmp_path: Path) -> None:
    """A folder that cannot be created (its parent is a file) cannot hold the store: said at
    start-up, before any work, for every user (root included)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="is not writable"):
        Settings.from_env({"MEDSEARCH_HOME": str(blocker / "home")})


def test_make_runs_first_steps_do_nothing_without_a_demo_folder_or_records(tmp_path: Path) -> None:
    env = {"MEDSEARCH_HOME": str(tmp_path / "home"), "MEDSEARCH_DEMO_DATA": str(tmp_path / "no-demo")}
    demo = run_cli("ingest", "demo", "--if-empty", "--if-present", env=env)
    assert demo.returncode == 0 and "demo data not loaded" in demo.stdout
    index = run_cli("index", "--if-records", env=env)
    assert index.returncode == 0 and "nothing to index" in index.stdout
    assert not (tmp_path / "home" / "medsearch.index").exists()
    strict = run_cli("ingest", "demo", env=env)
    assert strict.returncode == 2 and "does not exist" in strict.stderr
