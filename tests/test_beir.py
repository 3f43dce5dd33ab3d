"""BEIR reader: the real NFCorpus and SciFact sets, and the errors a broken folder gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.beir import available_splits, iter_beir_corpus, load_qrels, load_queries
from ingest.errors import SourceError
from ingest.records import AbstractSection, Article, Problem


def _shared_data() -> Path:
    env = os.environ.get("MEDSEARCH_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


BEIR = _shared_data() / "beir"
needs_data = pytest.mark.skipif(
    not BEIR.is_dir(), reason=f"BEIR data not found at {BEIR} (set MEDSEARCH_SHARED_DATA)"
)


@needs_data
@pytest.mark.parametrize(("name", "docs"), [("nfcorpus", 3633), ("scifact", 5183)])
def test_real_corpus_counts(name: str, docs: int) -> None:
    items = list(iter_beir_corpus(BEIR / name / "corpus.jsonl"))
    assert [i for i in items if isinstance(i, Problem)] == []
    assert len(items) == docs
    assert len({a.doc_id for a in items}) == docs
    assert all(a.source == "beir" and a.title and a.has_abstract for a in items)


@needs_data
def test_real_corpus_first_documents() -> None:
    nf = next(iter_beir_corpus(BEIR / "nfcorpus" / "corpus.jsonl"))
    assert nf.doc_id == "MED-10"
    assert nf.title.startswith("Statin Use and Breast Cancer Survival")
    assert nf.abstract[0].text.startswith("Recent studies have suggested that statins")
    assert nf.abstract[0].label is None and nf.pmid is None
    assert dict(nf.extra)["url"].startswith("http://www.ncbi.nlm.nih.gov/pubmed/")
    sf = next(iter_beir_corpus(BEIR / "scifact" / "corpus.jsonl"))
    assert sf.doc_id == "4983" and sf.extra == ()
    assert sf.title.startswith("Microstructural development of human newborn")


@needs_data
@pytest.mark.parametrize(
    ("name", "queries", "test_queries", "judgements", "grades"),
    [("nfcorpus", 3237, 323, 12334, {1, 2}), ("scifact", 1109, 300, 339, {1})],
)
def test_real_queries_and_test_qrels(
    name: str, queries: int, test_queries: int, judgements: int, grades: set[int]
) -> None:
    folder = BEIR / name
    all_queries = load_queries(folder)
    qrels = load_qrels(folder, "test")
    assert len(all_queries) == queries
    assert len(qrels) == test_queries
    assert set(qrels) <= set(all_queries)
    assert sum(len(docs) for docs in qrels.values()) == judgements
    assert {g for docs in qrels.values() for g in docs.values()} == grades


@needs_data
def test_real_qrels_values() -> None:
    nf = load_qrels(BEIR / "nfcorpus", "test")  # this file has CRLF line ends
    assert nf["PLAIN-2"]["MED-2427"] == 2
    assert load_qrels(BEIR / "scifact")["1"] == {"31715818": 1}
    assert load_queries(BEIR / "scifact")["0"] == "0-dimensional biomaterials lack inductive properties."
    assert available_splits(BEIR / "scifact") == ["test", "train"]


@needs_data
def test_missing_split_names_the_available_ones() -> None:
    with pytest.raises(SourceError) as info:
        load_qrels(BEIR / "scifact", "dev")
    assert "BEIR split 'dev' not found" in str(info.value)
    assert info.value.hint == "available splits: test, train"


def test_bad_lines_are_problems_with_file_and_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps({"_id": "d1", "title": "One", "text": "First text.", "metadata": {"year": 2001}}),
        '{"_id": "d2", "title": "broken',
        json.dumps({"title": "no id", "text": "x"}),
        "",
        json.dumps({"_id": 7, "title": "Title only", "text": ""}),
        "[1, 2]",
    ]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(iter_beir_corpus(corpus))
    assert [type(i).__name__ for i in items] == ["Article", "Problem", "Problem", "Article", "Problem"]
    first, broken, no_id, title_only, not_object = items
    assert first == Article(doc_id="d1", source="beir", title="One",
                            abstract=(AbstractSection("First text."),), extra=(("year", "2001"),))
    assert broken.location == f"{corpus}:2" and "not valid JSON" in broken.message
    assert no_id.location == f"{corpus}:3" and "no '_id'" in no_id.message
    assert title_only.doc_id == "7" and title_only.abstract == ()
    assert not_object.location == f"{corpus}:6"


def test_missing_files_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="BEIR queries file not found"):
        load_queries(tmp_path)
    with pytest.raises(SourceError, match=r"BEIR split 'test' not found.*qrels/test\.tsv"):
        load_qrels(tmp_path, "test")
    with pytest.raises(SourceError, match="BEIR corpus file not found"):
        list(iter_beir_corpus(tmp_path / "corpus.jsonl"))


def test_malformed_qrels_and_queries(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(SourceError, match=r"test\.tsv:2: expected"):
        load_qrels(tmp_path, "test")
    (tmp_path / "queries.jsonl").write_text('{"text": "no id"}\n')
    with pytest.raises(SourceError, match=r"queries\.jsonl:1: not a BEIR query line"):
        load_queries(tmp_path)
