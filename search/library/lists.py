"""Citation lists in the user-data file: named, ordered lists of PMIDs with a note per paper.

Every function is one short transaction. A list holds PMIDs, not records: it keeps a paper
whatever happens to its record in the corpus (see :mod:`search.library.views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import duckdb

from ingest.errors import LibraryError, NameTakenError
from search.library.limits import check_list_size, check_note
from search.library.names import clean_name, name_key, parse_pmid, parse_pmids, shell_arg
from search.library.queries import unknown_name
from search.library.types import AddReport, CitationList, ListEntry
from search.library.userdata import UserData

_LIST = "SELECT l.id, l.name, l.created_at, (SELECT count(*) FROM list_entries e WHERE e.list_id = l.id) FROM lists l"


class CitationLists:
    """The citation lists of one library file."""

    def __init__(self, data: UserData) -> None:
        self.data = data

    def create(self, name: str) -> CitationList:
        name = clean_name(name, what="list name")
        with self.data.transaction() as con:
            self._check_free(con, name)
            con.execute("INSERT INTO lists (name, name_key, created_at) VALUES (?, ?, ?)",
                        [name, name_key(name), datetime.now()])
            return self._get(con, name)

    def get(self, name: str) -> CitationList:
        with self.data.connect() as con:
            return self._get(con, name)

    def all(self) -> list[CitationList]:
        with self.data.connect() as con:
            return [CitationList(*r) for r in con.execute(_LIST + " ORDER BY l.name_key").fetchall()]

    def rename(self, old: str, new: str) -> CitationList:
        new = clean_name(new, what="new list name")
        with self.data.transaction() as con:
            lst = self._get(con, old)
            if name_key(new) != name_key(lst.name):
                self._check_free(con, new)
            con.execute("UPDATE lists SET name = ?, name_key = ? WHERE id = ?", [new, name_key(new), lst.id])
            return self._get(con, new)

    def delete(self, name: str, *, even_if_not_empty: bool = False) -> CitationList:
        """Delete a list; one that holds papers only with ``even_if_not_empty`` (CLI: --yes)."""
        with self.data.transaction() as con:
            lst = self._get(con, name)
            if lst.size and not even_if_not_empty:
                raise LibraryError(
                    f"The list {lst.name!r} holds {lst.size} papers; it was not deleted.",
                    hint="Add --yes to delete it with its papers, or export it first (`medsearch export`).",
                )
            con.execute("DELETE FROM list_entries WHERE list_id = ?", [lst.id])
            con.execute("DELETE FROM lists WHERE id = ?", [lst.id])
            return lst

    def entries(self, name: str) -> tuple[CitationList, tuple[ListEntry, ...]]:
        with self.data.connect() as con:
            lst = self._get(con, name)
            rows = con.execute(
                "SELECT pmid, position, note, added_at FROM list_entries WHERE list_id = ? ORDER BY position",
                [lst.id],
            ).fetchall()
        return lst, tuple(ListEntry(*r) for r in rows)

    def add(self, name: str, pmids: Iterable[str], *, note: str | None = None, create: bool = False) -> AddReport:
        """Append PMIDs (in order, each once); those already listed keep their place and get
        ``note`` if one is given. Every PMID is checked before anything is written."""
        check_note(note)
        wanted = parse_pmids(pmids)
        with self.data.transaction() as con:
            if create and not self._exists(con, name):
                self._insert_list(con, name)
            lst = self._get(con, name)
            present = set(_pmids(con, lst.id))
            added = [p for p in wanted if p not in present]
            already = [p for p in wanted if p in present]
            check_list_size(lst.name, lst.size + len(added))
            now = datetime.now()
            if added:
                con.execute(
                    "INSERT INTO list_entries (list_id, pmid, position, note, added_at) "
                    "SELECT ?, unnest(?), unnest(?), ?, ?",
                    [lst.id, added, list(range(lst.size + 1, lst.size + 1 + len(added))), note, now],
                )
            if already and note is not None:
                con.execute("UPDATE list_entries SET note = ? WHERE list_id = ? AND list_contains(?, pmid)",
                            [note, lst.id, already])
        return AddReport(tuple(added), tuple(already))

    def remove(self, name: str, pmids: Iterable[str]) -> tuple[str, ...]:
        """Take PMIDs out of a list; one that is not in it is an error and nothing changes."""
        gone = parse_pmids(pmids)
        with self.data.transaction() as con:
            lst = self._get(con, name)
            _require_listed(con, lst, gone)
            con.execute("DELETE FROM list_entries WHERE list_id = ? AND list_contains(?, pmid)", [lst.id, gone])
            _renumber(con, lst.id, _pmids(con, lst.id))
        return tuple(gone)

    def move(self, name: str, pmid: str, position: int) -> None:
        """Put ``pmid`` at 1-based ``position``; the papers between shift by one."""
        pmid = parse_pmid(pmid)
        with self.data.transaction() as con:
            lst = self._get(con, name)
            _require_listed(con, lst, [pmid])
            if not 1 <= position <= lst.size:
                raise LibraryError(
                    f"Position {position} is outside the list {lst.name!r} (1 to {lst.size}).",
                    hint=f"Give a position from 1 to {lst.size}.",
                )
            order = [p for p in _pmids(con, lst.id) if p != pmid]
            order.insert(position - 1, pmid)
            _renumber(con, lst.id, order)

    def listed(self) -> dict[str, tuple[str, ...]]:
        """PMID -> names of the lists holding it, over every list."""
        with self.data.connect() as con:
            rows = con.execute(
                "SELECT e.pmid, list(l.name ORDER BY l.name_key) FROM list_entries e JOIN lists l ON l.id = e.list_id "
                "GROUP BY e.pmid"
            ).fetchall()
        return {p: tuple(names) for p, names in rows}

    def unnoticed_retractions(self, retracted: Iterable[str]) -> set[str]:
        """The listed papers among ``retracted`` that no digest reported yet (nothing is marked)."""
        retracted = list(retracted)
        if not retracted:
            return set()
        with self.data.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT pmid FROM list_entries WHERE retraction_noticed_at IS NULL AND list_contains(?, pmid)",
                [retracted],
            ).fetchall()
        return {r[0] for r in rows}

    def notice_retractions(self, retracted: Iterable[str]) -> set[str]:
        """Mark listed papers among ``retracted`` as seen retracted; return the PMIDs seen for
        the first time (in any list), which a digest reports as newly retracted."""
        retracted = list(retracted)
        if not retracted:
            return set()
        with self.data.transaction() as con:
            rows = con.execute(
                "SELECT DISTINCT pmid FROM list_entries WHERE retraction_noticed_at IS NULL AND list_contains(?, pmid)",
                [retracted],
            ).fetchall()
            fresh = {r[0] for r in rows}
            if fresh:
                con.execute("UPDATE list_entries SET retraction_noticed_at = ? WHERE list_contains(?, pmid) "
                            "AND retraction_noticed_at IS NULL", [datetime.now(), list(fresh)])
        return fresh

    # -- helpers inside a connection ----------------------------------------------------
    def _get(self, con: duckdb.DuckDBPyConnection, name: str) -> CitationList:
        rows = con.execute(_LIST + " WHERE l.name_key = ?", [name_key(name)]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute("SELECT name FROM lists").fetchall()]
            raise unknown_name("list", name, known, "medsearch lists show")
        return CitationList(*rows[0])

    def _exists(self, con: duckdb.DuckDBPyConnection, name: str) -> bool:
        return bool(con.execute("SELECT 1 FROM lists WHERE name_key = ?", [name_key(name)]).fetchall())

    def _insert_list(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        name = clean_name(name, what="list name")
        con.execute("INSERT INTO lists (name, name_key, created_at) VALUES (?, ?, ?)",
                    [name, name_key(name), datetime.now()])

    @staticmethod
    def _check_free(con: duckdb.DuckDBPyConnection, name: str) -> None:
        taken = con.execute("SELECT name FROM lists WHERE name_key = ?", [name_key(name)]).fetchall()
        if taken:
            raise NameTakenError(
                f"A list named {taken[0][0]!r} exists already.",
                hint="Choose another name, or add papers to it with `medsearch lists add`.",
            )


def _pmids(con: duckdb.DuckDBPyConnection, list_id: int) -> list[str]:
    rows = con.execute("SELECT pmid FROM list_entries WHERE list_id = ? ORDER BY position", [list_id]).fetchall()
    return [r[0] for r in rows]


def _require_listed(con: duckdb.DuckDBPyConnection, lst: CitationList, pmids: Sequence[str]) -> None:
    present = set(_pmids(con, lst.id))
    absent = [p for p in pmids if p not in present]
    if absent:
        raise LibraryError(
            f"Not in the list {lst.name!r}: {', '.join(absent[:10])}{' ...' if len(absent) > 10 else ''}; "
            "nothing was changed.",
            hint=f"`medsearch lists show {shell_arg(lst.name)}` shows its papers.",
        )


def _renumber(con: duckdb.DuckDBPyConnection, list_id: int, order: Sequence[str]) -> None:
    """Positions 1..n in ``order`` (one statement: a join on the new order)."""
    if order:
        con.execute(
            "UPDATE list_entries SET position = o.pos FROM (SELECT unnest(?) AS pmid, unnest(?) AS pos) o "
            "WHERE list_entries.list_id = ? AND list_entries.pmid = o.pmid",
            [list(order), list(range(1, len(order) + 1)), list_id],
        )
