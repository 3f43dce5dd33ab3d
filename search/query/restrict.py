"""Evaluate a parsed restriction (:mod:`search.query.syntax`) over an index snapshot's DuckDB file.

The snapshot's ``corpus.duckdb`` holds the store's record tables plus ``articles.ix`` (the
record's row in the index). :func:`prepare_snapshot` adds, once per snapshot, the tables
that make a clause an index lookup instead of a scan of every abstract:

* ``qx_vocab(word, wid)``: every distinct word, ``wid`` in the words' sort order, so a
  truncated word (``random*``) is one contiguous ``wid`` range;
* ``qx_words(wid, f, ix, pos)``: one row per word occurrence, by field ``f`` (title,
  abstract, keywords, MeSH, publication types, substances, authors, journal) with its
  position, sorted by ``wid`` (DuckDB's zone maps then skip all other row groups); a phrase
  is a self-join on ``pos + 1``;
* ``qx_terms(k, term, ix)``: whole names (MeSH descriptors, qualifiers, publication types,
  journals, authors, languages, ids, subsets), normalised like words;
* ``qx_dates(ix, d)``: print and electronic publication dates.

Words are what the SQL expression :data:`TOKENS_SQL` extracts: runs of Unicode letters
and digits, lower-cased, accents removed, no stemming; the same expression tokenises the
query's terms, so the two sides cannot drift apart.

:func:`evaluate` compiles the tree into leaves (one lookup each), fetches all leaves in one
``UNION ALL`` statement and combines them as boolean masks over the records. The SQL's shape
comes from the tree and from constants of this module; every value from the query is a
``?`` parameter. Named filters (:mod:`search.query.clinical`) are evaluated once per snapshot into
``qx_filters``.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np

from ingest.errors import SearchIndexError
from search.query.syntax import DateRange, Node, Not, Or, Term

#: Bump when the auxiliary tables change shape; :func:`evaluate` refuses other versions.
QX_VERSION = 1

TOKEN_RE = r"[\p{L}\p{N}]+"


def TOKENS_SQL(expr: str) -> str:  # noqa: N802 - reads as a constant
    """SQL giving the words of ``expr`` (a column or ``?``) as a list."""
    return f"regexp_extract_all(lower(strip_accents(coalesce({expr}, ''))), '{TOKEN_RE}')"


_PY_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """The words of ``text`` as :func:`TOKENS_SQL` extracts them, computed in Python.

    Query terms are tokenised here (no database round trip); ``tests/test_restrict.py``
    checks that both give the same words on every real record. Marks are stripped after
    canonical decomposition and case is lowered letter by letter, as DuckDB's
    ``strip_accents`` and ``lower`` do (no context-dependent final sigma).
    """
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    lowered = "".join(c.lower() for c in stripped)
    return _PY_TOKEN.findall(lowered)


def NORM_SQL(expr: str) -> str:  # noqa: N802
    """SQL giving ``expr`` as its words joined by single spaces (names compare this way)."""
    return f"array_to_string({TOKENS_SQL(expr)}, ' ')"


# Field codes of qx_words.f
TI, AB, OT, MH, PT, NM, AU, TA = range(1, 9)
WORD_FIELDS: dict[str, tuple[int, ...]] = {
    "ti": (TI,),
    "ab": (AB,),
    "tiab": (TI, AB, OT),
    "ot": (OT,),
    "nm": (NM,),
    "tw": (TI, AB, OT, MH, PT, NM),
    "all": (TI, AB, OT, MH, PT, NM, AU, TA),
}
#: Positions of two segments (two keywords, two MeSH headings, title and other abstracts)
#: lie this far apart, so a phrase never spans them. Positions are INTEGER: segment
#: numbers stay below 21,000 (authors past the 20,000th share one segment).
SEGMENT = 100_000

#: MEDLINE language codes (ISO 639-2/B) by English name, so both ``english[la]`` and
#: ``eng[la]`` work; a name not listed here is compared with the stored code as written.
LANGUAGES = {
    "english": "eng", "french": "fre", "german": "ger", "italian": "ita", "japanese": "jpn",
    "russian": "rus", "spanish": "spa", "chinese": "chi", "portuguese": "por", "polish": "pol",
    "dutch": "dut", "swedish": "swe", "danish": "dan", "norwegian": "nor", "finnish": "fin",
    "czech": "cze", "hungarian": "hun", "korean": "kor", "turkish": "tur", "greek": "gre",
    "hebrew": "heb", "arabic": "ara", "persian": "per", "serbian": "srp", "croatian": "hrv",
    "slovak": "slo", "slovenian": "slv", "romanian": "rum", "bulgarian": "bul",
    "ukrainian": "ukr", "lithuanian": "lit", "latvian": "lav", "estonian": "est",
    "icelandic": "ice", "latin": "lat", "thai": "tha", "vietnamese": "vie", "indonesian": "ind",
    "hindi": "hin", "afrikaans": "afr", "catalan": "cat",
}  # fmt: skip


# ---------------------------------------------------------------------------- build


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


@lru_cache(maxsize=1)
def _precomputed_filters() -> dict[Node, str]:
    from search.query.clinical import FILTERS

    return {f.node: f.name for f in FILTERS.values()}


# ---------------------------------------------------------------------------- evaluate


def check_snapshot(con) -> None:
    """Raise :class:`SearchIndexError` unless ``con``'s snapshot was prepared by this version
    of the query tables and of the named filters (whose answers it stores).

    The engine calls it once when it opens a snapshot; :func:`evaluate` does not repeat it.
    """
    try:
        row = con.execute("SELECT max(version), max(filters) FROM qx_meta").fetchone()
    except duckdb.CatalogException:
        row = (None, None)
    if row[0] != QX_VERSION:
        raise SearchIndexError(
            "This index snapshot has no query tables for field searches "
            f"(found version {row[0]}, need {QX_VERSION}).",
            hint="Run `medsearch index` again to rebuild the snapshot.",
        )
    if row[1] != filters_fingerprint():
        raise SearchIndexError(
            "This index snapshot stores the answers of other filter definitions "
            "(search/query/clinical.py changed since it was built).",
            hint="Run `medsearch index` again to rebuild the snapshot.",
        )


def filters_fingerprint() -> str:
    """SHA-256 of every named filter's name and query string."""
    from search.query.clinical import FILTERS

    text = "\n".join(f"{f.name}\t{f.query}" for f in FILTERS.values())
    return hashlib.sha256(text.encode()).hexdigest()


