"""The model clients: the OpenAI-compatible endpoint against a chat-completions server on
127.0.0.1 (streaming, keys, errors), the packaged model's joining and checking, settings, and
stream timing. The real local model runs in ``test_summarize_model.py`` (slow)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from search.config import Settings
from search.llm import (
    GenerationOptions,
    LLMError,
    Message,
    ModelUnavailable,
    TimedStream,
    open_model,
)
from search.llm.endpoint import EndpointModel, is_loopback, public_url
from search.llm.packaged import join_parts
from tests.chat_server import ChatServer
from tests.scripted_model import ScriptedModel


def installed(module: str) -> None:
    """Skip unless ``module`` is installed, without importing it (``import openvino`` alone
    would send telemetry: only the runtime's own import path blocks it)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


MESSAGES = [Message("system", "Be brief."), Message("user", "Say it.")]
OPTS = GenerationOptions(max_tokens=50)


def endpoint_settings(server: ChatServer, **env: str) -> Settings:
    return Settings.from_env({"MEDSEARCH_LLM_URL": server.url, "MEDSEARCH_LLM_MODEL_NAME": "test-model", **env})


@pytest.mark.slow
def test_the_endpoint_streams_the_answer_in_pieces():
    with ChatServer(lambda messages: "Cough fell from 40.8% to 9.2% [PMID 26702212].") as server:
        model = open_model(endpoint_settings(server))
        chunks = list(model.stream(MESSAGES, OPTS))
        (request,) = server.requests
    assert len(chunks) > 3 and "".join(chunks) == "Cough fell from 40.8% to 9.2% [PMID 26702212]."
    assert request.body["stream"] is True and request.body["model"] == "test-model"
    assert request.body["temperature"] == 0 and request.body["max_tokens"] == 50
    assert request.body["messages"] == [m.to_json() for m in MESSAGES]


def test_the_api_key_comes_from_the_named_variable_and_is_never_shown():
    key = "sk-test-Zq81xw"
    with ChatServer(lambda m: "ok", api_key=key) as server:
        settings = endpoint_settings(server, MEDSEARCH_LLM_API_KEY_ENV="CLINIC_LLM_KEY")
        model = open_model(settings, environ={"CLINIC_LLM_KEY": key})
        assert "".join(model.stream(MESSAGES, OPTS)) == "ok"
        assert server.requests[-1].headers["authorization"] == f"Bearer {key}"
        for shown in (repr(model), model.name, model.identity, str(settings)):
            assert key not in shown
        wrong = open_model(settings, environ={"CLINIC_LLM_KEY": "sk-wrong"})
        with pytest.raises(LLMError) as err:
            list(wrong.stream(MESSAGES, OPTS))
    assert "refused the API key" in err.value.message and "CLINIC_LLM_KEY" in err.value.hint
    assert "sk-wrong" not in str(err.value)


def test_an_unknown_model_name_says_what_to_set():
    with ChatServer(lambda m: "ok", model="other") as server:
        with pytest.raises(LLMError) as err:
            list(open_model(endpoint_settings(server)).stream(MESSAGES, OPTS))
    assert "does not serve the model 'test-model'" in err.value.message
    assert "MEDSEARCH_LLM_MODEL_NAME" in err.value.hint


def test_a_passing_server_error_is_retried_and_a_lasting_one_reported():
    with ChatServer(lambda m: "recovered") as server:
        server.fail(503, times=1)
        model = EndpointModel(server.url, "test-model", max_retries=1)
        assert "".join(model.stream(MESSAGES, OPTS)) == "recovered"
        assert len(server.requests) == 2
        server.fail(500, "boom", times=1)
        with pytest.raises(LLMError) as err:
            list(EndpointModel(server.url, "test-model", max_retries=0).stream(MESSAGES, OPTS))
    assert "HTTP 500" in err.value.message and "boom" in err.value.message


def test_an_unreachable_endpoint_is_an_error_with_a_hint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    model = EndpointModel(f"http://127.0.0.1:{port}/v1", "m", max_retries=0, timeout_s=5)
    with pytest.raises(LLMError) as err:
        list(model.stream(MESSAGES, OPTS))
    assert "Cannot reach the chat endpoint" in err.value.message and "MEDSEARCH_LLM_URL" in err.value.hint


def test_only_a_host_off_this_machine_is_a_destination():
    assert EndpointModel("http://127.0.0.1:11434/v1", "m").destination is None
    assert EndpointModel("http://localhost:8000/v1", "m").destination is None
    assert EndpointModel("http://[::1]:8000/v1", "m").destination is None
    assert EndpointModel("https://api.example.org/v1", "m").destination == "api.example.org"
    assert is_loopback("127.0.0.2") and not is_loopback("10.0.0.1") and not is_loopback("example.org")


def test_an_address_is_shown_and_keyed_without_credentials():
    url = "https://user:secret@api.example.org:8443/v1/?key=abc#x"
    assert public_url(url) == "https://api.example.org:8443/v1"
    model = EndpointModel(url, "llama3")
    assert "secret" not in model.identity + model.name + repr(model) and "abc" not in model.identity


def test_settings_choose_the_model(tmp_path):
    with pytest.raises(ModelUnavailable):
        open_model(Settings.from_env({"MEDSEARCH_LLM": "none"}))
    with pytest.raises(ModelUnavailable) as err:
        open_model(Settings.from_env({"MEDSEARCH_LLM": str(tmp_path / "missing.gguf")}))
    assert "missing.gguf" in err.value.message
    with pytest.raises(ConfigError, match="MEDSEARCH_LLM_MODEL_NAME"):
        open_model(Settings.from_env({"MEDSEARCH_LLM_URL": "http://127.0.0.1:9/v1"}))
    with pytest.raises(ConfigError, match="MEDSEARCH_SUMMARY_PAPERS"):
        Settings.from_env({"MEDSEARCH_SUMMARY_PAPERS": "0"})
    assert Settings.from_env({"MEDSEARCH_SUMMARY_PAPERS": "3"}).summary_papers == 3


def test_the_abstract_budget_is_read_checked_and_given_to_the_summarizer(tmp_path):
    from search.summarize import open_summarizer

    for wrong in ("100", "9000"):
        with pytest.raises(ConfigError, match="MEDSEARCH_SUMMARY_ABSTRACT_CHARS must be between 300 and 5000"):
            Settings.from_env({"MEDSEARCH_SUMMARY_ABSTRACT_CHARS": wrong})
    env = {"MEDSEARCH_SUMMARY_ABSTRACT_CHARS": "1200", "MEDSEARCH_LLM": "none",
           "MEDSEARCH_LIBRARY_DB": str(tmp_path / "library.duckdb")}
    assert open_summarizer(Settings.from_env(env)).abstract_chars == 1200
    assert open_summarizer(Settings.from_env({**env, "MEDSEARCH_SUMMARY_ABSTRACT_CHARS": ""})).abstract_chars == 5000


def test_settings_choose_the_local_runtime(tmp_path):
    from search.llm.local import LocalModel
    from search.llm.openvino_local import OpenVINOModel

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    default = open_model(Settings.from_env({"MEDSEARCH_LLM": str(gguf)}))
    assert isinstance(default, OpenVINOModel) and default.destination is None
    chosen = open_model(Settings.from_env({"MEDSEARCH_LLM": str(gguf), "MEDSEARCH_LLM_RUNTIME": "llama.cpp"}))
    assert isinstance(chosen, LocalModel)
    assert default.identity == chosen.identity  # the same weights: cached summaries are shared
    with pytest.raises(ConfigError, match="MEDSEARCH_LLM_RUNTIME must be one of"):
        Settings.from_env({"MEDSEARCH_LLM_RUNTIME": "vllm"})


@pytest.mark.parametrize("runtime", ["openvino", "llama.cpp"])
def test_a_file_that_is_not_a_model_fails_to_load_as_unavailable(tmp_path, runtime):
    installed({"openvino": "openvino_genai", "llama.cpp": "xllamacpp"}[runtime])
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    model = open_model(Settings.from_env({"MEDSEARCH_LLM": str(bad), "MEDSEARCH_LLM_RUNTIME": runtime}))
    with pytest.raises(ModelUnavailable, match="could not load bad.gguf") as err:
        model.load()
    assert "MEDSEARCH_LLM" in err.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gguf"]  # no half-made conversion left


def test_joined_parts_are_checked_against_their_hash(tmp_path):
    parts = []
    for i, data in enumerate([b"first part ", b"second ", b"third"]):
        parts.append(tmp_path / f"part{i}")
        parts[-1].write_bytes(data)
    good = hashlib.sha256(b"first part second third").hexdigest()
    target = tmp_path / "models" / "joined.gguf"
    join_parts(parts, target, sha256=good)
    assert target.read_bytes() == b"first part second third"
    other = tmp_path / "models" / "other.gguf"
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        join_parts(parts, other, sha256="0" * 64)
    assert sorted(p.name for p in other.parent.iterdir()) == ["joined.gguf"]  # nothing half-written left


def test_a_timed_stream_counts_tokens_and_keeps_the_text():
    model = ScriptedModel(["one two three four"])
    stream = TimedStream(model, MESSAGES, OPTS)
    assert stream.stats is None
    assert "".join(stream) == "one two three four"
    stats = stream.stats
    assert stats.tokens == 4 and 0 <= stats.first_token_s <= stats.total_s
    assert stats.to_json()["tokens"] == 4


def test_a_closed_stream_still_reports_what_it_got():
    stream = TimedStream(ScriptedModel(["a b c d e f"]), MESSAGES, OPTS)
    it = iter(stream)
    next(it), next(it)
    it.close()
    assert stream.stats.tokens == 2


def test_scripted_failures_raise_llm_error():
    model = ScriptedModel(["one two"], fail_on_call=1)
    with pytest.raises(LLMError):
        list(model.stream(MESSAGES, OPTS))


def test_the_installed_parts_add_up_to_the_published_file():
    from search.llm import packaged

    try:
        parts = packaged.part_paths()
    except ModelUnavailable as exc:
        pytest.skip(exc.message)
    assert len(parts) == 22 and sum(p.stat().st_size for p in parts) == 1_117_320_768


def test_openvino_is_loaded_without_its_usage_telemetry():
    """``import openvino`` would send an event to Google Analytics: nothing may leave the machine."""
    installed("openvino_genai")
    code = ("import sys\nfrom search.llm.openvino_local import _runtime\n_runtime()\n"
            "from openvino.tools.ovc import telemetry_utils\n"
            "print(telemetry_utils.tm.__name__, any(m.startswith('openvino_telemetry') and sys.modules[m] is not None"
            " for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "False"], done.stderr[-2000:]


_SETTINGS = ("ORT_DISABLE_TELEMETRY", "OMP_WAIT_POLICY")


def _python(code: str, **env: str) -> list[str]:
    """Run ``code`` in a fresh interpreter whose environment lacks the process settings."""
    root = Path(__file__).resolve().parents[1]
    clean = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                          env={**clean, **env}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


_PRINT = "import os\nprint(*(os.environ.get(k, '-') for k in ('ORT_DISABLE_TELEMETRY', 'OMP_WAIT_POLICY')))"


def test_process_settings_are_set_by_configure_and_a_users_value_is_kept():
    """onnxruntime's telemetry would look up a Microsoft host from long-lived processes; OpenMP
    spinning collapses generation on shared cores (search/runtime_env.py)."""
    configure = "from search import runtime_env\nruntime_env.configure()\n"
    assert _python("import search\n" + _PRINT) == ["-", "-"]  # importing sets nothing
    assert _python(configure + _PRINT) == ["1", "PASSIVE"]
    assert _python(configure + _PRINT, ORT_DISABLE_TELEMETRY="0", OMP_WAIT_POLICY="ACTIVE") == ["0", "ACTIVE"]


def test_the_medsearch_command_configures_the_process_first():
    code = ("import sys\nsys.argv = ['medsearch', '--help']\nfrom search.entry import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n" + _PRINT)
    assert _python(code)[-2:] == ["1", "PASSIVE"]


def test_the_app_configures_the_process_before_it_imports_anything_else():
    """The page (webapp/page.py, which `medsearch app` serves and app.py runs) configures the
    runtimes first; app.py imports nothing of the project before running it."""
    import ast

    repo = Path(__file__).resolve().parents[1]
    tree = ast.parse((repo / "webapp" / "page.py").read_text(encoding="utf-8"))
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert ast.unparse(body[0]) == "from search import runtime_env"
    assert ast.unparse(body[1]) == "runtime_env.configure()"
    app = ast.parse((repo / "app.py").read_text(encoding="utf-8"))
    imported = {alias.name for n in ast.walk(app) if isinstance(n, (ast.Import, ast.ImportFrom))
                for alias in n.names} | {n.module for n in ast.walk(app) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] in ("search", "webapp", "ingest")}
    assert "webapp" in ast.unparse(app) and "page.py" in ast.unparse(app)


def test_a_runtime_loader_configures_the_process_for_a_program_that_did_not():
    """A Python program using the library directly: learned fusion sets OpenMP's policy
    before it loads LightGBM, the int8 embedder onnxruntime's telemetry before onnxruntime."""
    code = ("import numpy\nfrom search.retrieval.learned_fusion import FEATURES, LearnedFusion\n"
            "LearnedFusion().score(numpy.zeros((1, len(FEATURES))))\n"
            "from search.retrieval import dense_int8\ndense_int8._session()\n" + _PRINT)
    assert _python(code) == ["1", "PASSIVE"]
