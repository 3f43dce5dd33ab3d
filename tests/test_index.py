"""Index snapshots over a store of real PubMed records, with a small fake embedder (fast):
build, publish, reuse of vectors by text, deletions, damage and repair, refusals, clean-up."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ingest.errors import SearchIndexError
from ingest.pipeline import ingest_files
from ingest.store import Store
from search.index.build import IndexManager, IndexSettings, default_index_dir
from search.index.documents import compose_text, corpus_fingerprint, iter_documents
from search.index.snapshot import current_name
from tests.conftest import PUBMED_DATA
from tests.fake_embedder import FakeEmbedder

RECORD_FILES = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
FIRST = 30  # records in the template store
SETTINGS = IndexSettings(embedder=FakeEmbedder.name)


def _files() -> list[Path]:
    if not RECORD_FILES.is_dir():
        pytest.skip(f"real data not found at {RECORD_FILES}")
    return sorted(RECORD_FILES.glob("*.xml"))


def _manager(store: Store, **kw) -> IndexManager:
    return IndexManager(store, settings=kw.pop("settings", SETTINGS), embedder=FakeEmbedder(), **kw)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store of FIRST real records with its index built once, copied by each test."""
    folder = tmp_path_factory.mktemp("template")
    with Store(folder / "s.duckdb") as store:
        ingest_files(store, _files()[:FIRST], progress=False)
        _manager(store).build_or_update(progress=False)
    return folder


