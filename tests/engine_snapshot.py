"""One index snapshot of every real record under ``../shared/data/pubmed`` (about 790 PubMed
XML records and 1,621 retraction notices), with BM25 and the fast fake embedder, built once
per test session and shared by the engine feature tests (query syntax, facets, highlights,
similar articles), plus the records themselves read back from the *store*, so that oracles
never go through the snapshot code they check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PUBMED_DATA
from tests.fake_embedder import FakeEmbedder

_BUILT: dict[str, Real] = {}


@dataclass(frozen=True)
class Real:
    """The shared snapshot's store and, read from the store, its records and BM25 texts."""

    db: Path
    articles: dict  # doc_id -> ingest.records.Article
    lexical: dict  # doc_id -> the text BM25 indexed (search.index.documents recipe)


def settings():
    from search.index.build import IndexSettings

    return IndexSettings(embedder=FakeEmbedder.name)


def real_snapshot(tmp_path_factory) -> Real:
    """The shared real-data snapshot (built on first use)."""
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    if "all" not in _BUILT:
        from ingest.pipeline import ingest_files
        from ingest.store import Store
        from search.index.build import IndexManager
        from search.index.documents import iter_documents

        db = tmp_path_factory.mktemp("real-snapshot") / "store.duckdb"
        with Store(db) as store:
            ingest_files(store, [PUBMED_DATA], progress=False)
            IndexManager(store, settings=settings(), embedder=FakeEmbedder()).build_or_update(progress=False)
            ids = [d for (d,) in store.con.execute("SELECT doc_id FROM articles ORDER BY doc_id").fetchall()]
            articles = store.get_articles(ids)
            lexical = {d.doc_id: d.lexical_text for d in iter_documents(store)}
        _BUILT["all"] = Real(db, articles, lexical)
    return _BUILT["all"]


def engine_over(db: Path, **config):
    """An engine over the snapshot of the store at ``db`` (weighted fusion: no model file needed)."""
    from ingest.store import Store
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexManager

    with Store(db, read_only=True) as store:
        snap = IndexManager(store, settings=settings(), embedder=FakeEmbedder()).load()
    return Engine(snap, EngineConfig(**{"mode": "hybrid", "fusion": "weighted", **config}))
