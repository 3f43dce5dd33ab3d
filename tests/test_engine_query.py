"""The engine with PubMed query syntax and evidence filters, over every real record (BM25 and a fake
embedder): restrictions before top-k, boolean-only listings, sorts and paging, matched terms,
evidence levels. Oracles read the records from the store (tests/engine_snapshot.py), never the
snapshot code under test."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from search.query.syntax import QuerySyntaxError
from search.retrieval.tokenizer import Tokenizer
from search.types import Filters
from tests.test_clinical import CHECKED, EXPECTED_IN


def ids(results) -> list[str]:
    return [h.doc_id for h in results.hits]


def listed(engine, query: str, **kw) -> list[str]:
    """Every result of ``query``, read page by page (1,000 per page)."""
    out: list[str] = []
    while True:
        page = engine.search(query, k=1000, offset=len(out), **kw)
        out += ids(page)
        if len(out) >= page.total or not page.hits:
            return out


def types_of(article) -> set[str]:
    return {p.name for p in article.publication_types}


def first_date(a) -> date | None:
    """The earliest publication date a record gives (print date, missing parts = 1; or epub)."""
    dates = [a.article_date] if a.article_date else []
    if a.pub_year:
        dates.append(date(a.pub_year, a.pub_month or 1, a.pub_day or 1))
    return min(dates) if dates else None


NOTICE_TYPES = {"Retraction of Publication", "Published Erratum", "Expression of Concern"}


def is_notice(article) -> bool:
    return bool(types_of(article) & NOTICE_TYPES)


def holding_every_word(real, query: str) -> set[str]:
    """Papers (not notices) whose indexed text holds a token of every word of ``query``: the
    result set of a short keyword query in bm25 mode, written out word by word."""
    tok = Tokenizer()
    words = [set(tok(w)) for w in query.split()]
    words = [w for w in words if w]
    return {d for d, text in real.lexical.items()
            if all(w & set(tok(text)) for w in words) and not is_notice(real.articles[d])}


# -- the restriction applies before ranking ------------------------------------------------------


@pytest.mark.slow
def test_a_restriction_applies_before_top_k(engine, real):
    rcts = {d for d, a in real.articles.items() if "Randomized Controlled Trial" in types_of(a)}
    assert 3 <= len(rcts) < 20
    r = engine.search("patients AND randomized controlled trial[pt]", k=100, mode="bm25")
    assert r.candidates == len(rcts)
    assert set(ids(r)) == rcts & holding_every_word(real, "patients") and r.hits
    assert r.free_text == "patients" and r.restriction == "randomized controlled trial[pt]"


def test_a_query_without_free_text_lists_its_matches_newest_first(engine, real):
    rcts = {d for d, a in real.articles.items() if "Randomized Controlled Trial" in types_of(a)}
    r = engine.search("randomized controlled trial[pt]", k=100)
    assert set(ids(r)) == rcts and r.total == len(rcts) and r.sort == "date"
    dates = [first_date(real.articles[d]) for d in ids(r)]
    assert dates == sorted(dates, reverse=True)


def test_a_date_range_selects_by_publication_date(engine, real):
    r = engine.search("2015:2016[dp]", k=1000)
    assert r.hits
    for d in ids(r):
        a = real.articles[d]
        candidates = [x for x in (first_date(a), a.article_date) if x] + (
            [date(a.pub_year, a.pub_month or 1, a.pub_day or 1)] if a.pub_year else [])
        assert any(date(2015, 1, 1) <= x <= date(2016, 12, 31) for x in candidates)


def test_lower_case_and_or_stay_free_text(engine):
    plain = engine.search("asthma children", k=10, mode="bm25")
    spoken = engine.search("asthma and children", k=10, mode="bm25")
    assert spoken.restriction == "" and spoken.free_text == "asthma and children"
    assert ids(spoken) == ids(plain)


@pytest.mark.parametrize(("query", "position", "reason"), [
    ("asthma AND (trial[pt]", 11, "never closed"),
    ("asthma[xyz]", 6, "unknown field tag"),
    ("asthma AND", 7, "AND needs a clause after it"),
    ('"heart failure', 0, "unterminated quote"),
])
def test_a_malformed_query_raises_with_its_position(engine, query, position, reason):
    with pytest.raises(QuerySyntaxError) as info:
        engine.search(query)
    assert info.value.position == position and reason in info.value.reason
    assert isinstance(info.value, ConfigError) and info.value.hint


def test_plain_text_ranking_reads_syntax_characters_as_words(engine):
    with pytest.raises(QuerySyntaxError):
        engine.rank('asthma "inhaled (corticosteroids', mode="bm25")
    plain = engine.rank('asthma "inhaled (corticosteroids', mode="bm25", syntax=False)
    assert [h.doc_id for h in plain.hits] == [
        h.doc_id for h in engine.rank("asthma inhaled corticosteroids", mode="bm25").hits]
    assert plain.hits and plain.parsed.restriction is None


def test_query_text_never_reaches_duckdb_as_sql(engine):
    hostile = "\"x'); DROP TABLE articles; --\"[ti] OR \"' OR 1=1 --\"[tiab] OR \"x' OR '1'='1\"[au] OR ';[pt]"
    r = engine.search(hostile, k=5)
    assert r.hits == () and r.candidates == 0
    assert engine.snapshot.records.count() == len(engine.snapshot.doc_ids)


# -- evidence filters through the engine, on the hand-checked records of tests/test_clinical.py ---


def _filter_of(name: str) -> Filters:
    if "/" in name and not name.startswith("age/"):
        return Filters(clinical=name)
    if name.startswith("age/"):
        return Filters(ages=(name[4:],))
    return {"systematic-review": Filters(systematic_review=True), "humans": Filters(humans_only=True),
            "free-full-text": Filters(free_full_text=True)}[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_IN))
def test_each_evidence_filter_selects_the_hand_checked_records(engine, name):
    found = listed(engine, "all[sb]", filters=_filter_of(name))
    assert set(found) & set(CHECKED) == EXPECTED_IN[name]
    assert len(found) == engine.search("all[sb]", filters=_filter_of(name)).candidates


def test_age_groups_combine_with_or_and_filters_with_and(engine):
    def only(**kw):
        return set(listed(engine, "all[sb]", filters=Filters(**kw)))

    assert only(ages=("infant", "80-and-over")) == only(ages=("infant",)) | only(ages=("80-and-over",))
    both = only(humans_only=True, clinical="therapy/broad", year_from=2015)
    assert both == only(humans_only=True) & only(clinical="therapy/broad") & only(year_from=2015)
    assert both


def test_evidence_filters_are_validated_with_the_valid_values_in_the_hint():
    assert Filters(clinical="Therapy").clinical == "therapy/broad"
    assert Filters(clinical="prediction guides/NARROW").clinical == "prediction/narrow"
    assert Filters(ages=("Aged", "80 and over")).ages == ("aged", "80-and-over")
    with pytest.raises(ConfigError) as info:
        Filters(clinical="harm/narrow")
    assert "therapy/narrow" in info.value.hint and "prediction/broad" in info.value.hint
    with pytest.raises(ConfigError) as info:
        Filters(ages=("elderly",))
    assert "80-and-over" in info.value.hint and "young-adult" in info.value.hint
    assert Filters(humans_only=True).active and not Filters().active


# -- sorts and paging -----------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "date", "author", "evidence"])
def test_pages_join_up_to_the_whole_list(engine, sort):
    whole = engine.search("cancer risk", k=15, sort=sort, mode="hybrid")
    pages = [engine.search("cancer risk", k=5, offset=o, sort=sort, mode="hybrid") for o in (0, 5, 10)]
    assert [d for p in pages for d in ids(p)] == ids(whole)
    assert [h.rank for p in pages for h in p.hits] == list(range(1, 16))
    assert {p.total for p in pages} == {whole.total}


def test_total_counts_the_papers_that_hold_every_word_of_a_short_query(engine, real):
    r = engine.search("insomnia hypertension", k=5, mode="bm25")
    assert r.total == len(holding_every_word(real, "insomnia hypertension")) > 0
    hybrid = engine.search("insomnia hypertension", k=5, mode="hybrid")
    assert r.total <= hybrid.total


def test_date_sort_lists_every_match_newest_first(engine, real):
    r = engine.search("sleep", k=1000, sort="date", mode="bm25")
    assert set(ids(r)) == holding_every_word(real, "sleep")
    dates = [first_date(real.articles[d]) for d in ids(r)]
    known = [x for x in dates if x is not None]
    assert known == sorted(known, reverse=True) and dates[: len(known)] == known  # undated last


def _name_key(a) -> str | None:
    if not a.authors:
        return None
    x = a.authors[0]
    name = x.collective_name or " ".join(p for p in (x.last_name, x.initials or x.fore_name) if p)
    decomposed = unicodedata.normalize("NFD", name.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_author_sort_orders_by_first_author(engine, real):
    r = engine.search("cancer", k=1000, sort="author", mode="bm25")
    keys = [_name_key(real.articles[d]) for d in ids(r)]
    named = [k for k in keys if k]
    assert named == sorted(named) and keys[: len(named)] == named  # records without authors last
    assert len(named) > 20


def test_evidence_sort_groups_by_level_and_keeps_relevance_within_a_level(engine):
    relevance = engine.search("cancer patients", k=1000, mode="bm25")
    by_level = engine.search("cancer patients", k=1000, mode="bm25", sort="evidence")
    assert set(ids(by_level)) == set(ids(relevance)) and len(relevance.hits) == relevance.total
    levels = [h.evidence.level for h in by_level.hits]
    assert levels == sorted(levels) and len(set(levels)) >= 3
    position = {d: i for i, d in enumerate(ids(relevance))}
    for level in set(levels):
        inside = [position[h.doc_id] for h in by_level.hits if h.evidence.level == level]
        assert inside == sorted(inside)


def test_paging_limits_say_what_to_do(engine):
    with pytest.raises(ConfigError, match="at most 1,000") as info:
        engine.search("cancer", k=10, offset=995)
    assert "sort by date" in info.value.hint
    assert engine.search("cancer", k=10, offset=995, sort="date", mode="bm25").offset == 995
    with pytest.raises(ConfigError, match="Unknown sort"):
        engine.search("cancer", sort="citations")


# -- what each hit explains -------------------------------------------------------------------------


def test_matched_terms_hold_the_hits_bm25_score_term_by_term(engine, real):
    tok = Tokenizer()
    query = "insomnia with short sleep duration and hypertension risk"
    r = engine.search(query, k=10, mode="bm25")
    assert r.hits
    for h in r.hits:
        doc_tokens = set(tok(real.lexical[h.doc_id]))
        assert {t.term for t in h.matched_terms} == set(tok(query)) & doc_tokens
        assert sum(t.bm25 for t in h.matched_terms) == pytest.approx(h.bm25.score, rel=1e-5)
        assert [t.bm25 for t in h.matched_terms] == sorted((t.bm25 for t in h.matched_terms), reverse=True)
    words = {t.term: t.words for h in r.hits for t in h.matched_terms}
    assert words["sleep"] == ("sleep",) and words["hypertens"] == ("hypertension",)


# Levels read from each record's publication types and MeSH headings in the store:
# 27797938 PT Observational Study; MeSH Case-Control, Follow-Up, Prospective Studies and
#   "Randomized Controlled Trials as Topic" (a subject, not its design);
# 21933749 no design PT; MeSH "Clinical Trials, Phase I as Topic", "Retrospective Studies";
# 19368899 PT Clinical Trial + Randomized Controlled Trial, MeSH Case-Control Studies;
# 23415808 PT Clinical Trial, Phase II; 36318760 PT Systematic Review;
# 38958301 PT Practice Guideline; 38762411 PT Case Reports + Letter (a case report);
# 35726897 PT Letter only; 1628701 a retraction notice (Letter + Retraction of Publication).
EVIDENCE = {
    "27797938": (4, {("publication_type", "Observational Study"), ("mesh", "Case-Control Studies"),
                     ("mesh", "Follow-Up Studies"), ("mesh", "Prospective Studies")}),
    "21933749": (4, {("mesh", "Retrospective Studies")}),
    "19368899": (2, {("publication_type", "Randomized Controlled Trial")}),
    "23415808": (3, {("publication_type", "Clinical Trial, Phase II")}),
    "36318760": (1, {("publication_type", "Systematic Review"), ("filter", "PubMed systematic review filter")}),
    "38958301": (1, {("publication_type", "Practice Guideline")}),
    "38762411": (5, {("publication_type", "Case Reports")}),
    "35726897": (7, {("publication_type", "Letter")}),
    "1628701": (7, {("publication_type", "Letter"), ("publication_type", "Retraction of Publication")}),
}


def test_hits_carry_the_evidence_level_of_their_design(engine):
    query = " OR ".join(f"{p}[pmid]" for p in EVIDENCE)
    r = engine.search(query, k=20)
    assert set(ids(r)) == set(EVIDENCE)
    for h in r.hits:
        level, sources = EVIDENCE[h.doc_id]
        assert (h.evidence.level, {(s.field, s.value) for s in h.evidence.sources}) == (level, sources)


def test_the_stored_evidence_levels_agree_with_each_hits_badge(engine):
    """The per-record levels the evidence sort uses equal what every hit shows (all records)."""
    snap = engine.snapshot
    cols = snap.records.columns()
    rows = snap.rows_of()
    seen = 0
    for offset in range(0, len(snap.doc_ids), 1000):
        page = engine.search("all[sb]", k=1000, offset=offset)
        assert all(cols.level[rows[h.doc_id]] == h.evidence.level for h in page.hits)
        seen += len(page.hits)
    assert seen == len(snap.doc_ids)


# -- random query syntax through the whole engine ----------------------------------------------------

PIECES = ["cancer", "risk*", "*", "AND", "OR", "NOT", "and", "(", ")", '"', "[tiab]", "[ti]", "[mh]",
          "[mh:noexp]", "[majr]", "[pt]", "[au]", "[1au]", "[dp]", "[la]", "[pmid]", "[doi]", "[sb]", "[xx]",
          "2015:2020", "2019/02", "humans", "randomized controlled trial", "smith j", "eng", ":", "]", "[",
          "β-blocker", "Sjögren's", "'; DROP TABLE articles; --", "29768149", "10.1056/NEJMoa1715274", "all"]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=9), st.sampled_from(["relevance", "date"]))
def test_any_query_either_answers_or_raises_the_projects_error(engine, pieces, sort):
    query = " ".join(pieces)
    try:
        r = engine.search(query, k=5, sort=sort, mode="hybrid")
    except ConfigError as exc:  # QuerySyntaxError included: a message and a hint, nothing else
        assert exc.message and exc.hint
        return
    assert len(r.hits) <= 5 and r.total >= len(r.hits)
    for h in r.hits:
        for s in h.highlights:
            assert 0 <= s.start < s.end <= len(h.title if s.field == "title" else h.abstract)


def test_a_snapshot_without_query_tables_says_to_force_a_rebuild(engine, tmp_path):
    """Snapshots built before the query tables existed match the store's fingerprint, so only a
    forced rebuild adds the tables."""
    import shutil

    import duckdb

    from ingest.errors import SearchIndexError
    from search.index.records import RecordsView
    from search.query.syntax import parse

    copy = tmp_path / "corpus.duckdb"
    shutil.copy(engine.snapshot.records.path, copy)
    con = duckdb.connect(str(copy))
    for table in ("qx_meta", "qx_words", "qx_vocab", "qx_terms", "qx_dates", "qx_filters"):
        con.execute(f"DROP TABLE {table}")
    con.close()
    view = RecordsView(copy)
    try:
        with pytest.raises(SearchIndexError, match="no query tables") as info:
            view.restrict_mask(parse("cancer[tiab]").root)
        assert "medsearch index --force" in info.value.hint
    finally:
        view.close()
