"""The retriever contract: the one seam between the engine and a first-stage backend.

The engine asks a :class:`FirstStage` for its candidate lists and never knows which backend
answers: the in-process snapshot (``search/retrieval/inprocess.py``, BM25 + exact dense
vectors in this process) or Milvus (``search/retrieval/milvus/``, milvus-lite embedded or a
Milvus server by URI). Fusion, learned fusion, the reranker, the result set, facets,
highlights and hydration stay in the engine, over the snapshot, unchanged.

What a first stage does:

- :meth:`FirstStage.search_text`: the top ``k`` records for a query's text (BM25), best
  first, under a :class:`Restriction`; only records holding a query token are returned.
- :meth:`FirstStage.search_vector`: the top ``k`` records by cosine to a query vector, best
  first, under a :class:`Restriction`; every allowed record matches.
- :meth:`FirstStage.text_scores` / :meth:`FirstStage.vector_scores`: the scores of given
  records (the fusion features of ``search/retrieval/learned_fusion.py``), 0 where a record
  holds no query token.
- :meth:`FirstStage.upsert` / :meth:`FirstStage.delete`: add or replace / remove records.
- :meth:`FirstStage.manifest`: what the backend holds (records, model, tokeniser, build time).

A :class:`Restriction` is a predicate, never a list of millions of ids: the query's PubMed
clauses and the evidence filters (a query tree), the column filters, and whether notices
pass. Each backend translates it: in-process it is a row mask over the snapshot (the
engine's own evaluation, ``search/query/mask.py``); Milvus turns what it can into a boolean
filter expression over scalar and array fields and sends the rest as a bounded id list
(``docs/scale.md``). ``rows`` carries the in-process evaluation, which every backend may use
to check or complete its own.

The per-index :class:`Retriever` (``search(query, k, mask)``) is what :class:`LexicalIndex`
and :class:`DenseIndex` fulfil inside the in-process backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from search.retrieval.ranking import Scored

if TYPE_CHECKING:
    from search.query.syntax import Node
    from search.types import Filters


@runtime_checkable
class Retriever(Protocol):
    """One in-process index (BM25 or dense): rows of ``mask`` are ``doc_ids``' positions.

    ``search(query, k, mask=None)``: at most ``k`` :class:`Scored`, best first, ties in index
    order; ``mask`` is applied *before* the top-k; a mask of another length is an error. BM25
    returns only documents holding a query term; a dense index scores every document."""

    doc_ids: list[str]

    def search(self, query: Any, k: int, mask: np.ndarray | None = None) -> list[Scored]: ...


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A query's free text and its tokens by the BM25 index's tokeniser (a backend with its
    own analyser reads ``text``; the in-process one reads ``tokens``)."""

    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Restriction:
    """Which records a first-stage search may return (see the module doc).

    ``clauses``: the query's restriction AND the evidence filters (a query tree, None: none);
    ``filters``: the column filters (years, types, journals, languages, MeSH, abstract);
    ``notices``: whether retraction notices, errata and expressions of concern pass;
    ``exclude``: doc ids left out (similar articles: the paper itself);
    ``only``: these doc ids alone (a few: the candidates whose scores fusion reads);
    ``rows``: the same predicate evaluated in process, a boolean mask over the snapshot's
    rows (None: every record passes)."""

    clauses: Node | None = None
    filters: Filters | None = None
    notices: bool = True
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def everything(self) -> bool:
        return self.rows is None

    def allowed(self) -> int | None:
        """How many records pass (None: all)."""
        return None if self.rows is None else int(self.rows.sum())


#: No restriction: every record passes.
EVERYTHING = Restriction()


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backend holds."""

    backend: str  # "in-process" | "milvus"
    records: int
    model: str | None  # the embedding model (None: BM25 only)
    dims: int | None
    tokenizer: str  # our tokeniser's settings, or the backend's analyser
    built_at: str  # ISO time of the build
    fingerprint: str  # the corpus the build came from
    location: str  # the index folder, or the Milvus URI (never a token) and collection


@dataclass(frozen=True, slots=True)
class IndexedRecord:
    """One record as a first stage stores it: its texts, its vector and its filter fields."""

    doc_id: str
    lexical_text: str  # title, abstract, MeSH, keywords (the BM25 text)
    text_hash: str  # hash of the dense text (title + abstract)
    vector: np.ndarray | None
    year: int = 0
    publication_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    journal: str = ""
    mesh: tuple[str, ...] = ()
    has_abstract: bool = False
    retracted: bool = False
    notice: bool = False
    free_full_text: bool = False
    named_filters: tuple[str, ...] = ()  # precomputed filters it passes (Clinical Queries, systematic)


@runtime_checkable
class FirstStage(Protocol):
    """A first-stage backend (see the module doc); ``tests/test_first_stage_contract.py``
    runs one suite against every implementation."""

    def manifest(self) -> Manifest: ...

    def search_text(self, query: TextQuery, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]: ...

    def search_vector(self, vector: np.ndarray, k: int, restriction: Restriction = EVERYTHING) -> list[Scored]: ...

    def query_vector(self, text: str) -> np.ndarray: ...

    def text_scores(self, query: TextQuery, doc_ids: Sequence[str]) -> np.ndarray: ...

    def vector_scores(self, vector: np.ndarray, doc_ids: Sequence[str]) -> np.ndarray: ...

    def upsert(self, records: Sequence[IndexedRecord]) -> None: ...

    def delete(self, doc_ids: Sequence[str]) -> int: ...
