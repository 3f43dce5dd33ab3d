"""The search engine: the only module that knows the order of the stages.

    filters -> mask ─┬─> BM25 top-N ──┐
                     └─> dense top-N ─┴─> fusion -> cross-encoder rerank of the top M -> hits

The engine reads an index snapshot (``search/snapshot.py``), never the store, so it
answers while ``ingest`` or ``index`` runs in another process; when ``index`` publishes a
new snapshot, the next search switches to it whole (a search never mixes two snapshots).

Filters become one boolean mask over the snapshot's documents, applied inside each
retriever *before* its top-k, so a filter that leaves 3 records returns those 3. Every
hit carries its score and rank in each stage (``Hit.bm25``, ``.dense``, ``.fused``,
``.rerank``) so a UI can explain why a paper ranks where it does, and the fields of its
result card, read for the whole page in one batch. The CLI, the app and Python users all
call :meth:`Engine.search`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingest.errors import ConfigError
from ingest.records import Article
from search import fusion as fusion_lib
from search.index import IndexSettings, default_index_dir
from search.ltr import LearnedFusion, candidate_features
from search.ranking import Fused, Scored
from search.rerank import Reranker, combine, passage
from search.snapshot import Snapshot, load_snapshot, pointer_stamp
from search.status import IndexStatus, reader_status
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
    # both dev sets (docs/quality.md).
    fusion: str = "learned"  # "learned" | "weighted" | "rrf"
    rrf_k: float = fusion_lib.RRF_K
    bm25_weight: float = 0.5  # weighted fusion: BM25's share, dense gets the rest
    normalization: str = "minmax"
    depth: int = 100  # candidates each retriever hands to fusion
    rerank_depth: int = 30  # fused candidates the cross-encoder reads
    rerank_alpha: float = 1.0  # weight of the reranker against the fused score (min-max both)
    # Bounds on the work one request can cause (the CLI, the app and any API share them).
    max_query_chars: int = 2000
    max_query_terms: int = 64
    max_k: int = 1000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"Unknown search mode {self.mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if self.fusion not in ("rrf", "weighted", "learned"):
            raise ConfigError(f"Unknown fusion {self.fusion!r}.", hint="Use learned, weighted or rrf.")
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise ConfigError(f"bm25_weight must lie in [0, 1], got {self.bm25_weight}.", hint="0.5 weighs both equally.")
        if self.depth < 1 or self.rerank_depth < 0:
            raise ConfigError("depth must be >= 1 and rerank_depth >= 0.", hint="Defaults: 100 and 30.")


@dataclass(frozen=True, slots=True)
class Ranked:
    """A ranking before hydration: the doc ids in order with every stage's scores."""

    hits: tuple[Hit, ...]
    candidates: int
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()


class SnapshotSource:
    """The current snapshot of an index folder, reloaded when ``index`` publishes a new one.

    Thread-safe: concurrent searches share one loaded snapshot; the first search after a
    new snapshot is published loads it (one thread loads, others keep using the old one
    until it is ready), and models are loaded once and shared by every snapshot.
    """

    def __init__(self, index_dir: Path, settings: IndexSettings, snapshot: Snapshot | None = None) -> None:
        self.index_dir = index_dir
        self.settings = settings
        self._lock = threading.Lock()
        self._embedder = None
        self._snapshot = snapshot or self._load()
        self._stamp = pointer_stamp(index_dir)

    def _embedder_once(self):
        if self._embedder is None:
            from search.models import load_embedder

            s = self.settings
            self._embedder = load_embedder(
                s.embedder, s.backend, query_prefix=s.query_prefix,  # type: ignore[arg-type]
                doc_prefix=s.doc_prefix, allow_download=s.allow_download,
            )
        return self._embedder

    def _load(self) -> Snapshot:
        return load_snapshot(self.index_dir, embedding_model=self.settings.embedder,
                             embedder=self._embedder, embedder_loader=self._embedder_once)

    def get(self) -> Snapshot:
        stamp = pointer_stamp(self.index_dir)
        if stamp is None or stamp == self._stamp or not self._lock.acquire(blocking=False):
            return self._snapshot
        try:
            fresh = self._load()
            self._snapshot, self._stamp = fresh, stamp
        finally:
            self._lock.release()
        return self._snapshot


