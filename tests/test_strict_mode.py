"""CI's strict mode (`make test-strict`, MEDSEARCH_STRICT_TESTS=1): a skipped test fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SKIPPING = '''
import pytest

def test_needs_a_browser():
    pytest.skip("chromium is not installed")

def test_runs():
    assert True
'''


def _run(tmp_path: Path, strict: bool) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_skipping.py"
    test_file.write_text(SKIPPING, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MEDSEARCH_STRICT_TESTS"}
    if strict:
        env["MEDSEARCH_STRICT_TESTS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(test_file)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_skip_fails_the_run_in_strict_mode_and_names_its_reason(tmp_path: Path) -> None:
    done = _run(tmp_path, strict=True)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed" in done.stdout
    assert "chromium is not installed" in done.stdout


def test_a_skip_is_only_a_skip_outside_strict_mode(tmp_path: Path) -> None:
    done = _run(tmp_path, strict=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
