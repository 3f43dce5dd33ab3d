"""Reading an index snapshot: what every search, export and summary reads.

An index folder holds numbered snapshots and a pointer to the current one::

    <index dir>/
        CURRENT          the name of the current snapshot, e.g. "v000007" (replaced atomically)
        v000007/         manifest.json, corpus.duckdb, bm25/, dense/
        v000006/         the previous one, kept for readers that still use it

A snapshot never changes once written (``search/index/build.py`` writes a new one beside the
old and then replaces ``CURRENT``), so any number of processes read it at once while
``ingest`` or ``index`` runs, and a reader never sees half of an index: it opens the
snapshot ``CURRENT`` names, whole, and keeps it until it chooses to open a newer one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import SearchIndexError
from search.index.records import RecordsView
from search.index.snapshot_build import CORPUS_FILE, MANIFEST, damaged, verify_parts
from search.retrieval.bm25 import LexicalIndex
from search.retrieval.dense import DenseIndex, TextEmbedder

CURRENT = "CURRENT"
#: Bumped when a snapshot gains or changes a part; `index` rebuilds older ones (reusing their vectors).
FORMAT_VERSION = 3
HINT = "Run `medsearch index` to build or update the search index."
_NAME = re.compile(r"^v\d{6}$")


def snapshot_name(number: int) -> str:
    return f"v{number:06d}"


def current_name(index_dir: Path) -> str | None:
    """The name ``CURRENT`` points at, or None when there is no published snapshot."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise SearchIndexError(f"Cannot read {index_dir / CURRENT}: {exc.strerror or exc}.", hint=HINT) from exc
    return name if _NAME.match(name) else None


def pointer_stamp(index_dir: Path) -> tuple[int, int] | None:
    """A cheap stamp of ``CURRENT`` (inode, mtime): it changes when a new snapshot is published."""
    try:
        st = (index_dir / CURRENT).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The snapshot's manifest, of whatever format (its ``format`` says which); None if unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "fingerprint" not in manifest:
        return None
    return manifest


@dataclass(slots=True)
class Snapshot:
    """One loaded snapshot: both indexes and the record copy, over the same documents."""

    folder: Path
    manifest: dict[str, Any]
    lexical: LexicalIndex
    dense: DenseIndex | None
    records: RecordsView
    _rows: dict[str, int] | None = None

    def rows_of(self) -> dict[str, int]:
        """doc_id -> row in both indexes (built once per snapshot)."""
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.lexical.doc_ids)}
        return self._rows

    def mask(self, rows: Any) -> np.ndarray:
        """A boolean mask over the snapshot's documents, True at ``rows``."""
        out = np.zeros(len(self.lexical.doc_ids), dtype=bool)
        out[np.asarray(rows, dtype=np.int64)] = True
        return out

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def doc_ids(self) -> list[str]:
        return self.lexical.doc_ids

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    def close(self) -> None:
        self.records.close()


def load_snapshot(
    index_dir: Path,
    *,
    embedding_model: str | None,
    embedder: TextEmbedder | None = None,
    embedder_loader: Any = None,
    full_verify: bool = False,
) -> Snapshot:
    """Open the current snapshot of ``index_dir``, checking its files against the manifest.

    ``embedding_model`` is the model the settings name (None: BM25 only); a snapshot
    built with another one is refused. A snapshot replaced and removed while it was
    being opened is retried once with the new ``CURRENT``.
    """
    for attempt in (1, 2):
        name = current_name(index_dir)
        if name is None:
            raise SearchIndexError(f"No search index in {index_dir}.", hint=HINT)
        try:
            return _load(index_dir / name, embedding_model, embedder, embedder_loader, full_verify)
        except SearchIndexError:
            if attempt == 2 or current_name(index_dir) == name:
                raise
    raise AssertionError("unreachable")


def _load(folder: Path, model: str | None, embedder: Any, loader: Any, full_verify: bool) -> Snapshot:
    if not folder.is_dir():
        raise SearchIndexError(f"The search index {folder} named by {CURRENT} does not exist.", hint=HINT)
    manifest = read_manifest(folder)
    if manifest is None:
        raise damaged(folder, ["manifest.json is missing or unreadable"])
    if manifest.get("format") != FORMAT_VERSION:
        raise SearchIndexError(
            f"The search index in {folder} was built by another version of medsearch (index format "
            f"{manifest.get('format')!r}; this version reads format {FORMAT_VERSION}).", hint=HINT)
    problems = verify_parts(folder, manifest.get("parts", []), full=full_verify)
    if problems:
        raise damaged(folder, problems)
    built_with = (manifest.get("dense") or {}).get("model")
    if model is not None and built_with != model:
        raise SearchIndexError(
            f"The search index in {folder} was built with the embedding model {built_with!r}; "
            f"the settings ask for {model!r}.",
            hint="Run `medsearch index` to rebuild it with the configured model, or change "
            "MEDSEARCH_EMBEDDING_MODEL back.",
        )
    try:
        lexical = LexicalIndex.load(folder / "bm25", fingerprint=manifest["fingerprint"], mmap=True)
        dense = None
        if model is not None:
            dense = DenseIndex.load(
                folder / "dense", fingerprint=manifest["fingerprint"], model=model,
                embedder=embedder, embedder_loader=loader, mmap=True,
            )
        records = RecordsView(folder / CORPUS_FILE)
    except SearchIndexError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as exc:  # truncated or corrupt parts
        raise damaged(folder, [f"{type(exc).__name__}: {exc}"]) from exc
    if dense is not None and dense.doc_ids != lexical.doc_ids or records.count() != len(lexical.doc_ids):
        records.close()
        raise damaged(folder, ["its parts hold different documents"])
    return Snapshot(folder, manifest, lexical, dense, records)
