"""The in-process first stage: BM25 (bm25s) and exact dense search in this process.

It answers the retriever contract (``search/retrieval/contract.py``) over a snapshot's
:class:`LexicalIndex` and :class:`DenseIndex`; a :class:`Restriction` is its row mask, so the
lists are exactly those the engine computed before the contract existed (the same calls,
the same masks).

A snapshot never changes (``medsearch index`` publishes a new one), so :meth:`upsert` and
:meth:`delete` rebuild the indexes in memory from the records this object was built from
(:meth:`InProcessFirstStage.build`); over a loaded snapshot they refuse, naming the command
that updates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from ingest.errors import SearchIndexError
from search.retrieval.bm25 import LexicalIndex
from search.retrieval.contract import EVERYTHING, IndexedRecord, Manifest, Restriction, TextQuery
from search.retrieval.dense import DenseIndex, DenseParams
from search.retrieval.ranking import Scored
from search.retrieval.tokenizer import TokenizerConfig


class InProcessFirstStage:
    """BM25 + dense over in-memory (or memory-mapped) indexes."""

    backend = "in-process"

    def __init__(self, lexical: LexicalIndex, dense: DenseIndex | None, *, location: str = "",
                 built_at: str = "", records: list[IndexedRecord] | None = None) -> None:
        self.lexical = lexical
        self.dense = dense
        self._location = location
        self._built_at = built_at
        self._records = records  # what upsert/delete rebuild from (None: a published snapshot)
        self._rows: dict[str, int] | None = None

    @classmethod
    def of_snapshot(cls, snap) -> InProcessFirstStage:
        """The first stage of a loaded snapshot (``search/index/snapshot.py``)."""
        return cls(snap.lexical, snap.dense, location=str(snap.folder),
                   built_at=str(snap.manifest.get("built_at", "")))

    @classmethod
    def build(cls, records: Sequence[IndexedRecord], *, embedder=None, fingerprint: str = "",
              tokenizer: TokenizerConfig | None = None) -> InProcessFirstStage:
        """Indexes over ``records`` held in memory (vectors taken from the records; an
        ``embedder`` is needed to embed query texts)."""
        records = list(records)
        lexical = LexicalIndex.build(((r.doc_id, r.lexical_text) for r in records), fingerprint=fingerprint,
                                     tokenizer=tokenizer)
        dense = None
        if records and records[0].vector is not None:
            vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
            params = (DenseParams.of(embedder) if embedder is not None
                      else DenseParams("precomputed", "none", int(vectors.shape[1])))
            dense = DenseIndex(vectors, [r.doc_id for r in records], [r.text_hash for r in records],
                               params=params, fingerprint=fingerprint, embedder=embedder)
        return cls(lexical, dense, location="memory", built_at=_now(), records=records)

    # -- the contract ------------------------------------------------------------------
    def manifest(self) -> Manifest:
        d = self.dense
        return Manifest(self.backend, len(self.lexical.doc_ids), d.params.model if d else None,
                        d.params.dims if d else None, str(self.lexical.tokenizer_config.to_dict()),
                        self._built_at, self.lexical.fingerprint, self._location)

    def search_text(self, query: TextQuery, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]:
        return self.lexical.search_tokens(list(query.tokens), k, self._mask(restriction))

    def search_vector(self, vector: np.ndarray, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]:
        return self._dense().search(vector, k, self._mask(restriction))

    def query_vector(self, text: str) -> np.ndarray:
        return self._dense().query_vector(text)

    def text_scores(self, query: TextQuery, doc_ids: Sequence[str]) -> np.ndarray:
        return np.asarray(self.lexical.scores_from_tokens(list(query.tokens)), dtype=np.float32)[self._rows_of(doc_ids)]

    def vector_scores(self, vector: np.ndarray, doc_ids: Sequence[str]) -> np.ndarray:
        return np.asarray(self._dense().scores(vector, self._rows_of(doc_ids)), dtype=np.float32)

    def upsert(self, records: Sequence[IndexedRecord]) -> None:
        held = self._held()
        by_id = {r.doc_id: r for r in held}
        for r in records:
            by_id[r.doc_id] = r
        self._rebuild(list(by_id.values()))

    def delete(self, doc_ids: Sequence[str]) -> int:
        held = self._held()
        gone = set(doc_ids)
        kept = [r for r in held if r.doc_id not in gone]
        self._rebuild(kept)
        return len(held) - len(kept)

    # -- helpers -------------------------------------------------------------------------
    def _mask(self, restriction: Restriction) -> np.ndarray | None:
        mask = restriction.rows
        if restriction.only:
            only = np.zeros(len(self.lexical.doc_ids), dtype=bool)
            only[self._rows_of([d for d in restriction.only if d in self._row_map()])] = True
            mask = only if mask is None else mask & only
        if restriction.exclude:
            mask = np.ones(len(self.lexical.doc_ids), dtype=bool) if mask is None else mask.copy()
            rows = self._rows_of([d for d in restriction.exclude if d in self._row_map()])
            mask[rows] = False
        return mask

    def _row_map(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.lexical.doc_ids)}
        return self._rows

    def _rows_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        rows = self._row_map()
        return np.array([rows[d] for d in doc_ids], dtype=np.int64)

    def _dense(self) -> DenseIndex:
        if self.dense is None:
            raise SearchIndexError("This index has no dense vectors (MEDSEARCH_EMBEDDING_MODEL=none).",
                                   hint="Search with --mode bm25, or set an embedding model and run `medsearch index`.")
        return self.dense

    def _held(self) -> list[IndexedRecord]:
        if self._records is None:
            raise SearchIndexError(
                f"The index snapshot {self._location} is read-only: records are added, replaced and "
                "removed by building a new snapshot.", hint="Run `medsearch index` after `medsearch ingest`.")
        return self._records

    def _rebuild(self, records: list[IndexedRecord]) -> None:
        embedder = self.dense.embedder if self.dense is not None and self.dense._embedder is not None else None
        fresh = InProcessFirstStage.build(records, embedder=embedder, fingerprint=self.lexical.fingerprint,
                                          tokenizer=self.lexical.tokenizer_config)
        self.lexical, self.dense, self._records = fresh.lexical, fresh.dense, fresh._records
        self._built_at, self._rows = fresh._built_at, None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
