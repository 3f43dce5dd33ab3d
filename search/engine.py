"""The search engine: the only module that knows the order of the stages.

    filters -> mask ─┬─> BM25 top-N ──┐
                     └─> dense top-N ─┴─> fusion -> cross-encoder rerank of the top M -> hits

Filters become one boolean mask over the index's documents, applied inside
each retriever *before* its top-k, so a filter that leaves 3 records returns
those 3. Every hit carries its score and rank in each stage (``Hit.bm25``,
``.dense``, ``.fused``, ``.rerank``) so a UI can explain why a paper ranks where
it does. The CLI, the app and Python users all call :meth:`Engine.search`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingest.errors import ConfigError
from ingest.store import Store
from search import fusion as fusion_lib
from search.index import IndexManager, IndexSettings, LoadedIndex
from search.ltr import LearnedFusion, candidate_features
from search.rerank import Reranker, combine, passage
from search.text import Tokenizer
from search.types import Filters, Hit, SearchResults, StageScore

MODES = ("bm25", "dense", "hybrid", "rerank")

#: Short names a clinician types, and the PubMed publication types they stand for.
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "rct": ("Randomized Controlled Trial",),
    "randomized controlled trial": ("Randomized Controlled Trial",),
    "guideline": ("Guideline", "Practice Guideline"),
    "meta-analysis": ("Meta-Analysis",),
    "meta analysis": ("Meta-Analysis",),
    "systematic review": ("Systematic Review",),
    "review": ("Review", "Systematic Review", "Scoping Review"),
    "clinical trial": ("Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II",
                       "Clinical Trial, Phase III", "Clinical Trial, Phase IV", "Randomized Controlled Trial",
                       "Controlled Clinical Trial", "Pragmatic Clinical Trial"),
}


def expand_types(types: Sequence[str]) -> tuple[str, ...]:
    """Publication types with the short names of :data:`TYPE_ALIASES` expanded."""
    out: list[str] = []
    for t in types:
        out.extend(TYPE_ALIASES.get(t.strip().lower(), (t,)))
    return tuple(dict.fromkeys(out))


NO_FILTERS = Filters()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the stages run; the defaults are the ones chosen on the BEIR train/dev splits
    (see ``docs/quality.md``)."""

    mode: str = "hybrid"
    # Learned fusion (LambdaMART over cheap features, search.ltr) beat the best fixed fusion on
    # both dev sets; among fixed ones, equal-weight min-max had the best mean nDCG@10 on
    # NFCorpus dev + SciFact train (0.5291 vs 0.5202 for RRF k=60). See docs/quality.md.
    fusion: str = "learned"  # "learned" | "weighted" | "rrf"
    rrf_k: float = fusion_lib.RRF_K
    bm25_weight: float = 0.5  # weighted fusion: BM25's share, dense gets the rest
    normalization: str = "minmax"
    depth: int = 100  # candidates each retriever hands to fusion
    rerank_depth: int = 30  # fused candidates the cross-encoder reads
    rerank_alpha: float = 1.0  # weight of the reranker against the fused score (min-max both)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"Unknown search mode {self.mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if self.fusion not in ("rrf", "weighted", "learned"):
            raise ConfigError(f"Unknown fusion {self.fusion!r}.", hint="Use learned, weighted or rrf.")
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise ConfigError(f"bm25_weight must lie in [0, 1], got {self.bm25_weight}.", hint="0.5 weighs both equally.")
        if self.depth < 1 or self.rerank_depth < 0:
            raise ConfigError("depth must be >= 1 and rerank_depth >= 0.", hint="Defaults: 100 and 30.")


