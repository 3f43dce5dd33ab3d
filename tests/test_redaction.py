"""Every secret the project holds stays out of every message path (issue 23, row 2).

The secrets: the NCBI API key, the chat endpoint's API key, and a password in the chat
endpoint's URL or in the E-utilities URL. The paths: every project error (message, hint,
text), the CLI's error printer, log records of any logger (tracebacks included), a summary
printed by the CLI, its JSON, the app's summary HTML, and the summary cache. A real local
endpoint that echoes the ``Authorization`` header in its 400 body is the end-to-end case."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

import ingest.errors as errors
from ingest.redact import MASK
from search.cli import guarded
from search.cli.summarize_cmd import _print_stream
from search.config import Settings
from search.llm.base import LLMError, ModelUnavailable
from search.llm.endpoint import EndpointModel
from search.summarize import Summarizer
from search.summarize.cache import SummaryCache
from tests.chat_server import ChatServer
from tests.test_summarize import MET, QUESTION, real
from webapp.summary_panel import summary_html

#: name -> (environment that holds it, the secret). Letters and digits only: NCBI's key format.
SECRETS = {
    "ncbi api key": ({"NCBI_API_KEY": "NcbiKey0123456789abcdef"}, "NcbiKey0123456789abcdef"),
    "llm api key": ({"MEDSEARCH_LLM_API_KEY": "sk-LlmKey-0123456789"}, "sk-LlmKey-0123456789"),
    "llm url password": ({"MEDSEARCH_LLM_URL": "http://me:UrlPass0123456789@127.0.0.1:9/v1",
                          "MEDSEARCH_LLM_MODEL_NAME": "m"}, "UrlPass0123456789"),
    "eutils url password": ({"NCBI_EUTILS_URL": "https://me:EuPass0123456789@example.org/eutils/"},
                            "EuPass0123456789"),
}


@pytest.fixture(params=list(SECRETS))
def secret(request) -> str:
    env, value = SECRETS[request.param]
    Settings.from_env(env)  # loading the settings registers what they hold
    return value


def _simple_error_classes() -> list[type]:
    out, todo = [], [errors.MedsearchError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return [c for c in out if not _needs_more(c)]


def _needs_more(cls: type) -> bool:
    """Whether ``cls`` takes more than a message and a hint (those are built apart below)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    return any(p.default is p.empty and p.name not in ("self", "message") and p.kind != p.VAR_KEYWORD
               and p.kind != p.VAR_POSITIONAL for p in params)


def test_every_project_error_masks_the_secret_in_message_hint_and_text(secret):
    classes = _simple_error_classes()
    assert LLMError in classes and ModelUnavailable in classes  # subclasses made outside ingest count
    for cls in classes:
        exc = cls(f"server said: key={secret} refused", hint=f"try again without {secret}")
        assert secret not in exc.message + exc.hint + str(exc), cls
        assert MASK in exc.message
    http = errors.EntrezHTTPError(f"HTTP 400 {secret}", status=400, url="https://x/", hint=secret)
    assert secret not in str(http) + (http.hint or "")
    from search.query.syntax import QuerySyntaxError

    syntax = QuerySyntaxError(f"unbalanced near {secret}", query="x", position=0, hint=secret)
    assert secret not in str(syntax) + syntax.reason + (syntax.hint or "")


def test_the_cli_error_printer_shows_no_secret(secret, capsys):
    def fails() -> int:
        raise errors.StoreError(f"cannot open {secret}")

    assert guarded(fails) == 2
    err = capsys.readouterr().err
    assert "cannot open" in err and secret not in err


def test_log_records_of_any_logger_mask_the_secret_and_its_traceback(secret, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library.far.away").info("request with %s sent", secret)
        try:
            raise RuntimeError(f"server echoed {secret}")
        except RuntimeError:
            logging.getLogger("medsearch.app").exception("unexpected error")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "request with" in text and "server echoed" in text
    assert secret not in text


class _Leaky:
    """A model that writes the secret in its answer, or fails with it in the error."""

    name, identity, destination = "leaky", "leaky", None

    def __init__(self, secret: str, fail: type[Exception] | None) -> None:
        self.secret, self.fail = secret, fail

    def stream(self, messages, options):
        if self.fail is not None:
            raise self.fail(f"upstream refused {self.secret}")
        yield f"Tamsulosin did not help stone passage ({self.secret}) [PMID {MET}]. "


def _every_output(summary, capsys, events_printed: str) -> str:
    return "\n".join([events_printed, str(summary.to_json()), summary_html(summary, [MET]), summary.label,
                      capsys.readouterr().err])


@pytest.mark.parametrize("fail", [None, LLMError, RuntimeError])
def test_a_summary_shows_and_caches_no_secret(secret, fail, tmp_path, capsys):
    cache = SummaryCache(tmp_path / "lib.duckdb")
    summarizer = Summarizer(_Leaky(secret, fail), cache, clock=lambda: datetime(2026, 1, 1))
    _print_stream(summarizer.stream_overview(QUESTION, [real(MET)]), "Findings:")
    printed = capsys.readouterr().out
    summary = summarizer.overview(QUESTION, [real(MET)])
    assert ("Tamsulosin" in printed) if fail is None else summary.fallback
    assert secret not in _every_output(summary, capsys, printed)
    with cache.userdata.connect() as con:
        assert secret not in str(con.execute("SELECT * FROM summary_cache").fetchall())


def test_an_endpoint_that_echoes_the_authorization_header_leaks_no_key(tmp_path, capsys):
    key = "sk-EchoedKey-0123456789"
    with ChatServer(lambda m: "unused") as server:
        server.behaviour = "echo_auth"
        Settings.from_env({"MEDSEARCH_LLM_API_KEY": key, "MEDSEARCH_LLM_URL": server.url,
                           "MEDSEARCH_LLM_MODEL_NAME": "test-model"})
        model = EndpointModel(server.url, "test-model", api_key=key)
        summarizer = Summarizer(model, SummaryCache(tmp_path / "lib.duckdb"))
        _print_stream(summarizer.stream_overview(QUESTION, [real(MET)]), "Findings:")
        printed = capsys.readouterr().out
        summary = summarizer.overview(QUESTION, [real(MET)])
    assert server.requests[0].headers["authorization"] == f"Bearer {key}"  # the key was sent and echoed
    everything = _every_output(summary, capsys, printed)
    assert "HTTP 400" in everything and "Bearer" in everything  # the echo is quoted, less the key
    assert key not in everything
