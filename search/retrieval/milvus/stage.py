"""The retriever contract over a published Milvus collection (``search/retrieval/contract.py``).

BM25 lists come from Milvus' BM25 function over our tokens (``collection.py``), scores
divided by ``k1 + 1`` so they read on the in-process scale (Milvus, like Lucene, multiplies
each term's weight by ``k1 + 1``; ours does not: same order, and learned fusion reads the
raw scores). Dense lists come from the ``vector`` field (inner product on unit vectors).

A restriction becomes a filter expression (``expr.py``). Where a clause does not translate,
the in-process row mask completes it: when at most :data:`ID_LIST_MAX` records pass, they go
as a bounded id list (``row in [...]``); else the translatable part filters in Milvus and the
top-k is over-fetched (up to :data:`MAX_TOPK`) and post-filtered by the mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ingest.errors import SearchIndexError
from search.retrieval.contract import EVERYTHING, IndexedRecord, Manifest, Restriction, TextQuery
from search.retrieval.milvus.collection import (
    HINT,
    SCHEMA_VERSION,
    current_collection,
    milvus_text,
    padded,
    read_manifest,
)
from search.retrieval.milvus.connect import Target, connect
from search.retrieval.milvus.expr import str_list, translate
from search.retrieval.ranking import Scored
from search.retrieval.tokenizer import Tokenizer, TokenizerConfig

#: A restriction Milvus cannot express goes as an id list when at most this many records pass.
ID_LIST_MAX = 20_000
#: On milvus-lite, a restriction that passes at least this share of the records is applied by
#: over-fetching the top-k and filtering it here (docs/scale.md, measured).
BROAD_SHARE = 0.05
#: Milvus' largest top-k.
MAX_TOPK = 16_384


class MilvusFirstStage:
    """BM25 and dense search in a Milvus collection (milvus-lite or a server)."""

    backend = "milvus"

    def __init__(self, client: Any, target: Target, manifest: dict[str, Any], *,
                 rows_of: dict[str, int] | None = None, embed: Callable[[str], np.ndarray] | None = None,
                 id_list_max: int = ID_LIST_MAX, expressions: bool = False) -> None:
        """``expressions``: send every restriction that translates as a filter expression, also
        on milvus-lite (which indexes no scalar field: see :data:`BROAD_SHARE`)."""
        self.client = client
        self.target = target
        self.name = target.collection  # the alias: a search resolves it once
        self._manifest = manifest
        self._rows_of = rows_of
        self._embed = embed
        self.id_list_max = id_list_max
        self.expressions = expressions
        bm25 = manifest.get("bm25") or {}
        self._scale = 1.0 + float(bm25.get("k1", 1.2))
        self._tokenizer = Tokenizer(TokenizerConfig.from_dict(manifest.get("tokenizer") or {}))
        self.last_plan = ""  # how the last restriction went: "expr", "ids" or "post" (for bench/docs)

    @classmethod
    def open(cls, target: Target, snap=None, **kwargs: Any) -> MilvusFirstStage:
        """The stage over ``target``'s published collection, checked against ``snap`` (its corpus
        and model) when given."""
        client = connect(target)
        current = current_collection(client, target.collection)
        if current is None:
            raise SearchIndexError(f"No medsearch collection is published at {target}.", hint=HINT)
        manifest = read_manifest(client, current)
        if manifest is None or manifest.get("medsearch") != SCHEMA_VERSION:
            raise SearchIndexError(
                f"The Milvus collection {current} at {target.uri} was built by another schema "
                f"(found {None if manifest is None else manifest.get('medsearch')!r}, need {SCHEMA_VERSION}).",
                hint=HINT)
        client.load_collection(current)  # a no-op when loaded; milvus-lite loads per process
        if snap is not None:
            _check_against(snap, manifest, current, target)
            dense = snap.dense
            kwargs.setdefault("rows_of", snap.rows_of())
            if dense is not None:
                kwargs.setdefault("embed", dense.query_vector)
        return cls(client, target, manifest, **kwargs)

    # -- the contract ------------------------------------------------------------------
    def manifest(self) -> Manifest:
        m = self._manifest
        return Manifest(self.backend, int(m.get("records", 0)), m.get("model"), m.get("dims"),
                        str(m.get("tokenizer")), str(m.get("built_at", "")), str(m.get("fingerprint", "")),
                        str(self.target))

    def search_text(self, query: TextQuery, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]:
        text = milvus_text(query.tokens)
        if not text.strip() or k < 1:
            return []
        hits = self._search(text, "sparse", "BM25", k, restriction)
        return [Scored(d, s / self._scale) for d, s in hits if s > 0]

    def search_vector(self, vector: np.ndarray, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]:
        if k < 1:
            return []
        vec = self._check_dims(vector)
        return [Scored(d, s) for d, s in self._search(vec.tolist(), "vector", "IP", k, restriction)]

    def query_vector(self, text: str) -> np.ndarray:
        if self._embed is None:
            raise SearchIndexError("This Milvus stage has no query encoder.",
                                   hint="Open it with the index snapshot whose model built it.")
        return self._check_dims(self._embed(text))

    def text_scores(self, query: TextQuery, doc_ids: Sequence[str]) -> np.ndarray:
        got = dict(self.search_text(query, len(doc_ids), Restriction(only=tuple(doc_ids)))) if doc_ids else {}
        return np.array([got.get(d, 0.0) for d in doc_ids], dtype=np.float32)

    def vector_scores(self, vector: np.ndarray, doc_ids: Sequence[str]) -> np.ndarray:
        if not doc_ids:
            return np.zeros(0, dtype=np.float32)
        got = dict(self.search_vector(vector, len(doc_ids), Restriction(only=tuple(doc_ids))))
        return np.array([got.get(d, 0.0) for d in doc_ids], dtype=np.float32)

    def upsert(self, records: Sequence[IndexedRecord]) -> None:
        rows = [self._row(r) for r in records]
        if rows:
            self.client.upsert(self.name, rows)
            self.client.flush(self.name)

    def delete(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        got = self.client.delete(self.name, ids=list(doc_ids))
        self.client.flush(self.name)
        return int(got.get("delete_count", 0)) if isinstance(got, dict) else len(doc_ids)

    # -- helpers -------------------------------------------------------------------------
    def _search(self, data: Any, field: str, metric: str, k: int, restriction: Restriction) -> list[tuple[str, float]]:
        expr, post = self._filter(restriction)
        limit = k
        if post is not None:  # over-fetch by the share of records that pass, then grow if short
            share = max(float(post.mean()), 1e-6) if len(post) else 1.0
            limit = min(MAX_TOPK, max(256, int(1.5 * k / share) + 16))
        rows_of = self._rows_of
        while True:
            res = self.client.search(self.name, data=[data], anns_field=field, limit=limit, filter=expr,
                                     output_fields=["doc_id"], search_params={"metric_type": metric})[0]
            hits = [(h["entity"]["doc_id"], abs(float(h["distance"])) if metric == "BM25" else float(h["distance"]))
                    for h in res]
            if post is not None and rows_of is not None:
                hits = [(d, s) for d, s in hits if d in rows_of and post[rows_of[d]]]
            if post is None or len(hits) >= k or len(res) < limit or limit >= MAX_TOPK:
                break
            limit = min(MAX_TOPK, 4 * limit)
        # ties in index order, as in process (Milvus breaks them arbitrarily)
        if rows_of is not None:
            hits.sort(key=lambda h: (-h[1], rows_of.get(h[0], 1 << 62)))
        return hits[:k]

    def _filter(self, restriction: Restriction) -> tuple[str, np.ndarray | None]:
        if restriction.only:
            self.last_plan = "ids"
            return f"doc_id in {str_list(list(restriction.only))}", None
        got = translate(restriction)
        scalar_only = "ARRAY_CONTAINS" not in got.expr  # milvus-lite scans arrays row by row
        if restriction.rows is None or (got.exact and (self.expressions or scalar_only or not self.target.lite)):
            self.last_plan = "expr"
            return got.expr, None
        rows = np.flatnonzero(restriction.rows)
        if self.target.lite and len(rows) >= BROAD_SHARE * len(restriction.rows):
            # milvus-lite indexes no array field: a broad array filter scans every row's arrays
            # (seconds at 10k records), while a top-k over-fetched by 1/share is cheap
            self.last_plan = "post"
            return "", restriction.rows
        if len(rows) <= self.id_list_max:
            self.last_plan = "ids"
            listed = "row in [" + ",".join(map(str, rows.tolist())) + "]"
            excluded = f" and doc_id not in {str_list(restriction.exclude)}" if restriction.exclude else ""
            return listed + excluded, None
        self.last_plan = "post"
        return got.expr, restriction.rows

    def _check_dims(self, vector: np.ndarray) -> np.ndarray:
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        dims = self._manifest.get("dims")
        if dims is None or vec.shape != (int(dims),):
            raise SearchIndexError(f"The query vector has {vec.shape[0]} dimensions, the collection {dims}.",
                                   hint="Embed the query with the model that built the collection.")
        return vec

    def _row(self, r: IndexedRecord) -> dict[str, Any]:
        text = padded(milvus_text(self._tokenizer(r.lexical_text)), int(self._manifest.get("pad", 0)))
        row: dict[str, Any] = {
            "doc_id": r.doc_id, "row": -1 if self._rows_of is None else self._rows_of.get(r.doc_id, -1),
            "text": text,
            "year": r.year, "year_last": r.year, "date_first": 0, "date_last": 0,
            "pt": [v.lower() for v in r.publication_types], "la": [v.lower() for v in r.languages],
            "journal": [r.journal.lower()] if r.journal else [], "mesh": [v.lower() for v in r.mesh],
            "terms": [f"mh:{v.lower()}" for v in r.mesh] + [f"pt:{v.lower()}" for v in r.publication_types],
            "filters": list(r.named_filters), "has_abstract": r.has_abstract, "retracted": r.retracted,
            "notice": r.notice,
        }
        if self._manifest.get("dims"):
            if r.vector is None:
                raise SearchIndexError(f"Record {r.doc_id} has no vector; this collection holds vectors.",
                                       hint="Embed the record, or import vectors with `medsearch index --vectors`.")
            row["vector"] = self._check_dims(r.vector).tolist()
        return row


def _check_against(snap, manifest: dict[str, Any], name: str, target: Target) -> None:
    model = snap.dense.params.model if snap.dense is not None else None
    if manifest.get("model") != model:
        raise SearchIndexError(
            f"The Milvus collection {name} at {target.uri} was built with the embedding model "
            f"{manifest.get('model')!r}; the index snapshot uses {model!r}.", hint=HINT)
    if manifest.get("fingerprint") != snap.fingerprint:
        raise SearchIndexError(
            f"The Milvus collection {name} at {target.uri} holds another corpus than the index snapshot "
            f"{snap.name} (fingerprints {manifest.get('fingerprint')} and {snap.fingerprint}).", hint=HINT)