def evaluate(con, node: Node) -> np.ndarray:
    """The ``ix`` of the records matching ``node``, sorted, as an int32 array.

    ``con`` is a (read-only) connection or cursor on a snapshot prepared by
    :func:`prepare_snapshot`.
    """
    return np.flatnonzero(_run(con, node, precomputed=True)).astype(np.int32)


def evaluate_mask(con, node: Node, n: int | None = None) -> np.ndarray:
    """:func:`evaluate` as a boolean mask over the records of the index (``n`` of them)."""
    mask = _run(con, node, precomputed=True)
    if n is not None and n != len(mask):
        raise SearchIndexError(
            f"The snapshot holds {len(mask)} records, the index {n}.",
            hint="Run `medsearch index` again to rebuild the snapshot.",
        )
    return mask


def _run(con, node: Node, *, precomputed: bool) -> np.ndarray:
    """Compile, fetch every leaf's rows in one statement, combine the leaves as masks.

    Set operations on boolean masks of the n records cost microseconds in numpy; done
    as SQL ``INTERSECT`` / ``EXCEPT`` they cost a hash table each, and a query that keeps
    most of the corpus (``NOT …``) would carry every row through them.
    """
    compiler = _Compiler(con, precomputed=precomputed)
    try:
        plan = compiler.prepare(node)
        parts = ["SELECT -1 AS leaf, count(*)::INTEGER AS ix FROM articles"]
        params: list[object] = []
        for k, (sql, leaf_params) in enumerate(compiler.leaves):
            parts.append(f"SELECT {k} AS leaf, ix FROM ({sql})")
            params += leaf_params
        got = con.execute(" UNION ALL ".join(parts), params).fetchnumpy()
    except duckdb.CatalogException:
        check_snapshot(con)  # says which snapshot is missing its query tables
        raise
    leaf, ix = np.asarray(got["leaf"]), np.asarray(got["ix"])
    n = int(ix[leaf == -1][0])
    masks = []
    for k in range(len(compiler.leaves)):
        mask = np.zeros(n, dtype=bool)
        mask[ix[leaf == k]] = True
        masks.append(mask)
    return _combine(plan, masks, n)


