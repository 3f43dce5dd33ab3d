"""`medsearch saved | lists | export | library`, run for real as subprocesses on real records, a real
BM25 index (no models), real library files, and PubMed replayed on 127.0.0.1 for --pull."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ingest.store import Store
from search.library import Library
from tests.conftest import PUBMED_DATA, run_cli
from tests.test_library import (
    LISTED,
    METAPUB,
    corpus_settings,
    dump,
    fresh_copy,
    ingest_and_index,
    retracted_copy,
    retracted_xml,
)


def env_of(s) -> dict[str, str]:
    return {"MEDSEARCH_DB": str(s.db), "MEDSEARCH_LIBRARY_DB": str(s.library_path), "MEDSEARCH_EMBEDDING_MODEL": "none",
            "MEDSEARCH_RERANKER": "none", "MEDSEARCH_SEARCH_MODE": "bm25"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    s = corpus_settings(tmp_path_factory.mktemp("cli-corpus"))
    ingest_and_index(s, [METAPUB])
    return s


@pytest.fixture
def ms(corpus, tmp_path):
    """``ms("lists", "show", ...)``: the CLI on a fresh copy of the corpus and an empty library."""
    s = fresh_copy(corpus, tmp_path)

    def run(*args: str, ok: bool = True):
        out = run_cli(*args, env=env_of(s))
        if ok:
            assert out.returncode == 0, out.stderr
        return out

    run.settings = s
    return run


def js(out) -> object:
    return json.loads(out.stdout)


@pytest.mark.slow
def test_saved_query_round_trip_marks_new_results(ms):
    ms("saved", "add", "Cancer «2020s»", "cancer", "--year-from", "2020", "-k", "8")
    listed = js(ms("saved", "list", "--json"))
    assert [(q["name"], q["query"], q["filters"]["year_from"], q["k"], q["runs"]) for q in listed] == [
        ("Cancer «2020s»", "cancer", 2020, 8, 0)]
    first = js(ms("saved", "run", "cancer «2020S»", "--json"))  # names ignore case
    assert first["previous_run_at"] is None and 0 < len(first["hits"]) <= 8
    assert all(not h["is_new"] and h["year"] >= 2020 for h in first["hits"])  # the first run is the baseline
    again = ms("saved", "run", "Cancer «2020s»", "--new-only")
    assert "0 new of" in again.stdout and " NEW " not in again.stdout
    assert js(ms("saved", "list", "--json"))[0]["new_since_last_run"] == 0  # same snapshot: known without searching
    shown = js(ms("saved", "show", "Cancer «2020s»", "--run", "1", "--json"))
    assert [(h["doc_id"], h["title"]) for h in shown["hits"]] == [(h["doc_id"], h["title"]) for h in first["hits"]]
    assert js(ms("saved", "show", "Cancer «2020s»", "--run", "1", "--new-only", "--json"))["hits"] == []
    assert js(ms("saved", "show", "Cancer «2020s»", "--new-only", "--json"))["hits"] == []  # run 2: nothing new
    history = js(ms("saved", "history", "Cancer «2020s»", "--json"))
    assert [(r["run_no"], r["n_new"]) for r in history] == [(2, 0), (1, 0)]
    ms("saved", "rename", "Cancer «2020s»", "recent cancer")
    assert js(ms("saved", "history", "recent cancer", "--json"))[0]["run_no"] == 2
    assert "Deleted the saved query 'recent cancer' and its 2 runs" in ms("saved", "rm", "recent cancer").stdout
    assert js(ms("saved", "list", "--json")) == []


@pytest.mark.slow
def test_lists_commands_keep_order_notes_and_say_what_is_missing(ms):
    ms("lists", "new", "Review")
    ms("lists", "add", "review", LISTED, "11618220", "99999999", "--note", "read \x1b[31mfirst")
    ms("lists", "move", "Review", "99999999", "1")
    shown = js(ms("lists", "show", "Review", "--json"))
    assert [(e["pmid"], e["position"], e["status"]) for e in shown["entries"]] == [
        ("99999999", 1, "missing"), (LISTED, 2, "ok"), ("11618220", 3, "ok")]
    assert shown["entries"][1]["note"] == "read \x1b[31mfirst" and shown["missing"] == 1
    human = ms("lists", "show", "Review").stdout
    assert "not in the index" in human and "\x1b" not in human and "read [31mfirst" in human
    ms("lists", "rm", "Review", "11618220")
    ms("lists", "rename", "Review", "Final review")
    assert [x["name"] for x in js(ms("lists", "show", "--json"))] == ["Final review"]
    refused = ms("lists", "rm", "Final review", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    ms("lists", "rm", "Final review", "--yes")
    assert js(ms("lists", "show", "--json")) == []


@pytest.mark.parametrize("args, message", [
    (["lists", "add", "L", "123", "12x"], "Not a PMID: '12x'"),
    (["lists", "new", "l"], "exists already"),
    (["lists", "show", "Nope"], "no list named 'Nope'"),
    (["lists", "move", "L", "123", "9"], "outside the list"),
    (["saved", "add", "Q", "other"], "exists already"),
    (["saved", "run", "Nope"], "no saved query named 'Nope'"),
    (["lists", "new", "bad\x07name"], "control characters"),
    (["library", "restore", "/nonexistent/backup.jsonl"], "Cannot read the backup"),
])
@pytest.mark.slow
def test_bad_input_is_a_clear_error_and_changes_nothing(ms, args, message):
    lib = Library(ms.settings.library_path)
    lib.lists.add("L", ["123"], create=True)
    lib.saved.add("Q", "cancer")
    before = dump(lib)
    out = ms(*args, ok=False)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert dump(lib) == before


@pytest.mark.slow
def test_backup_and_restore_round_trip_through_the_cli(ms, tmp_path):
    ms("lists", "add", "L", LISTED, "123", "--note", "n", "--create")
    ms("saved", "add", "Q", "cancer")
    ms("saved", "run", "Q")
    backup = tmp_path / "backup.jsonl"
    assert "Backed up 1 saved queries and 1 lists (2 papers)" in ms("library", "backup", str(backup)).stdout
    other = {**env_of(ms.settings), "MEDSEARCH_LIBRARY_DB": str(tmp_path / "other.duckdb")}
    assert run_cli("library", "restore", str(backup), env=other).returncode == 0
    info = json.loads(run_cli("library", "info", "--json", env=other).stdout)
    assert (info["saved_queries"], info["runs"], info["lists"], info["papers_in_lists"]) == (1, 1, 1, 2)
    clash = ms("library", "restore", str(backup))
    assert "restored as 'L (restored)'" in clash.stdout and "restored as 'Q (restored)'" in clash.stdout
    skip = ms("library", "restore", str(backup), "--on-clash", "skip")
    assert "Restored 0 saved queries and 0 lists" in skip.stdout
    unwritable = ms("library", "backup", str(tmp_path / "no" / "such" / "b.jsonl"), ok=False)
    assert unwritable.returncode == 2 and "does not exist" in unwritable.stderr


@pytest.mark.slow
def test_run_all_digest_reports_new_papers_and_newly_retracted_ones_once(ms, tmp_path):
    s = ms.settings
    ms("saved", "add", "cancer", "cancer")
    ms("saved", "add", "nothing", "zzzzqqq")
    ms("lists", "add", "Keep", LISTED, "--create")
    first = ms("saved", "run-all")
    assert "cancer: " in first.stdout and "nothing: 0 new of 0" in first.stdout
    assert "No newly retracted papers" in first.stdout
    ingest_and_index(s, [retracted_copy(LISTED, tmp_path)])
    second = js(ms("saved", "run-all", "--json"))
    assert second["newly_retracted"] == [{"pmid": LISTED, "title": second["newly_retracted"][0]["title"],
                                          "lists": ["Keep"]}]
    assert {q["name"]: q["new"] for q in second["queries"]} == {"cancer": 0, "nothing": 0}
    third = ms("saved", "run-all")
    assert "No newly retracted papers" in third.stdout
    assert "[RETRACTED]" in ms("lists", "show", "Keep").stdout


@pytest.mark.slow
def test_a_save_succeeds_while_an_ingest_holds_the_store(ms):
    with Store(ms.settings.db):  # a writer holds the corpus store for as long as this block runs
        ms("lists", "add", "L", LISTED, "--create")
        ms("saved", "add", "Q", "cancer")
        ms("saved", "run", "Q")  # searching reads the index snapshot, not the store
    assert Library(ms.settings.library_path).saved.get("Q").runs == 1


# -- --pull against PubMed replayed locally ----------------------------------------------

@pytest.mark.slow
def test_pull_fetches_new_records_of_the_query_indexes_and_marks_them(server, tmp_path):
    s = corpus_settings(tmp_path)  # an empty store: everything comes from PubMed
    env = {**env_of(s), "NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org"}
    assert run_cli("saved", "add", "tumours", "tumor", env=env).returncode == 0
    out = run_cli("saved", "run", "tumours", "--pull", "--json", env=env)
    assert out.returncode == 0, out.stderr
    matching = set(server.search_ids("tumor", None, None))
    run = json.loads(out.stdout)
    assert run["run"]["pulled"] == len(matching) > 0
    # the first run is the baseline: what it pulled into an empty store is its set, not "new"
    assert run["hits"] and all(not h["is_new"] and h["doc_id"] in matching for h in run["hits"])
    with Store(s.db, read_only=True) as store:
        assert store.count() == len(matching)
    assert server.requests_to("esearch")[0].params["term"] == "tumor"

    server.reset()  # the next pull asks only for records entered since the last pull
    again = run_cli("saved", "run-all", "--pull", "--json", env=env)
    assert again.returncode == 0, again.stderr
    searches = [r.params for r in server.requests_to("esearch") if r.params.get("term") == "tumor"]
    assert searches and searches[0]["mindate"] == date.today().strftime("%Y/%m/%d")
    (query,) = json.loads(again.stdout)["queries"]
    assert (query["name"], query["new"], query["pulled"], query["results"]) == ("tumours", 0, 0, len(run["hits"]))


@pytest.mark.slow
def test_a_failing_pull_is_reported_and_the_other_queries_still_run(server, corpus, tmp_path):
    s = fresh_copy(corpus, tmp_path)
    env = {**env_of(s), "NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org"}
    for name, query in (("a", "cancer"), ("b", "tumor")):
        assert run_cli("saved", "add", name, query, env=env).returncode == 0
    server.inject("esearch", "error_xml", times=1)  # NCBI's ERROR document for the first query's search
    out = run_cli("saved", "run-all", "--pull", "--json", env=env)
    assert out.returncode == 2
    digest = json.loads(out.stdout)
    assert [f["name"] for f in digest["failures"]] == ["a"] and "pull failed" in digest["failures"][0]["message"]
    assert {q["name"] for q in digest["queries"]} == {"a", "b"}  # a still searched what the store has


# -- export and import --------------------------------------------------------------------

@pytest.mark.slow
def test_export_a_list_in_its_order_with_notes_and_missing_papers_named(ms, tmp_path):
    import rispy

    ms("lists", "add", "L", "11618220", "99999999", LISTED, "--create")
    ms("lists", "add", "L", LISTED, "--note", "the key trial")
    out = ms("export", "L", "--format", "RIS", "-o", str(tmp_path / "l.ris"))
    assert "99999999" in out.stderr and "not in the index" in out.stderr
    records = rispy.loads((tmp_path / "l.ris").read_text(encoding="utf-8"))
    pmids = [r.get("accession_number") or r.get("id") for r in records]
    assert pmids == ["11618220", LISTED]
    assert "the key trial" in json.dumps(records[1])
    csl = js(ms("export", "--pmids", LISTED, "11618220", "--format", "csljson"))
    assert [str(x["PMID"]) for x in csl] == [LISTED, "11618220"]


def test_export_refuses_an_unknown_format_or_an_unwritable_path_before_writing(ms, tmp_path):
    ms("lists", "add", "L", LISTED, "--create")
    keep = tmp_path / "old.ris"
    keep.write_text("my old export\n", encoding="utf-8")
    unknown = ms("export", "L", "--format", "docx", "-o", str(keep), ok=False)
    assert unknown.returncode == 2 and "Unknown export format 'docx'" in unknown.stderr and "ris" in unknown.stderr
    assert keep.read_text(encoding="utf-8") == "my old export\n"
    for path in (tmp_path / "no-such-folder" / "x.ris", tmp_path):
        bad = ms("export", "L", "--format", "ris", "-o", str(path), ok=False)
        assert bad.returncode == 2 and "Cannot write" in bad.stderr and "Traceback" not in bad.stderr
    both = ms("export", "L", "--pmids", "1", "--format", "ris", ok=False)
    assert both.returncode == 2 and "either a list name or --pmids" in both.stderr


@pytest.mark.slow
def test_import_a_pubmed_nbib_file_keeps_its_pmids_in_file_order(ms):
    from Bio import Medline

    nbib = PUBMED_DATA / "biopython" / "medline_pubmed_result1.txt"
    with nbib.open(encoding="utf-8") as f:
        expected = [r["PMID"] for r in Medline.parse(f)]
    out = ms("lists", "import", "From PubMed", str(nbib))
    assert "as medline" in out.stdout and f"Added {len(expected)} papers" in out.stdout
    shown = js(ms("lists", "show", "From PubMed", "--json"))
    assert [e["pmid"] for e in shown["entries"]] == expected


@pytest.mark.slow
def test_an_exported_list_imports_back_to_the_same_pmids(ms, tmp_path):
    ms("lists", "add", "A", LISTED, "11618220", "--create")
    ms("lists", "move", "A", "11618220", "1")
    ms("export", "A", "--format", "ris", "-o", str(tmp_path / "a.ris"))
    ms("lists", "import", "B", str(tmp_path / "a.ris"))
    assert [e["pmid"] for e in js(ms("lists", "show", "B", "--json"))["entries"]] == ["11618220", LISTED]


def test_an_import_file_in_an_unknown_format_changes_nothing(ms, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("Some notes about papers I liked\n", encoding="utf-8")
    out = ms("lists", "import", "New list", str(junk), ok=False)
    assert out.returncode == 2 and "not a citation file" in out.stderr
    assert js(ms("lists", "show", "--json")) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ['it\'s "the" $(list); rm -rf ~', "Revue systématique 日本語 😀 " + "x" * 170])
def test_odd_names_pass_through_create_rename_export_and_backup(ms, tmp_path, name):
    ms("lists", "new", name)
    ms("lists", "add", name, LISTED)
    ms("lists", "rename", name, name + "!")
    assert [x["name"] for x in js(ms("lists", "show", "--json"))] == [name + "!"]
    csl = js(ms("export", name + "!", "--format", "csljson"))
    assert [str(x["PMID"]) for x in csl] == [LISTED]
    ms("library", "backup", str(tmp_path / "b.jsonl"))
    first_list = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()][1]
    assert first_list["name"] == name + "!"


@pytest.mark.slow
def test_nightly_pull_brings_a_listed_papers_retraction_into_the_digest(server, tmp_path):
    s = corpus_settings(tmp_path)
    env = {**env_of(s), "NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org"}
    assert run_cli("saved", "add", "tumours", "tumor", env=env).returncode == 0
    first = run_cli("saved", "run-all", "--pull", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["queries"][0]["results"] > 0
    target = sorted(server.search_ids("tumor", None, None))[0]
    assert run_cli("lists", "add", "Keep", target, "--create", env=env).returncode == 0
    server.revise(target, retracted_xml(server.record_xml(target)))  # PubMed retracts it today
    night = run_cli("saved", "run-all", "--pull", "--json", env=env)
    assert night.returncode == 0, night.stderr
    assert [(r["pmid"], r["lists"]) for r in json.loads(night.stdout)["newly_retracted"]] == [(target, ["Keep"])]
    assert json.loads(night.stdout)["queries"][0]["new"] == 0  # a revised record is not a new result
