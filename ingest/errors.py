"""The one exception hierarchy of the project.

Every error a user can meet derives from :class:`MedsearchError` and carries a
message that says what went wrong *and what to do next*. The CLI prints the
message (no traceback) and exits with status 2; library users catch the base
class or a specific subclass.

The hierarchy lives in ``ingest`` because it is the lowest layer
(``app.py -> search -> ingest``): ``search`` and library users import the
errors from here (``from ingest.errors import MedsearchError``).
"""

from __future__ import annotations


class MedsearchError(Exception):
    """Base class of every error the project raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # A message may quote a server's answer, which may repeat a key: every registered secret
        # is masked here, once, for every surface (CLI, app, logs, library callers, stored runs).
        from ingest.redact import redact

        message = redact(message)
        hint = redact(hint) if hint is not None else None
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  -> {hint}" if hint else message)


class ConfigError(MedsearchError):
    """A setting (environment variable, CLI flag) has an unusable value."""


class SourceError(MedsearchError):
    """An input file or folder cannot be read or has an unknown format."""


class StoreError(MedsearchError):
    """The DuckDB store cannot be opened, migrated or written."""


class DiskFullError(StoreError):
    """A write failed for want of space; ``path`` is what was being written, ``free`` the bytes left."""

    def __init__(self, message: str, *, path: str | None, free: int | None, hint: str | None = None) -> None:
        self.path = path
        self.free = free
        super().__init__(message, hint=hint)


class EntrezError(MedsearchError):
    """NCBI E-utilities answered with an error, an HTML page, or not at all."""


class EntrezHTTPError(EntrezError):
    """An HTTP failure that survived every retry."""

    def __init__(self, message: str, *, status: int | None, url: str, hint: str | None = None) -> None:
        self.status = status
        self.url = url
        super().__init__(message, hint=hint)


class SearchIndexError(MedsearchError):
    """A search index is missing, unreadable, or was built from another corpus or tokenizer."""


class LibraryError(MedsearchError):
    """A saved query or citation list request cannot be done: unknown or taken name, bad PMID..."""


class UnknownNameError(LibraryError):
    """No saved query or list has that name (the HTTP API answers 404)."""


class NameTakenError(LibraryError):
    """A saved query or list of that name exists already (the HTTP API answers 409)."""


class NoRecordsError(SourceError):
    """A source that gives nothing to load: a PubMed query with no hits, a folder without record files."""


class JobError(MedsearchError):
    """A background job (the app's loading and indexing, ``search/jobs``) cannot start or be read."""
