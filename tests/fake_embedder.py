"""A small, fast, deterministic embedder for engine and index tests (the real models are
for the slow tests): a hashed bag of words, L2-normalised, so texts that share words have
a higher inner product. It counts what it embeds."""

from __future__ import annotations

import hashlib
import re

import numpy as np

DIMS = 64
_WORD = re.compile(r"[a-z0-9]+")


def _bucket(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIMS


class FakeEmbedder:
    name = "fake-hash-64"
    backend = "numpy"
    doc_prefix = ""
    query_prefix = ""
    dims = DIMS

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(DIMS, dtype=np.float32)
        for w in _WORD.findall(text.lower()):
            v[_bucket(w)] += 1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def embed_query(self, query: str) -> np.ndarray:
        return self._vec(query)

    def embed_documents(self, texts, *, batch_size=32, progress=False) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, DIMS), np.float32)
