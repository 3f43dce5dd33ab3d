"""IndexManager over a small store of real PubMed records and the real packaged embedder:
build, search, staleness, incremental updates, deletions, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import SearchIndexError
from ingest.pipeline import ingest_files
from ingest.store import Store
from search.corpus import compose_text, corpus_fingerprint, iter_documents
from search.index import IndexManager, IndexSettings, default_index_dir
from tests.conftest import PUBMED_DATA

RECORD_FILES = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
FIRST = 30  # records in the template store


class CountingEmbedder:
    """The real packaged embedder, counting the documents it embeds."""

    def __init__(self) -> None:
        from search.models import load_embedder

        self.inner = load_embedder()
        self.name, self.backend = self.inner.name, self.inner.backend
        self.doc_prefix, self.query_prefix = self.inner.doc_prefix, self.inner.query_prefix
        self.dims = self.inner.dims
        self.embedded: list[str] = []

    def embed_query(self, query: str) -> np.ndarray:
        return self.inner.embed_query(query)

    def embed_documents(self, texts, *, batch_size=32, progress=False) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts, batch_size=batch_size)


def _files() -> list[Path]:
    if not RECORD_FILES.is_dir():
        pytest.skip(f"real data not found at {RECORD_FILES}")
    return sorted(RECORD_FILES.glob("*.xml"))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store of FIRST real records with its index built once, copied by each test."""
    folder = tmp_path_factory.mktemp("template")
    with Store(folder / "s.duckdb") as store:
        ingest_files(store, _files()[:FIRST], progress=False)
        IndexManager(store, embedder=CountingEmbedder()).build_or_update(progress=False)
    return folder


@pytest.fixture
def work(template, tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(template, folder)
    with Store(folder / "s.duckdb") as store:
        yield store, IndexManager(store, embedder=CountingEmbedder())


def _delete_file(tmp_path: Path, pmid: str) -> Path:
    path = tmp_path / "delete.xml"
    path.write_text(
        f'<PubmedArticleSet><DeleteCitation><PMID Version="1">{pmid}</PMID>'
        "</DeleteCitation></PubmedArticleSet>"
    )
    return path


def test_the_default_index_folder_sits_beside_the_database():
    assert default_index_dir("data/medsearch.duckdb") == Path("data/medsearch.index")
    assert default_index_dir("/x/other.db") == Path("/x/other.index")


def test_build_writes_a_manifest_and_two_aligned_indexes(work):
    store, manager = work
    manifest = json.loads((manager.index_dir / "manifest.json").read_text())
    assert manifest["doc_count"] == store.count() == FIRST
    assert manifest["fingerprint"] == corpus_fingerprint(store)
    assert manifest["lexical"]["bm25"] == {"k1": 1.2, "b": 0.5, "method": "lucene"}
    assert manifest["lexical"]["tokenizer"]["stemmer"] == "english"
    assert manifest["dense"]["model"] == "packaged:all-MiniLM-L6-v2"
    assert manifest["dense"]["dims"] == 384
    assert manifest["dense"]["last_update"]["embedded"] == FIRST
    assert {"bm25s", "numpy", "duckdb"} <= set(manifest["versions"])
    loaded = manager.load()
    assert loaded.status.fresh and loaded.status.reasons == []
    ids = [d.doc_id for d in iter_documents(store)]
    assert loaded.doc_ids == ids == sorted(ids) == loaded.dense.doc_ids
    assert manager.build_or_update(progress=False).up_to_date
    assert manager._embedder.embedded == []


def test_both_indexes_find_a_record_by_its_title_and_one_mask_filters_both(work):
    store, _ = work
    loaded = IndexManager(store).load()  # the query model loads from the settings
    docs = list(iter_documents(store))
    target = next(d for d in docs if d.abstract and len(d.title) > 30)
    assert loaded.lexical.search(target.title, 1)[0][0] == target.doc_id
    assert loaded.dense.search(target.title, 1)[0][0] == target.doc_id
    keep = [docs[0].doc_id, docs[5].doc_id, docs[-1].doc_id]
    mask = loaded.mask_for(keep + ["not-an-id"])
    assert mask.sum() == 3
    for retriever in (loaded.lexical, loaded.dense):
        assert sorted(d for d, _ in retriever.search(target.title, 10, mask)) == sorted(keep)


def test_new_records_make_the_index_stale_and_only_they_are_embedded(work):
    store, manager = work
    ingest_files(store, _files()[FIRST : FIRST + 4], progress=False)
    status = manager.status()
    assert not status.fresh and status.changed == 4
    assert status.message == (
        "the index is older than the store: 4 records changed; run `medsearch index`."
    )
    assert not manager.load().status.fresh  # a stale index still loads, and says so
    with pytest.raises(SearchIndexError, match="4 records changed"):
        manager.load(require_fresh=True)
    report = manager.build_or_update(progress=False)
    assert report.lexical_rebuilt and report.dense.embedded == 4 and report.dense.kept == FIRST
    assert len(manager._embedder.embedded) == 4
    assert manager.status().fresh
    loaded = manager.load()
    assert len(loaded.doc_ids) == FIRST + 4 and loaded.dense.doc_ids == loaded.doc_ids


def test_a_changed_record_is_embedded_again(work, tmp_path):
    store, manager = work
    source = _files()[0]
    changed = tmp_path / "changed.xml"
    text = source.read_text(encoding="utf-8")
    title_start = text.index("<ArticleTitle>") + len("<ArticleTitle>")
    changed.write_text(text[:title_start] + "Revised: " + text[title_start:], encoding="utf-8")
    ingest_files(store, [changed], progress=False)
    assert manager.status().changed == 1
    report = manager.build_or_update(progress=False)
    assert (report.dense.changed, report.dense.added, report.dense.embedded) == (1, 0, 1)
    assert manager._embedder.embedded[0].startswith("Revised: ")


def test_a_deleted_record_leaves_both_indexes_without_embedding_anything(work, tmp_path):
    store, manager = work
    gone = manager.load().doc_ids[3]
    ingest_files(store, [_delete_file(tmp_path, gone)], progress=False)
    assert manager.status().changed == 1
    report = manager.build_or_update(progress=False)
    assert report.dense.removed == 1 and report.dense.embedded == 0
    loaded = manager.load()
    assert gone not in loaded.lexical.doc_ids and gone not in loaded.dense.doc_ids
    assert len(loaded.doc_ids) == FIRST - 1


def test_a_missing_index_says_to_run_medsearch_index(store, tmp_path):
    manager = IndexManager(store, tmp_path / "nothing.index")
    assert manager.status().reasons == [f"no search index in {tmp_path / 'nothing.index'}"]
    with pytest.raises(SearchIndexError, match="(?s)No search index.*medsearch index"):
        manager.load()


def test_parts_from_another_corpus_refuse_to_load(work):
    _, manager = work
    path = manager.index_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "fingerprint": "0-other"}))
    with pytest.raises(SearchIndexError, match="(?s)different corpus.*medsearch index"):
        manager.load()


