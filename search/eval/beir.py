"""Retrieval quality on a BEIR-format folder: nDCG@10, Recall@100 and MRR@10 per search mode.

The folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) is ingested
into its own cached DuckDB file under ``data/eval/`` (named after the folder and
the corpus file's fingerprint, so a changed corpus gets a new cache), indexed
with the same code as any store, and searched through the same
:class:`~search.engine.Engine` as ``medsearch search``. Metrics follow
trec_eval's definitions with linear gain (``search.eval.metrics``).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.beir import load_qrels, load_queries
from ingest.errors import SourceError
from ingest.pipeline import ingest_files
from ingest.progress import progress_bar
from ingest.sources import fingerprint
from ingest.store import Store
from search.engine import MODES, Engine, EngineConfig
from search.eval.metrics import evaluate
from search.eval.sets import SetStats, measure_sets
from search.index.build import IndexManager, IndexSettings
from search.retrieval.rerank import Reranker

EVAL_K = 100  # Recall@100 needs the top 100


@dataclass(frozen=True, slots=True)
class ModeResult:
    ndcg10: float
    recall100: float
    mrr10: float
    queries: int
    seconds: float

    def to_json(self) -> dict[str, float]:
        return {"ndcg@10": self.ndcg10, "recall@100": self.recall100, "mrr@10": self.mrr10}


@dataclass(slots=True)
class EvalReport:
    folder: Path
    split: str
    default_mode: str
    documents: int
    results: dict[str, ModeResult] = field(default_factory=dict)
    sets: dict[str, dict[str, SetStats]] = field(default_factory=dict)  # mode -> rule -> stats

    def to_json(self) -> dict:
        out: dict = {mode: r.to_json() for mode, r in self.results.items()}
        out["default"] = self.default_mode
        if self.sets:
            out["sets"] = {mode: {rule: s.to_json() for rule, s in by.items()} for mode, by in self.sets.items()}
        return out


def check_folder(folder: Path, split: str) -> None:
    for part in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / part).is_file():
            raise SourceError(
                f"{folder} is not a BEIR folder with a {split!r} split: {part} is missing.",
                hint="A BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv; "
                "choose the split with --split.",
            )


def eval_store(folder: Path, cache_dir: Path, progress: bool = True) -> Store:
    """The cached store of a BEIR corpus, ingested on first use (resumes if interrupted)."""
    corpus = folder / "corpus.jsonl"
    tag = fingerprint(corpus).rsplit(":", 1)[-1][:12]
    store = Store(cache_dir / f"{folder.resolve().name}-{tag}.duckdb")
    ingest_files(store, [corpus], progress=progress, kind="eval")
    return store


def run_queries(
    engine: Engine, queries: dict[str, str], mode: str, *, k: int = EVAL_K,
    on_query: Callable[[], None] | None = None,
) -> dict[str, dict[str, float]]:
    """A run in BEIR's shape: ``{qid: {doc_id: score}}``; scores encode the engine's order."""
    run: dict[str, dict[str, float]] = {}
    for qid, text in queries.items():
        hits = engine.rank(text, k=k, mode=mode, syntax=False).hits
        run[qid] = {h.doc_id: float(len(hits) - i) for i, h in enumerate(hits)}
        if on_query:
            on_query()
    return run


def evaluate_beir(
    folder: str | Path,
    *,
    split: str = "test",
    modes: Sequence[str] = MODES,
    cache_dir: str | Path = Path("data/eval"),
    config: EngineConfig | None = None,
    index_settings: IndexSettings | None = None,
    reranker: Reranker | None = None,
    progress: bool = True,
    sets: bool = False,
    milvus: Any = None,
) -> EvalReport:
    """Ingest, index and search a BEIR folder; metrics for each mode in ``modes``, and with
    ``sets`` the result sets' size, recall and precision under each rule (search.eval.sets)."""
    folder = Path(folder)
    check_folder(folder, split)
    qrels = load_qrels(folder, split)
    all_queries = load_queries(folder)
    queries = {q: all_queries[q] for q in qrels if q in all_queries}
    config = config or EngineConfig()
    with eval_store(folder, Path(cache_dir), progress) as store:
        manager = IndexManager(store, None, index_settings)
        manager.build_or_update(progress=progress)
        snap = manager.load()
        stage = None
        if milvus is not None:  # a search/retrieval/milvus/connect.Target: the same snapshot, in Milvus
            from search.retrieval.milvus.collection import build_from_snapshot
            from search.retrieval.milvus.stage import MilvusFirstStage

            slug = re.sub(r"[^A-Za-z0-9_]", "_", folder.name)
            target = dataclasses.replace(milvus, collection=f"{milvus.collection}_{slug}")  # one per corpus
            build_from_snapshot(snap, target, progress=False)
            stage = lambda s: MilvusFirstStage.open(target, s)  # noqa: E731
        engine = Engine(snap, config, reranker, first_stage=stage)
        report = EvalReport(folder, split, config.mode, store.count())
        for mode in modes:
            report.results[mode] = _one_mode(engine, queries, qrels, mode, progress)
        if sets:
            report.sets = measure_sets(engine, queries, qrels, modes)
    return report


def _one_mode(engine: Engine, queries: dict[str, str], qrels: dict, mode: str, progress: bool) -> ModeResult:
    bar = progress_bar(progress, desc=f"eval {mode}", unit=" q", total=len(queries))
    start = time.perf_counter()
    try:
        run = run_queries(engine, queries, mode, on_query=lambda: bar.update(1))
    finally:
        bar.close()
    m = evaluate(qrels, run)
    return ModeResult(m["nDCG@10"], m["Recall@100"], m["MRR@10"], len(queries), time.perf_counter() - start)
