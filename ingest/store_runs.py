"""The store's books of ingest runs and of the files read to the end (tables ``ingest_runs``,
``ingest_problems``, ``ingested_files``): a part of :class:`ingest.store.Store`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ingest.records import Problem


@dataclass(frozen=True, slots=True)
class IngestRun:
    id: int
    kind: str
    target: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seen: int
    stored: int
    unchanged: int
    older_skipped: int
    deleted: int
    problems: int
    message: str | None


class RunBook:
    """Ingest runs and ingested files; mixed into :class:`ingest.store.Store`."""

    con: duckdb.DuckDBPyConnection

    # -- ingest runs --------------------------------------------------------------------
    def start_run(self, kind: str, target: str, params: dict | None = None) -> int:
        """Open an ingest run; runs left 'running' by a killed process become 'interrupted'."""
        self.con.execute(
            "UPDATE ingest_runs SET status = 'interrupted', "
            "message = coalesce(message, 'the process ended before finishing') "
            "WHERE status = 'running'"
        )
        return self.con.execute(
            "INSERT INTO ingest_runs (kind, target, params, status, started_at) "
            "VALUES (?, ?, ?, 'running', ?) RETURNING id",
            [kind, target, json.dumps(params or {}, default=str), datetime.now()],
        ).fetchall()[0][0]

    def finish_run(self, run_id: int, status: str, message: str | None = None) -> None:
        self.con.execute(
            "UPDATE ingest_runs SET status = ?, finished_at = ?, message = ? WHERE id = ?",
            [status, datetime.now(), message, run_id],
        )

    def run(self, run_id: int) -> IngestRun:
        return self.runs(where_id=run_id)[0]

    def runs(self, limit: int = 5, *, where_id: int | None = None) -> tuple[IngestRun, ...]:
        sql = (
            "SELECT id, kind, target, status, started_at, finished_at, n_seen, n_stored, "
            "n_unchanged, n_older_skipped, n_deleted, n_problems, message FROM ingest_runs "
        )
        if where_id is not None:
            rows = self.con.execute(sql + "WHERE id = ?", [where_id]).fetchall()
        else:
            rows = self.con.execute(sql + "ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        return tuple(IngestRun(*r) for r in rows)

    def problems(self, run_id: int) -> list[Problem]:
        rows = self.con.execute(
            "SELECT location, message FROM ingest_problems WHERE run_id = ? ORDER BY rowid",
            [run_id],
        ).fetchall()
        return [Problem(loc, msg) for loc, msg in rows]

    # -- files --------------------------------------------------------------------------
    def file_done(self, path: str, fingerprint: str) -> bool:
        row = self.con.execute(
            "SELECT fingerprint FROM ingested_files WHERE path = ?", [path]
        ).fetchall()
        return bool(row) and row[0][0] == fingerprint

    def mark_file_done(self, path: str, fingerprint: str, run_id: int, n_items: int) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO ingested_files VALUES (?, ?, ?, ?, ?)",
            [path, fingerprint, run_id, n_items, datetime.now()],
        )
