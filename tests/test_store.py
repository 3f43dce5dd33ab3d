"""The DuckDB store: migrations, round trips, the replacement rule, deletions, atomic batches."""

from __future__ import annotations

import hashlib
import io
import pickle
import signal
import tempfile
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import DiskFullError, StoreError
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
from ingest.rows import (
    ARTICLE_SCHEMA,
    CHILD_SCHEMAS,
    HASH_VERSION,
    _article_row,
    _child_rows,
    _stored_sections,
    _to_table,
    collapse,
    prepare_batch,
    record_hash,
    record_years,
)
from ingest.store import Store
from tests.conftest import PUBMED_DATA, needs_data

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


def _old_hash(article: Article) -> str:
    """The record hash as the code before migration 0004 computed it: the first 128 bits of
    SHA-256 of the memo-free pickle of the row values (the ``articles`` row up to
    ``is_retracted``, then the child rows). Here only to build stores as that code wrote them."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.fast = True
    pickler.dump((_article_row(article)[:-2], _child_rows(article)))
    return hashlib.sha256(buf.getvalue()).hexdigest()[:32]


def _write_old_store(path: Path, monkeypatch, records: list[Article], *, schema_below: int) -> None:
    """A store as the code of schema ``schema_below - 1`` wrote it: its migrations only,
    old-style record hashes, and (before 0002) every section's text repeated."""
    import ingest.store as store_module

    subset = [m for m in store_module._migrations() if m[0] < schema_below]
    monkeypatch.setattr(store_module, "_migrations", lambda: subset)
    tables = dict(prepare_batch(records).tables)
    old = tables["articles"].drop_columns(["earliest_year", "latest_year", "record_hash_version"])
    old = old.set_column(old.schema.get_field_index("record_hash"), "record_hash",
                         pa.array([_old_hash(a) for a in records], pa.string()))
    tables["articles"] = old.append_column(
        "ingested_at", pa.array([datetime(2024, 1, 1)] * len(records), pa.timestamp("us")))
    if schema_below <= 2:
        sections = CHILD_SCHEMAS["abstract_sections"]
        sections = sections.remove(sections.get_field_index("text_start"))
        sections = sections.remove(sections.get_field_index("text_length"))
        tables["abstract_sections"] = _to_table([r for a in records for r in _child_rows(a)[0]], sections)
    with Store(path) as s:
        assert s.schema_version() == subset[-1][0]
        for name, table in tables.items():
            s.con.register("_old", table)
            columns = ", ".join(table.column_names)
            s.con.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM _old")
            s.con.unregister("_old")
    monkeypatch.undo()


def _hashes(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT doc_id, record_hash, record_hash_version, ingested_at FROM articles ORDER BY doc_id"
    ).fetchall()


def test_a_store_from_before_the_abstract_was_stored_once_reads_the_same(tmp_path, monkeypatch):
    """Rows written under migration 0001 (section texts repeated) read back whole after 0002,
    and their records are recognised as unchanged."""
    article = _article(abstract=(AbstractSection("Why.", "BACKGROUND", "BACKGROUND"),
                                 AbstractSection(""), AbstractSection("Done é😀.")),
                       other_abstracts=(OtherAbstract((AbstractSection("Otra."),), "Publisher", "spa"),))
    path = tmp_path / "old.duckdb"
    _write_old_store(path, monkeypatch, [article], schema_below=2)
    with Store(path) as s:
        assert s.schema_version() >= 4
        assert s.get_article("1") == article
        assert s.apply_batch([article]).unchanged == 1
        s.apply_batch([article._replace(title="New")])  # rewritten: the text is stored once now
        assert s.get_article("1") == article._replace(title="New")
        assert s.con.execute(
            "SELECT count(*) FROM abstract_sections WHERE abstract_index = 0 AND text IS NULL"
        ).fetchall()[0][0] == 2