def _combine(plan, masks: list[np.ndarray], n: int) -> np.ndarray:
    if isinstance(plan, int):
        return masks[plan]
    op, items = plan
    if op == "all":
        return np.ones(n, dtype=bool)
    if op == "not":
        return ~_combine(items, masks, n)
    parts = [_combine(it, masks, n) for it in items]
    if not parts:  # ("or", ()) matches nothing
        return np.full(n, op == "and", dtype=bool)
    return np.logical_and.reduce(parts) if op == "and" else np.logical_or.reduce(parts)


@dataclass(frozen=True, slots=True)
class _Piece:
    """One word of a query term: ``text`` exact, or a prefix when ``prefix``."""

    text: str
    prefix: bool


#: A plan is a leaf number (a SQL query of ``ix``) or ``(op, items)`` with op in
#: and / or / not / all.
_ALL = ("all", ())
_NOTHING = ("or", ())


class _Compiler:
    """Turns a tree into a plan over leaves, each leaf SQL text (structure only) and its
    ``?`` parameters."""

    def __init__(self, con, *, precomputed: bool) -> None:
        self.con = con
        self.leaves: list[tuple[str, list[object]]] = []
        self.filters = _precomputed_filters() if precomputed else {}
        self.wid_cache: dict[_Piece, tuple[int, int] | None] = {}
        self.pass_ = "final"

    def prepare(self, node: Node):
        """Compile in two passes so that the vocabulary lookups go to DuckDB as one query.

        Pass 1 collects the words to find in the vocabulary; pass 2 makes the leaves.
        """
        self.pass_ = "words"
        self.compile(node)
        self._resolve_batch()
        self.pass_, self.leaves = "final", []
        return self.compile(node)

    def leaf(self, sql: str, params: list[object]) -> int:
        self.leaves.append((sql, params))
        return len(self.leaves) - 1

    def compile(self, node: Node):
        name = self.filters.get(node)
        if name is not None:
            return self.leaf("SELECT ix FROM qx_filters WHERE name = ?", [name])
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, DateRange):
            return self.leaf("SELECT ix FROM qx_dates WHERE d BETWEEN ? AND ?", [node.start, node.end])
        if isinstance(node, Not):
            return ("not", self.compile(node.item))
        if isinstance(node, Or):
            return ("or", [self.compile(it) for it in node.items])
        return ("and", [self.compile(it) for it in node.items])

    # -- leaves

    def term(self, t: Term):
        code = t.field or "all"
        if code in WORD_FIELDS:
            return self.words(t, WORD_FIELDS[code])
        if code == "sb":
            return self.subset(t.text.lower())
        if code in ("pmid", "doi", "pmcid"):
            value = t.text.strip().lower()
            if code == "pmcid" and value.isdigit():
                value = "pmc" + value
            return self.lookup(code, value, prefix=False)
        if code == "la":
            value = t.text.strip().lower().rstrip("*")
            return self.lookup("la", LANGUAGES.get(value, value), prefix=t.text.endswith("*"))
        return self.name(t, code)

    def lookup(self, kind: str, value: str, *, prefix: bool) -> int:
        if prefix:
            return self.leaf(
                "SELECT ix FROM qx_terms WHERE k = ? AND term >= ? AND starts_with(term, ?)",
                [kind, value, value],
            )
        return self.leaf("SELECT ix FROM qx_terms WHERE k = ? AND term = ?", [kind, value])

    def name(self, t: Term, code: str):
        """MeSH, qualifier, publication type, journal, author: a whole name, or its start."""
        if code in ("mh", "majr") and "/" in t.text:
            desc, qual = t.text.split("/", 1)
            value = f"{normalise(desc)}/{normalise(qual.rstrip('*'))}"
            return self.lookup(code + "sh", value, prefix=qual.endswith("*"))
        words = t.text.split()
        value = normalise(" ".join(w.rstrip("*") for w in words))
        if words[-1] == "*":  # "diagnostic *": a name of more than one word starting so
            return self.lookup(code, value + " ", prefix=True)
        if t.text.endswith("*"):
            return self.lookup(code, value, prefix=True)
        if code in ("au", "1au", "lastau"):
            # "smith j" matches Smith J, Smith JA, Smith John; "smith" every Smith.
            if " " in value:
                return self.lookup(code, value, prefix=True)
            return ("or", [self.lookup(code, value, prefix=False),
                           self.lookup(code, value + " ", prefix=True)])
        return self.lookup(code, value, prefix=False)

    def subset(self, name: str):
        if name == "all":
            return _ALL
        if name == "systematic":
            from search.query.clinical import SYSTEMATIC_REVIEW

            return self.compile(SYSTEMATIC_REVIEW.node)  # precomputed in qx_filters
        return self.lookup("sb", "medline" if name == "medline" else "pmc", prefix=False)

    def words(self, t: Term, fields: tuple[int, ...]):
        """Word, phrase or truncation in the word index; untagged and unquoted: each word."""
        units = [t.text] if (t.field is not None or t.quoted) else t.text.split()
        parts = [self.phrase(pieces(u), fields) for u in units]
        parts = [p for p in parts if p is not None]
        if not parts:
            return _NOTHING
        return parts[0] if len(parts) == 1 else ("and", parts)

    def phrase(self, pcs: list[_Piece], fields: tuple[int, ...]):
        if not pcs:
            return None
        ranges = [self.wid_range(p) for p in pcs]
        if any(r is None for r in ranges):
            return _NOTHING
        flist = ", ".join(str(f) for f in fields)  # module constants, not query text
        joins, where, params = [], [], []
        for k, (lo, hi) in enumerate(ranges):
            if k:
                joins.append(f"JOIN qx_words p{k} ON p{k}.ix = p0.ix AND p{k}.f = p0.f "
                             f"AND p{k}.pos = p0.pos + {k}")
            where.append(f"p{k}.wid BETWEEN ? AND ?")
            params += [lo, hi]
        sql = (f"SELECT p0.ix FROM qx_words p0 {' '.join(joins)} "
               f"WHERE p0.f IN ({flist}) AND {' AND '.join(where)}")
        return self.leaf(sql, params)

    def wid_range(self, p: _Piece) -> tuple[int, int] | None:
        if self.pass_ == "words":
            self.wid_cache.setdefault(p, None)
            return (0, 0)
        return self.wid_cache.get(p)

    def _resolve_batch(self) -> None:
        exact = [p.text for p in self.wid_cache if not p.prefix]
        prefixes = [p.text for p in self.wid_cache if p.prefix]
        if not exact and not prefixes:
            return
        rows = self.con.execute(
            "SELECT word, wid, wid, false FROM qx_vocab WHERE word IN (SELECT unnest(?::VARCHAR[])) "
            "UNION ALL SELECT p, min(wid), max(wid), true FROM (SELECT unnest(?::VARCHAR[]) AS p) "
            "JOIN qx_vocab ON starts_with(word, p) GROUP BY p",
            [exact, prefixes],
        ).fetchall()
        for text, lo, hi, prefix in rows:
            self.wid_cache[_Piece(text, prefix)] = (lo, hi)


def normalise(text: str) -> str:
    """A name as its words joined by single spaces, as :func:`NORM_SQL` stores names."""
    return " ".join(tokens(text))


def pieces(text: str) -> list[_Piece]:
    """The words of a term's text; a word ending in ``*`` is a prefix, a lone ``*`` any word."""
    out: list[_Piece] = []
    for w in text.split():
        if w == "*":
            out.append(_Piece("", True))
            continue
        toks = tokens(w.rstrip("*"))
        out += [_Piece(tok, False) for tok in toks]
        if toks and w.endswith("*"):
            out[-1] = _Piece(toks[-1], True)
    return out