Ranking = list[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A ranking before hydration: the doc ids in order with every stage's scores."""

    hits: tuple[Hit, ...]
    candidates: int
    timings_ms: dict[str, float]


class Engine:
    """Search one store through its index; create with :meth:`open` or from parts (tests, eval)."""

    def __init__(
        self, store: Store, index: LoadedIndex, config: EngineConfig | None = None,
        reranker: Reranker | None = None, learned: LearnedFusion | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.config = config or EngineConfig()
        self.reranker = reranker
        if self.config.fusion == "learned" and learned is None:
            learned = LearnedFusion()
        self.learned = learned
        self._rows_of: dict[str, int] | None = None
        self._tokenize = Tokenizer(index.lexical.tokenizer_config)  # built once, not per query

    @classmethod
    def open(
        cls, store: Store, *, index_dir: str | Path | None = None, index_settings: IndexSettings | None = None,
        config: EngineConfig | None = None, reranker: Reranker | None = None,
    ) -> Engine:
        index = IndexManager(store, index_dir, index_settings).load()
        return cls(store, index, config, reranker)

    def rows_of(self) -> dict[str, int]:
        if self._rows_of is None:
            self._rows_of = {d: i for i, d in enumerate(self.index.doc_ids)}
        return self._rows_of

    # -- the stages ---------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray | None:
        """The documents that pass ``filters`` (None: no filter, every document)."""
        if not filters.active:
            return None
        ids = self.store.filter_doc_ids(
            year_from=filters.year_from, year_to=filters.year_to,
            publication_types=expand_types(filters.publication_types), journals=filters.journals,
            languages=filters.languages, mesh_terms=filters.mesh_terms,
            has_abstract=filters.has_abstract,
        )
        return self.index.mask_for(ids)

    def rank(self, query: str, *, k: int = 10, filters: Filters = NO_FILTERS, mode: str | None = None) -> Ranked:
        """Ranked doc ids with per-stage scores; no titles (see :meth:`search`)."""
        mode = mode or self.config.mode
        if mode not in MODES:
            raise ConfigError(f"Unknown search mode {mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if mode == "dense" or mode in ("hybrid", "rerank"):
            if self.index.dense is None:
                raise ConfigError(
                    f"Mode {mode!r} needs the dense index, which this index was built without.",
                    hint="Build it with `medsearch index` and an embedding model, or use --mode bm25.",
                )
        if mode == "rerank" and self.reranker is None:
            raise ConfigError(
                "Mode 'rerank' needs a cross-encoder, and none is configured.",
                hint="Set MEDSEARCH_RERANKER to a cross-encoder folder or name, or search without rerank.",
            )
        timings: dict[str, float] = {}
        t = time.perf_counter()
        mask = self.mask(filters)
        candidates = int(mask.sum()) if mask is not None else len(self.index.doc_ids)
        timings["filter"] = _ms(t)
        depth = max(k, self.config.depth)
        bm25: Ranking = []
        dense: Ranking = []
        if mode != "dense":
            t = time.perf_counter()
            bm25 = self.index.lexical.search(query, depth, mask, positive_only=mode != "bm25")
            timings["bm25"] = _ms(t)
        qvec = None
        if mode != "bm25":
            t = time.perf_counter()
            qvec = self.index.dense.query_vector(query)  # type: ignore[union-attr]
            timings["embed"] = _ms(t)
            t = time.perf_counter()
            dense = self.index.dense.search(qvec, depth, mask)  # type: ignore[union-attr]
            timings["dense"] = _ms(t)
        t = time.perf_counter()
        if self.config.fusion == "learned" and mode in ("hybrid", "rerank"):
            fused = self._learned(query, qvec, bm25, dense)
        else:
            fused = self._fuse(bm25, dense, mode)
        fused_at = {d: (float(s), r) for d, s, r in fused if r is not None}
        timings["fusion"] = _ms(t)
        reranked: dict[str, tuple[float, int]] = {}
        if mode == "rerank" and self.config.rerank_depth > 0 and fused:
            t = time.perf_counter()
            fused, reranked = self._rerank(query, fused)
            timings["rerank"] = _ms(t)
        hits = _hits(fused[:k], bm25, dense, fused_at, reranked)
        return Ranked(hits, candidates, timings)

    def _fuse(self, bm25: Ranking, dense: Ranking, mode: str) -> list[tuple[str, float, int | None]]:
        """(doc_id, fused score, fused rank) best first; single modes pass their list through."""
        if mode == "bm25":
            return [(d, s, None) for d, s in bm25]
        if mode == "dense":
            return [(d, s, None) for d, s in dense]
        c = self.config
        if c.fusion == "rrf":
            fused = fusion_lib.rrf([bm25, dense], k=c.rrf_k)
        else:
            fused = fusion_lib.weighted_fusion(
                [bm25, dense], weights=[c.bm25_weight, 1.0 - c.bm25_weight], normalization=c.normalization,
            )
        return [(h.doc_id, h.score, i) for i, h in enumerate(fused, start=1)]

    def _learned(self, query: str, qvec, bm25: Ranking, dense: Ranking) -> list[tuple[str, float, int | None]]:
        """Learned fusion (search.ltr): the model scores every candidate of either list."""
        ids, matrix = candidate_features(
            self.index, self.store, self._tokenize, query, qvec, bm25, dense, self.rows_of()
        )
        if not ids:
            return []
        scores = self.learned.score(matrix)  # type: ignore[union-attr]
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        return [(ids[i], float(scores[i]), r) for r, i in enumerate(order, start=1)]

    def _rerank(
        self, query: str, fused: list[tuple[str, float, int | None]]
    ) -> tuple[list[tuple[str, float, int | None]], dict[str, tuple[float, int]]]:
        """Reorder the top ``rerank_depth`` by the cross-encoder (combined with the fused score)."""
        head, tail = fused[: self.config.rerank_depth], fused[self.config.rerank_depth :]
        texts = self.store.texts([d for d, _, _ in head])
        pairs = [(d, passage(*texts.get(d, ("", "")))) for d, _, _ in head]
        ce = self.reranker.rerank(query, pairs)  # type: ignore[union-attr]
        final = combine([s for _, s, _ in head], ce, self.config.rerank_alpha)
        order = sorted(range(len(head)), key=lambda i: (-final[i], i))
        by_ce = sorted(range(len(head)), key=lambda i: -ce[i])
        reranked = {head[i][0]: (float(ce[i]), r) for r, i in enumerate(by_ce, start=1)}
        # tail documents keep their order below the reranked head; their score is shifted under it
        floor = min(final) if final else 0.0
        new_head = [(head[i][0], final[i], head[i][2]) for i in order]
        new_tail = [(d, floor - 1.0 - n, r) for n, (d, _, r) in enumerate(tail)]
        return new_head + new_tail, reranked

    def search(self, query: str, *, k: int = 10, filters: Filters = NO_FILTERS, mode: str | None = None) -> SearchResults:
        """Rank, then add what a result list shows (title, year, journal, ids, types)."""
        query = query.strip()
        if not query:
            raise ConfigError("The query is empty.", hint='Type some words, e.g. "metformin breast cancer".')
        ranked = self.rank(query, k=k, filters=filters, mode=mode)
        t = time.perf_counter()
        shown = self.store.summaries([h.doc_id for h in ranked.hits])
        warnings = [] if self.index.status.fresh else [self.index.status.message]
        hits = []
        for h in ranked.hits:
            row = shown.get(h.doc_id)
            if row is None:  # deleted since the index was built
                continue
            hits.append(replace(
                h, rank=len(hits) + 1, title=row["title"], year=row["year"], journal=row["journal"],
                pmid=row["pmid"], doi=row["doi"], publication_types=tuple(row["publication_types"] or ()),
                is_retracted=row["is_retracted"],
            ))
        timings = {**ranked.timings_ms, "hydrate": _ms(t)}
        return SearchResults(query, mode or self.config.mode, filters, tuple(hits), ranked.candidates,
                             timings, tuple(warnings))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


def _positions(ranking: Sequence[tuple[str, float]]) -> dict[str, tuple[float, int]]:
    return {d: (float(s), r) for r, (d, s) in enumerate(ranking, start=1)}


def _hits(
    final: list[tuple[str, float, int | None]], bm25: Ranking, dense: Ranking,
    fused_at: dict[str, tuple[float, int]], reranked: dict[str, tuple[float, int]],
) -> tuple[Hit, ...]:
    b, d = _positions(bm25), _positions(dense)
    out = []
    for rank, (doc_id, score, _) in enumerate(final, start=1):
        out.append(Hit(
            doc_id=doc_id, rank=rank, score=float(score),
            bm25=StageScore(*b[doc_id]) if doc_id in b else StageScore(),
            dense=StageScore(*d[doc_id]) if doc_id in d else StageScore(),
            fused=StageScore(*fused_at[doc_id]) if doc_id in fused_at else StageScore(),
            rerank=StageScore(*reranked[doc_id]) if doc_id in reranked else StageScore(),
        ))
    return tuple(out)
