"""Saved queries and their runs in the user-data file: every function is one short transaction."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

import duckdb

from ingest.errors import LibraryError, NameTakenError, UnknownNameError
from search.library.names import clean_name, name_key
from search.library.types import QueryRun, SavedQuery, StoredRun
from search.library.userdata import UserData
from search.query.caps import MAX_K, MODES, check_query
from search.types import Filters, Hit

#: Results a saved query keeps per run unless told otherwise.
DEFAULT_K = 50

_COLUMNS = "q.id, q.name, q.query, q.filters, q.mode, q.k, q.created_at, q.last_pull_at"
#: A saved query with its last run. Runs are numbered 1..n and never deleted one by one, so
#: the last run's number is the count of runs (cheaper than counting them).
_LAST_RUN = f"""
    SELECT {_COLUMNS}, r.run_no, r.ran_at, r.mode, r.candidates, r.n_results, r.n_new, r.pulled, r.snapshot,
           coalesce(r.run_no, 0) AS runs
    FROM saved_queries q
    LEFT JOIN saved_query_runs r ON r.query_id = q.id
         AND r.run_no = (SELECT max(run_no) FROM saved_query_runs m WHERE m.query_id = q.id)
"""


def filters_to_json(filters: Filters) -> str:
    return json.dumps(asdict(filters), ensure_ascii=False, sort_keys=True)


def filters_from_json(text: str) -> Filters:
    """Filters from stored JSON; list values become tuples, keys this version lacks are refused."""
    data = json.loads(text)
    known = {f.name for f in fields(Filters)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise LibraryError(
            f"A saved query uses filters this medsearch does not know: {', '.join(unknown)}.",
            hint="Upgrade medsearch, or save the query again without them.",
        )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return Filters(**values)


def _saved(row: Sequence) -> SavedQuery:
    last = QueryRun(*row[8:16]) if row[8] is not None else None
    return SavedQuery(
        id=row[0], name=row[1], query=row[2], filters=filters_from_json(row[3]), mode=row[4], k=row[5],
        created_at=row[6], last_pull_at=row[7], runs=row[16], last_run=last,
    )


def unknown_name(kind: str, name: str, known: Sequence[str], command: str) -> LibraryError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return UnknownNameError(f"There is no {kind} named {name!r}.", hint=hint + f"`{command}` shows yours.")


class SavedQueries:
    """The saved queries of one library file."""

    def __init__(self, data: UserData) -> None:
        self.data = data

    def add(self, name: str, query: str, *, filters: Filters | None = None, mode: str | None = None,
            k: int = DEFAULT_K) -> SavedQuery:
        """Save ``query`` under ``name``; a name taken (ignoring case) is an error."""
        filters = filters or Filters()
        name = clean_name(name, what="name of the saved query")
        query = query.strip()
        if not query:
            raise LibraryError("The query is empty.", hint='Save some words, e.g. "metformin breast cancer".')
        if mode is not None and mode not in MODES:
            raise LibraryError(f"Unknown search mode {mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
        if not 1 <= k <= MAX_K:
            raise LibraryError(f"k must be between 1 and {MAX_K}, got {k}.", hint=f"The default is {DEFAULT_K}.")
        check_query(query, mode=mode, k=k)  # what a search with it would refuse is refused now, not at run time
        with self.data.transaction() as con:
            self._check_free(con, name)
            con.execute(
                "INSERT INTO saved_queries (name, name_key, query, filters, mode, k, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, name_key(name), query, filters_to_json(filters), mode, k, datetime.now()],
            )
            return self._get(con, name)

    def get(self, name: str) -> SavedQuery:
        with self.data.connect() as con:
            return self._get(con, name)

    def all(self) -> list[SavedQuery]:
        with self.data.connect() as con:
            rows = con.execute(_LAST_RUN + " ORDER BY q.name_key").fetchall()
        return [_saved(r) for r in rows]

    def rename(self, old: str, new: str) -> SavedQuery:
        new = clean_name(new, what="new name")
        with self.data.transaction() as con:
            saved = self._get(con, old)
            if name_key(new) != name_key(saved.name):
                self._check_free(con, new)
            con.execute("UPDATE saved_queries SET name = ?, name_key = ? WHERE id = ?", [new, name_key(new), saved.id])
            return self._get(con, new)

    def remove(self, name: str) -> SavedQuery:
        """Delete a saved query with its run history."""
        with self.data.transaction() as con:
            saved = self._get(con, name)
            for table in ("saved_query_results", "saved_query_runs"):
                con.execute(f"DELETE FROM {table} WHERE query_id = ?", [saved.id])
            con.execute("DELETE FROM saved_queries WHERE id = ?", [saved.id])
            return saved

    def runs(self, name: str) -> list[QueryRun]:
        """Every run of a saved query, newest first."""
        with self.data.connect() as con:
            saved = self._get(con, name)
            rows = con.execute(
                "SELECT run_no, ran_at, mode, candidates, n_results, n_new, pulled, snapshot FROM saved_query_runs "
                "WHERE query_id = ? ORDER BY run_no DESC", [saved.id],
            ).fetchall()
        return [QueryRun(*r) for r in rows]

    def results(self, name: str, run_no: int | None = None) -> list[tuple[str, bool]]:
        """(doc_id, is_new) of one run (default the last), in rank order."""
        return [(d, new) for d, _, new in self.stored_run(name, run_no).results]

    def stored_run(self, name: str, run_no: int | None = None) -> StoredRun:
        """What one run (default the last) returned, as it was recorded: its page and its new
        records (not the rest of a baseline's set, kept only to tell what is new); no search."""
        with self.data.connect() as con:
            saved = self._get(con, name)
            run_no = run_no or (saved.last_run.run_no if saved.last_run else 0)
            run = con.execute(
                "SELECT run_no, ran_at, mode, candidates, n_results, n_new, pulled, snapshot FROM saved_query_runs "
                "WHERE query_id = ? AND run_no = ?", [saved.id, run_no],
            ).fetchall()
            if not run:
                raise LibraryError(
                    f"The saved query {saved.name!r} has no run #{run_no}." if run_no else
                    f"The saved query {saved.name!r} has not run yet.",
                    hint=f"It has run {saved.runs} times; run it with `medsearch saved run`.",
                )
            rows = con.execute(
                "SELECT doc_id, score, is_new FROM saved_query_results WHERE query_id = ? AND run_no = ? "
                "AND (rank <= ? OR is_new) ORDER BY rank", [saved.id, run_no, run[0][4]],
            ).fetchall()
        return StoredRun(saved, QueryRun(*run[0]), tuple((d, s, n) for d, s, n in rows))

    def seen(self, query_id: int) -> set[str]:
        """Every doc id an earlier run of the query had in its result set (see record_run)."""
        with self.data.connect() as con:
            return _seen(con, query_id)

    def record_run(self, saved: SavedQuery, mode: str, candidates: int, hits: Sequence[Hit],
                   pulled: int | None = None, snapshot: str | None = None,
                   matched: Collection[str] | None = None) -> tuple[QueryRun, frozenset[str]]:
        """Store a run: its page of ``hits``, and the records of its result set (``matched``,
        every doc id the query matches; default: the hits) that it must remember.

        New means *entered the result set since the last run*: a record in ``matched`` that no
        earlier run's set held. The first run is the baseline: it calls nothing new and
        remembers its whole set. A record once seen is never new again, wherever it ranks.
        Each run stores its page and its new records (the new ones outside the page after it,
        score 0), so the records ever seen are those stored by any run.

        "New" is decided inside this transaction, so two processes running the same query
        at once each get their own run number and never both call a result new."""
        now = datetime.now()
        page = [h.doc_id for h in hits]
        members = set(page) if matched is None else set(matched) | set(page)
        with self.data.transaction() as con:
            exists, run_no = con.execute(
                "SELECT (SELECT count(*) FROM saved_queries WHERE id = $q), "
                "(SELECT coalesce(max(run_no), 0) + 1 FROM saved_query_runs WHERE query_id = $q)", {"q": saved.id},
            ).fetchall()[0]
            if not exists:
                raise LibraryError(f"The saved query {saved.name!r} was deleted while it ran.",
                                   hint="Save it again to keep its results.")
            baseline = run_no == 1
            seen = set() if baseline else _seen(con, saved.id)
            new = entered(members, seen, baseline)
            extra = sorted(members - set(page) - seen, key=_id_order)  # the baseline's set, or the new ones
            ids = page + extra
            if ids:
                # one statement for the whole run (unnest the columns; executemany is a call per row)
                con.execute(
                    "INSERT INTO saved_query_results SELECT $q, $run, unnest($ranks), unnest($ids), "
                    "unnest($scores), unnest($new)",
                    {"q": saved.id, "run": run_no, "ranks": list(range(1, len(ids) + 1)), "ids": ids,
                     "scores": [float(h.score) for h in hits] + [0.0] * len(extra),
                     "new": [d in new for d in ids]},
                )
            run = QueryRun(run_no, now, mode, candidates, len(hits), len(new), pulled, snapshot)
            con.execute("INSERT INTO saved_query_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [saved.id, *_run_values(run)])
            if pulled is not None:
                con.execute("UPDATE saved_queries SET last_pull_at = ? WHERE id = ?", [now, saved.id])
        return run, new

    # -- helpers inside a connection ----------------------------------------------------
    def _get(self, con: duckdb.DuckDBPyConnection, name: str) -> SavedQuery:
        rows = con.execute(_LAST_RUN + " WHERE q.name_key = ?", [name_key(name)]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute("SELECT name FROM saved_queries").fetchall()]
            raise unknown_name("saved query", name, known, "medsearch saved list")
        return _saved(rows[0])

    @staticmethod
    def _check_free(con: duckdb.DuckDBPyConnection, name: str) -> None:
        taken = con.execute("SELECT name FROM saved_queries WHERE name_key = ?", [name_key(name)]).fetchall()
        if taken:
            raise NameTakenError(
                f"A saved query named {taken[0][0]!r} exists already.",
                hint="Choose another name, or remove it first with `medsearch saved rm`.",
            )


def _seen(con: duckdb.DuckDBPyConnection, query_id: int) -> set[str]:
    rows = con.execute("SELECT DISTINCT doc_id FROM saved_query_results WHERE query_id = ?", [query_id]).fetchall()
    return {r[0] for r in rows}


def entered(members: Collection[str], seen: Collection[str], baseline: bool) -> frozenset[str]:
    """The new records of a run: those of its result set (``members``) that no earlier run's
    set held (``seen``); none on the first run, the baseline."""
    return frozenset() if baseline else frozenset(set(members) - set(seen))


def _id_order(doc_id: str) -> tuple[int, str]:
    """PMIDs in numeric order (newer records last), other ids after them."""
    return (int(doc_id), "") if doc_id.isdigit() else (1 << 62, doc_id)


def _run_values(run: QueryRun) -> list:
    return [run.run_no, run.ran_at, run.mode, run.candidates, run.n_results, run.n_new, run.pulled, run.snapshot]
