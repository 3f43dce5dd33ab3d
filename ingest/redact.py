"""Secrets out of every text we print, log or store.

An NCBI API key travels in request bodies, and a server's error page may repeat the
request (``...&api_key=KEY``) or name the key (NCBI's JSON ``"api-key":"KEY"``). Every
message built from such text (exception messages and hints, warnings, log records,
the run messages stored in the database) goes through :func:`redact`.

Secrets are registered once per process (:func:`register_secret`: the settings register
the NCBI API key, the chat endpoint's API key and any password in a configured URL when
they load; the E-utilities client and the endpoint model register the key they are given),
so code far from the client redacts without being handed the key: every project error
redacts its message and hint when it is made (``ingest.errors``), and once a secret is
registered every log record of the process is redacted when it is made, its traceback
included. The e-mail address is not a secret: NCBI asks for it in every request.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "[redacted]"

_lock = threading.Lock()
_secrets: set[str] = set()

#: ``api_key=VALUE`` in a URL or form, ``"api_key": "VALUE"`` / ``"api-key":"VALUE"`` in JSON.
_KEY_VALUE = re.compile(
    r"""(?i)(\bapi[_-]?key["']?\s*[=:]\s*["']?)(?!\[redacted\])([^&\s"'<>,;)}\]]+)"""
)


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its URL-encoded forms) as a secret to remove from text."""
    if not value or len(value) < 4:  # a 1-3 character "secret" would mangle ordinary text
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})
    _redact_every_log_record()


def register_url_password(url: str | None) -> None:
    """Register the password of ``https://user:PASSWORD@host/...`` (nothing when there is none)."""
    if not url:
        return
    try:
        from urllib.parse import unquote, urlsplit

        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        register_secret(password)
        register_secret(unquote(password))


def redact(text: object) -> str:
    """``text`` as a string with every registered secret and any ``api_key`` value masked."""
    out = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return _KEY_VALUE.sub(lambda m: m.group(1) + MASK, out)


def redact_record(record: logging.LogRecord) -> None:
    """Redact a log record in place: its final message (args merged in) and its traceback."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is logging's to report, at emit
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's final message (its args merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_factory_installed = False


def _redact_every_log_record() -> None:
    """From the first registered secret on, every log record of the process is redacted when it
    is made (a filter on one logger misses its children's records and other libraries' loggers)."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
