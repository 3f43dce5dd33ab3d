"""The snapshot's card file (cards.arrow) holds, for every real record, exactly the result card
that the snapshot's record tables give through SQL (read by this file's own queries, the
oracle); a snapshot without the file is refused with the command that rebuilds it."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from ingest.errors import SearchIndexError
from search.index.cards import CARD_LINKS
from search.index.records import RecordsView
from search.types import Link, Section
from tests.engine_snapshot import engine_over, real_snapshot


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return engine_over(real_snapshot(tmp_path_factory).db).snapshot.records


def cards_by_sql(records: RecordsView, doc_ids: list[str]) -> dict[str, dict]:
    """The cards of ``doc_ids`` read from the record tables, in four plain queries."""
    ids = pa.table({"doc_id": pa.array(doc_ids, pa.string())})
    q = lambda sql, *params: records._query(sql, params, _ids=ids).fetchall()  # noqa: E731
    cards: dict[str, dict] = {}
    for (doc_id, title, year, journal, journal_title, pmid, doi, pmcid, types, retracted, abstract,
         date_text, volume, issue, pages, languages, mesh) in q(
            "SELECT a.doc_id, a.title, a.pub_year, coalesce(a.journal_iso, a.journal_title), a.journal_title, "
            "a.pmid, a.doi, a.pmcid, a.publication_types, a.is_retracted, coalesce(a.abstract, ''), "
            "a.pub_date_text, a.volume, a.issue, a.pages, a.languages, a.mesh_terms "
            "FROM articles a JOIN _ids USING (doc_id)"):
        cards[doc_id] = {
            "title": title, "year": year, "journal": journal, "journal_title": journal_title,
            "pmid": pmid, "doi": doi, "pmcid": pmcid, "publication_types": tuple(types or ()),
            "is_retracted": bool(retracted), "abstract": abstract, "pub_date": date_text,
            "volume": volume, "issue": issue, "pages": pages, "languages": tuple(languages or ()),
            "mesh_terms": tuple(mesh or ()), "authors": [], "sections": [], "links": [],
        }
    for doc_id, last, fore, initials, collective in q(
            "SELECT c.doc_id, c.last_name, c.fore_name, c.initials, c.collective_name FROM authors c "
            "JOIN _ids USING (doc_id) ORDER BY c.doc_id, c.position"):
        name = collective or " ".join(p for p in (last, initials or fore) if p)
        if name:
            cards[doc_id]["authors"].append(name)
    for doc_id, label, category, start, length, text in q(
            "SELECT s.doc_id, s.label, s.nlm_category, s.text_start, s.text_length, s.text FROM abstract_sections s "
            "JOIN _ids USING (doc_id) WHERE s.abstract_index = 0 ORDER BY s.doc_id, s.position"):
        if start is None:  # rows stored before sections pointed into the abstract: found by text
            start, length = cards[doc_id]["abstract"].find(text or ""), len(text or "")
            if start < 0:
                continue
        cards[doc_id]["sections"].append(Section(label, category, int(start), int(length)))
    for doc_id, kind, source, pmid in q(
            "SELECT c.doc_id, c.ref_type, c.ref_source, c.ref_pmid FROM comments_corrections c "
            "JOIN _ids USING (doc_id) WHERE c.ref_type IN ? ORDER BY c.doc_id, c.position", list(CARD_LINKS)):
        cards[doc_id]["links"].append(Link(kind, pmid, source))
    for card in cards.values():
        for key in ("authors", "sections", "links"):
            card[key] = tuple(card[key])
    return cards


@pytest.mark.slow
def test_every_card_in_the_file_equals_the_card_read_by_sql(records):
    assert records.card_file is not None
    ids = [d for (d,) in records._query("SELECT doc_id FROM articles ORDER BY ix").fetchall()]
    assert len(records.card_file) == len(ids) > 2000
    for start in range(0, len(ids), 500):
        page = ids[start : start + 500]
        by_file, by_sql = records.cards(page), cards_by_sql(records, page)
        assert by_file.keys() == by_sql.keys() == set(page)
        for d in page:
            assert by_file[d] == by_sql[d], d
    with_sections = [d for d in ids if by_sql.get(d, {}).get("sections")]
    assert with_sections  # the last page has structured abstracts too


def test_rows_are_found_by_doc_id_and_unknown_ids_are_left_out(records):
    f = records.card_file
    ids = [d for (d,) in records._query("SELECT doc_id FROM articles ORDER BY ix").fetchall()]
    assert [f.row_of(d) for d in ids[:50]] == list(range(50)) and f.row_of(ids[-1]) == len(ids) - 1
    assert f.row_of("0") is None and f.row_of("zzz") is None
    assert records.texts([ids[3], "nope"]).keys() == {ids[3]}
    card = cards_by_sql(records, [ids[3]])[ids[3]]
    assert records.texts([ids[3]])[ids[3]] == (card["title"], card["abstract"])


def test_a_snapshot_without_the_file_is_refused_with_the_command_that_rebuilds_it(records, tmp_path):
    copy = tmp_path / "corpus.duckdb"
    shutil.copy(records.path, copy)
    view = RecordsView(copy)
    try:
        some = [d for (d,) in view._query("SELECT doc_id FROM articles LIMIT 5").fetchall()]
        for read in (view.cards, view.texts):
            with pytest.raises(SearchIndexError, match="has no cards.arrow") as info:
                read(some)
            assert "medsearch index --force" in info.value.hint
    finally:
        view.close()