def test_another_embedding_model_refuses_to_load_and_is_reported(work):
    store, _ = work
    other = IndexManager(store, settings=IndexSettings(embedder="BAAI/bge-small-en-v1.5"))
    status = other.status()
    assert not status.fresh
    assert "built with 'packaged:all-MiniLM-L6-v2'" in status.message
    with pytest.raises(SearchIndexError, match="(?s)embedding model 'packaged:all-MiniLM-L6-v2'.*bge-small.*medsearch index"):
        other.load()


def test_changed_bm25_settings_rebuild_only_bm25(work):
    from search.lexical import BM25Params

    store, _ = work
    manager = IndexManager(store, settings=IndexSettings(bm25=BM25Params(k1=0.9, b=0.4)))
    assert "the BM25 or tokenizer settings changed" in manager.status().reasons
    report = manager.build_or_update(progress=False)
    assert report.lexical_rebuilt and report.dense is None
    assert manager.load().lexical.params == BM25Params(k1=0.9, b=0.4)


def test_bm25_only_settings_need_no_model(store, tmp_path):
    ingest_files(store, _files()[:5], progress=False)
    manager = IndexManager(store, tmp_path / "idx", IndexSettings(embedder=None))
    report = manager.build_or_update(progress=False)
    assert report.dense is None and report.doc_count == 5
    loaded = manager.load()
    assert loaded.dense is None and len(loaded.lexical) == 5
    assert not (tmp_path / "idx" / "dense").exists()


def test_the_text_recipe_puts_subject_terms_only_in_the_bm25_text(work):
    store, _ = work
    doc = next(d for d in iter_documents(store) if d.mesh_terms and d.abstract)
    assert doc.text == f"{doc.title}\n{doc.abstract}"
    assert doc.lexical_text == f"{doc.title}\n{doc.abstract}\n" + "; ".join(doc.mesh_terms + doc.keywords)
    assert compose_text("T", None, ["M"], subject_terms=False) == "T"


def test_the_fingerprint_follows_every_change(store, tmp_path):
    empty = corpus_fingerprint(store)
    ingest_files(store, _files()[:3], progress=False)
    three = corpus_fingerprint(store)
    assert empty.startswith("0-") and three.startswith("3-") and three != empty
    ingest_files(store, _files()[:3], progress=False, force=True)  # same records again
    assert corpus_fingerprint(store) == three
    first = next(iter_documents(store)).doc_id
    ingest_files(store, [_delete_file(tmp_path, first)], progress=False)
    assert corpus_fingerprint(store).startswith("2-")