class Engine:
    """Search the current index snapshot; create with :meth:`open` or from a loaded snapshot."""

    def __init__(
        self, snapshot: Snapshot, config: EngineConfig | None = None, reranker: Reranker | None = None,
        learned: LearnedFusion | None = None, *, source: SnapshotSource | None = None, db_path: Path | None = None,
    ) -> None:
        self._fixed = snapshot
        self.source = source
        self.db_path = db_path
        self.config = config or EngineConfig()
        self.reranker = reranker
        if self.config.fusion == "learned" and learned is None:
            learned = LearnedFusion()
        self.learned = learned
        self._tokenize = Tokenizer(snapshot.lexical.tokenizer_config)  # built once, not per query

    @classmethod
    def open(
        cls, *, index_dir: str | Path | None = None, db_path: str | Path | None = None,
        index_settings: IndexSettings | None = None, config: EngineConfig | None = None,
        reranker: Reranker | None = None,
    ) -> Engine:
        """The engine over the current snapshot of ``index_dir`` (default: beside ``db_path``)."""
        if index_dir is None:
            if db_path is None:
                raise ConfigError("Engine.open needs index_dir or db_path.", hint="Pass the index folder.")
            index_dir = default_index_dir(db_path)
        source = SnapshotSource(Path(index_dir), index_settings or IndexSettings())
        return cls(source.get(), config, reranker, source=source, db_path=Path(db_path) if db_path else None)

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot searches use now (the newest published one, for an engine from :meth:`open`)."""
        if self.source is None:
            return self._fixed
        self._fixed = self.source.get()
        return self._fixed

    def status(self) -> IndexStatus:
        """Whether the snapshot is behind the store, and whether a writer is at work."""
        return reader_status(self.snapshot, self.db_path)

    # -- the stages ---------------------------------------------------------------------
    def mask(self, snap: Snapshot, filters: Filters) -> np.ndarray | None:
        """The documents that pass ``filters`` (None: no filter, every document)."""
        if not filters.active:
            return None
        types = expand_types(filters.publication_types)
        if types:
            _check_types(types, snap)
        rows = snap.records.filter_rows(
            year_from=filters.year_from, year_to=filters.year_to,
            publication_types=types, journals=filters.journals,
            languages=filters.languages, mesh_terms=filters.mesh_terms,
            has_abstract=filters.has_abstract,
        )
        return snap.mask(rows)

    def rank(self, query: str, *, k: int = 10, filters: Filters = NO_FILTERS, mode: str | None = None,
             snapshot: Snapshot | None = None) -> Ranked:
        """Ranked doc ids with per-stage scores; no card fields (see :meth:`search`)."""
        snap = snapshot or self.snapshot
        mode = mode or self.config.mode
        self._check(query, k, mode, snap)
        timings: dict[str, float] = {}
        t = time.perf_counter()
        mask = self.mask(snap, filters)
        candidates = int(mask.sum()) if mask is not None else len(snap.doc_ids)
        timings["filter"] = _ms(t)
        tokens = self._tokenize(query)
        if not tokens:
            reason = ("The query has no words to search for: only stop words or punctuation. "
                      "Add a content word, e.g. a drug, disease or outcome.")
            return Ranked((), candidates, timings, (reason,))
        depth = max(k, self.config.depth)
        bm25: list[Scored] = []
        dense: list[Scored] = []
        if mode != "dense":
            t = time.perf_counter()
            bm25 = snap.lexical.search_tokens(tokens, depth, mask)
            timings["bm25"] = _ms(t)
        qvec = None
        if mode != "bm25":
            t = time.perf_counter()
            qvec = snap.dense.query_vector(query)  # type: ignore[union-attr]
            timings["embed"] = _ms(t)
            t = time.perf_counter()
            dense = snap.dense.search(qvec, depth, mask)  # type: ignore[union-attr]
            timings["dense"] = _ms(t)
        t = time.perf_counter()
        if self.config.fusion == "learned" and mode in ("hybrid", "rerank"):
            fused = self._learned(snap, query, qvec, bm25, dense)
        else:
            fused = self._fuse(bm25, dense, mode)
        fused_at = {f.doc_id: (float(f.score), f.fused_rank) for f in fused if f.fused_rank is not None}
        timings["fusion"] = _ms(t)
        reranked: dict[str, tuple[float, int]] = {}
        if mode == "rerank" and self.config.rerank_depth > 0 and fused:
            t = time.perf_counter()
            fused, reranked = self._rerank(snap, query, fused)
            timings["rerank"] = _ms(t)
        warnings = () if fused else ("No record matches any word of the query" + (
            " among the records that pass the filters." if mask is not None else "."),)
        return Ranked(_hits(fused[:k], bm25, dense, fused_at, reranked), candidates, timings, warnings)

    def _check(self, query: str, k: int, mode: str, snap: Snapshot) -> None:
        c = self.config
        if mode not in MODES:
            raise ConfigError(f"Unknown search mode {mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if len(query) > c.max_query_chars:
            raise ConfigError(
                f"The query is {len(query):,} characters long; the limit is {c.max_query_chars:,}.",
                hint="Shorten it to the words that matter (a question, or keywords).",
            )
        terms = len(set(self._tokenize(query)))
        if terms > c.max_query_terms:
            raise ConfigError(
                f"The query has {terms} distinct search terms; the limit is {c.max_query_terms}.",
                hint="Shorten it to the words that matter (a question, or keywords).",
            )
        if not 1 <= k <= c.max_k:
            raise ConfigError(f"k must lie between 1 and {c.max_k}, got {k}.", hint="Ask for fewer results.")
        if mode in ("dense", "hybrid", "rerank") and snap.dense is None:
            raise ConfigError(
                f"Mode {mode!r} needs the dense index, and the embedding model is off (MEDSEARCH_EMBEDDING_MODEL=none).",
                hint="Search with --mode bm25, or set an embedding model and run `medsearch index`.",
            )
        if mode == "rerank" and self.reranker is None:
            raise ConfigError(
                "Mode 'rerank' needs a cross-encoder, and none is configured.",
                hint="Set MEDSEARCH_RERANKER to a cross-encoder folder or name, or search without rerank.",
            )

    def _fuse(self, bm25: list[Scored], dense: list[Scored], mode: str) -> list[Fused]:
        """The fused list, best first; single modes pass their list through unranked by fusion."""
        if mode == "bm25":
            return [Fused(d, s, None) for d, s in bm25]
        if mode == "dense":
            return [Fused(d, s, None) for d, s in dense]
        c = self.config
        if c.fusion == "rrf":
            fused = fusion_lib.rrf([bm25, dense], k=c.rrf_k)
        else:
            fused = fusion_lib.weighted_fusion(
                [bm25, dense], weights=[c.bm25_weight, 1.0 - c.bm25_weight], normalization=c.normalization,
            )
        return [Fused(h.doc_id, h.score, i) for i, h in enumerate(fused, start=1)]

    def _learned(self, snap: Snapshot, query: str, qvec, bm25: list[Scored], dense: list[Scored]) -> list[Fused]:
        """Learned fusion (search.ltr): the model scores every candidate of either list."""
        ids, matrix = candidate_features(snap, self._tokenize, query, qvec, bm25, dense)
        if not ids:
            return []
        scores = self.learned.score(matrix)  # type: ignore[union-attr]
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        return [Fused(ids[i], float(scores[i]), r) for r, i in enumerate(order, start=1)]

    def _rerank(self, snap: Snapshot, query: str, fused: list[Fused]) -> tuple[list[Fused], dict[str, tuple[float, int]]]:
        """Reorder the top ``rerank_depth`` by the cross-encoder (combined with the fused score)."""
        head, tail = fused[: self.config.rerank_depth], fused[self.config.rerank_depth :]
        texts = snap.records.texts([f.doc_id for f in head])
        pairs = [(f.doc_id, passage(*texts.get(f.doc_id, ("", "")))) for f in head]
        ce = self.reranker.rerank(query, pairs)  # type: ignore[union-attr]
        final = combine([f.score for f in head], ce, self.config.rerank_alpha)
        order = sorted(range(len(head)), key=lambda i: (-final[i], i))
        by_ce = sorted(range(len(head)), key=lambda i: -ce[i])
        reranked = {head[i].doc_id: (float(ce[i]), r) for r, i in enumerate(by_ce, start=1)}
        # tail documents keep their order below the reranked head; their score is shifted under it
        floor = min(final) if final else 0.0
        new_head = [Fused(head[i].doc_id, final[i], head[i].fused_rank) for i in order]
        new_tail = [Fused(f.doc_id, floor - 1.0 - n, f.fused_rank) for n, f in enumerate(tail)]
        return new_head + new_tail, reranked

    # -- the API ------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 10, filters: Filters = NO_FILTERS, mode: str | None = None) -> SearchResults:
        """Rank, then add each hit's result card (read for the whole page in one batch)."""
        query = query.strip()
        if not query:
            raise ConfigError("The query is empty.", hint='Type some words, e.g. "metformin breast cancer".')
        snap = self.snapshot
        ranked = self.rank(query, k=k, filters=filters, mode=mode, snapshot=snap)
        t = time.perf_counter()
        cards = snap.records.cards([h.doc_id for h in ranked.hits])
        hits = tuple(replace(h, **cards[h.doc_id]) for h in ranked.hits if h.doc_id in cards)
        status = reader_status(snap, self.db_path)
        warnings = [*([] if status.fresh else [status.message]), *ranked.warnings]
        timings = {**ranked.timings_ms, "hydrate": _ms(t)}
        return SearchResults(query, mode or self.config.mode, filters, hits, ranked.candidates,
                             timings, tuple(warnings), snap.name, len(snap.doc_ids))

    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records of the current snapshot (ids it does not hold are left out)."""
        return self.snapshot.records.articles(doc_ids)


def _check_types(types: Sequence[str], snap: Snapshot) -> None:
    """A publication type that no record of the index has is a typo more often than not."""
    known = snap.records.publication_types()
    lower = {t.lower() for t in known}
    unknown = [t for t in types if t.lower() not in lower]
    aliases = {t.lower() for names in TYPE_ALIASES.values() for t in names}
    unknown = [t for t in unknown if t.lower() not in aliases]  # a real type that no record has yet
    if unknown:
        common = ", ".join(list(known)[:8])
        raise ConfigError(
            f"Unknown publication type {unknown[0]!r}: no record in the index has it.",
            hint=f"Use a PubMed publication type ({common}, ...) or a short name: "
            f"{', '.join(TYPE_ALIASES)}.",
        )


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


def _positions(ranking: Sequence[Scored]) -> dict[str, tuple[float, int]]:
    return {d: (float(s), r) for r, (d, s) in enumerate(ranking, start=1)}


def _hits(
    final: list[Fused], bm25: list[Scored], dense: list[Scored],
    fused_at: dict[str, tuple[float, int]], reranked: dict[str, tuple[float, int]],
) -> tuple[Hit, ...]:
    b, d = _positions(bm25), _positions(dense)
    out = []
    for rank, f in enumerate(final, start=1):
        out.append(Hit(
            doc_id=f.doc_id, rank=rank, score=float(f.score),
            bm25=StageScore(*b[f.doc_id]) if f.doc_id in b else StageScore(),
            dense=StageScore(*d[f.doc_id]) if f.doc_id in d else StageScore(),
            fused=StageScore(*fused_at[f.doc_id]) if f.doc_id in fused_at else StageScore(),
            rerank=StageScore(*reranked[f.doc_id]) if f.doc_id in reranked else StageScore(),
        ))
    return tuple(out)
