"""The search engine: the only module that knows the order of the stages.

    query -> parse ─> free text ─────────────────────────┐
                   └> restriction ┐                       │
    filters ──────────────────────┴─> mask ─┬─> BM25 top-N ──┐
                                            └─> dense top-N ─┴─> fusion -> rerank of the top M
                                                                 -> page (sort, offset) -> hits

The engine reads an index snapshot (``search/snapshot.py``), never the store, so it
answers while ``ingest`` or ``index`` runs in another process; when ``index`` publishes a
new snapshot, the next search switches to it whole (a search never mixes two snapshots).

A query may mix free text with PubMed-style clauses (``search/query.py``): the free text
ranks, the clauses restrict. The restriction, the evidence filters of :class:`Filters`
(Clinical Queries, humans, ages, free full text; ``search/clinical.py``) and the column
filters become one boolean mask over the snapshot's documents, applied inside each
retriever *before* its top-k, so a filter that leaves 3 records returns those 3. A query
with no free text lists its matches newest first, as PubMed does.

The records that *match* a query (its ``total``, its facets, and what a date or author
sort orders) are those that pass the mask and that the free text reaches: a BM25 score
above 0 (any of its words), or a place in the dense top-N (N = ``EngineConfig.depth``).
Every hit carries its score and rank in each stage (``Hit.bm25``, ``.dense``, ``.fused``,
``.rerank``), the BM25 terms it matched with their shares, the spans of the query's terms
in its title and abstract, its evidence level, and the fields of its result card, read for
the whole page in one batch. The CLI, the app and Python users all call :class:`Engine`.
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
from search import similar as similar_lib
from search.clinical import FILTERS
from search.evidence import evidence_of
from search.explain import matched_terms, token_words
from search.facets import FACET_LIMIT, count_facets, order_rows
from search.highlight import Highlighter, query_terms
from search.index import IndexSettings, default_index_dir
from search.ltr import LearnedFusion, candidate_features
from search.query import And, Node, Or, ParsedQuery, parse, to_pubmed
from search.ranking import Fused, Scored
from search.rerank import Reranker, combine, passage
from search.snapshot import Snapshot, load_snapshot, pointer_stamp
from search.status import IndexStatus, reader_status
from search.text import Tokenizer
from search.types import SORTS, Facets, Filters, Hit, SearchResults, SimilarResults, StageScore

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
    max_k: int = 1000  # relevance and evidence orders: offset + k at most this
    max_results: int = 10_000  # date and author orders: offset + k at most this (PubMed's limit)

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
    candidates: int  # records passing the filters and the restriction
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    total: int = 0  # records that match (see the module docstring)
    sort: str = "relevance"  # the order the hits are in
    parsed: ParsedQuery | None = None
    tokens: tuple[str, ...] = ()  # the free text's BM25 tokens


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
        self._tokenizer_config = snapshot.lexical.tokenizer_config
        self._local = threading.local()  # a Tokenizer per thread (PyStemmer is not thread-safe)

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

    def _tokenize(self, text: str) -> list[str]:
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = self._local.tokenizer = Tokenizer(self._tokenizer_config)
        return tok(text)

    def _tokenizer(self) -> Tokenizer:
        self._tokenize("")
        return self._local.tokenizer

    # -- the stages ---------------------------------------------------------------------
    @staticmethod
    def restriction(parsed: ParsedQuery | None, filters: Filters) -> Node | None:
        """The query's restriction AND the evidence filters of ``filters`` (None: neither).

        Named filters keep their own tree (not flattened into the query's), so the
        evaluator finds them among the snapshot's precomputed filters; age groups are ORed.
        """
        items: list[Node] = [parsed.restriction] if parsed is not None and parsed.restriction is not None else []
        names = filters.named_filters
        ages = [FILTERS[n].node for n in names if n.startswith("age/")]
        items += [FILTERS[n].node for n in names if not n.startswith("age/")]
        if ages:
            items.append(ages[0] if len(ages) == 1 else Or(tuple(ages)))
        if not items:
            return None
        return items[0] if len(items) == 1 else And(tuple(items))

    def mask(self, snap: Snapshot, filters: Filters, restriction: Node | None = None,
             timings: dict[str, float] | None = None) -> np.ndarray | None:
        """The documents that pass ``filters``' column filters and ``restriction`` (a query
        tree, e.g. from :meth:`restriction`); None: no filter, every document."""
        timings = {} if timings is None else timings
        out = None
        t = time.perf_counter()
        if _column_filters(filters):
            types = expand_types(filters.publication_types)
            if types:
                _check_types(types, snap)
            rows = snap.records.filter_rows(
                year_from=filters.year_from, year_to=filters.year_to,
                publication_types=types, journals=filters.journals,
                languages=filters.languages, mesh_terms=filters.mesh_terms,
                has_abstract=filters.has_abstract,
            )
            out = snap.mask(rows)
        timings["filter"] = _ms(t)
        if restriction is not None:
            t = time.perf_counter()
            found = snap.records.restrict_mask(restriction)
            out = found if out is None else out & found
            timings["restrict"] = _ms(t)
        return out

    def rank(self, query: str, *, k: int = 10, offset: int = 0, filters: Filters = NO_FILTERS,
             mode: str | None = None, sort: str = "relevance", snapshot: Snapshot | None = None) -> Ranked:
        """Ranked doc ids with per-stage scores; no card fields (see :meth:`search`)."""
        snap = snapshot or self.snapshot
        mode = mode or self.config.mode
        timings: dict[str, float] = {}
        t = time.perf_counter()
        parsed = parse(query)
        timings["parse"] = _ms(t)
        self._check(query, parsed, k, offset, mode, sort, snap)
        mask = self.mask(snap, filters, self.restriction(parsed, filters), timings)
        candidates = int(mask.sum()) if mask is not None else len(snap.doc_ids)
        if parsed.boolean_only:
            return self._listing(snap, parsed, mask, candidates, k, offset, sort, timings)
        tokens = tuple(self._tokenize(parsed.free_text))
        if not tokens:
            reason = ("The query has no words to search for: only stop words or punctuation. "
                      "Add a content word, e.g. a drug, disease or outcome.")
            return Ranked((), candidates, timings, (reason,), 0, sort, parsed)
        if sort in ("date", "author"):
            return self._sorted(snap, parsed, tokens, mask, candidates, k, offset, mode, sort, timings)
        return self._relevance(snap, parsed, tokens, mask, candidates, k, offset, mode, sort, timings)

    def _relevance(self, snap: Snapshot, parsed: ParsedQuery, tokens: tuple[str, ...], mask: np.ndarray | None,
                   candidates: int, k: int, offset: int, mode: str, sort: str, timings: dict[str, float]) -> Ranked:
        """The ranking pipeline: BM25 and dense top-N, fusion, rerank; a page of it."""
        text = parsed.free_text
        depth = max(offset + k, self.config.depth)
        bm25, dense, qvec = self._retrieve(snap, text, tokens, mask, depth, mode, timings)
        t = time.perf_counter()
        if self.config.fusion == "learned" and mode in ("hybrid", "rerank"):
            fused = self._learned(snap, text, qvec, bm25, dense)
        else:
            fused = self._fuse(bm25, dense, mode)
        fused_at = {f.doc_id: (float(f.score), f.fused_rank) for f in fused if f.fused_rank is not None}
        timings["fusion"] = _ms(t)
        reranked: dict[str, tuple[float, int]] = {}
        if mode == "rerank" and self.config.rerank_depth > 0 and fused:
            t = time.perf_counter()
            fused, reranked = self._rerank(snap, text, fused)
            timings["rerank"] = _ms(t)
        total = int(self._matches(snap, tokens, mask, dense, mode, timings).sum())
        if sort == "evidence" and fused:
            t = time.perf_counter()
            rows_of = snap.rows_of()
            rows = np.array([rows_of[f.doc_id] for f in fused])
            # relevance inside a level is the fused order itself (equal scores keep their places)
            order = order_rows(snap.records.columns(), rows, "evidence", -np.arange(len(fused), dtype=np.float64))
            position = {r: i for i, r in enumerate(rows.tolist())}
            fused = [fused[position[r]] for r in order.tolist()]
            timings["sort"] = _ms(t)
        warnings = () if fused else ("No record matches any word of the query" + (
            " among the records that pass the filters." if mask is not None else "."),)
        hits = _hits(fused[offset : offset + k], bm25, dense, fused_at, reranked, offset)
        return Ranked(hits, candidates, timings, warnings, total, sort, parsed, tokens)

    def _retrieve(self, snap: Snapshot, text: str, tokens: tuple[str, ...], mask: np.ndarray | None, depth: int,
                  mode: str, timings: dict[str, float]) -> tuple[list[Scored], list[Scored], np.ndarray | None]:
        """The BM25 and dense top ``depth`` under ``mask`` (each empty where ``mode`` skips it)."""
        bm25: list[Scored] = []
        dense: list[Scored] = []
        qvec = None
        if mode != "dense":
            t = time.perf_counter()
            bm25 = snap.lexical.search_tokens(list(tokens), depth, mask)
            timings["bm25"] = _ms(t)
        if mode != "bm25":
            t = time.perf_counter()
            qvec = snap.dense.query_vector(text)  # type: ignore[union-attr]
            timings["embed"] = _ms(t)
            t = time.perf_counter()
            dense = snap.dense.search(qvec, depth, mask)  # type: ignore[union-attr]
            timings["dense"] = _ms(t)
        return bm25, dense, qvec

    def _matches(self, snap: Snapshot, tokens: Sequence[str], mask: np.ndarray | None, dense: Sequence[Scored],
                 mode: str, timings: dict[str, float]) -> np.ndarray:
        """The records the free text matches under ``mask``: BM25 > 0, or in the dense top-N."""
        t = time.perf_counter()
        if mode == "dense":
            out = np.zeros(len(snap.doc_ids), dtype=bool)
        else:
            out = snap.lexical.scores_from_tokens(tokens) > 0
            if mask is not None:
                out &= mask
        rows_of = snap.rows_of()
        out[[rows_of[d] for d, _ in dense[: self.config.depth]]] = True
        timings["match"] = _ms(t)
        return out

    def _sorted(self, snap: Snapshot, parsed: ParsedQuery, tokens: tuple[str, ...], mask: np.ndarray | None,
                candidates: int, k: int, offset: int, mode: str, sort: str, timings: dict[str, float]) -> Ranked:
        """Every matching record in date or author order; ties by relevance (BM25, else cosine)."""
        bm25, dense, _ = self._retrieve(snap, parsed.free_text, tokens, mask, self.config.depth, mode, timings)
        matches = self._matches(snap, tokens, mask, dense, mode, timings)
        t = time.perf_counter()
        rows = np.flatnonzero(matches)
        cosine = _positions(dense)
        if mode == "dense":
            relevance = np.array([cosine[snap.doc_ids[r]][0] for r in rows], dtype=np.float64)
        else:
            relevance = snap.lexical.scores_from_tokens(tokens)[rows].astype(np.float64)
        order = order_rows(snap.records.columns(), rows, sort, relevance)
        score_of = dict(zip(rows.tolist(), relevance.tolist(), strict=True))
        ranks = _positions(bm25)
        hits = []
        for i, r in enumerate(order[offset : offset + k].tolist(), start=offset + 1):
            d = snap.doc_ids[r]
            b = score_of[r] if mode != "dense" else None
            hits.append(Hit(
                doc_id=d, rank=i, score=float(score_of[r]),
                bm25=StageScore(b if b else None, ranks[d][1] if d in ranks else None),
                dense=StageScore(*cosine[d]) if d in cosine else StageScore(),
            ))
        timings["sort"] = _ms(t)
        return Ranked(tuple(hits), candidates, timings, (), len(rows), sort, parsed, tokens)

    def _listing(self, snap: Snapshot, parsed: ParsedQuery, mask: np.ndarray | None, candidates: int,
                 k: int, offset: int, sort: str, timings: dict[str, float]) -> Ranked:
        """A query without free text: its matches newest first (or by author / evidence)."""
        t = time.perf_counter()
        sort = "date" if sort == "relevance" else sort
        rows = np.flatnonzero(mask) if mask is not None else np.arange(len(snap.doc_ids))
        order = order_rows(snap.records.columns(), rows, sort)
        hits = tuple(Hit(doc_id=snap.doc_ids[r], rank=i, score=0.0)
                     for i, r in enumerate(order[offset : offset + k].tolist(), start=offset + 1))
        timings["sort"] = _ms(t)
        warnings = () if len(rows) else ("No record matches the query's restriction" + (
            " and the filters." if parsed.restriction is not None else " (the filters leave none)."),)
        return Ranked(hits, candidates, timings, warnings, len(rows), sort, parsed, ())

    def _check(self, query: str, parsed: ParsedQuery, k: int, offset: int, mode: str, sort: str,
               snap: Snapshot) -> None:
        c = self.config
        if mode not in MODES:
            raise ConfigError(f"Unknown search mode {mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if sort not in SORTS:
            raise ConfigError(f"Unknown sort {sort!r}.", hint=f"Use one of {', '.join(SORTS)}.")
        if len(query) > c.max_query_chars:
            raise ConfigError(
                f"The query is {len(query):,} characters long; the limit is {c.max_query_chars:,}.",
                hint="Shorten it to the words that matter (a question, or keywords).",
            )
        terms = len(set(self._tokenize(parsed.free_text)))
        if terms > c.max_query_terms:
            raise ConfigError(
                f"The query has {terms} distinct search terms; the limit is {c.max_query_terms}.",
                hint="Shorten it to the words that matter (a question, or keywords).",
            )
        if not 1 <= k <= c.max_k:
            raise ConfigError(f"k must lie between 1 and {c.max_k}, got {k}.", hint="Ask for fewer results.")
        limit = c.max_results if sort in ("date", "author") or parsed.boolean_only else c.max_k
        if offset < 0 or offset + k > limit:
            raise ConfigError(
                f"Results {offset + 1}-{offset + k} were asked for; a {sort} order lists at most {limit:,}.",
                hint="Narrow the query or the filters, or sort by date to page further.",
            )
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
        ids, matrix = candidate_features(snap, self._tokenizer(), query, qvec, bm25, dense)
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

    def _hydrate(self, snap: Snapshot, hits: Sequence[Hit], tokens: Sequence[str], free_text: str,
                 restriction: Node | None) -> tuple[Hit, ...]:
        """Hits with their result cards, evidence levels, highlights and matched BM25 terms."""
        ids = [h.doc_id for h in hits]
        cards = snap.records.cards(ids)
        rows_of = snap.rows_of()
        terms = matched_terms(snap.lexical, tokens, [rows_of[d] for d in ids],
                              token_words(free_text, self._tokenizer()))
        marker = Highlighter(query_terms(list(tokens), restriction), self._tokenizer())
        out = []
        for h, matched in zip(hits, terms, strict=True):
            card = cards.get(h.doc_id)
            if card is None:
                continue
            out.append(replace(
                h, **card, evidence=evidence_of(card["publication_types"], card["mesh_terms"]),
                highlights=marker.spans(card["title"], card["abstract"]), matched_terms=matched,
            ))
        return tuple(out)

    # -- the API ------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: Filters = NO_FILTERS,
               mode: str | None = None, sort: str = "relevance") -> SearchResults:
        """Results ``offset+1 .. offset+k`` of ``query`` in the order ``sort`` asks for
        (``relevance``, ``date``: newest first, ``author``: first author A to Z, or
        ``evidence``: strongest study design first, relevance within a level), each hit with
        its result card (read for the whole page in one batch). Raises
        :class:`search.query.QuerySyntaxError` (a ConfigError) for a malformed query."""
        query = _non_empty(query)
        snap = self.snapshot
        ranked = self.rank(query, k=k, offset=offset, filters=filters, mode=mode, sort=sort, snapshot=snap)
        parsed = ranked.parsed
        t = time.perf_counter()
        restriction = parsed.restriction if parsed is not None else None
        hits = self._hydrate(snap, ranked.hits, ranked.tokens, parsed.free_text if parsed else "", restriction)
        status = reader_status(snap, self.db_path)
        warnings = [*([] if status.fresh else [status.message]), *ranked.warnings]
        timings = {**ranked.timings_ms, "hydrate": _ms(t)}
        return SearchResults(
            query, mode or self.config.mode, filters, hits, ranked.candidates, timings, tuple(warnings),
            snap.name, len(snap.doc_ids), ranked.total, offset, ranked.sort,
            parsed.free_text if parsed else "", to_pubmed(restriction) if restriction is not None else "",
        )

    def facets(self, query: str, *, filters: Filters = NO_FILTERS, mode: str | None = None,
               limit: int = FACET_LIMIT) -> Facets:
        """Facet counts (publication type, year, journal, language, abstract, retracted) and a
        timeline over the records that match ``query`` and ``filters`` (see the module doc)."""
        query = _non_empty(query)
        snap = self.snapshot
        mode = mode or self.config.mode
        timings: dict[str, float] = {}
        parsed = parse(query)
        self._check(query, parsed, 1, 0, mode, "relevance", snap)
        mask = self.mask(snap, filters, self.restriction(parsed, filters), timings)
        if parsed.boolean_only:
            matches = mask if mask is not None else np.ones(len(snap.doc_ids), dtype=bool)
        else:
            tokens = tuple(self._tokenize(parsed.free_text))
            if tokens:
                dense: list[Scored] = []
                if mode != "bm25":
                    _, dense, _ = self._retrieve(snap, parsed.free_text, tokens, mask, self.config.depth,
                                                 "dense", timings)
                matches = self._matches(snap, tokens, mask, dense, mode, timings)
            else:
                matches = np.zeros(len(snap.doc_ids), dtype=bool)
        t = time.perf_counter()
        facets = count_facets(snap.records.columns(), matches, limit)
        timings["count"] = _ms(t)
        return replace(facets, timings_ms=timings)

    def similar(self, pmid: str, *, k: int = 10, filters: Filters = NO_FILTERS,
                include_notices: bool = False, method: str = similar_lib.DEFAULT_METHOD) -> SimilarResults:
        """The ``k`` records nearest to the paper ``pmid`` (a PMID or doc id): its dense vector
        fused with a BM25 query of its title and MeSH major topics (``search/similar.py``).

        The paper itself is never listed, retraction notices only with ``include_notices``;
        ``filters`` apply as in :meth:`search`."""
        snap = self.snapshot
        key = str(pmid).strip()
        doc_id = snap.records.find(key) if key else None
        if doc_id is None:
            raise ConfigError(
                f"PMID {key!r} is not in the search index.",
                hint=f'Check the number, or fetch it: medsearch ingest pubmed "{key}[pmid]", then medsearch index.',
            )
        if not 1 <= k <= self.config.max_k:
            raise ConfigError(f"k must lie between 1 and {self.config.max_k}, got {k}.", hint="Ask for fewer results.")
        timings: dict[str, float] = {}
        row = snap.rows_of()[doc_id]
        allowed = self.mask(snap, filters, self.restriction(None, filters), timings)
        allowed = np.ones(len(snap.doc_ids), dtype=bool) if allowed is None else allowed.copy()
        allowed[row] = False
        if not include_notices:
            allowed &= ~snap.records.columns().notice
        t = time.perf_counter()
        title, _ = snap.records.texts([doc_id])[doc_id]
        text = similar_lib.query_text(title, snap.records.major_topics(doc_id))
        tokens = self._tokenize(text)  # a word of both title and major topics counts twice
        kept = set(list(dict.fromkeys(tokens))[: self.config.max_query_terms])
        tokens = [t for t in tokens if t in kept]
        bm25, dense, fused = similar_lib.neighbours(snap, row, tokens, allowed, max(k, self.config.depth), method)
        timings["similar"] = _ms(t)
        fused_at = {f.doc_id: (float(f.score), f.fused_rank) for f in fused if f.fused_rank is not None}
        t = time.perf_counter()
        hits = self._hydrate(snap, _hits(fused[:k], bm25, dense, fused_at, {}, 0), tokens, text, None)
        source = self._hydrate(snap, (Hit(doc_id=doc_id, rank=0, score=0.0),), (), "", None)[0]
        timings["hydrate"] = _ms(t)
        warnings = () if hits else ("No other record passes the filters.",)
        return SimilarResults(source, text, hits, int(allowed.sum()), timings, warnings, snap.name,
                              len(snap.doc_ids))

    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records of the current snapshot (ids it does not hold are left out)."""
        return self.snapshot.records.articles(doc_ids)


def _non_empty(query: str) -> str:
    query = query.strip()
    if not query:
        raise ConfigError("The query is empty.", hint='Type some words, e.g. "metformin breast cancer".')
    return query


def _column_filters(f: Filters) -> bool:
    """Whether ``f`` sets a filter on stored columns (the evidence filters are restrictions)."""
    return any((f.year_from, f.year_to, f.publication_types, f.journals, f.languages, f.mesh_terms,
                f.has_abstract is not None))


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
    fused_at: dict[str, tuple[float, int]], reranked: dict[str, tuple[float, int]], offset: int = 0,
) -> tuple[Hit, ...]:
    b, d = _positions(bm25), _positions(dense)
    out = []
    for rank, f in enumerate(final, start=offset + 1):
        out.append(Hit(
            doc_id=f.doc_id, rank=rank, score=float(f.score),
            bm25=StageScore(*b[f.doc_id]) if f.doc_id in b else StageScore(),
            dense=StageScore(*d[f.doc_id]) if f.doc_id in d else StageScore(),
            fused=StageScore(*fused_at[f.doc_id]) if f.doc_id in fused_at else StageScore(),
            rerank=StageScore(*reranked[f.doc_id]) if f.doc_id in reranked else StageScore(),
        ))
    return tuple(out)
