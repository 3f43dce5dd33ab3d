"""Assemble the engine from settings: the one place that turns ``Settings`` into parts.

The CLI and the app call :func:`open_engine`; tests and ``medsearch eval`` build
the parts themselves when they need other ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from search.config import Settings
from search.engine import Engine, EngineConfig
from search.index.build import IndexSettings
from search.retrieval.rerank import Reranker, holds_onnx, load_reranker

#: The cross-encoder this project trains and ships (see its MODEL_CARD.md), if present.
PACKAGED_RERANKER = Path(__file__).resolve().parent / "models" / "reranker"

def default_mode(reranker: Reranker | None, dense: bool = True) -> str:
    """The mode `medsearch search` uses when MEDSEARCH_SEARCH_MODE is unset: rerank when a
    reranker is configured (the packaged one raised nDCG@10 on the dev splits), else hybrid;
    bm25 when embeddings are off (MEDSEARCH_EMBEDDING_MODEL=none)."""
    if not dense:
        return "bm25"
    return "rerank" if reranker is not None else "hybrid"


def index_settings(settings: Settings) -> IndexSettings:
    model = settings.embedding_model
    return IndexSettings(
        embedder=None if model.lower() == "none" else model,
        backend=settings.embedding_backend,
        allow_download=settings.allow_download == "1",
    )


def reranker_from(settings: Settings) -> Reranker | None:
    """The configured cross-encoder; None when disabled or when no packaged one ships."""
    name = settings.reranker
    if name.lower() == "none":
        return None
    if name == "packaged":
        return load_reranker(PACKAGED_RERANKER) if holds_onnx(PACKAGED_RERANKER) else None
    return load_reranker(name)


def engine_config(settings: Settings, reranker: Reranker | None) -> EngineConfig:
    from search.retrieval.rerank import read_meta

    dense = settings.embedding_model.lower() != "none"
    mode = settings.search_mode or default_mode(reranker, dense)
    alpha = EngineConfig().rerank_alpha  # the default
    if settings.reranker == "packaged" and reranker is not None:
        alpha = float(read_meta(PACKAGED_RERANKER).get("alpha", alpha))
    return EngineConfig(mode=mode, rerank_alpha=alpha)


def open_engine(settings: Settings) -> Engine:
    """The engine over the current index snapshot; it never opens the store, so it works
    while an ingest or index run holds it, and it picks up newer snapshots by itself."""
    reranker = reranker_from(settings)
    engine = Engine.open(
        index_dir=settings.index_dir, db_path=settings.db, index_settings=index_settings(settings),
        config=engine_config(settings, reranker), reranker=reranker, first_stage=first_stage(settings),
    )
    if settings.backend != "inprocess":
        engine.first_stage()  # the backend answers (URI, token, collection of this corpus and model) before any search
    return engine


def milvus_target(settings: Settings) -> Any:
    """Where MEDSEARCH_MILVUS_URI points (``search/retrieval/milvus/connect.py``)."""
    from search.retrieval.milvus.connect import Target

    return Target.from_settings(settings.milvus_uri, settings.milvus_collection)


def first_stage(settings: Settings) -> Callable[[Any], Any] | None:
    """The first-stage backend of MEDSEARCH_BACKEND for a snapshot (None: in process)."""
    if settings.backend != "milvus":
        return None
    from search.retrieval.milvus.stage import MilvusFirstStage

    target = milvus_target(settings)
    return lambda snap: MilvusFirstStage.open(target, snap)
