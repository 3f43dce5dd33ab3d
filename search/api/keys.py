"""API keys of ``medsearch serve``: made here, stored only as hashes, checked in constant time.

``MEDSEARCH_API_KEYS`` holds ``NAME:sha256:HEX`` entries separated by commas (or spaces or
newlines): a name for each client (it keys the rate limit and appears in the log instead of
the key) and the SHA-256 of its key. A key is 32 random bytes (:func:`new_key`), so a plain
SHA-256 is enough: no password-stretching is needed against a guess of 256 random bits. The
key itself is shown once, when it is made, and never stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ingest.errors import ConfigError

PREFIX = "msk_"
_ENTRY = re.compile(r"(?P<name>[A-Za-z0-9_.@-]{1,64}):sha256:(?P<hex>[0-9a-fA-F]{64})")
_SPLIT = re.compile(r"[,\s]+")
_HINT = "Give NAME:sha256:HEX entries separated by commas; `medsearch serve --new-key NAME` makes one."


def hash_key(key: str) -> str:
    """The form a key is stored in: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (``msk_`` and 43 URL-safe characters)."""
    return PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    digest: bytes  # the SHA-256 of the key


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The configured keys; empty: no key is accepted (writes are refused)."""

    keys: tuple[ApiKey, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> KeyRing:
        problem = keys_problem(value)
        if problem is not None:
            raise ConfigError(problem[0], hint=problem[1])
        out = []
        for part in _entries(value):
            m = _ENTRY.fullmatch(part)
            assert m is not None  # checked above
            out.append(ApiKey(m["name"], bytes.fromhex(m["hex"])))
        return cls(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.keys)

    def name_of(self, key: str) -> str | None:
        """The name of ``key``, or None when it is not one of them (every entry is compared)."""
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found = None
        for k in self.keys:
            if hmac.compare_digest(k.digest, digest):
                found = k.name
        return found


def _entries(value: str | None) -> list[str]:
    return [p for p in _SPLIT.split(value or "") if p]


def keys_problem(value: str | None) -> tuple[str, str] | None:
    """Why ``value`` is not a usable MEDSEARCH_API_KEYS (None: it is, or it is unset). The
    message never repeats the value: a raw key pasted there by mistake stays out of logs."""
    entries = _entries(value)
    bad = [i for i, p in enumerate(entries, start=1) if not _ENTRY.fullmatch(p)]
    if bad:
        looks_raw = any(entries[i - 1].startswith(PREFIX) for i in bad)
        what = " (it looks like a key itself: store its hash, never the key)" if looks_raw else ""
        return f"MEDSEARCH_API_KEYS entry {bad[0]} is not NAME:sha256:HEX{what}.", _HINT
    names = [_ENTRY.fullmatch(p)["name"] for p in entries]  # type: ignore[index]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return f"MEDSEARCH_API_KEYS names {twice[0]!r} twice.", "Give every key its own name."
    return None
