"""Where the Milvus collection lives, and a checked connection to it.

``MEDSEARCH_MILVUS_URI``: a local file path (``data/milvus.db``) runs milvus-lite embedded
in this process (no server: what the tests and a single machine use); ``http://host:19530``
or ``https://...`` talks to a Milvus standalone or cluster with the same code. The token
(``user:password`` or an API key) is read from the environment variable
``MEDSEARCH_MILVUS_TOKEN``; it is never printed, logged or stored: :class:`Target` shows the
URI alone, and errors say that a token was sent, never what it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import ConfigError, SearchIndexError
from search.config import expanded
from search.retrieval.milvus import require

TOKEN_ENV = "MEDSEARCH_MILVUS_TOKEN"
#: The alias readers search; a build writes ``<alias>_<n>`` and switches the alias to it.
DEFAULT_COLLECTION = "medsearch"


@dataclass(frozen=True, slots=True)
class Target:
    """A Milvus URI (file: milvus-lite; http(s): a server) and the collection alias."""

    uri: str
    collection: str = DEFAULT_COLLECTION
    token: str = field(default="", repr=False)  # from the environment; never shown

    @classmethod
    def from_settings(cls, uri: str | None, collection: str | None = None,
                      environ: dict[str, str] | None = None) -> Target:
        env = os.environ if environ is None else environ
        if not uri:
            raise ConfigError("MEDSEARCH_BACKEND=milvus needs MEDSEARCH_MILVUS_URI.",
                              hint="Set it to a file path (milvus-lite, e.g. data/milvus.db) or to "
                              "http://host:19530 (a Milvus server).")
        if not _is_server(uri):
            uri = str(expanded(uri).resolve())  # milvus-lite keeps its data in a folder of that name
        return cls(uri, collection or DEFAULT_COLLECTION, env.get(TOKEN_ENV, ""))

    @property
    def lite(self) -> bool:
        return not _is_server(self.uri)

    def __str__(self) -> str:
        return f"{self.uri} (collection {self.collection})"


def _is_server(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https", "tcp", "grpc")


def connect(target: Target) -> Any:
    """A ``MilvusClient`` on ``target``, checked with one call; a SearchIndexError that says
    what to do when the server does not answer or refuses the token."""
    pymilvus = require()
    if target.lite:
        Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"uri": target.uri}
    if target.token:
        kwargs["token"] = target.token
    if not target.lite:
        kwargs["timeout"] = 10
    try:
        client = pymilvus.MilvusClient(**kwargs)
        client.list_collections()
    except Exception as exc:  # pymilvus raises MilvusException and gRPC errors of many kinds
        raise _connect_error(target, exc) from None
    return client


def _connect_error(target: Target, exc: Exception) -> SearchIndexError:
    text = _redact(str(exc), target.token)
    low = text.lower()
    if any(w in low for w in ("auth", "password", "token", "credential", "permission", "unauthenticated")):
        sent = "a token was sent" if target.token else "no token was sent"
        return SearchIndexError(
            f"Milvus at {target.uri} refused the credentials ({sent}): {text[:200]}",
            hint=f"Set {TOKEN_ENV} to user:password or the API key of that server.")
    if target.lite:
        return SearchIndexError(f"milvus-lite could not open {target.uri}: {text[:200]}",
                                hint="Check that the folder is writable and that no other program holds the file.")
    return SearchIndexError(
        f"Milvus at {target.uri} does not answer: {text[:200]}",
        hint="Check MEDSEARCH_MILVUS_URI (host and port, e.g. http://localhost:19530) and that the server runs.")


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text
