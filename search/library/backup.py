"""``library backup`` / ``library restore``: the whole library as one portable JSON-lines file.

Layout (UTF-8, one JSON object per line)::

    {"format": "medsearch-library", "version": 1, "created_at": ..., "saved_queries": N, "lists": M}
    {"kind": "saved_query", "name", "query", "filters", "mode", "k", "created_at", "last_pull_at",
     "runs": [{"run_no", "ran_at", "mode", "candidates", "n_results", "n_new", "pulled", "snapshot",
               "results": [[doc_id, score, is_new], ...]}, ...]}
    {"kind": "list", "name", "created_at", "entries": [{"pmid", "note", "added_at",
                                                         "retraction_noticed_at"}, ...]}

Entries are in list order. JSON lines rather than Parquet: one file, readable and
diff-able, and nested runs and entries need no second table. The summary cache is not
backed up (it is rebuilt on demand).

Restore reads and checks the whole file first, then writes everything in one transaction:
a bad file changes nothing. Into a library that already has a name (ignoring case),
``on_clash`` decides: ``rename`` (default) restores it as "NAME (restored)", "NAME
(restored 2)"...; ``skip`` keeps the library's own; ``replace`` deletes the library's own
and restores the backup's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from ingest.errors import ConfigError, LibraryError
from search.library.files import write_output
from search.library.limits import (
    MAX_BACKUP_BYTES,
    MAX_INT,
    MAX_JSON_DEPTH,
    check_file_size,
    check_list_size,
    check_note,
    json_depth,
)
from search.library.names import MAX_NAME, clean_name, name_key, parse_pmid
from search.library.queries import filters_from_json, filters_to_json
from search.library.userdata import UserData
from search.query.caps import MAX_K, MODES, check_query
from search.query.syntax import QuerySyntaxError

FORMAT = "medsearch-library"
VERSION = 1
OnClash = Literal["rename", "skip", "replace"]
ON_CLASH = ("rename", "skip", "replace")


@dataclass(frozen=True, slots=True)
class RestoreReport:
    saved_queries: tuple[str, ...]  # names restored, as stored
    lists: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]  # (name in the backup, name given)
    skipped: tuple[str, ...]  # names kept as the library had them
    replaced: tuple[str, ...]  # the library's own, replaced by the backup's


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    saved_queries: int
    lists: int
    entries: int


def backup(data: UserData, path: str | Path) -> BackupReport:
    """Write the library to ``path`` (see ``search.library.files``: a regular file atomically, so a
    failed backup leaves an old file whole; a device or FIFO as a stream; ``-`` to stdout)."""
    with data.transaction() as con:  # one consistent view of every table
        queries = list(_dump_queries(con))
        lists = list(_dump_lists(con))
    header = {"format": FORMAT, "version": VERSION, "created_at": datetime.now().isoformat(),
              "saved_queries": len(queries), "lists": len(lists)}
    lines = [json.dumps(obj, ensure_ascii=False) for obj in [header, *queries, *lists]]
    write_output(path, "\n".join(lines) + "\n")
    return BackupReport(Path(path), len(queries), len(lists), sum(len(x["entries"]) for x in lists))


def _dump_queries(con: duckdb.DuckDBPyConnection) -> Iterator[dict]:
    rows = con.execute("SELECT id, name, query, filters, mode, k, created_at, last_pull_at FROM saved_queries "
                       "ORDER BY id").fetchall()
    for qid, name, query, filters, mode, k, created, pulled_at in rows:
        runs = con.execute("SELECT run_no, ran_at, mode, candidates, n_results, n_new, pulled, snapshot "
                           "FROM saved_query_runs "
                           "WHERE query_id = ? ORDER BY run_no", [qid]).fetchall()
        results: dict[int, list] = {}
        for run_no, doc_id, score, is_new in con.execute(
            "SELECT run_no, doc_id, score, is_new FROM saved_query_results WHERE query_id = ? ORDER BY run_no, rank",
            [qid],
        ).fetchall():
            results.setdefault(run_no, []).append([doc_id, score, is_new])
        yield {
            "kind": "saved_query", "name": name, "query": query, "filters": json.loads(filters), "mode": mode,
            "k": k, "created_at": created.isoformat(), "last_pull_at": pulled_at.isoformat() if pulled_at else None,
            "runs": [{"run_no": r[0], "ran_at": r[1].isoformat(), "mode": r[2], "candidates": r[3],
                      "n_results": r[4], "n_new": r[5], "pulled": r[6], "snapshot": r[7],
                      "results": results.get(r[0], [])}
                     for r in runs],
        }


def _dump_lists(con: duckdb.DuckDBPyConnection) -> Iterator[dict]:
    for lid, name, created in con.execute("SELECT id, name, created_at FROM lists ORDER BY id").fetchall():
        entries = con.execute("SELECT pmid, note, added_at, retraction_noticed_at FROM list_entries "
                              "WHERE list_id = ? ORDER BY position", [lid]).fetchall()
        yield {"kind": "list", "name": name, "created_at": created.isoformat(),
               "entries": [{"pmid": p, "note": n, "added_at": a.isoformat(),
                            "retraction_noticed_at": r.isoformat() if r else None} for p, n, a, r in entries]}


# -- restore ------------------------------------------------------------------------------

@dataclass(slots=True)
class _Item:
    kind: str  # "saved_query" | "list"
    name: str
    obj: dict = field(repr=False)


def read_backup(path: str | Path) -> list[_Item]:
    """Every item of a backup file, checked; :class:`LibraryError` names the first bad line."""
    path = Path(path)
    check_file_size(path, MAX_BACKUP_BYTES, "The backup")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"Cannot read the backup {path}: {getattr(exc, 'strerror', None) or exc}.",
                           hint="Give the path of a file written by `medsearch library backup`.") from exc
    if not lines or not _is_header(_json_line(path, 1, lines[0])):
        raise LibraryError(f"{path} is not a medsearch library backup.",
                           hint="Give the path of a file written by `medsearch library backup`.")
    header = json.loads(lines[0])
    if isinstance(header["version"], bool) or header["version"] > VERSION:
        raise LibraryError(f"The backup {path} was written by a newer medsearch (format {header['version']}).",
                           hint="Upgrade medsearch to restore it.")
    items, seen = [], set()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        item = _check_item(path, number, _json_line(path, number, line))
        key = (item.kind, name_key(item.name))
        if key in seen:
            raise _bad(path, number, f"the name {item.name!r} appears twice")
        seen.add(key)
        items.append(item)
    return items


def _is_header(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT and isinstance(obj.get("version"), int)


def _json_line(path: Path, number: int, line: str) -> Any:
    depth = json_depth(line)
    if depth > MAX_JSON_DEPTH:
        raise _bad(path, number, f"JSON nested {depth} levels deep (a backup needs fewer than 8)")
    try:
        return json.loads(line)
    except ValueError as exc:
        raise _bad(path, number, f"not JSON ({exc})") from None


def _bad(path: Path, number: int, why: str) -> LibraryError:
    return LibraryError(f"The backup {path} is damaged at line {number}: {why}; nothing was restored.",
                        hint="Restore from another backup, or fix that line.")


def _check_item(path: Path, number: int, obj: Any) -> _Item:
    """Validate one line fully (names, queries as a search would, PMIDs, filters, dates, notes and
    every number in range), so that writing cannot fail halfway."""
    try:
        if not isinstance(obj, dict):
            raise TypeError("a line holds one JSON object")
        kind = obj["kind"]
        name = clean_name(str(obj["name"]))
        if kind == "saved_query":
            _check_query_item(obj)
        elif kind == "list":
            _check_list_item(name, obj)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        datetime.fromisoformat(obj["created_at"])
    except QuerySyntaxError as exc:
        raise _bad(path, number, f"the saved query {obj.get('name')!r} cannot run: {exc.reason}") from None
    except (LibraryError, ConfigError) as exc:
        raise _bad(path, number, exc.message) from None
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise _bad(path, number, f"{type(exc).__name__}: {exc}") from None
    return _Item(kind, name, obj)


def _check_query_item(obj: dict) -> None:
    filters_from_json(json.dumps(obj["filters"]))
    if not isinstance(obj["query"], str) or not obj["query"].strip():
        raise ValueError("the query is empty")
    if obj["mode"] is not None and not isinstance(obj["mode"], str):
        raise TypeError(f"mode must be text, got {obj['mode']!r}")
    check_query(obj["query"].strip(), mode=obj["mode"], k=_whole(obj["k"], "k", 1, MAX_K))
    _time(obj.get("last_pull_at"), "last_pull_at", optional=True)
    run_nos = set()
    for run in _sequence(obj["runs"], "runs"):
        run_nos.add(_whole(run["run_no"], "run_no", 1, MAX_INT))
        _time(run["ran_at"], "ran_at")
        if run["mode"] not in MODES:
            raise ValueError(f"a run's mode must be one of {', '.join(MODES)}, got {run['mode']!r}")
        for key in ("candidates", "n_results", "n_new"):
            _whole(run[key], key, 0, MAX_INT)
        if run["pulled"] is not None:
            _whole(run["pulled"], "pulled", 0, MAX_INT)
        if run.get("snapshot") is not None and not isinstance(run["snapshot"], str):
            raise TypeError("snapshot must be text")
        for doc_id, score, is_new in _sequence(run["results"], "results", MAX_K):
            if not isinstance(doc_id, (str, int)) or not isinstance(is_new, bool) or isinstance(score, bool):
                raise TypeError(f"a result must be [doc_id, score, is_new], got {[doc_id, score, is_new]!r}")
            if not math.isfinite(float(score)):
                raise ValueError(f"a result's score must be a finite number, got {score!r}")
    if len(run_nos) != len(obj["runs"]):
        raise ValueError("a run number appears twice")


def _check_list_item(name: str, obj: dict) -> None:
    entries = _sequence(obj["entries"], "entries")
    check_list_size(name, len(entries))
    pmids = [parse_pmid(str(e["pmid"])) for e in entries]
    if len(set(pmids)) != len(pmids):
        raise ValueError("a PMID appears twice in the list")
    for e in entries:
        if e.get("note") is not None and not isinstance(e["note"], str):
            raise TypeError("a note must be text")
        check_note(e.get("note"))
        _time(e["added_at"], "added_at")
        _time(e.get("retraction_noticed_at"), "retraction_noticed_at", optional=True)


def _whole(value: Any, what: str, low: int, high: int) -> int:
    """``value`` as a whole number from ``low`` to ``high``: a bool, a float or text is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


