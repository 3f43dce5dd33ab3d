"""The search engine: the only module that knows the order of the stages.

    query -> parse ─> free text ─────────────────────────┐
                   └> restriction ┐                       │
    filters ──────────────────────┴─> mask ─┬─> BM25 top-N ──┐
                                            └─> dense top-N ─┴─> fusion -> rerank of the top M
                                                                 -> page (sort, offset) -> hits

The engine reads an index snapshot (``search/index/snapshot.py``), never the store, so it
answers while ``ingest`` or ``index`` runs in another process; when ``index`` publishes a
new snapshot, the next search switches to it whole (a search never mixes two snapshots).

A query may mix free text with PubMed-style clauses (``search/query/syntax.py``): the free text
ranks, the clauses restrict. The restriction, the evidence filters of :class:`Filters`
(Clinical Queries, humans, ages, free full text; ``search/query/clinical.py``) and the column
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from ingest.errors import ConfigError
from ingest.records import Article
from search.index.build import IndexSettings, default_index_dir
from search.index.freshness import IndexStatus, reader_status
from search.index.snapshot import Snapshot, load_snapshot, pointer_stamp
from search.query.mask import TYPE_ALIASES, expand_types, ms, restriction_of, select
from search.query.syntax import Node, ParsedQuery, Term, parse, to_pubmed
from search.results import similar as similar_lib
from search.results.explain import annotate
from search.results.facets import FACET_LIMIT, count_facets, order_rows
from search.results.highlight import WordTokens
from search.results.hints import corrected, mesh_hints, suggest, unknown_words_message
from search.results.paging import Ranked, listing, page_hits, sorted_page
from search.results.result_set import ResultSet, SetRule, asks_for_notices, bm25_relevance, concepts
from search.results.result_set import match as match_set
from search.retrieval import fusion as fusion_lib
from search.retrieval.contract import FirstStage, Restriction, TextQuery
from search.retrieval.inprocess import InProcessFirstStage
from search.retrieval.learned_fusion import LearnedFusion, candidate_features
from search.retrieval.ranking import Fused, Scored
from search.retrieval.rerank import Reranker, combine, passage
from search.retrieval.tokenizer import Tokenizer
from search.types import MODES, SORTS, Facets, Filters, Hit, SearchResults, SimilarResults

__all__ = ["MODES", "NO_FILTERS", "TYPE_ALIASES", "Engine", "EngineConfig", "Ranked", "SnapshotSource",
           "expand_types"]

NO_FILTERS = Filters()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the stages run; the defaults are the ones chosen on the BEIR train/dev splits
    (see ``docs/quality.md``)."""

    mode: str = "hybrid"
    # Learned fusion (LambdaMART over cheap features, search.retrieval.learned_fusion) beat the best fixed fusion on
    # both dev sets (docs/quality.md).
    fusion: str = "learned"  # "learned" | "weighted" | "rrf"
    rrf_k: float = fusion_lib.RRF_K
    bm25_weight: float = 0.5  # weighted fusion: BM25's share, dense gets the rest
    normalization: fusion_lib.Normalization = "minmax"
    depth: int = 100  # candidates each retriever hands to fusion
    rerank_depth: int = 30  # fused candidates the cross-encoder reads
    rerank_alpha: float = 1.0  # weight of the reranker against the fused score (min-max both)
    # Bounds on the work one request can cause (the CLI, the app and any API share them).
    max_query_chars: int = 2000
    max_query_terms: int = 64
    max_k: int = 1000  # relevance and evidence orders: offset + k at most this
    max_results: int = 10_000  # date and author orders: offset + k at most this (PubMed's limit)
    # Which records match a free-text query (search.results.result_set, docs/search.md)
    result_set: SetRule = SetRule()

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
class Matched:
    """A query's result set with what the ranking reuses: the allowed rows (mask minus the
    notices left out), the query vector and the dense list the semantic side read."""

    result: ResultSet
    allowed: np.ndarray | None
    qvec: np.ndarray | None
    wide: list[Scored]
    complete: bool  # the dense list holds every allowed record
    restriction: Restriction = Restriction()  # ``allowed`` as the predicate a first stage translates
    query_text: str = ""  # the free text the lists are searched with

    @property
    def size(self) -> int:
        return self.result.size

    @property
    def cosine(self) -> dict[str, float]:
        return {d: float(s) for d, s in self.wide}


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
            from search.retrieval.encoders import load_embedder

            s = self.settings
            self._embedder = load_embedder(
                s.embedder, s.backend, query_prefix=s.query_prefix,
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
        first_stage: Callable[[Snapshot], FirstStage] | None = None,
    ) -> None:
        """``first_stage``: the backend that answers the candidate lists of a snapshot
        (``search/retrieval/contract.py``; default: the snapshot's own in-process indexes)."""
        self._fixed = snapshot
        self._stage_of = first_stage or InProcessFirstStage.of_snapshot
        self._stages: dict[str, FirstStage] = {}
        self._stages_lock = threading.Lock()
        self.source = source
        self.db_path = db_path
        self.config = config or EngineConfig()
        self.reranker = reranker
        if self.config.fusion == "learned" and learned is None:
            learned = LearnedFusion()
        self.learned = learned
        self._tokenizer_config = snapshot.lexical.tokenizer_config
        self._local = threading.local()  # a Tokenizer per thread (PyStemmer is not thread-safe)
        self._word_tokens = WordTokens(self._tokenizer_config)  # for highlights, shared by threads

    @classmethod
    def open(
        cls, *, index_dir: str | Path | None = None, db_path: str | Path | None = None,
        index_settings: IndexSettings | None = None, config: EngineConfig | None = None,
        reranker: Reranker | None = None, first_stage: Callable[[Snapshot], FirstStage] | None = None,
    ) -> Engine:
        """The engine over the current snapshot of ``index_dir`` (default: beside ``db_path``)."""
        if index_dir is None:
            if db_path is None:
                raise ConfigError("Engine.open needs index_dir or db_path.", hint="Pass the index folder.")
            index_dir = default_index_dir(db_path)
        source = SnapshotSource(Path(index_dir), index_settings or IndexSettings())
        return cls(source.get(), config, reranker, source=source, db_path=Path(db_path) if db_path else None,
                   first_stage=first_stage)

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot searches use now (the newest published one, for an engine from :meth:`open`)."""
        if self.source is None:
            return self._fixed
        self._fixed = self.source.get()
        return self._fixed

    def first_stage(self, snap: Snapshot | None = None) -> FirstStage:
        """The backend that answers first-stage searches over ``snap`` (one per snapshot)."""
        snap = snap or self.snapshot
        key = str(snap.folder)
        stage = self._stages.get(key)
        if stage is None:
            with self._stages_lock:
                stage = self._stages.get(key)
                if stage is None:
                    stage = self._stage_of(snap)
                    self._stages = {key: stage}  # the previous snapshot's stage is released
        return stage

    def status(self) -> IndexStatus:
        """Whether the snapshot is behind the store, and whether a writer is at work."""
        return reader_status(self.snapshot, self.db_path)

    def _tokenizer(self) -> Tokenizer:
        """This thread's tokenizer (the BM25 index's configuration)."""
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = self._local.tokenizer = Tokenizer(self._tokenizer_config)
        return tok

    def _tokenize(self, text: str) -> list[str]:
        return self._tokenizer()(text)

    # -- the stages ---------------------------------------------------------------------
    @staticmethod
    def restriction(parsed: ParsedQuery | None, filters: Filters) -> Node | None:
        """The query's restriction AND the evidence filters of ``filters`` (see search.query.mask)."""
        return restriction_of(parsed, filters)

    def mask(self, snap: Snapshot, filters: Filters, restriction: Node | None = None,
             timings: dict[str, float] | None = None) -> np.ndarray | None:
        """The documents that pass ``filters``' column filters and ``restriction`` (a query
        tree, e.g. from :meth:`restriction`); None: no filter, every document."""
        return select(snap, filters, restriction, {} if timings is None else timings)

    def rank(self, query: str, *, k: int = 10, offset: int = 0, filters: Filters = NO_FILTERS,
             mode: str | None = None, sort: str = "relevance", snapshot: Snapshot | None = None,
             syntax: bool = True) -> Ranked:
        """Ranked doc ids with per-stage scores; no card fields (see :meth:`search`).

        ``syntax=False`` reads the whole query as free text, PubMed syntax or not (evaluation
        runs over question sets, whose quotes and brackets are not syntax)."""
        snap = snapshot or self.snapshot
        mode = mode or self.config.mode
        timings: dict[str, float] = {}
        t = time.perf_counter()
        parsed = parse(query) if syntax else _plain(query)
        timings["parse"] = ms(t)
        self._check(query, parsed, k, offset, mode, sort, snap)
        mask = self.mask(snap, filters, self.restriction(parsed, filters), timings)
        candidates = int(mask.sum()) if mask is not None else len(snap.doc_ids)
        if parsed.boolean_only:
            ranked = listing(snap, parsed, mask, candidates, k, offset, sort, timings)
            if not ranked.total:
                ranked = replace(ranked, warnings=(*ranked.warnings, *mesh_hints(snap, parsed.restriction)))
            return ranked
        tokens = tuple(self._tokenize(parsed.free_text))
        if not tokens:
            reason = ("The query has no words to search for: only stop words or punctuation. "
                      "Add a content word, e.g. a drug, disease or outcome.")
            return Ranked((), candidates, timings, (reason,), 0, sort, parsed)
        found = self._match(snap, parsed, tokens, filters, mask, mode, timings)
        warnings, did_you_mean = self._notes(snap, parsed, found, mask is not None)
        if not found.size:
            return Ranked((), candidates, timings, warnings, 0, sort, parsed, tokens, did_you_mean)
        rows = found.result.rows
        if sort in ("date", "author"):
            bm25, dense = self._retrieve(snap, tokens, found, self.config.depth, mode, timings)
            t = time.perf_counter()
            hits = sorted_page(snap, tokens, rows, bm25, dense, mode, sort, k, offset, found.cosine)
            timings["sort"] = ms(t)
            return Ranked(tuple(hits), candidates, timings, warnings, found.size, sort, parsed, tokens,
                          did_you_mean)
        ranked = self._relevance(snap, parsed, tokens, found, candidates, k, offset, mode, sort, timings)
        return replace(ranked, warnings=warnings, did_you_mean=did_you_mean)

    def _match(self, snap: Snapshot, parsed: ParsedQuery, tokens: tuple[str, ...], filters: Filters,
               mask: np.ndarray | None, mode: str, timings: dict[str, float]) -> Matched:
        """The result set of the free text under ``mask`` (search.results.result_set), with
        the query vector and the dense list it was found with (reused by the ranking)."""
        t = time.perf_counter()
        # everywhere: what the relevance side reads, never the filters (they only narrow) and
        # never notices (asked-for notices join by their words, so asking only adds them)
        allowed, everywhere = mask, None
        clauses = self.restriction(parsed, filters)
        notices_pass = True
        notice = snap.records.columns().notice
        if notice.any():
            everywhere = ~notice
            if not (filters.include_notices or asks_for_notices(parsed.restriction)):
                allowed = everywhere if mask is None else mask & everywhere
                notices_pass = False
        stage = self.first_stage(snap)
        query = TextQuery(parsed.free_text, tokens)
        nowhere_notices = Restriction(notices=everywhere is None, rows=everywhere)
        restricted = Restriction(clauses, filters, notices_pass, rows=allowed)
        found = concepts(parsed.free_text, self._tokenizer())
        rule = self.config.result_set
        qvec = None
        wide: list[Scored] = []
        semantic: list[Scored] = []
        known = any(snap.lexical.rows_with(tok).size for c in found for tok in c.tokens())
        kind = rule.semantic(mode, len(found))
        # the dense list: the cosine side's depth, else what the ranking's fusion reads
        dense_depth = max(rule.semantic_depth if kind == "cosine" else 0, self.config.depth)
        timings["match"] = ms(t)
        if kind == "bm25" and known:
            t = time.perf_counter()
            semantic = bm25_relevance(snap.lexical, tokens, rule.semantic_depth, everywhere)
            timings["bm25"] = ms(t)
        if mode != "bm25" and known:
            t = time.perf_counter()
            qvec = stage.query_vector(parsed.free_text)
            timings["embed"] = ms(t)
            t = time.perf_counter()
            wide = stage.search_vector(qvec, dense_depth, nowhere_notices)
            timings["dense"] = ms(t)
            semantic = wide
            if kind == "fused" and self.config.fusion == "learned":
                t = time.perf_counter()
                semantic = self.fused_candidates(snap, query.text, tokens, qvec, nowhere_notices, wide)
                timings["fusion"] = ms(t)
        t = time.perf_counter()
        kind_rule = rule if self.config.fusion == "learned" else replace(rule, fused_threshold=None)
        result = match_set(snap.lexical, snap.rows_of(), found, allowed, semantic, mode, kind_rule)
        timings["match"] += ms(t)
        # the dense list covers every allowed record when it is shorter than asked and holds the
        # notices too, or none are allowed
        notices_allowed = everywhere is not None and (allowed is None or bool((allowed & notice).any()))
        complete = len(wide) < dense_depth and not notices_allowed
        return Matched(result, allowed, qvec, wide, complete, restricted, parsed.free_text)

    def fused_candidates(self, snap: Snapshot, text: str, tokens: Sequence[str], qvec: np.ndarray,
                         allowed: Restriction | np.ndarray | None, wide: Sequence[Scored]) -> list[Scored]:
        """The learned-fusion scores of the BM25 and dense top ``depth`` under ``allowed`` (the
        dense list taken from ``wide``, the dense top under the same restriction), best first."""
        depth = self.config.depth
        if not isinstance(allowed, Restriction):
            allowed = Restriction(rows=allowed)
        bm25 = self.first_stage(snap).search_text(TextQuery(text, tuple(tokens)), depth, allowed)
        return [Scored(f.doc_id, f.score) for f in self._learned(snap, text, qvec, bm25, list(wide[:depth]))]

    def _notes(self, snap: Snapshot, parsed: ParsedQuery, found: Matched, filtered: bool) -> tuple[tuple[str, ...], str]:
        """Warnings for a result set (unknown words with suggestions, empty sets, MeSH hints)
        and the query with its unknown words corrected ("" when nothing to correct)."""
        r = found.result
        warnings: list[str] = []
        did_you_mean = ""
        if r.unknown:
            tokenizer = self._tokenizer()
            fixes = {w: suggest(snap, tokenizer, w) for w in r.unknown}
            warnings.append(unknown_words_message(r.unknown, fixes))
            did_you_mean = corrected(parsed.query, {w: alts[0] for w, alts in fixes.items() if alts})
        if not r.size:
            if len(r.unknown) == len(r.concepts):
                warnings.append("No record matches the query.")
            else:
                where = " among the records that pass the filters" if filtered else ""
                warnings.append(
                    f"No record matches the query{where}: a match holds {r.need} of its {len(r.concepts)} "
                    f"content words ({', '.join(r.concepts)}) or is close in meaning.")
            warnings.extend(mesh_hints(snap, parsed.restriction))
        return tuple(warnings), did_you_mean

    def _relevance(self, snap: Snapshot, parsed: ParsedQuery, tokens: tuple[str, ...], found: Matched,
                   candidates: int, k: int, offset: int, mode: str, sort: str, timings: dict[str, float]) -> Ranked:
        """The ranking pipeline, then the result set: BM25 and dense top-N under the filters,
        fusion, the records outside the set left out, rerank of the head; a page.

        The retrievers and fusion see the same lists as without a result set (the ranking is
        unchanged; the set only leaves records out). Members of the set that neither top-N
        reached follow, by BM25 score (the cosine in dense mode), so that paging walks the
        whole set."""
        text = parsed.free_text
        depth = max(offset + k, self.config.depth)
        bm25, dense = self._retrieve(snap, tokens, found, depth, mode, timings)
        t = time.perf_counter()
        if self.config.fusion == "learned" and mode in ("hybrid", "rerank"):
            fused = self._learned(snap, text, found.qvec, bm25, dense)
        else:
            fused = self._fuse(bm25, dense, mode)
        rows_of = snap.rows_of()
        inside = found.result.rows
        fused = [f for f in fused if inside[rows_of[f.doc_id]]]
        if len(fused) < min(offset + k, found.size):
            fused += self._rest_of_set(snap, tokens, found, {f.doc_id for f in fused}, offset + k - len(fused), mode)
        fused_at = {f.doc_id: (float(f.score), f.fused_rank) for f in fused if f.fused_rank is not None}
        timings["fusion"] = ms(t)
        reranked: dict[str, tuple[float, int]] = {}
        if mode == "rerank" and self.config.rerank_depth > 0 and fused:
            t = time.perf_counter()
            fused, reranked = self._rerank(snap, text, fused)
            timings["rerank"] = ms(t)
        if sort == "evidence" and fused:
            t = time.perf_counter()
            rows = np.array([rows_of[f.doc_id] for f in fused])
            # relevance inside a level is the fused order itself (equal scores keep their places)
            order = order_rows(snap.records.columns(), rows, "evidence", -np.arange(len(fused), dtype=np.float64))
            position = {r: i for i, r in enumerate(rows.tolist())}
            fused = [fused[position[r]] for r in order.tolist()]
            timings["sort"] = ms(t)
        hits = page_hits(fused[offset : offset + k], bm25, dense, fused_at, reranked, offset)
        return Ranked(hits, candidates, timings, (), found.size, sort, parsed, tokens)

    def _rest_of_set(self, snap: Snapshot, tokens: tuple[str, ...], found: Matched, listed: set[str], n: int,
                     mode: str) -> list[Fused]:
        """Up to ``n`` members of the result set not in ``listed``, by BM25 score (cosine in
        dense mode), scored below every listed record."""
        inside = found.result.rows.copy()
        rows_of = snap.rows_of()
        inside[[rows_of[d] for d in listed]] = False
        if mode == "dense":  # every member of a dense-mode set came from the dense list, best first
            scored = [(d, s) for d, s in found.wide if inside[rows_of[d]]][:n]
        else:
            scored = list(snap.lexical.search_tokens(list(tokens), n, inside))
            missing = n - len(scored)
            if missing > 0:  # members that hold no query token (the relevance side's)
                have = {d for d, _ in scored}
                scored += [(snap.doc_ids[r], 0.0) for r in np.flatnonzero(inside) if snap.doc_ids[r] not in have][:missing]
        return [Fused(d, -1e9 - i, None) for i, (d, _) in enumerate(scored)]

    def _retrieve(self, snap: Snapshot, tokens: tuple[str, ...], found: Matched, depth: int,
                  mode: str, timings: dict[str, float]) -> tuple[list[Scored], list[Scored]]:
        """The BM25 and dense top ``depth`` under the filters (less the notices left out), each
        empty where ``mode`` skips it; the dense list comes from the matching pass when it
        covers them."""
        bm25: list[Scored] = []
        dense: list[Scored] = []
        allowed = found.allowed
        stage = self.first_stage(snap)
        if mode != "dense":
            t = time.perf_counter()
            bm25 = stage.search_text(TextQuery(found.query_text, tokens), depth, found.restriction)
            timings["bm25"] = timings.get("bm25", 0.0) + ms(t)
        if mode != "bm25":
            t = time.perf_counter()
            rows_of = snap.rows_of()
            kept = [s for s in found.wide if allowed is None or allowed[rows_of[s.doc_id]]]
            if found.complete or len(kept) >= depth:
                dense = kept[:depth]
            else:
                # a dense mode: the snapshot has a dense index and found.qvec is the query's vector
                dense = stage.search_vector(cast(np.ndarray, found.qvec), depth, found.restriction)
            timings["dense"] = timings.get("dense", 0.0) + ms(t)
        return bm25, dense

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
        """Learned fusion (search.retrieval.learned_fusion): the model scores every candidate of either list."""
        ids, matrix = candidate_features(snap, self._tokenizer(), query, qvec, bm25, dense, self.first_stage(snap))
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
    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: Filters = NO_FILTERS,
               mode: str | None = None, sort: str = "relevance") -> SearchResults:
        """Results ``offset+1 .. offset+k`` of ``query`` in the order ``sort`` asks for
        (``relevance``, ``date``: newest first, ``author``: first author A to Z, or
        ``evidence``: strongest study design first, relevance within a level), each hit with
        its result card (read for the whole page in one batch). Raises
        :class:`search.query.syntax.QuerySyntaxError` (a ConfigError) for a malformed query."""
        query = _non_empty(query)
        snap = self.snapshot
        ranked = self.rank(query, k=k, offset=offset, filters=filters, mode=mode, sort=sort, snapshot=snap)
        parsed = ranked.parsed
        free_text = parsed.free_text if parsed is not None else ""
        restriction = parsed.restriction if parsed is not None else None
        t = time.perf_counter()
        hits = annotate(snap, ranked.hits, ranked.tokens, free_text, restriction, self._tokenizer(),
                        self._word_tokens.of)
        status = reader_status(snap, self.db_path)
        warnings = [*([] if status.fresh else [status.message]), *ranked.warnings]
        timings = {**ranked.timings_ms, "hydrate": ms(t)}
        return SearchResults(
            query, mode or self.config.mode, filters, hits, ranked.candidates, timings, tuple(warnings),
            snap.name, len(snap.doc_ids), ranked.total, offset, ranked.sort, free_text,
            to_pubmed(restriction) if restriction is not None else "", ranked.did_you_mean,
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
        reached = self._reached(snap, parsed, filters, mode, timings)
        t = time.perf_counter()
        facets = count_facets(snap.records.columns(), reached, limit)
        timings["count"] = ms(t)
        return replace(facets, timings_ms=timings)

    def matching_ids(self, query: str, *, filters: Filters = NO_FILTERS, mode: str | None = None) -> frozenset[str]:
        """The doc ids of every record in the result set of ``query`` (what ``total`` counts);
        saved searches compare these sets between runs to tell what is new."""
        query = _non_empty(query)
        snap = self.snapshot
        mode = mode or self.config.mode
        parsed = parse(query)
        self._check(query, parsed, 1, 0, mode, "relevance", snap)
        reached = self._reached(snap, parsed, filters, mode, {})
        return frozenset(snap.doc_ids[r] for r in np.flatnonzero(reached).tolist())

    def cards_of(self, doc_ids: Sequence[str]) -> tuple[Hit, ...]:
        """Hits with their result cards for ``doc_ids`` (no ranking: rank 0, score 0), in the
        order given; ids the snapshot lacks are left out."""
        snap = self.snapshot
        known = [d for d in doc_ids if d in snap.rows_of()]
        hits = tuple(Hit(doc_id=d, rank=0, score=0.0) for d in known)
        return annotate(snap, hits, (), "", None, self._tokenizer(), self._word_tokens.of)

    def _reached(self, snap: Snapshot, parsed: ParsedQuery, filters: Filters, mode: str,
                 timings: dict[str, float]) -> np.ndarray:
        """The result set as a boolean mask: every match of a query of clauses only, else the
        free text's result set (search.results.result_set)."""
        mask = self.mask(snap, filters, self.restriction(parsed, filters), timings)
        if parsed.boolean_only:
            return mask if mask is not None else np.ones(len(snap.doc_ids), dtype=bool)
        tokens = tuple(self._tokenize(parsed.free_text))
        if not tokens:
            return np.zeros(len(snap.doc_ids), dtype=bool)
        return self._match(snap, parsed, tokens, filters, mask, mode, timings).result.rows

    def similar(self, pmid: str, *, k: int = 10, filters: Filters = NO_FILTERS,
                include_notices: bool = False, method: str = similar_lib.DEFAULT_METHOD) -> SimilarResults:
        """The ``k`` records nearest to the paper ``pmid`` (a PMID or doc id): its dense vector
        fused with a BM25 query of its title and MeSH major topics (``search/results/similar.py``).

        The paper itself is never listed, retraction notices only with ``include_notices``;
        ``filters`` apply as in :meth:`search`."""
        snap = self.snapshot
        near = self.rank_similar(pmid, k=k, filters=filters, include_notices=include_notices, method=method,
                                 snapshot=snap)
        t = time.perf_counter()
        tokenizer, words = self._tokenizer(), self._word_tokens.of
        hits = annotate(snap, near.hits, near.tokens, near.query, None, tokenizer, words)
        source = annotate(snap, (Hit(doc_id=near.doc_id, rank=0, score=0.0),), (), "", None, tokenizer, words)[0]
        timings = {**near.timings_ms, "hydrate": ms(t)}
        warnings = () if hits else ("No other record passes the filters.",)
        return SimilarResults(source, near.query, hits, near.candidates, timings, warnings, snap.name,
                              len(snap.doc_ids))

    def rank_similar(self, pmid: str, *, k: int = 10, filters: Filters = NO_FILTERS, include_notices: bool = False,
                     method: str = similar_lib.DEFAULT_METHOD, bm25_weight: float = similar_lib.BM25_WEIGHT,
                     snapshot: Snapshot | None = None) -> similar_lib.Near:
        """:meth:`similar` without the result cards (for evaluation runs; ``method`` and
        ``bm25_weight``: see ``search/results/similar.py``)."""
        snap = snapshot or self.snapshot
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
        allowed = self.mask(snap, filters, self.restriction(None, filters), timings)
        t = time.perf_counter()
        near = similar_lib.nearest(snap, doc_id, allowed, self._tokenize, k=k, depth=self.config.depth,
                                   max_terms=self.config.max_query_terms, include_notices=include_notices,
                                   method=method, bm25_weight=bm25_weight, stage=self.first_stage(snap),
                                   restriction=Restriction(self.restriction(None, filters), filters))
        return replace(near, timings_ms={**timings, "similar": ms(t)})

    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records of the current snapshot (ids it does not hold are left out)."""
        return self.snapshot.records.articles(doc_ids)


def _plain(query: str) -> ParsedQuery:
    """``query`` read as free text only (no restriction)."""
    term = Term(query)
    return ParsedQuery(query, term, (term,), None)


def _non_empty(query: str) -> str:
    query = query.strip()
    if not query:
        raise ConfigError("The query is empty.", hint='Type some words, e.g. "metformin breast cancer".')
    return query
