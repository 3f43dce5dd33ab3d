"""Keeping the store current: `ingest pubmed --refresh` and `medsearch update`, end to end.

PubMed's revisions are played by the local replay server (tests/eutils_server.py): after
the first fetch it serves a new version of a real record (``EUtilsServer.revise``) or
drops one (``EUtilsServer.delete``). No real retracted PubMed XML record is in the shared
data, so the retracted version is built from a real record in the DTD's shape: a later
DateRevised, a ``CommentsCorrections RefType="RetractionIn"`` with the notice's PMID, and
the publication type "Retracted Publication".
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from lxml import etree

from ingest import pipeline
from ingest.entrez import EntrezClient, EntrezConfig
from ingest.pubmed_update import plan_update, update
from ingest.store import Store
from tests.conftest import run_cli
from tests.eutils_server import EUtilsServer

#: A real retraction notice's PMID (neilfws_retractions.medline, "Retraction of Publication").
NOTICE_PMID = "24472593"


def _env(server, **extra):
    return {"NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org", **extra}


def _client(server) -> EntrezClient:
    config = EntrezConfig(email="x@example.org", base_url=server.url, backoff_factor=0.01, max_tries=3)
    return EntrezClient(config, sleep=lambda s: None)


def retracted_version(xml: bytes, notice_pmid: str, revised: date) -> bytes:
    """``xml`` (a real PubmedArticle) as PubMed shows it once retracted (see module docstring)."""
    el = etree.fromstring(xml)
    citation = el.find("MedlineCitation")
    _set_date(citation.find("DateRevised"), revised)
    types = citation.find("Article/PublicationTypeList")
    etree.SubElement(types, "PublicationType", UI="D016441").text = "Retracted Publication"
    corrections = citation.find("CommentsCorrectionsList")
    if corrections is None:  # DTD order: after CitationSubset*, before GeneSymbolList/MeshHeadingList
        corrections = etree.Element("CommentsCorrectionsList")
        after = [c for c in citation if c.tag in (
            "MedlineJournalInfo", "ChemicalList", "SupplMeshList", "CitationSubset")][-1]
        after.addnext(corrections)
    ref = etree.SubElement(corrections, "CommentsCorrections", RefType="RetractionIn")
    etree.SubElement(ref, "RefSource").text = "Retraction in: J Test. 2026;1:1"
    etree.SubElement(ref, "PMID", Version="1").text = notice_pmid
    return etree.tostring(el)


def _set_date(el: etree._Element, day: date) -> None:
    el.find("Year").text, el.find("Month").text, el.find("Day").text = (
        str(day.year), f"{day.month:02d}", f"{day.day:02d}"
    )


def _stored(db) -> list[str]:
    with Store(db) as store:
        return [r[0] for r in store.con.execute("SELECT doc_id FROM articles ORDER BY doc_id").fetchall()]


def _plain_record(server: EUtilsServer, ids: list[str]) -> str:
    """A stored PMID whose served record has DateRevised, no corrections, and is an article."""
    for pmid in ids:
        xml = server.record_xml(pmid)
        if b"<DateRevised>" in xml and b"CommentsCorrections" not in xml and xml.startswith(b"<PubmedArticle"):
            return pmid
    raise AssertionError("no plain record among the stored ones")


# --- the retraction, end to end --------------------------------------------------------------


@pytest.mark.slow
def test_a_record_retracted_at_pubmed_is_retracted_in_the_store_after_update(server, tmp_path):
    db = tmp_path / "m.duckdb"
    first = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "30", env=_env(server))
    assert first.returncode == 0, first.stderr
    target = _plain_record(server, _stored(db))
    server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
    server.reset_requests()

    dry = run_cli("--db", str(db), "update", "--dry-run", env=_env(server))
    assert dry.returncode == 0, dry.stderr
    assert f"would re-fetch 1 records PubMed modified: {target}." in dry.stdout
    assert "would add 0 new records." in dry.stdout and "nothing was fetched or written" in dry.stdout
    assert server.requests_to("efetch") == []
    with Store(db) as store:
        assert store.article_row(target)["is_retracted"] is False and len(store.runs(10)) == 1

    out = run_cli("--db", str(db), "update", env=_env(server))
    assert out.returncode == 0, out.stderr
    assert "1 stored" in out.stdout
    stats = json.loads(run_cli("--db", str(db), "stats", "--json").stdout)
    assert stats["retracted"] == 1 and stats["records"] == 30
    with Store(db) as store:
        assert store.article_row(target)["is_retracted"] is True
        links = store.child_rows("comments_corrections", target)
        assert [(c["ref_type"], c["ref_pmid"]) for c in links] == [("RetractionIn", NOTICE_PMID)]
        assert store.runs(1)[0].kind == "update" and store.runs(1)[0].status == "completed"

    # the same day, the revision is still "modified since yesterday" (PubMed's dates are days):
    # it is read again and left untouched
    again = run_cli("--db", str(db), "update", env=_env(server))
    assert again.returncode == 0, again.stderr
    assert "0 stored, 1 unchanged" in again.stdout


@pytest.mark.slow
def test_refresh_of_a_query_refetches_its_modified_records_in_one_search(server, tmp_path):
    db = tmp_path / "m.duckdb"
    query = "cancer"
    assert run_cli("--db", str(db), "ingest", "pubmed", query, env=_env(server)).returncode == 0
    stored = _stored(db)
    target = _plain_record(server, stored)
    server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
    server.reset_requests()

    out = run_cli("--db", str(db), "ingest", "pubmed", query, "--refresh", env=_env(server))
    assert out.returncode == 0, out.stderr
    (search,) = server.requests_to("esearch")  # new and modified records in one search
    assert search.params["datetype"] == "mdat" and search.params["term"] == query
    assert server.requests_to("epost")[0].params["id"] == target
    with Store(db) as store:
        assert store.article_row(target)["is_retracted"] is True
        assert store.count() == len(stored)


@pytest.mark.slow
def test_refresh_of_a_bounded_query_checks_its_stored_records(server, tmp_path):
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "12", "--sort", "pub_date",
                   env=_env(server)).returncode == 0
    target = _plain_record(server, _stored(db))
    server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
    server.reset_requests()

    out = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "12", "--sort", "pub_date",
                  "--refresh", env=_env(server))
    assert out.returncode == 0, out.stderr
    posted_sets = [r for r in server.requests_to("esearch") if r.params["term"].startswith("#")]
    assert posted_sets and posted_sets[0].params["datetype"] == "mdat"
    with Store(db) as store:
        assert store.article_row(target)["is_retracted"] is True


@pytest.mark.slow
def test_an_older_version_from_pubmed_does_not_replace_the_stored_one(server, tmp_path):
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "20", env=_env(server)).returncode == 0
    target = _plain_record(server, _stored(db))
    old = retracted_version(server.record_xml(target), NOTICE_PMID, date(1990, 1, 1))
    server.revise(target, old, modified=date.today())  # modified today, but an older DateRevised
    out = run_cli("--db", str(db), "update", env=_env(server))
    assert out.returncode == 0, out.stderr
    assert "1 older skipped" in out.stdout
    with Store(db) as store:
        assert store.article_row(target)["is_retracted"] is False


# --- deletions -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_record_pubmed_deleted_is_tombstoned(server, tmp_path):
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "15", env=_env(server)).returncode == 0
    gone = _stored(db)[3]
    server.delete(gone)
    dry = run_cli("--db", str(db), "update", "--dry-run", "--json", env=_env(server))
    assert json.loads(dry.stdout)["gone"] == [gone]
    out = run_cli("--db", str(db), "update", env=_env(server))
    assert out.returncode == 0, out.stderr
    assert "removing 1 records PubMed deleted" in out.stdout and "1 deleted" in out.stdout
    assert gone not in _stored(db)
    with Store(db) as store:
        assert store.con.execute("SELECT doc_id FROM deleted_articles").fetchall() == [(gone,)]
    stats = json.loads(run_cli("--db", str(db), "stats", "--json").stdout)
    # the query's top 15 took in the next record in place of the deleted one
    assert stats["deleted"] == 1 and stats["records"] == 15


@pytest.mark.slow
def test_an_efetch_reply_that_misses_a_record_deletes_nothing(server, tmp_path):
    db = tmp_path / "m.duckdb"
    with Store(db) as store:
        pipeline.ingest_pubmed(store, _client(server), "all[sb]", max_records=15, progress=False)
        target = _plain_record(server, _stored_in(store))
        server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
        server.inject("efetch", "omit", pmids=[target])  # the first re-fetch leaves it out
        _, report = update(store, _client(server), progress=False)
        assert report.result.deleted == 0 and report.result.stored == 1
        assert store.article_row(target)["is_retracted"] is True
        assert store.con.execute("SELECT count(*) FROM deleted_articles").fetchall() == [(0,)]


@pytest.mark.slow
def test_missing_twice_but_still_found_keeps_the_record_and_reports_it(server, tmp_path):
    with Store(tmp_path / "m.duckdb") as store:
        pipeline.ingest_pubmed(store, _client(server), "all[sb]", max_records=15, progress=False)
        target = _plain_record(server, _stored_in(store))
        server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
        server.inject("efetch", "omit", times=2, pmids=[target])
        _, report = update(store, _client(server), progress=False)
        assert report.result.deleted == 0 and store.article_row(target) is not None
        assert [p.location for p in report.problems] == [f"PMID {target}"]
        uid_checks = [r for r in server.requests_to("esearch") if "[uid]" in r.params["term"]]
        assert uid_checks and uid_checks[0].params["term"] == f"{target}[uid]"


# --- what update covers ----------------------------------------------------------------------


@pytest.mark.slow
def test_update_adds_new_records_of_every_stored_query(server, tmp_path):
    with Store(tmp_path / "m.duckdb") as store:
        client = _client(server)
        pipeline.ingest_pubmed(store, client, "all[sb]", max_records=5, progress=False)
        pipeline.ingest_pubmed(store, client, "cancer", max_records=3, sort="relevance", progress=False)
        store.con.execute("DELETE FROM articles WHERE doc_id = ?", [_stored_in(store)[0]])
        plan = plan_update(store, client, progress=False)
        assert plan.queries == ("all[sb]", "cancer") and len(plan.new) == 1
        assert plan.checked == store.count()


@pytest.mark.slow
def test_records_from_files_are_checked_too(server, tmp_path, shared_data):
    from ingest.pipeline import ingest_files

    folder = shared_data / "pubmed" / "metapub" / "fixtures" / "pmid_xml"
    files = sorted(folder.glob("*.xml"))[:5]
    with Store(tmp_path / "m.duckdb") as store:
        ingest_files(store, files, progress=False)
        stored = _stored_in(store)
        target = _plain_record(server, stored)
        server.revise(target, retracted_version(server.record_xml(target), NOTICE_PMID, date.today()))
        plan = plan_update(store, _client(server), progress=False)
        assert plan.checked == len(stored) and plan.queries == () and target in plan.modified
        # one chunk of posted ids is searched from its earliest day: every record PubMed
        # modified since then is re-fetched, and only the target really changed
        since = min(store.article_row(p)["date_revised"] for p in stored) + timedelta(days=1)
        assert plan.since == since
        assert set(plan.modified) == {p for p in stored if server._date_of(p, "mdat") >= since}
        _, report = update(store, _client(server), progress=False)
        assert report.result.stored == 1 and report.result.unchanged == len(plan.modified) - 1
        assert store.article_row(target)["is_retracted"] is True


@pytest.mark.slow
def test_an_interrupted_update_keeps_finished_batches(server, tmp_path):
    with Store(tmp_path / "m.duckdb") as store:
        client = _client(server)
        pipeline.ingest_pubmed(store, client, "all[sb]", max_records=40, progress=False)
        stored = _stored_in(store)
        for pmid in stored:  # PubMed touched every record today (its content unchanged)
            server.revise(pmid, server.record_xml(pmid))
        client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, efetch_batch_size=10),
                              sleep=lambda s: None)
        real_fetch = client.fetch

        def interrupted(ids):
            for n, batch in enumerate(real_fetch(ids)):
                if n == 2:
                    raise KeyboardInterrupt
                yield batch

        client.fetch = interrupted
        with pytest.raises(KeyboardInterrupt):
            update(store, client, progress=False)
        run = store.runs(1)[0]
        assert run.kind == "update" and run.status == "interrupted" and run.seen == 20


def _stored_in(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT doc_id FROM articles ORDER BY doc_id").fetchall()]