def _real_articles() -> list[Article]:
    """Every real record of the shared data, one per PMID (the one ingest keeps)."""
    from ingest.sources import iter_paths

    final, _, _ = collapse(iter_paths([PUBMED_DATA]))
    return [a for a in final.values() if isinstance(a, Article)]


@pytest.mark.slow
@needs_data
def test_real_records_stored_with_the_old_hash_are_left_untouched_by_the_same_ingest(tmp_path, monkeypatch):
    """A store written before the canonical hash: migrating it keeps every row's hash; the
    same records ingested again are all unchanged and nothing is rewritten."""
    records = _real_articles()
    assert len(records) > 2_000
    path = tmp_path / "old.duckdb"
    _write_old_store(path, monkeypatch, records, schema_below=4)
    with Store(path) as s:
        before = _hashes(s)
        assert {row[2] for row in before} == {1}
        assert dict((row[0], row[1]) for row in before) == {a.doc_id: _old_hash(a) for a in records}
        result = s.apply_batch(records)
        assert (result.unchanged, result.stored, result.older_skipped) == (len(records), 0, 0)
        assert _hashes(s) == before


def test_an_old_hash_row_is_replaced_by_a_newer_record_and_kept_against_an_older_one(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    first = _article("1", title="As stored", date_revised=date(2020, 1, 1))
    _write_old_store(path, monkeypatch, [first, _article("2")], schema_below=4)
    with Store(path) as s:
        older = s.apply_batch([first._replace(title="Older", date_revised=date(2019, 1, 1))])
        assert (older.older_skipped, older.stored) == (1, 0)
        newer = first._replace(title="Revised", date_revised=date(2021, 1, 1))
        assert s.apply_batch([newer]).stored == 1
        assert s.get_article("1") == newer
        rows = _hashes(s)
        assert [(r[0], r[2]) for r in rows] == [("1", 2), ("2", 1)]
        assert rows[0][1] != _old_hash(newer) and rows[1][1] == _old_hash(_article("2"))
        again = s.apply_batch([newer, _article("2")])
        assert (again.unchanged, again.stored) == (2, 0)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(articles, min_size=1, max_size=4, unique_by=lambda a: a.doc_id))
def test_any_record_stored_with_the_old_hash_is_recognised_unchanged(batch, monkeypatch):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "old.duckdb"
        _write_old_store(path, monkeypatch, batch, schema_below=4)
        with Store(path) as s:
            assert s.apply_batch(batch).unchanged == len(batch)


@needs_data
def test_the_migration_gives_old_rows_the_years_new_rows_get(tmp_path, monkeypatch):
    """Migration 0004 fills earliest_year/latest_year in SQL as rows.record_years does in Python."""
    records = _real_articles() + [
        _article("m1", pub_year=1998, medline_date="1998 Dec-1999 Jan"),
        _article("m2", pub_year=None, article_date=date(2021, 3, 1)),
        _article("m3", pub_year=2001, article_date=date(2002, 1, 1), medline_date="2001 Winter"),
        _article("m4"),
    ]
    path = tmp_path / "old.duckdb"
    _write_old_store(path, monkeypatch, records, schema_below=4)
    with Store(path) as s:
        got = dict((d, (lo, hi)) for d, lo, hi in s.con.execute(
            "SELECT doc_id, earliest_year, latest_year FROM articles").fetchall())
    assert got == {a.doc_id: record_years(a) for a in records}
    assert [got[d] for d in ("m1", "m2", "m3", "m4")] == [(1998, 1999), (2021, 2021), (2001, 2002), (None, None)]
    assert got["28731372"] == (2017, 2018)  # PubDate 2018 Sep, ArticleDate 2017-07-21 (metapub)


def test_read_only_open_of_a_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="No database at") as info:
        Store(tmp_path / "absent.duckdb", read_only=True)
    assert "medsearch ingest" in info.value.hint


@pytest.mark.slow
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


