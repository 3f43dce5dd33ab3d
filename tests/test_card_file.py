"""The snapshot's card file (cards.arrow) holds, for every real record, exactly the result card that
the record tables give through SQL; without the file, cards are read by SQL."""

from __future__ import annotations

import shutil

import pytest

from search.index.records import RecordsView
from tests.engine_snapshot import engine_over, real_snapshot


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return engine_over(real_snapshot(tmp_path_factory).db).snapshot.records


@pytest.mark.slow
def test_every_card_in_the_file_equals_the_card_read_by_sql(records):
    assert records.card_file is not None
    ids = [d for (d,) in records._query("SELECT doc_id FROM articles ORDER BY ix").fetchall()]
    assert len(records.card_file) == len(ids) > 2000
    for start in range(0, len(ids), 500):
        page = ids[start : start + 500]
        by_file, by_sql = records.card_file.cards(page), records.cards_by_sql(page)
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
    assert f.texts([ids[3], "nope"]).keys() == {ids[3]}
    card = records.cards_by_sql([ids[3]])[ids[3]]
    assert f.texts([ids[3]])[ids[3]] == (card["title"], card["abstract"])


def test_a_snapshot_without_the_file_reads_cards_by_sql(records, tmp_path):
    copy = tmp_path / "corpus.duckdb"
    shutil.copy(records.path, copy)
    view = RecordsView(copy)
    try:
        assert view.card_file is None
        some = [d for (d,) in view._query("SELECT doc_id FROM articles LIMIT 5").fetchall()]
        assert view.cards(some) == records.cards(some)
        assert view.texts(some) == records.texts(some)
    finally:
        view.close()
