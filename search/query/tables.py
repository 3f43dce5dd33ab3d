"""The query tables of an index snapshot, built once by :func:`prepare_snapshot` when the
snapshot is written (``search/index/snapshot_build.py``); :mod:`search.query.restrict`
evaluates restrictions on them at query time.

The snapshot's ``corpus.duckdb`` holds the store's record tables plus ``articles.ix`` (the
record's row in the index). The tables make a clause an index lookup instead of a scan of
every abstract:

* ``qx_vocab(word, wid)``: every distinct word, ``wid`` in the words' sort order, so a
  truncated word (``random*``) is one contiguous ``wid`` range;
* ``qx_words(wid, f, ix, pos)``: one row per word occurrence, by field ``f`` (title,
  abstract, keywords, MeSH, publication types, substances, authors, journal) with its
  position, sorted by ``wid`` (DuckDB's zone maps then skip all other row groups); a phrase
  is a self-join on ``pos + 1``;
* ``qx_terms(k, term, ix)``: whole names (MeSH descriptors, qualifiers, publication types,
  journals, authors, languages, ids, subsets), normalised like words;
* ``qx_dates(ix, d)``: print and electronic publication dates;
* ``qx_filters(name, ix)``: the answer of every named filter (:mod:`search.query.clinical`);
* ``qx_meta``: the tables' version and the filters' fingerprint.

Words are :data:`search.query.restrict.TOKENS_SQL`'s, the expression the query side uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from search.query.restrict import (
    AB,
    AU,
    MH,
    NM,
    NORM_SQL,
    OT,
    PT,
    QX_VERSION,
    TA,
    TI,
    TOKENS_SQL,
    _run,
    filters_fingerprint,
)

#: Positions of two segments (two keywords, two MeSH headings, title and other abstracts)
#: lie this far apart, so a phrase never spans them. Positions are INTEGER: segment
#: numbers stay below 21,000 (authors past the 20,000th share one segment).
SEGMENT = 100_000


@dataclass(frozen=True, slots=True)
class PrepareReport:
    """What :func:`prepare_snapshot` built."""

    seconds: float
    vocabulary: int  # distinct words
    word_rows: int  # word occurrences
    term_rows: int


_QUALS = (
    "(SELECT doc_id, position, descriptor, major_topic, unnest(qualifiers) AS q, "
    "generate_subscripts(qualifiers, 1) AS i FROM mesh_headings) m JOIN articles a USING (doc_id)"
)
_AUTHORS = (
    "(SELECT *, position = min(position) OVER (PARTITION BY doc_id) AS first, "
    "position = max(position) OVER (PARTITION BY doc_id) AS last FROM authors) w "
    "JOIN articles a USING (doc_id)"
)


def _segments_sql() -> str:
    """(ix, f, seg, text): every text the word index covers, one row per segment."""
    return f"""
    SELECT ix, {TI} AS f, 0 AS seg, title AS text FROM articles
    UNION ALL SELECT ix, {AB}, 0, abstract FROM articles WHERE abstract IS NOT NULL
    UNION ALL SELECT a.ix, {AB}, 1 + s.abstract_index * 1000 + s.position, s.text
        FROM abstract_sections s JOIN articles a USING (doc_id)
        WHERE s.abstract_index > 0 AND s.text IS NOT NULL
    UNION ALL SELECT a.ix, {OT}, k.position, k.keyword FROM keywords k JOIN articles a USING (doc_id)
    UNION ALL SELECT a.ix, {MH}, m.position * 64, m.descriptor
        FROM mesh_headings m JOIN articles a USING (doc_id)
    UNION ALL SELECT a.ix, {MH}, m.position * 64 + m.i, m.q.name FROM {_QUALS}
    UNION ALL SELECT a.ix, {PT}, p.position, p.name FROM publication_types p JOIN articles a USING (doc_id)
    UNION ALL SELECT a.ix, {NM}, c.position, c.name FROM chemicals c JOIN articles a USING (doc_id)
    UNION ALL SELECT a.ix, {AU}, least(w.position, 20000),
        concat_ws(' ', w.last_name, w.fore_name, w.initials, w.collective_name) FROM {_AUTHORS}
    UNION ALL SELECT ix, {TA}, 0, concat_ws(' ', journal_title, journal_iso,
        json_extract_string(extra, '$.medline_ta')) FROM articles
    """


_JOURNAL_NAMES = ("journal_title", "journal_iso", "json_extract_string(extra, '$.medline_ta')",
                  "issn", "issn_linking")

#: The forms an author is found by: "smith ja", "smith john a", a collective name.
_AU_FORMS = ("concat_ws(' ', w.last_name, w.initials)", "concat_ws(' ', w.last_name, w.fore_name)",
             "w.collective_name")
_MAJOR_QUALIFIER = "coalesce(list_bool_or(list_transform(m.qualifiers, lambda x: x.major_topic)), false)"

#: Temporary tables of raw names by record; ``qx_t_norm`` then normalises each distinct
#: name once (the regex is the build's main cost, and names repeat across records).
_NAME_TEMPS = {
    "qx_t_desc": "SELECT a.ix, m.descriptor AS raw, m.major_topic OR "
    f"{_MAJOR_QUALIFIER} AS major FROM mesh_headings m JOIN articles a USING (doc_id)",
    "qx_t_qual": "SELECT a.ix, m.descriptor AS raw, m.q.name AS raw_q, "
    f"m.q.major_topic OR m.major_topic AS major FROM {_QUALS}",
    "qx_t_au": f"SELECT a.ix, w.first, w.last, unnest([{', '.join(_AU_FORMS)}]) AS raw FROM {_AUTHORS}",
    "qx_t_pt": "SELECT a.ix, p.name AS raw FROM publication_types p JOIN articles a USING (doc_id)",
    "qx_t_ta": f"SELECT ix, unnest([{', '.join(_JOURNAL_NAMES)}]) AS raw FROM articles",
    "qx_t_norm": "SELECT raw, " + NORM_SQL("raw") + " AS norm FROM (SELECT DISTINCT raw FROM ("
    + " UNION ALL ".join(f"SELECT raw FROM {t}" for t in ("qx_t_desc", "qx_t_au", "qx_t_pt", "qx_t_ta"))
    + " UNION ALL SELECT raw_q FROM qx_t_qual) WHERE raw IS NOT NULL)",
}


def _terms_sql() -> str:
    """(k, term, ix): whole names and ids, normalised as the query side normalises them."""
    ids = "article_ids i JOIN articles a USING (doc_id)"
    norm = "JOIN qx_t_norm n USING (raw)"
    qual = "qx_t_qual t JOIN qx_t_norm n USING (raw) JOIN qx_t_norm nq ON nq.raw = t.raw_q"
    parts = [
        f"SELECT 'mh', n.norm, t.ix FROM qx_t_desc t {norm}",
        f"SELECT 'majr', n.norm, t.ix FROM qx_t_desc t {norm} WHERE t.major",
        f"SELECT 'sh', nq.norm, t.ix FROM {qual}",
        f"SELECT 'mhsh', n.norm || '/' || nq.norm, t.ix FROM {qual}",
        f"SELECT 'majrsh', n.norm || '/' || nq.norm, t.ix FROM {qual} WHERE t.major",
        f"SELECT 'pt', n.norm, t.ix FROM qx_t_pt t {norm}",
        f"SELECT 'ta', n.norm, t.ix FROM qx_t_ta t {norm}",
        f"SELECT 'au', n.norm, t.ix FROM qx_t_au t {norm}",
        f"SELECT '1au', n.norm, t.ix FROM qx_t_au t {norm} WHERE t.first",
        f"SELECT 'lastau', n.norm, t.ix FROM qx_t_au t {norm} WHERE t.last",
        "SELECT 'la', lower(unnest(languages)), ix FROM articles",
        "SELECT 'pmid', trim(pmid), ix FROM articles WHERE pmid IS NOT NULL",
        "SELECT 'doi', lower(trim(doi)), ix FROM articles WHERE doi IS NOT NULL",
        f"SELECT 'doi', lower(trim(i.value)), a.ix FROM {ids} WHERE i.id_type = 'doi'",
        "SELECT 'pmcid', lower(trim(pmcid)), ix FROM articles WHERE pmcid IS NOT NULL",
        f"SELECT 'pmcid', lower(trim(i.value)), a.ix FROM {ids} WHERE i.id_type = 'pmc'",
        "SELECT 'sb', 'medline', ix FROM articles WHERE status = 'MEDLINE'",
        "SELECT 'sb', 'pmc', ix FROM articles WHERE pmcid IS NOT NULL",
        f"SELECT 'sb', 'pmc', a.ix FROM {ids} WHERE i.id_type = 'pmc'",
    ]
    return " UNION ALL ".join(parts)


def prepare_snapshot(con) -> PrepareReport:
    """Add the auxiliary tables to a new snapshot (read-write ``con``, tables copied)."""
    t0 = time.perf_counter()
    con.execute("SET enable_progress_bar = false")  # a build step can take seconds
    for table in ("qx_vocab", "qx_words", "qx_terms", "qx_dates", "qx_filters", "qx_meta"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(
        "CREATE TEMP TABLE qx_tok AS "
        f"SELECT ix, f, seg * {SEGMENT} + generate_subscripts(toks, 1) AS pos, unnest(toks) AS word "
        f"FROM (SELECT ix, f, seg, {TOKENS_SQL('text')} AS toks FROM ({_segments_sql()}))"
    )
    con.execute(
        "CREATE TABLE qx_vocab AS SELECT word, (row_number() OVER (ORDER BY word) - 1)::INTEGER AS wid "
        "FROM (SELECT DISTINCT word FROM qx_tok) ORDER BY word"
    )
    con.execute(
        "CREATE TABLE qx_words AS SELECT v.wid, t.f::UTINYINT AS f, t.ix::INTEGER AS ix, t.pos::INTEGER AS pos "
        "FROM qx_tok t JOIN qx_vocab v USING (word) ORDER BY v.wid, t.ix, t.pos"
    )
    con.execute("DROP TABLE qx_tok")
    for name, sql in _NAME_TEMPS.items():
        con.execute(f"CREATE TEMP TABLE {name} AS {sql}")
    con.execute(
        "CREATE TABLE qx_terms AS SELECT DISTINCT k::VARCHAR AS k, term::VARCHAR AS term, ix::INTEGER AS ix "
        f"FROM ({_terms_sql()}) t(k, term, ix) WHERE term IS NOT NULL AND term <> '' ORDER BY k, term, ix"
    )
    for name in _NAME_TEMPS:
        con.execute(f"DROP TABLE {name}")
    con.execute(
        "CREATE TABLE qx_dates AS SELECT DISTINCT ix::INTEGER AS ix, d FROM ("
        "SELECT ix, try(make_date(pub_year, coalesce(pub_month, 1), coalesce(pub_day, 1))) AS d "
        "FROM articles WHERE pub_year IS NOT NULL "
        "UNION ALL SELECT ix, article_date FROM articles) WHERE d IS NOT NULL ORDER BY d, ix"
    )
    _store_filters(con)
    con.execute(
        "CREATE TABLE qx_meta AS SELECT ?::INTEGER AS version, ?::VARCHAR AS filters",
        [QX_VERSION, filters_fingerprint()],
    )
    count = lambda t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
    return PrepareReport(
        time.perf_counter() - t0, count("qx_vocab"), count("qx_words"), count("qx_terms")
    )


def _store_filters(con) -> None:
    """Evaluate every named filter of :mod:`search.query.clinical` once, into ``qx_filters``.

    A clinical filter has up to 20 clauses and never changes, so the snapshot holds its
    answer: at query time it costs one lookup, like PubMed's own subsets.
    """
    from search.query.clinical import FILTERS

    con.execute("CREATE TABLE qx_filters (name VARCHAR, ix INTEGER)")
    for f in FILTERS.values():
        ixs = np.flatnonzero(_run(con, f.node, precomputed=False)).tolist()
        con.execute("INSERT INTO qx_filters SELECT ?, unnest(?::INTEGER[])", [f.name, ixs])
