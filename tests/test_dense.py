"""DenseIndex: exact search against a numpy oracle, masks before top-k, incremental updates,
self-describing persistence; the packaged embedders (ONNX int8 and torch fp32) agree."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ingest.errors import ConfigError, SearchIndexError
from search.retrieval import dense as dense_mod
from search.retrieval.dense import DenseIndex, DenseUpdate


class FakeEmbedder:
    """Deterministic pseudo-random unit vectors per text; counts what it embeds."""

    name = "fake-model"
    backend = "onnx"
    doc_prefix = ""
    query_prefix = ""

    def __init__(self, dims: int = 16) -> None:
        self.dims = dims
        self.embedded: list[str] = []

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.md5(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(self.dims).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_query(self, query: str) -> np.ndarray:
        return self.vector(query)

    def embed_documents(self, texts, *, batch_size=32, progress=False) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dims), np.float32)


def _docs(n: int, prefix: str = "doc") -> list[tuple[str, str, str]]:
    return [(f"{prefix}{i:05d}", f"text of {prefix} {i}", f"h{i}") for i in range(n)]


def _random_index(n: int, dims: int = 24, seed: int = 0) -> DenseIndex:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[5] = vectors[7]  # a tie: index order decides
    ids = [f"d{i}" for i in range(n)]
    params = dense_mod.DenseParams("fake-model", "onnx", dims)
    return DenseIndex(vectors, ids, [f"h{i}" for i in range(n)], params=params, fingerprint="fp")


def _oracle(index: DenseIndex, q: np.ndarray, k: int, mask: np.ndarray | None) -> list[str]:
    scores = np.asarray(index.vectors, dtype=np.float64) @ q
    rows = [i for i in range(len(index)) if mask is None or mask[i]]
    rows.sort(key=lambda i: (-round(scores[i], 5), i))
    return [index.doc_ids[i] for i in rows[:k]]


def _assert_exact_top_k(got, index: DenseIndex, q: np.ndarray, k: int, mask) -> None:
    """``got`` is a brute-force top k: right size, allowed rows only, true scores in order.

    Rows whose scores differ by less than float32 rounding may swap places.
    """
    true = np.asarray(index.vectors, dtype=np.float64) @ q
    allowed = np.arange(len(index)) if mask is None else np.flatnonzero(mask)
    expected = np.sort(true[allowed])[::-1][:k]
    rows = [int(d[1:]) for d, _ in got]
    assert len(set(rows)) == len(rows) == len(expected)
    assert mask is None or mask[rows].all()
    np.testing.assert_allclose(true[rows], expected, atol=1e-5)
    np.testing.assert_allclose([s for _, s in got], true[rows], atol=1e-5)


@pytest.mark.parametrize("density", [None, 0.002, 0.1, 0.6, 1.0])
def test_chunked_masked_search_equals_brute_force(monkeypatch, density):
    monkeypatch.setattr(dense_mod, "CHUNK_ROWS", 97)  # many chunks, a ragged last one
    index = _random_index(3000)
    rng = np.random.default_rng(1)
    mask = None if density is None else rng.random(3000) < density
    for q in rng.standard_normal((5, 24)).astype(np.float32):
        q /= np.linalg.norm(q)
        got = index.search(q, 20, mask)
        assert [d for d, _ in got] == _oracle(index, q, 20, mask)
        _assert_exact_top_k(got, index, q, 20, mask)
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        rows = [index.doc_ids.index(d) for d, _ in got]
        np.testing.assert_allclose(scores, index.vectors[rows] @ q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("density", [None, 0.05, 0.3, 0.7])
@pytest.mark.parametrize("clumped", [False, True])
def test_the_int8_first_pass_returns_the_exact_top_k(monkeypatch, density, clumped):
    monkeypatch.setattr(dense_mod, "INT8_MIN_ROWS", 10)
    index = _random_index(4000, dims=32, seed=3)
    if clumped:  # near-duplicates: many rows within the int8 error of the k-th score
        rng = np.random.default_rng(4)
        base = index.vectors[:40]
        noisy = base[rng.integers(0, 40, 4000)] + 0.01 * rng.standard_normal((4000, 32))
        index.vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        index._int8 = None
    rng = np.random.default_rng(2)
    mask = None if density is None else rng.random(4000) < density
    for q in [*rng.standard_normal((4, 32)).astype(np.float32), index.vectors[17]]:
        q = q / np.linalg.norm(q)
        for k in (1, 10, 100):
            _assert_exact_top_k(index.search(q, k, mask), index, q, k, mask)


def test_the_int8_error_bound_holds():
    from search.retrieval.dense_int8 import Int8Matrix

    index = _random_index(5000, dims=48, seed=5)
    int8 = Int8Matrix.from_vectors(index.vectors)
    for q in np.random.default_rng(6).standard_normal((10, 48)).astype(np.float32):
        q /= np.linalg.norm(q)
        approx, bound = int8.approx_scores(q)
        error = np.abs(approx - index.vectors @ q)
        assert error.max() <= bound
        assert bound < 0.1


def test_the_embedded_int8_graph_is_the_one_the_builder_makes():
    pytest.importorskip("onnx")
    from search.retrieval.dense_int8 import MATMUL_INT8_ONNX, graph_bytes

    assert graph_bytes() == MATMUL_INT8_ONNX


def test_large_indexes_save_and_load_their_int8_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(dense_mod, "INT8_MIN_ROWS", 100)
    index = _random_index(300)
    index.save(tmp_path / "big")
    assert (tmp_path / "big" / "int8_matrix.npy").is_file()
    loaded = DenseIndex.load(tmp_path / "big", fingerprint="fp")
    assert loaded._int8 is not None and loaded._int8.matrix_t.shape == (24, 300)
    q = index.vectors[3]
    assert loaded.search(q, 10) == index.search(q, 10)
    monkeypatch.setattr(dense_mod, "INT8_MIN_ROWS", 1000)
    loaded.save(tmp_path / "big")  # small again: the int8 copy goes
    assert not (tmp_path / "big" / "int8_matrix.npy").exists()


def test_a_filter_leaving_three_returns_those_three_and_never_a_masked_one():
    index = _random_index(500)
    mask = np.zeros(500, dtype=bool)
    mask[[3, 250, 499]] = True
    got = index.search(index.vectors[10], 10, mask)
    assert sorted(d for d, _ in got) == ["d250", "d3", "d499"]
    assert index.search(index.vectors[10], 10, np.zeros(500, dtype=bool)) == []
    assert len(index.search(index.vectors[10], 10_000)) == 500


def test_ties_keep_index_order():
    index = _random_index(50)
    got = index.search(index.vectors[7], 2)
    assert [d for d, _ in got] == ["d5", "d7"]


def test_a_wrong_mask_or_query_is_refused():
    index = _random_index(50)
    with pytest.raises(SearchIndexError, match="boolean mask over its 50"):
        index.search(index.vectors[0], 5, np.ones(49, dtype=bool))
    with pytest.raises(SearchIndexError, match="boolean mask"):
        index.search(index.vectors[0], 5, np.ones(50, dtype=int))
    with pytest.raises(SearchIndexError, match="24"):
        index.search(np.ones(10, dtype=np.float32), 5)


def test_update_embeds_only_texts_not_embedded_before_and_drops_deleted_records():
    emb = FakeEmbedder()
    index = DenseIndex.build(_docs(6), emb, fingerprint="v1")
    assert len(emb.embedded) == 6
    before = {d: index.vectors[i].copy() for i, d in enumerate(index.doc_ids)}
    emb.embedded.clear()
    docs = _docs(6)
    docs[2] = (docs[2][0], "a revised abstract", "h2-new")  # changed
    del docs[4]  # deleted
    docs.insert(1, ("doc00000a", "a new record", "hn"))  # new, sorted between 0 and 1
    result = index.update(docs, fingerprint="v2")
    assert result == DenseUpdate(kept=4, added=1, changed=1, removed=1)
    assert result.embedded == 2
    assert emb.embedded == ["a new record", "a revised abstract"]
    assert index.doc_ids == [d for d, _, _ in docs]
    assert index.text_hashes == [h for _, _, h in docs]
    assert index.fingerprint == "v2"
    for i, (doc_id, text, _) in enumerate(docs):
        expected = before[doc_id] if doc_id in before and doc_id != "doc00002" else emb.vector(text)
        np.testing.assert_array_equal(index.vectors[i], expected)
    emb.embedded.clear()
    assert index.update(docs, fingerprint="v2") == DenseUpdate(kept=6)
    assert emb.embedded == []


def test_a_record_with_the_same_text_hash_keeps_its_vector_under_any_doc_id():
    emb = FakeEmbedder()
    index = DenseIndex.build(_docs(3), emb, fingerprint="v1")
    kept = index.vectors[1].copy()
    emb.embedded.clear()
    doc_id, text, digest = _docs(3)[1]
    result = index.update([("another-id", "ignored: the hash says it was embedded", digest)], fingerprint="v2")
    assert result == DenseUpdate(kept=1, removed=3) and emb.embedded == []
    np.testing.assert_array_equal(index.vectors[0], kept)


def test_update_in_chunks_keeps_every_row_in_place(monkeypatch):
    monkeypatch.setattr(dense_mod, "EMBED_CHUNK", 7)
    emb = FakeEmbedder()
    index = DenseIndex.build(_docs(50), emb, fingerprint="x")
    for i, (_, text, _) in enumerate(_docs(50)):
        np.testing.assert_array_equal(index.vectors[i], emb.vector(text))


def test_repeated_doc_ids_are_refused():
    with pytest.raises(SearchIndexError, match="repeat doc_id"):
        DenseIndex.build(_docs(3) + _docs(1), FakeEmbedder(), fingerprint="x")


def test_search_by_text_uses_the_query_embedding():
    emb = FakeEmbedder()
    index = DenseIndex.build(_docs(20), emb, fingerprint="x")
    assert index.search("text of doc 13", 1)[0][0] == "doc00013"


def test_save_and_load_round_trip_memory_mapped(tmp_path):
    emb = FakeEmbedder()
    index = DenseIndex.build(_docs(30), emb, fingerprint="fp-1")
    index.save(tmp_path / "dense")
    meta = json.loads((tmp_path / "dense" / "params.json").read_text())
    assert meta == {
        "model": "fake-model", "backend": "onnx", "dims": 16, "doc_prefix": "",
        "recipe_version": 1, "doc_count": 30, "fingerprint": "fp-1",
    }
    loaded = DenseIndex.load(tmp_path / "dense", fingerprint="fp-1", embedder=emb)
    assert isinstance(loaded.vectors, np.memmap)
    assert loaded.doc_ids == index.doc_ids and loaded.text_hashes == index.text_hashes
    q = emb.vector("text of doc 3")
    assert loaded.search(q, 5) == index.search(q, 5)
    # an update of a loaded index saves over its own memory-mapped files safely
    loaded.update(_docs(31), fingerprint="fp-2")
    loaded.save(tmp_path / "dense")
    again = DenseIndex.load(tmp_path / "dense", fingerprint="fp-2", embedder=emb)
    assert len(again) == 31 and again.search(q, 5) == index.search(q, 5)


def test_load_refuses_another_corpus_model_or_recipe(tmp_path):
    folder = tmp_path / "dense"
    DenseIndex.build(_docs(5), FakeEmbedder(), fingerprint="fp-1").save(folder)
    with pytest.raises(SearchIndexError, match="corpus fingerprint") as err:
        DenseIndex.load(folder, fingerprint="fp-2")
    assert "medsearch index" in str(err.value)
    with pytest.raises(SearchIndexError, match="embedding model 'fake-model'.*'other-model'"):
        DenseIndex.load(folder, fingerprint=None, model="other-model")
    meta = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**meta, "recipe_version": 0}))
    with pytest.raises(SearchIndexError, match="text recipe version 0"):
        DenseIndex.load(folder, fingerprint=None)
    (folder / "params.json").unlink()
    with pytest.raises(SearchIndexError, match="(?s)No dense index.*medsearch index"):
        DenseIndex.load(folder, fingerprint=None)


# -- the packaged models ---------------------------------------------------------------------


def test_a_missing_optional_dependency_names_the_pip_command():
    from search.retrieval.encoders import require

    with pytest.raises(ConfigError, match="pip install no_such_module_xyz"):
        require("no_such_module_xyz")


def test_known_model_families_get_their_prefixes():
    from search.retrieval.encoders import default_prefixes, load_embedder

    assert default_prefixes("intfloat/e5-base-v2") == ("query: ", "passage: ")
    assert default_prefixes("BAAI/bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert default_prefixes("packaged:all-MiniLM-L6-v2") == ("", "")
    with pytest.raises(ConfigError, match="Unknown embedding backend"):
        load_embedder(backend="tensorflow")  # type: ignore[arg-type]


def test_the_packaged_onnx_embedder_gives_unit_vectors():
    from search.retrieval.encoders import load_embedder

    emb = load_embedder(backend="onnx")
    assert (emb.name, emb.dims, emb.max_seq_length) == ("packaged:all-MiniLM-L6-v2", 384, 256)
    texts = ["Metformin and breast cancer risk.", "a " * 600, "Aspirin after myocardial infarction."]
    vecs = emb.encode(texts, batch_size=2)
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    # batching and length sorting do not change a text's vector
    np.testing.assert_allclose(emb.encode(texts[:1])[0], vecs[0], atol=1e-5)
    q = emb.embed_query("does metformin lower the risk of breast cancer")
    assert int(np.argmax(vecs @ q)) == 0
    assert load_embedder(backend="onnx")._encoder is emb._encoder  # loaded once per process
    assert emb.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_int8_agrees_with_torch_fp32_on_real_abstracts(store, shared_data):
    from ingest.pipeline import ingest_files
    from search.index.documents import iter_documents
    from search.retrieval.encoders import load_embedder

    files = sorted((shared_data / "pubmed" / "metapub" / "fixtures" / "pmid_xml").glob("*.xml"))[:30]
    ingest_files(store, files, progress=False)
    texts = [d.text for d in iter_documents(store)]
    assert len(texts) >= 25
    onnx = load_embedder(backend="onnx").encode(texts)
    torch = load_embedder(backend="torch").encode(texts)
    cosines = (onnx * torch).sum(axis=1)
    assert cosines.min() > 0.99, cosines.min()


@pytest.mark.slow
def test_an_uncached_hub_model_is_not_downloaded_without_permission(monkeypatch):
    pytest.importorskip("sentence_transformers")
    from search.retrieval.encoders import load_embedder

    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # restored after the test
        monkeypatch.setenv(var, "1")
    with pytest.raises(ConfigError, match="(?s)Cannot load the embedding model.*allow downloads"):
        load_embedder("no-such-org/no-such-model-xyz", backend="torch")
