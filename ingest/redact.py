"""Secrets out of every text we print, log or store.

An NCBI API key travels in request bodies, and a server's error page may repeat the
request (``...&api_key=KEY``) or name the key (NCBI's JSON ``"api-key":"KEY"``). Every
message built from such text (exception messages and hints, warnings, log records,
the run messages stored in the database) goes through :func:`redact`.

Secrets are registered once per process (:func:`register_secret`, done by the
E-utilities client for its API key), so code far from the client (a log handler,
the CLI's error printer) redacts without being handed the key. The e-mail address
is not a secret: NCBI asks for it in every request.
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


def redact(text: object) -> str:
    """``text`` as a string with every registered secret and any ``api_key`` value masked."""
    out = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return _KEY_VALUE.sub(lambda m: m.group(1) + MASK, out)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's final message (its args merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
