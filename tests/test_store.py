"""The DuckDB store: migrations, round trips, the replacement rule, deletions, atomic batches."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import StoreError
from ingest.records import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Deletion,
    Keyword,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Problem,
    PublicationType,
)
from ingest.store import Store

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
opt = st.none() | text
flag = st.booleans()
small = lambda s: st.lists(s, max_size=3).map(tuple)  # noqa: E731

sections = small(st.builds(AbstractSection, text, opt, opt))
articles = st.builds(
    Article,
    doc_id=st.from_regex(r"[0-9]{1,9}", fullmatch=True),
    source=st.sampled_from(["pubmed", "beir"]),
    pmid=opt,
    pmid_version=st.integers(1, 5),
    status=opt,
    title=text,
    title_translated=flag,
    vernacular_title=opt,
    abstract=sections,
    other_abstracts=small(st.builds(OtherAbstract, sections.filter(bool), opt, opt)),
    copyright=opt,
    authors=small(st.builds(Author, opt, opt, opt, opt, opt, opt, small(text), flag)),
    journal_title=opt,
    journal_iso=opt,
    issn=opt,
    volume=opt,
    pages=opt,
    pub_year=st.none() | st.integers(1800, 2100),
    pub_month=st.none() | st.integers(1, 12),
    pub_day=st.none() | st.integers(1, 31),
    medline_date=opt,
    article_date=st.none() | st.dates(),
    date_revised=st.none() | st.dates(),
    doi=opt,
    pmcid=opt,
    other_ids=small(st.tuples(text, text)),
    languages=small(text),
    publication_types=small(st.builds(PublicationType, text, opt)),
    mesh_headings=small(
        st.builds(MeshHeading, text, opt, flag, small(st.builds(MeshQualifier, text, opt, flag)))
    ),
    keywords=small(st.builds(Keyword, text, flag, opt)),
    chemicals=small(st.builds(Chemical, text, opt, opt)),
    comments_corrections=small(st.builds(CommentCorrection, text, opt, opt)),
    book_title=opt,
    extra=st.dictionaries(text, text, max_size=2).map(lambda d: tuple(d.items())),
)


def _article(doc_id: str = "1", **kw) -> Article:
    base = dict(doc_id=doc_id, pmid=doc_id, title=f"Title {doc_id}", date_revised=date(2020, 1, 1))
    base.update(kw)
    return Article(**base)


def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        assert s.schema_version() >= 1
        assert s.migrate() == []
    with Store(path) as s:
        names = s.con.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()
        assert names[0][0] == "0001_initial.sql"


def test_a_store_from_before_the_abstract_was_stored_once_reads_the_same(tmp_path, monkeypatch):
    """Rows written under migration 0001 (section texts repeated) read back whole after 0002,
    and their records are recognised as unchanged: the record hash did not change."""
    import ingest.store as store_module
    from ingest.rows import CHILD_SCHEMAS, _child_rows, _to_table, prepare_batch

    article = _article(abstract=(AbstractSection("Why.", "BACKGROUND", "BACKGROUND"),
                                 AbstractSection(""), AbstractSection("Done é😀.")),
                       other_abstracts=(OtherAbstract((AbstractSection("Otra."),), "Publisher", "spa"),))
    path = tmp_path / "old.duckdb"
    first = store_module._migrations()[:1]
    monkeypatch.setattr(store_module, "_migrations", lambda: first)
    batch = prepare_batch([article])
    old_sections = CHILD_SCHEMAS["abstract_sections"]
    old_sections = old_sections.remove(old_sections.get_field_index("text_start"))
    old_sections = old_sections.remove(old_sections.get_field_index("text_length"))
    batch.tables["abstract_sections"] = _to_table(_child_rows(article)[0], old_sections)
    with Store(path) as s:
        assert s.schema_version() == 1
        s.apply_prepared(batch)
    monkeypatch.undo()
    with Store(path) as s:
        assert s.schema_version() >= 2
        assert s.get_article("1") == article
        assert s.apply_batch([article]).unchanged == 1
        s.apply_batch([article._replace(title="New")])  # rewritten: the text is stored once now
        assert s.get_article("1") == article._replace(title="New")
        assert s.con.execute(
            "SELECT count(*) FROM abstract_sections WHERE abstract_index = 0 AND text IS NULL"
        ).fetchall()[0][0] == 2


def test_read_only_open_of_a_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="No database at") as info:
        Store(tmp_path / "absent.duckdb", read_only=True)
    assert "medsearch ingest" in info.value.hint


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(article=articles)
def test_every_field_survives_a_round_trip(store, article):
    store.apply_batch([article])
    assert store.get_article(article.doc_id) == article
    store.apply_batch([Deletion(article.doc_id)])


def test_same_batch_twice_changes_nothing(store):
    batch = [_article("1", abstract=(AbstractSection("x"),)), _article("2")]
    first = store.apply_batch(batch)
    before = store.con.execute("SELECT doc_id, ingested_at FROM articles ORDER BY 1").fetchall()
    second = store.apply_batch(batch)
    assert (first.stored, second.stored, second.unchanged) == (2, 0, 2)
    assert store.con.execute("SELECT doc_id, ingested_at FROM articles ORDER BY 1").fetchall() == before


def test_newer_version_or_revision_replaces_older_is_skipped(store):
    store.apply_batch([_article("1", title="v1 2020", pmid_version=1)])
    r = store.apply_batch([_article("1", title="v1 2019", date_revised=date(2019, 1, 1))])
    assert r.older_skipped == 1 and store.get_article("1").title == "v1 2020"
    r = store.apply_batch([_article("1", title="v1 2021", date_revised=date(2021, 1, 1))])
    assert r.stored == 1 and store.get_article("1").title == "v1 2021"
    r = store.apply_batch([_article("1", title="v2", pmid_version=2, date_revised=date(2000, 1, 1))])
    assert r.stored == 1 and store.get_article("1").pmid_version == 2


def test_replacing_a_record_replaces_its_parts(store):
    store.apply_batch([_article("1", authors=(Author("A"), Author("B")))])
    store.apply_batch([_article("1", authors=(Author("C"),), date_revised=date(2022, 1, 1))])
    assert [a["last_name"] for a in store.child_rows("authors", "1")] == ["C"]


def test_deletion_removes_record_and_parts_and_is_counted(store):
    store.apply_batch([_article("1", authors=(Author("A"),)), _article("2")])
    r = store.apply_batch([Deletion("1")])
    assert r.deleted == 1
    assert store.get_article("1") is None and store.child_rows("authors", "1") == []
    stats = store.stats()
    assert (stats.records, stats.deleted) == (1, 1)
    assert store.missing_ids(["1", "2", "3"]) == ["3"]  # deleted ids are not fetched again


def test_within_a_batch_document_order_decides(store):
    r = store.apply_batch([_article("1"), Deletion("1"), _article("2"), Deletion("2"), _article("2")])
    assert store.get_article("1") is None and store.get_article("2") is not None
    assert r.seen == 5


def test_problems_are_recorded_with_the_run(store):
    run = store.start_run("files", "x")
    r = store.apply_batch([_article("1"), Problem("f.xml: record 2 (line 9)", "no PMID")], run)
    assert r.problems == 1 and r.stored == 1
    assert store.problems(run) == [Problem("f.xml: record 2 (line 9)", "no PMID")]
    assert store.run(run).problems == 1


def test_a_failing_batch_leaves_nothing_behind(store, monkeypatch):
    store.apply_batch([_article("1")])
    import ingest.store as store_module

    def explode(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_module.Store, "_insert_records", explode)
    with pytest.raises(RuntimeError):
        store.apply_batch([_article("1", title="new", date_revised=date(2030, 1, 1)), Deletion("9")])
    assert store.get_article("1").title == "Title 1"
    assert store.stats().deleted == 0


def test_stats_counts(store):
    store.apply_batch([
        _article("1", pub_year=2020, abstract=(AbstractSection("a"),),
                 publication_types=(PublicationType("Review"), PublicationType("Journal Article"))),
        _article("2", pub_year=2020, publication_types=(PublicationType("Journal Article"),),
                 comments_corrections=(CommentCorrection("RetractionIn", "J. 2021", "5"),)),
        _article("3"),
    ])
    s = store.stats()
    assert (s.records, s.with_abstract, s.retracted) == (3, 1, 1)
    assert s.by_publication_type == {"Journal Article": 2, "Review": 1}
    assert s.by_year == {"2020": 2, "unknown": 1}


def test_stale_running_runs_become_interrupted(store):
    first = store.start_run("pubmed", "q")
    store.start_run("pubmed", "q")
    assert store.run(first).status == "interrupted"


@given(article=articles)
@settings(max_examples=60, deadline=None)
def test_the_record_hash_depends_on_the_values_only(article):
    """Equal records hash alike however their values are shared in memory; a change shows."""
    from ingest.rows import prepare_batch

    def copy(value):  # the same values, every string a distinct object
        if isinstance(value, str):
            return "".join(list(value)) if value else ""
        if isinstance(value, tuple):
            return type(value)(*map(copy, value)) if hasattr(value, "_fields") else tuple(map(copy, value))
        return value

    twin = copy(article)
    assert twin == article
    digest = lambda a: prepare_batch([a]).keys[0][3]  # noqa: E731
    assert digest(twin) == digest(article)
    assert digest(article._replace(title=article.title + "x")) != digest(article)


def test_the_record_hash_ignores_which_values_are_the_same_object():
    from ingest.rows import prepare_batch

    title = "A title long enough not to be interned " * 3
    shared = Article("1", title=title, vernacular_title=title)
    distinct = Article("1", title=title, vernacular_title="".join(list(title)))
    assert shared.vernacular_title is shared.title and distinct.vernacular_title is not distinct.title
    assert prepare_batch([shared]).keys[0][3] == prepare_batch([distinct]).keys[0][3]
