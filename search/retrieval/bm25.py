"""BM25 retrieval over tokenised documents, with bm25s as the engine.

bm25s precomputes every (term, document) BM25 contribution into a CSC matrix at
build time, so a query costs one sum over the posting lists of its tokens plus a
top-k selection. The default variant is Lucene's (``method="lucene"``:
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, term weight
``tf / (tf + k1 * (1 - b + b * dl / avgdl))``; Kamphuis et al., ECIR 2020). It
ranks exactly like Lucene/Anserini BM25, whose scores carry an extra constant
factor ``k1 + 1``. ``tests/test_lexical.py`` checks the scores against
rank-bm25.

An index folder holds bm25s' own files plus ``doc_ids.json`` and ``params.json``
(tokenizer settings and version, method, k1, b, document count and the corpus
fingerprint the caller passed in). :meth:`LexicalIndex.load` refuses an index
whose fingerprint or tokenizer version differs from the caller's.

Search semantics (the retriever contract of ``search/retrieval/contract.py``, shared with the
dense index and checked for both by ``tests/test_retriever_contract.py``):

- ``mask`` (boolean, one entry per document) is applied *before* top-k: masked-out
  documents are never returned, and a filter leaving 3 documents returns those 3.
- Only documents that match at least one query term (score > 0) are returned: a
  query whose terms match nothing returns an empty list, never records scored 0.
- Equal scores are ordered by position in the index (insertion order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import ConfigError, SearchIndexError
from search.retrieval.ranking import Scored, allowed_rows, top_k_order
from search.retrieval.tokenizer import TOKENIZER_VERSION, Tokenizer, TokenizerConfig

PARAMS_FILE = "params.json"
DOC_IDS_FILE = "doc_ids.json"
METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
REBUILD_HINT = "Run `medsearch index` to rebuild the search index."


@dataclass(frozen=True, slots=True)
class BM25Params:
    """BM25 variant and parameters.

    k1=1.2, b=0.5 had the best mean nDCG@10 on NFCorpus dev + SciFact train in a
    grid over k1 in {0.6, 0.9, 1.2, 1.5} x b in {0.3, ..., 0.9} (0.4913; Anserini's
    k1=0.9, b=0.4 gave 0.4883): ``python bench/bench_bm25.py tune --grid``.
    """

    k1: float = 1.2
    b: float = 0.5
    method: str = "lucene"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"Unknown BM25 method {self.method!r}.", hint=f"Use one of {METHODS}."
            )
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ConfigError(
                f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}.",
                hint="The usual range is k1 in [0.5, 2], b in [0.3, 0.9].",
            )


class LexicalIndex:
    """A BM25 index: ``search(query, k, mask=None) -> [(doc_id, score), ...]``."""

    def __init__(
        self,
        engine: Any,
        doc_ids: list[str],
        *,
        tokenizer: TokenizerConfig,
        params: BM25Params,
        fingerprint: str,
        avgdl: float | None = None,
    ) -> None:
        self._engine = engine
        self.doc_ids = doc_ids
        self.tokenizer_config = tokenizer
        self.params = params
        self.fingerprint = fingerprint
        #: The mean document length in tokens (None: an index saved before it was kept);
        #: the Milvus backend reads it to match our b (``search/retrieval/milvus/collection.py``).
        self.avgdl = avgdl
        self._tokenize = Tokenizer(tokenizer)
        self._vocab: dict[str, int] = engine.vocab_dict
        self._data = engine.scores["data"]  # CSC over (document, token): one column per token
        self._indices = engine.scores["indices"]
        self._indptr = engine.scores["indptr"]

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        docs: Iterable[tuple[str, str]],
        *,
        fingerprint: str,
        tokenizer: TokenizerConfig | None = None,
        params: BM25Params | None = None,
    ) -> LexicalIndex:
        """Index ``(doc_id, text)`` pairs; ``fingerprint`` identifies the corpus for ``load``."""
        config = tokenizer or TokenizerConfig()
        tok = Tokenizer(config)
        pairs = ((doc_id, tok(text)) for doc_id, text in docs)
        return cls.from_tokens(pairs, fingerprint=fingerprint, tokenizer=config, params=params)

    @classmethod
    def from_tokens(
        cls,
        docs: Iterable[tuple[str, Sequence[str]]],
        *,
        fingerprint: str,
        tokenizer: TokenizerConfig | None = None,
        params: BM25Params | None = None,
    ) -> LexicalIndex:
        """Index already tokenised documents (the tokens must come from ``tokenizer``)."""
        import bm25s

        params = params or BM25Params()
        doc_ids, token_ids, vocab = _encode(docs)
        if not doc_ids:
            raise SearchIndexError(
                "Cannot build a BM25 index over zero documents.",
                hint="Ingest some records first (`medsearch ingest ...`), then run `medsearch index`.",
            )
        engine = bm25s.BM25(k1=params.k1, b=params.b, method=params.method, backend="numpy")
        engine.index((token_ids, vocab), create_empty_token=False, show_progress=False)
        return cls(
            engine,
            doc_ids,
            tokenizer=tokenizer or TokenizerConfig(),
            params=params,
            fingerprint=fingerprint,
            avgdl=sum(len(t) for t in token_ids) / len(token_ids),
        )

    def __len__(self) -> int:
        return len(self.doc_ids)

    # -- persistence ------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """Write the index to ``folder``; ``params.json`` is written last, so a partial save won't load."""
        folder = Path(folder)
        (folder / PARAMS_FILE).unlink(missing_ok=True)
        self._engine.save(folder, show_progress=False)
        (folder / DOC_IDS_FILE).write_text(json.dumps(self.doc_ids), encoding="utf-8")
        meta = {
            "tokenizer": self.tokenizer_config.to_dict(),
            **asdict(self.params),
            "doc_count": len(self.doc_ids),
            "fingerprint": self.fingerprint,
            "avgdl": self.avgdl,
        }
        (folder / PARAMS_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(
        cls, folder: str | Path, *, fingerprint: str | None, mmap: bool = False
    ) -> LexicalIndex:
        """Open a saved index; ``fingerprint`` (``None``: skip the check) must match the saved one."""
        import bm25s

        folder = Path(folder)
        meta = _read_params(folder)
        if fingerprint is not None and meta.get("fingerprint") != fingerprint:
            raise SearchIndexError(
                f"The BM25 index in {folder} was built from a different corpus "
                f"(index fingerprint {meta.get('fingerprint')!r}, store fingerprint {fingerprint!r}).",
                hint=REBUILD_HINT,
            )
        tok = meta.get("tokenizer", {})
        if tok.get("version") != TOKENIZER_VERSION:
            raise SearchIndexError(
                f"The BM25 index in {folder} was built by tokenizer version {tok.get('version')}, "
                f"this code uses version {TOKENIZER_VERSION}.",
                hint=REBUILD_HINT,
            )
        engine = bm25s.BM25.load(folder, mmap=mmap, show_progress=False)
        doc_ids = json.loads((folder / DOC_IDS_FILE).read_text(encoding="utf-8"))
        if not len(doc_ids) == meta["doc_count"] == engine.scores["num_docs"]:
            raise SearchIndexError(
                f"The BM25 index in {folder} is inconsistent.", hint=REBUILD_HINT
            )
        params = BM25Params(k1=meta["k1"], b=meta["b"], method=meta["method"])
        return cls(
            engine,
            doc_ids,
            tokenizer=TokenizerConfig.from_dict(tok),
            params=params,
            fingerprint=meta["fingerprint"],
            avgdl=meta.get("avgdl"),
        )

    # -- scoring ----------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        return self._tokenize(text)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every document (float32, index order) for ``query``."""
        return self.scores_from_tokens(self._tokenize(query))

    def scores_from_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """Scores for already tokenised ``tokens``; a repeated token counts once per repeat."""
        ids = [self._vocab[t] for t in tokens if t in self._vocab]
        n = len(self.doc_ids)
        if not ids:
            return np.zeros(n, dtype=np.float32)
        starts, ends = self._indptr[ids], self._indptr[np.asarray(ids) + 1]
        docs = np.concatenate([self._indices[s:e] for s, e in zip(starts, ends, strict=True)])
        vals = np.concatenate([self._data[s:e] for s, e in zip(starts, ends, strict=True)])
        return np.bincount(docs, weights=vals, minlength=n).astype(np.float32)

    def best_possible(self, tokens: Sequence[str]) -> float:
        """The highest score ``tokens`` could give a record: for each token (once per repeat)
        the best contribution it makes to any record. A score over this is a share of the
        query's information that a record holds, by BM25's own weights."""
        total = 0.0
        for t in tokens:
            i = self._vocab.get(t)
            if i is not None and self._indptr[i + 1] > self._indptr[i]:
                total += float(self._data[self._indptr[i] : self._indptr[i + 1]].max())
        return total

    def rows_with(self, token: str) -> np.ndarray:
        """The rows (index order) of the documents that hold ``token``; empty if none does."""
        i = self._vocab.get(token)
        if i is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._indices[self._indptr[i] : self._indptr[i + 1]], dtype=np.int64)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[Scored]:
        """The top ``k`` ``(doc_id, score)`` for ``query``, best first (see the module doc)."""
        return self.search_tokens(self._tokenize(query), k, mask)

    def search_tokens(
        self,
        tokens: Sequence[str],
        k: int,
        mask: np.ndarray | None = None,
    ) -> list[Scored]:
        """``search`` for an already tokenised query."""
        scores = self.scores_from_tokens(tokens)
        return self._top_k(scores, k, allowed_rows(mask, len(self.doc_ids), "BM25 index"))

    def _top_k(self, scores: np.ndarray, k: int, allowed: np.ndarray | None) -> list[Scored]:
        rows = np.arange(len(scores)) if allowed is None else allowed
        values = scores if allowed is None else scores[allowed]
        keep = values > 0  # only documents that matched a query term
        rows, values = rows[keep], values[keep]
        order = top_k_order(values, k)
        return [
            Scored(self.doc_ids[i], float(s)) for i, s in zip(rows[order], values[order], strict=True)
        ]


def _encode(
    docs: Iterable[tuple[str, Sequence[str]]],
) -> tuple[list[str], list[list[int]], dict[str, int]]:
    """Doc ids, token ids per document and the vocabulary, in one pass over ``docs``."""
    doc_ids: list[str] = []
    token_ids: list[list[int]] = []
    vocab: dict[str, int] = {}
    for doc_id, tokens in docs:
        doc_ids.append(str(doc_id))
        token_ids.append([vocab.setdefault(t, len(vocab)) for t in tokens])
    if len(set(doc_ids)) != len(doc_ids):
        raise SearchIndexError(
            "The documents to index repeat a doc_id.", hint="Index each document once."
        )
    return doc_ids, token_ids, vocab


def _read_params(folder: Path) -> dict[str, Any]:
    path = folder / PARAMS_FILE
    if not path.is_file():
        raise SearchIndexError(
            f"No BM25 index in {folder} ({PARAMS_FILE} is missing).", hint=REBUILD_HINT
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SearchIndexError(f"{path} is not valid JSON: {exc.msg}.", hint=REBUILD_HINT) from exc