def _sequence(value: Any, what: str, limit: int | None = None) -> list:
    if not isinstance(value, list):
        raise TypeError(f"{what} must be a list")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{what} holds {len(value):,} items; at most {limit:,}")
    return value


def _time(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{what} must be an ISO date and time, got {value!r}")
    datetime.fromisoformat(value)


def restore(data: UserData, path: str | Path, *, on_clash: OnClash = "rename") -> RestoreReport:
    """Restore a backup into this library (empty or not), all in one transaction."""
    if on_clash not in ON_CLASH:
        raise LibraryError(f"Unknown clash rule {on_clash!r}.", hint=f"Use one of {', '.join(ON_CLASH)}.")
    items = read_backup(path)
    restored: dict[str, list[str]] = {"saved_query": [], "list": []}
    renamed, skipped, replaced = [], [], []
    with data.transaction() as con:
        for item in items:
            table = "saved_queries" if item.kind == "saved_query" else "lists"
            name = item.name
            if _taken(con, table, name):
                if on_clash == "skip":
                    skipped.append(name)
                    continue
                if on_clash == "replace":
                    _delete(con, item.kind, name)
                    replaced.append(name)
                else:
                    name = _free_name(con, table, name)
                    renamed.append((item.name, name))
            (_insert_query if item.kind == "saved_query" else _insert_list)(con, name, item.obj)
            restored[item.kind].append(name)
    return RestoreReport(tuple(restored["saved_query"]), tuple(restored["list"]), tuple(renamed),
                         tuple(skipped), tuple(replaced))


def _taken(con: duckdb.DuckDBPyConnection, table: str, name: str) -> bool:
    return bool(con.execute(f"SELECT 1 FROM {table} WHERE name_key = ?", [name_key(name)]).fetchall())


def _free_name(con: duckdb.DuckDBPyConnection, table: str, name: str) -> str:
    for n in range(1, 10_000):
        suffix = " (restored)" if n == 1 else f" (restored {n})"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if not _taken(con, table, candidate):
            return candidate
    raise LibraryError(f"No free name for {name!r}.", hint="Rename some of your own first.")


def _delete(con: duckdb.DuckDBPyConnection, kind: str, name: str) -> None:
    if kind == "saved_query":
        (qid,) = con.execute("SELECT id FROM saved_queries WHERE name_key = ?", [name_key(name)]).fetchall()[0]
        con.execute("DELETE FROM saved_query_results WHERE query_id = ?", [qid])
        con.execute("DELETE FROM saved_query_runs WHERE query_id = ?", [qid])
        con.execute("DELETE FROM saved_queries WHERE id = ?", [qid])
    else:
        (lid,) = con.execute("SELECT id FROM lists WHERE name_key = ?", [name_key(name)]).fetchall()[0]
        con.execute("DELETE FROM list_entries WHERE list_id = ?", [lid])
        con.execute("DELETE FROM lists WHERE id = ?", [lid])


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _insert_query(con: duckdb.DuckDBPyConnection, name: str, obj: dict) -> None:
    filters = filters_to_json(filters_from_json(json.dumps(obj["filters"])))
    (qid,) = con.execute(
        "INSERT INTO saved_queries (name, name_key, query, filters, mode, k, created_at, last_pull_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [name, name_key(name), obj["query"], filters, obj["mode"], int(obj["k"]), _ts(obj["created_at"]),
         _ts(obj.get("last_pull_at"))],
    ).fetchall()[0]
    for run in obj["runs"]:
        con.execute("INSERT INTO saved_query_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [qid, run["run_no"], _ts(run["ran_at"]), run["mode"], run["candidates"], run["n_results"],
                     run["n_new"], run["pulled"], run.get("snapshot")])
        results = run["results"]
        if results:
            con.execute(
                "INSERT INTO saved_query_results SELECT ?, ?, unnest(?), unnest(?), unnest(?), unnest(?)",
                [qid, run["run_no"], list(range(1, len(results) + 1)), [str(r[0]) for r in results],
                 [float(r[1]) for r in results], [bool(r[2]) for r in results]],
            )


def _insert_list(con: duckdb.DuckDBPyConnection, name: str, obj: dict) -> None:
    (lid,) = con.execute("INSERT INTO lists (name, name_key, created_at) VALUES (?, ?, ?) RETURNING id",
                         [name, name_key(name), _ts(obj["created_at"])]).fetchall()[0]
    entries = obj["entries"]
    if entries:
        con.execute(
            "INSERT INTO list_entries SELECT ?, unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
            [lid, [parse_pmid(str(e["pmid"])) for e in entries], list(range(1, len(entries) + 1)),
             [e.get("note") for e in entries], [_ts(e["added_at"]) for e in entries],
             [_ts(e.get("retraction_noticed_at")) for e in entries]],
        )