def test_ctrl_c_inside_a_transaction_waits_for_its_commit(store, monkeypatch):
    """A Ctrl-C while a batch is written does not cut it: the batch is committed whole,
    the statements after the signal included, and KeyboardInterrupt comes after."""
    import ingest.store as store_module

    insert = store_module.Store._insert_records

    def insert_then_ctrl_c(self, *args, **kwargs):
        insert(self, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        self.con.execute("SELECT count(*) FROM articles").fetchall()  # DuckDB would cut this one

    monkeypatch.setattr(store_module.Store, "_insert_records", insert_then_ctrl_c)
    run = store.start_run("files", "x")
    with pytest.raises(KeyboardInterrupt):
        store.apply_batch([_article("1"), _article("2")], run)
    assert store.count() == 2
    assert store.run(run).seen == 2  # counted in the same transaction, after the signal
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _CommitFails:
    """A connection whose COMMIT fails (a full disk, say); everything else reaches DuckDB."""

    def __init__(self, con) -> None:
        self._con = con

    def execute(self, sql, *args):
        if sql == "COMMIT":
            raise duckdb.IOException("could not write: no space left on device")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_failed_commit_is_rolled_back_and_the_store_goes_on(store):
    store.apply_batch([_article("1")])
    con = store.con
    store.con = _CommitFails(con)
    with pytest.raises(DiskFullError, match="No space left") as caught:  # named (issue 23, row 8)
        store.apply_batch([_article("2")])
    assert isinstance(caught.value.__cause__, duckdb.IOException)
    store.con = con
    assert store.apply_batch([_article("3")]).stored == 1  # no transaction left open
    assert [r[0] for r in con.execute("SELECT doc_id FROM articles ORDER BY 1").fetchall()] == ["1", "3"]


def _tables_row_by_row(records: list[Article]) -> dict[str, pa.Table]:
    """The tables of ``prepare_batch`` as the code before it was built a column at a time
    laid them out: one tuple per row (``_article_row``, ``_child_rows``), then transposed."""
    main = [(*_article_row(a), record_hash(a), HASH_VERSION) for a in records]
    children: list[list[tuple]] = [[] for _ in CHILD_SCHEMAS]
    for a in records:
        for name, bucket, rows in zip(CHILD_SCHEMAS, children, _child_rows(a), strict=True):
            bucket.extend(_stored_sections(rows) if name == "abstract_sections" else rows)
    tables = {"articles": _to_table(main, ARTICLE_SCHEMA)}
    tables.update({name: _to_table(rows, schema) for (name, schema), rows in zip(CHILD_SCHEMAS.items(), children, strict=True)})
    return tables


def _assert_same_tables(got: dict[str, pa.Table], expected: dict[str, pa.Table]) -> None:
    assert list(got) == list(expected)
    for name, table in expected.items():
        assert got[name].schema.equals(table.schema), name
        assert got[name].to_pylist() == table.to_pylist(), name
        assert got[name].equals(table), name


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(articles, max_size=5, unique_by=lambda a: a.doc_id))
def test_prepared_tables_are_the_rows_of_each_record(batch):
    """``prepare_batch`` builds its tables a column at a time; they hold the very rows that
    ``_article_row`` and ``_child_rows`` give record by record."""
    prepared = prepare_batch(batch)
    _assert_same_tables(prepared.tables, _tables_row_by_row(batch))
    assert prepared.keys == [(a.doc_id, a.pmid_version, a.date_revised, record_hash(a)) for a in batch]


@needs_data
def test_prepared_tables_of_the_real_records_are_their_rows():
    records = _real_articles()
    prepared = prepare_batch([*records, Deletion("gone"), Problem("here", "why")])
    _assert_same_tables(prepared.tables, _tables_row_by_row(records))
    assert (prepared.deletions, prepared.problems, prepared.seen) == (["gone"], [Problem("here", "why")], len(records) + 1)
