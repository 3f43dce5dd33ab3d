"""Evaluate a parsed restriction (:mod:`search.query.syntax`) over an index snapshot's DuckDB file,
on the query tables :mod:`search.query.tables` adds to it when the snapshot is built.

Words are what the SQL expression :data:`TOKENS_SQL` extracts: runs of Unicode letters
and digits, lower-cased, accents removed, no stemming; the same expression builds the word
index and :func:`tokens` tokenises the query's terms, so the two sides cannot drift apart.

:func:`evaluate` compiles the tree into leaves (one lookup each), fetches all leaves in one
``UNION ALL`` statement and combines them as boolean masks over the records. The SQL's shape
comes from the tree and from constants of this module; every value from the query is a
``?`` parameter. Named filters (:mod:`search.query.clinical`) are answered from
``qx_filters``, evaluated once per snapshot.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np

from ingest.errors import SearchIndexError
from search.query.syntax import DateRange, Node, Not, Or, Term

#: Bump when the query tables (search/query/tables.py) change shape; :func:`check_snapshot`
#: refuses other versions.
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
    :func:`search.query.tables.prepare_snapshot`.
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
        if name == "retracted":  # the store's flag: a RetractionIn link or "Retracted Publication"
            return self.leaf("SELECT ix FROM articles WHERE is_retracted", [])
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
        found = [self.wid_range(p) for p in pcs]
        ranges = [r for r in found if r is not None]
        if len(ranges) != len(found):
            return _NOTHING
        flist = ", ".join(str(f) for f in fields)  # module constants, not query text
        joins: list[str] = []
        where: list[str] = []
        params: list[object] = []
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