@pytest.fixture
def work(template, tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(template, folder)
    with Store(folder / "s.duckdb") as store:
        yield store, _manager(store)


def _delete_file(tmp_path: Path, pmid: str) -> Path:
    path = tmp_path / "delete.xml"
    path.write_text(
        f'<PubmedArticleSet><DeleteCitation><PMID Version="1">{pmid}</PMID>'
        "</DeleteCitation></PubmedArticleSet>"
    )
    return path


def _revised(source: Path, out: Path, edit) -> Path:
    """A copy of a real record, edited, with a later DateRevised so that it replaces the stored one."""
    text = edit(source.read_text(encoding="utf-8"))
    text = re.sub(r"<DateRevised>\s*<Year>\d{4}</Year>", "<DateRevised><Year>2099</Year>", text, count=1)
    out.write_text(text, encoding="utf-8")
    return out


def test_the_default_index_folder_sits_beside_the_database():
    assert default_index_dir("data/medsearch.duckdb") == Path("data/medsearch.index")
    assert default_index_dir("/x/other.db") == Path("/x/other.index")


def test_build_publishes_a_snapshot_whose_manifest_lists_every_file(work):
    store, manager = work
    assert current_name(manager.index_dir) == "v000001"
    folder = manager.index_dir / "v000001"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["doc_count"] == store.count() == FIRST
    assert manifest["fingerprint"] == corpus_fingerprint(store)
    assert manifest["lexical"]["bm25"] == {"k1": 1.2, "b": 0.5, "method": "lucene"}
    assert manifest["dense"]["model"] == FakeEmbedder.name and manifest["dense"]["dims"] == 64
    assert manifest["stats"]["records"] == FIRST
    listed = {p["path"] for p in manifest["parts"]}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == on_disk and "corpus.duckdb" in listed and "dense/embeddings.npy" in listed
    snap = manager.load()
    ids = [d.doc_id for d in iter_documents(store)]
    assert snap.doc_ids == ids == sorted(ids) == snap.dense.doc_ids
    assert snap.records.count() == FIRST


def test_the_record_copy_numbers_rows_in_index_order(work):
    store, manager = work
    snap = manager.load()
    con = duckdb.connect(str(snap.folder / "corpus.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT ix, doc_id FROM articles ORDER BY ix").fetchall()
        authors = con.execute("SELECT DISTINCT a.ix = c.ix FROM authors c JOIN articles a USING (doc_id)").fetchall()
    finally:
        con.close()
    assert [d for _, d in rows] == snap.doc_ids and [i for i, _ in rows] == list(range(FIRST))
    assert authors == [(True,)]


def test_nothing_changed_means_no_new_snapshot_and_nothing_embedded(work):
    _, manager = work
    report = manager.build_or_update(progress=False)
    assert report.up_to_date and report.snapshot == "v000001"
    assert manager._embedder.embedded == []
    assert current_name(manager.index_dir) == "v000001"


def test_new_records_are_the_only_ones_embedded(work):
    store, manager = work
    ingest_files(store, _files()[FIRST : FIRST + 4], progress=False)
    assert manager.reasons() == ["the store changed since the index was built"]
    report = manager.build_or_update(progress=False)
    assert report.snapshot == "v000002" and report.lexical_rebuilt
    assert (report.dense.added, report.dense.kept, report.dense.embedded) == (4, FIRST, 4)
    assert len(manager._embedder.embedded) == 4
    snap = manager.load()
    assert len(snap.doc_ids) == FIRST + 4 and snap.dense.doc_ids == snap.doc_ids


def test_a_record_whose_text_is_unchanged_keeps_its_vector_when_only_mesh_changes(work, tmp_path):
    store, manager = work
    before = manager.load()
    old_vectors = {d: np.array(before.dense.vectors[i]) for i, d in enumerate(before.doc_ids)}
    edited = [
        _revised(f, tmp_path / f.name, lambda t: t.replace(
            "</MeshHeadingList>",
            '<MeshHeading><DescriptorName UI="D000001" MajorTopicYN="N">Calcimycin</DescriptorName>'
            "</MeshHeading></MeshHeadingList>", 1))
        for f in _files()[:FIRST]
    ]
    changed = [f for f in edited if "Calcimycin" in f.read_text()]
    assert len(changed) >= 10, "the fixture needs records with MeSH"
    result = ingest_files(store, changed, progress=False)
    assert result.result.stored == len(changed)
    report = manager.build_or_update(progress=False)
    assert report.lexical_rebuilt and report.dense.embedded == 0 and manager._embedder.embedded == []
    after = manager.load()
    for i, d in enumerate(after.doc_ids):
        assert np.array_equal(after.dense.vectors[i], old_vectors[d])


@pytest.mark.slow
def test_mesh_only_revisions_of_100_records_embed_none_of_them(tmp_path, shared_data):
    files = _files()[:100]
    with Store(tmp_path / "s.duckdb") as store:
        ingest_files(store, files, progress=False)
        assert store.count() == 100
        manager = _manager(store)
        manager.build_or_update(progress=False)
        assert len(manager._embedder.embedded) == 100
        out = tmp_path / "revised"
        out.mkdir()
        revised = [
            _revised(f, out / f.name, lambda t: t.replace(
                "</MedlineCitation>",
                "<MeshHeadingList><MeshHeading><DescriptorName UI=\"D006801\" MajorTopicYN=\"N\">Humans"
                "</DescriptorName></MeshHeading></MeshHeadingList></MedlineCitation>", 1)
                if "<MeshHeadingList>" not in t else t.replace(
                "</MeshHeadingList>",
                "<MeshHeading><DescriptorName UI=\"D000002\" MajorTopicYN=\"N\">Temefos</DescriptorName>"
                "</MeshHeading></MeshHeadingList>", 1))
            for f in files
        ]
        report = ingest_files(store, revised, progress=False)
        assert report.result.stored == 100
        manager._embedder.embedded.clear()
        update = manager.build_or_update(progress=False)
        assert update.dense.embedded == 0 and update.dense.kept == 100
        assert manager._embedder.embedded == []


def test_a_changed_title_is_embedded_again(work, tmp_path):
    store, manager = work
    source = _files()[0]
    changed = _revised(source, tmp_path / "changed.xml",
                       lambda t: t.replace("<ArticleTitle>", "<ArticleTitle>Revised: ", 1))
    ingest_files(store, [changed], progress=False)
    report = manager.build_or_update(progress=False)
    assert (report.dense.changed, report.dense.added, report.dense.embedded) == (1, 0, 1)
    assert manager._embedder.embedded[0].startswith("Revised: ")


def test_a_deleted_record_leaves_the_snapshot_without_embedding_anything(work, tmp_path):
    store, manager = work
    gone = manager.load().doc_ids[3]
    ingest_files(store, [_delete_file(tmp_path, gone)], progress=False)
    report = manager.build_or_update(progress=False)
    assert report.dense.removed == 1 and report.dense.embedded == 0
    snap = manager.load()
    assert gone not in snap.lexical.doc_ids and gone not in snap.dense.doc_ids
    assert snap.records.articles([gone]) == {} and len(snap.doc_ids) == FIRST - 1


@pytest.mark.slow
@pytest.mark.parametrize("part", ["dense/embeddings.npy", "bm25/vocab.index.json", "corpus.duckdb", "bm25/data.csc.index.npy"])
def test_a_truncated_part_is_reported_as_damage_and_index_rebuilds_it(work, part):
    _, manager = work
    path = manager.index_dir / "v000001" / part
    assert path.is_file()
    with open(path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(SearchIndexError, match=f"(?s)damaged.*{re.escape(part)}.*medsearch index"):
        manager.load()
    assert any("damaged" in r for r in manager.reasons())
    report = manager.build_or_update(progress=False)
    assert not report.up_to_date and report.snapshot == "v000002"
    assert len(manager.load().doc_ids) == FIRST


def test_a_part_with_changed_bytes_of_the_same_size_is_caught_by_its_checksum(work):
    _, manager = work
    path = manager.index_dir / "v000001" / "bm25" / "params.json"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"lucene", b"LUCENE"))
    with pytest.raises(SearchIndexError, match="does not match its checksum"):
        manager.load()


def test_a_snapshot_of_another_index_format_is_named_as_such_and_rebuilt(work):
    _, manager = work
    path = manager.index_dir / "v000001" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format"] -= 1  # as an older medsearch wrote it
    path.write_text(json.dumps(manifest))
    with pytest.raises(SearchIndexError, match="(?s)another version of medsearch.*medsearch index"):
        manager.load()
    report = manager.build_or_update(progress=False)
    assert not report.up_to_date and report.snapshot == "v000002"
    assert len(manager.load().doc_ids) == FIRST


def test_force_builds_a_new_snapshot_of_an_intact_index(work):
    _, manager = work
    report = manager.build_or_update(progress=False, force=True)
    assert report.reasons == ("--force",) and report.snapshot == "v000002"
    assert not report.lexical_rebuilt and report.dense.embedded == 0  # copied and reused


def test_old_snapshots_and_crashed_builds_are_removed(work, tmp_path):
    store, manager = work
    stale = manager.index_dir / ".building-v000009-999999999"
    stale.mkdir()
    for n in range(3):
        ingest_files(store, [_files()[FIRST + n]], progress=False)
        manager.build_or_update(progress=False)
    names = sorted(p.name for p in manager.index_dir.iterdir())
    assert names == ["CURRENT", "v000011", "v000012"]


def test_the_index_path_must_be_a_writable_folder(store, tmp_path):
    ingest_files(store, _files()[:2], progress=False)
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(SearchIndexError, match="(?s)exists and is not a folder.*MEDSEARCH_INDEX_DIR"):
        _manager(store, index_dir=file).build_or_update(progress=False)
    with pytest.raises(SearchIndexError, match="Cannot create the index folder"):
        _manager(store, index_dir=file / "below").build_or_update(progress=False)


def test_a_missing_index_says_to_run_medsearch_index(store, tmp_path):
    manager = _manager(store, index_dir=tmp_path / "nothing.index")
    assert manager.reasons() == [f"no search index in {tmp_path / 'nothing.index'}"]
    with pytest.raises(SearchIndexError, match="(?s)No search index.*medsearch index"):
        manager.load()


def test_another_embedding_model_refuses_to_load_and_is_reported(work):
    store, _ = work
    other = IndexManager(store, settings=IndexSettings(embedder="BAAI/bge-small-en-v1.5"))
    assert any("built with 'fake-hash-64'" in r for r in other.reasons())
    with pytest.raises(SearchIndexError, match="(?s)'fake-hash-64'.*bge-small.*medsearch index"):
        other.load()


def test_changed_bm25_settings_rebuild_bm25_and_reuse_every_vector(work):
    from search.retrieval.bm25 import BM25Params

    store, _ = work
    manager = _manager(store, settings=IndexSettings(embedder=FakeEmbedder.name, bm25=BM25Params(k1=0.9, b=0.4)))
    assert "the BM25 or tokenizer settings changed" in manager.reasons()
    report = manager.build_or_update(progress=False)
    assert report.lexical_rebuilt and report.dense.embedded == 0
    assert manager.load().lexical.params == BM25Params(k1=0.9, b=0.4)


def test_bm25_only_settings_need_no_model(store, tmp_path):
    ingest_files(store, _files()[:5], progress=False)
    manager = IndexManager(store, tmp_path / "idx", IndexSettings(embedder=None))
    report = manager.build_or_update(progress=False)
    assert report.dense is None and report.doc_count == 5
    snap = manager.load()
    assert snap.dense is None and len(snap.lexical) == 5
    assert not (tmp_path / "idx" / "v000001" / "dense").exists()


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
