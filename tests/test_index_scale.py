"""``medsearch index --vectors FILE`` and ``--ray``: vectors from elsewhere go into the build's
journal, and the build that follows writes the snapshot the plain path writes (the scale extra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.errors import ConfigError
from ingest.pipeline import ingest_files
from ingest.store import Store
from search.index.build import IndexManager, IndexSettings
from search.index.documents import iter_documents
from search.index.vectors_import import import_vectors
from search.retrieval.dense import DenseParams
from tests.conftest import PUBMED_DATA
from tests.fake_embedder import FakeEmbedder

RECORD_FILES = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"


@pytest.fixture
def store(tmp_path):
    files = sorted(RECORD_FILES.glob("*.xml"))[:12]
    assert files, f"real data not found at {RECORD_FILES}"
    with Store(tmp_path / "s.duckdb") as s:
        ingest_files(s, files, progress=False)
        yield s


def _manager(store: Store) -> IndexManager:
    return IndexManager(store, settings=IndexSettings(embedder=FakeEmbedder.name), embedder=FakeEmbedder())


def _parquet(path: Path, ids: list[str], vectors: np.ndarray, model: str | None = FakeEmbedder.name) -> Path:
    table = pa.table({"pmid": ids, "vector": [v.tolist() for v in vectors]})
    if model is not None:
        table = table.replace_schema_metadata({"model": model})
    pq.write_table(table, path)
    return path


def _pmids(store: Store) -> list[str]:
    return [p for (p,) in store.con.execute("SELECT pmid FROM articles ORDER BY doc_id").fetchall()]


def test_imported_vectors_are_the_snapshots_and_are_not_computed_again(store, tmp_path):
    manager = _manager(store)
    pmids = _pmids(store)[:5]
    rng = np.random.default_rng(0)
    given = rng.normal(size=(5, FakeEmbedder.dims)).astype(np.float32)
    path = _parquet(tmp_path / "v.parquet", pmids, given)
    report = import_vectors(store, manager.index_dir, DenseParams.of(manager.embedder()), path)
    assert (report.imported, report.unknown, report.missing) == (5, 0, len(_pmids(store)) - 5)
    manager.build_or_update(progress=False)
    snap = manager.load()
    texts = {d.doc_id: d.text for d in iter_documents(store)}
    by_pmid = dict(store.con.execute("SELECT pmid, doc_id FROM articles").fetchall())
    for pmid, vec in zip(pmids, given, strict=True):
        row = snap.rows_of()[by_pmid[pmid]]
        np.testing.assert_allclose(snap.dense.vectors[row], vec / np.linalg.norm(vec), rtol=1e-5)
        assert texts[by_pmid[pmid]] not in manager.embedder().embedded  # taken, not embedded
    assert len(manager.embedder().embedded) == len(texts) - 5


def test_numpy_vectors_with_ids_and_model_beside_them(store, tmp_path):
    manager = _manager(store)
    pmids = _pmids(store)[:3]
    np.save(tmp_path / "v.npy", np.ones((3, FakeEmbedder.dims), dtype=np.float32))
    (tmp_path / "v.ids.txt").write_text("\n".join(pmids))
    (tmp_path / "v.json").write_text(json.dumps({"model": FakeEmbedder.name}))
    got = import_vectors(store, manager.index_dir, DenseParams.of(manager.embedder()), tmp_path / "v.npy")
    assert got.imported == 3


@pytest.mark.parametrize(("dims", "model", "message"), [
    (FakeEmbedder.dims + 1, FakeEmbedder.name, "dimensions"),
    (FakeEmbedder.dims, "medcpt-article", "were made by 'medcpt-article'"),
    (FakeEmbedder.dims, None, "does not say which model"),
])
def test_a_file_of_another_model_or_dimension_is_refused_before_any_work(store, tmp_path, dims, model, message):
    manager = _manager(store)
    path = _parquet(tmp_path / "v.parquet", _pmids(store)[:2], np.ones((2, dims), dtype=np.float32), model)
    with pytest.raises(ConfigError, match=message):
        import_vectors(store, manager.index_dir, DenseParams.of(manager.embedder()), path)
    assert not (manager.index_dir / ".embeddings").exists()


def test_unknown_pmids_are_reported_and_refused_unless_allowed(store, tmp_path):
    manager = _manager(store)
    ids = [*_pmids(store)[:2], "99999991", "99999992"]
    path = _parquet(tmp_path / "v.parquet", ids, np.ones((4, FakeEmbedder.dims), dtype=np.float32))
    params = DenseParams.of(manager.embedder())
    with pytest.raises(ConfigError, match=r"2 of the 4 ids .* not in the store \(e.g. 99999991, 99999992\)"):
        import_vectors(store, manager.index_dir, params, path)
    got = import_vectors(store, manager.index_dir, params, path, allow_unknown=True)
    assert (got.imported, got.unknown) == (2, 2)


def test_a_ray_address_that_does_not_answer_is_an_error_before_any_work():
    from ingest.errors import SearchIndexError
    from search.index.ray_embed import check_address

    with pytest.raises(SearchIndexError, match="does not answer"):
        check_address("127.0.0.1:1", timeout=1.0)
    with pytest.raises(ConfigError, match="not host:port"):
        check_address("nowhere")


def test_a_local_ray_gives_each_worker_its_share_of_the_cores():
    from search.index.ray_embed import worker_shape

    assert worker_shape(None, None, local=True, cpus=16) == (16, 1)  # default: one single-threaded worker a core
    assert worker_shape(1, None, local=True, cpus=16) == (1, 16)
    assert worker_shape(3, None, local=True, cpus=16) == (3, 5)
    assert worker_shape(32, None, local=True, cpus=16) == (32, 1)  # more workers than cores: asked for
    assert worker_shape(None, 4, local=True, cpus=16) == (4, 4)
    assert worker_shape(None, None, local=False, cpus=64) == (64, 1)  # a cluster: a worker per CPU
    assert worker_shape(8, None, local=False, cpus=64) == (8, 1)  # an actor is not spread over nodes


@pytest.mark.parametrize("option", ["--ray-workers", "--ray-worker-cpus"])
def test_a_ray_count_below_one_is_an_error_before_any_work(tmp_path, option, capsys, monkeypatch):
    from search.cli import main

    monkeypatch.setenv("MEDSEARCH_INDEX_DIR", str(tmp_path / "idx"))
    code = main(["--db", str(tmp_path / "s.duckdb"), "index", "--ray", option, "0"])
    assert code == 2
    assert f"{option} must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "idx").exists() and not (tmp_path / "s.duckdb").exists()


@pytest.mark.slow
def test_the_ray_job_writes_the_vectors_the_plain_path_writes_and_resumes(store, tmp_path, capfd):
    """Real model (the packaged MiniLM) on a local Ray of 2 workers; Ray Data's INFO lines and
    its advice on progress bars stay off the console (the job's own bar is the progress)."""
    from search.index.journal import EmbeddingJournal
    from search.index.ray_embed import embed_on_ray, pending

    settings = IndexSettings()
    plain = IndexManager(store, tmp_path / "plain", settings)
    plain.build_or_update(progress=False)
    expected = plain.load()
    on_ray = IndexManager(store, tmp_path / "ray", settings)
    params = DenseParams.of(on_ray.embedder())
    todo, skipped = pending(store, on_ray.index_dir, params, set())
    journal = EmbeddingJournal(on_ray.index_dir, params)
    journal.record([h for h, _ in todo[:4]], on_ray.embedder().embed_documents([t for _, t in todo[:4]]))
    rest, done_before = pending(store, on_ray.index_dir, params, set())
    assert done_before == 4 and len(rest) == len(todo) - 4  # an interrupted job's batches are kept
    report = embed_on_ray(rest, journal, {"name": settings.embedder, "backend": settings.backend},
                          address=None, workers=2)
    assert report.embedded == len(rest)
    console = capfd.readouterr().err
    for line in ("Execution plan of Dataset", "Progress bars disabled", "Token authentication is enabled"):
        assert line not in console, console
    on_ray._embedder = _NoEmbedding(on_ray.embedder())  # the build must find every vector in the journal
    on_ray.build_or_update(progress=False)
    got = on_ray.load()
    assert got.doc_ids == expected.doc_ids
    np.testing.assert_allclose(got.dense.vectors, expected.dense.vectors, atol=1e-5)


class _NoEmbedding:
    def __init__(self, inner) -> None:
        self._inner = inner
        self.name, self.backend, self.doc_prefix, self.dims = inner.name, inner.backend, inner.doc_prefix, inner.dims
        self.query_prefix = getattr(inner, "query_prefix", "")

    def embed_query(self, query: str) -> np.ndarray:
        return self._inner.embed_query(query)

    def embed_documents(self, texts, **kw):
        raise AssertionError(f"the build embedded {len(texts)} texts the Ray job had embedded")
