"""The search index of one store: BM25 and dense embeddings, built, checked and loaded together.

Layout of an index folder (default ``<db stem>.index/`` beside the database, so
several databases never share one)::

    manifest.json     corpus fingerprint, doc count, settings, build times, versions
    records.parquet   (doc_id, record_hash) of the indexed corpus: counts what changed
    bm25/             search.lexical.LexicalIndex
    dense/            search.dense.DenseIndex

Both indexes hold the store's records in ``doc_id`` order, so one boolean mask
over :attr:`LoadedIndex.doc_ids` filters both. :meth:`IndexManager.build_or_update`
rebuilds BM25 whenever the corpus changed (bm25s indexes ~10k abstracts/s) and
updates the dense index incrementally (only new or changed records are embedded).
``manifest.json`` is removed before and written after the parts, so a crash in
between leaves an index that :meth:`IndexManager.load` refuses and the next
``medsearch index`` repairs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import SearchIndexError
from ingest.store import Store
from search.corpus import TEXT_RECIPE_VERSION, corpus_fingerprint, iter_documents
from search.dense import DenseIndex, DenseUpdate, TextEmbedder
from search.lexical import BM25Params, LexicalIndex
from search.models import DEFAULT_BACKEND, DEFAULT_EMBEDDER, load_embedder
from search.text import TokenizerConfig

MANIFEST = "manifest.json"
RECORDS = "records.parquet"
FORMAT_VERSION = 1
HINT = "Run `medsearch index` to build or update the search index."


def default_index_dir(db_path: str | Path) -> Path:
    """``data/medsearch.duckdb`` -> ``data/medsearch.index/``."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".index")


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """How to index; ``embedder=None`` builds BM25 only."""

    bm25: BM25Params = field(default_factory=BM25Params)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    bm25_subject_terms: bool = True  # MeSH + keywords in the BM25 text (see search.corpus)
    embedder: str | None = DEFAULT_EMBEDDER
    backend: str = DEFAULT_BACKEND
    query_prefix: str | None = None
    doc_prefix: str | None = None
    allow_download: bool = False
    batch_size: int = 32

    def lexical_manifest(self) -> dict[str, Any]:
        return {
            "bm25": asdict(self.bm25),
            "tokenizer": self.tokenizer.to_dict(),
            "subject_terms": self.bm25_subject_terms,
        }


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What :meth:`IndexManager.build_or_update` did."""

    index_dir: Path
    doc_count: int
    fingerprint: str
    lexical_rebuilt: bool
    dense: DenseUpdate | None  # None: the dense index was left as it was (or is disabled)
    seconds: dict[str, float]

    @property
    def up_to_date(self) -> bool:
        """Nothing had to be done."""
        return not self.lexical_rebuilt and self.dense is None


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Whether the index matches the store and the settings; ``reasons`` say why not."""

    fresh: bool
    reasons: list[str]
    changed: int | None = None  # records added, changed or deleted since the build

    @property
    def message(self) -> str:
        if self.fresh:
            return "The search index is up to date."
        return "; ".join(self.reasons) + "; run `medsearch index`."


@dataclass(slots=True)
class LoadedIndex:
    """Both indexes over the same documents in the same order."""

    doc_ids: list[str]
    lexical: LexicalIndex
    dense: DenseIndex | None
    status: IndexStatus
    manifest: dict[str, Any]
    _rows: dict[str, int] | None = None

    def mask_for(self, doc_ids: Any) -> np.ndarray:
        """A boolean mask over :attr:`doc_ids` that is True for the given ids (unknown ids ignored)."""
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.doc_ids)}
        mask = np.zeros(len(self.doc_ids), dtype=bool)
        rows = [r for r in map(self._rows.get, doc_ids) if r is not None]
        mask[rows] = True
        return mask


class IndexManager:
    """Builds, updates, checks and loads the index of one store."""

    def __init__(
        self,
        store: Store,
        index_dir: str | Path | None = None,
        settings: IndexSettings | None = None,
        *,
        embedder: TextEmbedder | None = None,
    ) -> None:
        """``embedder`` overrides loading the settings' model (its ``name`` must match them)."""
        self.store = store
        self.index_dir = Path(index_dir) if index_dir else default_index_dir(store.path)
        self.settings = settings or IndexSettings()
        self._embedder = embedder

    # -- building -------------------------------------------------------------------------

    def build_or_update(self, progress: bool = True) -> IndexReport:
        """Bring the index in line with the store and the settings; skip what is current."""
        fingerprint = corpus_fingerprint(self.store)
        manifest = self.read_manifest()
        lexical_stale = self._lexical_reasons(manifest, fingerprint) != []
        dense_stale = self.settings.embedder is not None and self._dense_reasons(manifest, fingerprint) != []
        seconds: dict[str, float] = {}
        if not lexical_stale and not dense_stale:
            return IndexReport(self.index_dir, manifest["doc_count"], fingerprint, False, None, seconds)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        (self.index_dir / MANIFEST).unlink(missing_ok=True)
        lexical_meta = manifest.get("lexical") if manifest else None
        if lexical_stale:
            lexical_meta = self._build_lexical(fingerprint, progress, seconds)
        dense_update, dense_meta = None, manifest.get("dense") if manifest else None
        if dense_stale:
            dense_update, dense_meta = self._update_dense(fingerprint, progress, seconds)
        doc_count = self._write_records()
        self._write_manifest(fingerprint, doc_count, lexical_meta, dense_meta)
        return IndexReport(self.index_dir, doc_count, fingerprint, lexical_stale, dense_update, seconds)

    def _build_lexical(self, fingerprint: str, progress: bool, seconds: dict[str, float]) -> dict:
        start = time.perf_counter()
        use_terms = self.settings.bm25_subject_terms
        total = int(fingerprint.split("-", 1)[0])  # "<count>-<digest>"
        docs = _bar(iter_documents(self.store), progress, "bm25", total=total)
        pairs = ((d.doc_id, d.lexical_text if use_terms else d.text) for d in docs)
        index = LexicalIndex.build(
            pairs, fingerprint=fingerprint, tokenizer=self.settings.tokenizer, params=self.settings.bm25
        )
        _replace_dir(self.index_dir / "bm25", index.save)
        seconds["bm25"] = round(time.perf_counter() - start, 3)
        return {**self.settings.lexical_manifest(), "build_seconds": seconds["bm25"]}

    def _update_dense(self, fingerprint: str, progress: bool, seconds: dict[str, float]) -> tuple[DenseUpdate, dict]:
        start = time.perf_counter()
        embedder = self.embedder()
        try:
            index = DenseIndex.load(self.index_dir / "dense", fingerprint=None, embedder=embedder, mmap=True)
        except SearchIndexError:
            index = DenseIndex.empty(embedder)  # none yet, or another model: embed everything
        docs = ((d.doc_id, d.text, d.record_hash) for d in iter_documents(self.store))
        update = index.update(docs, fingerprint=fingerprint, batch_size=self.settings.batch_size, progress=progress)
        _replace_dir(self.index_dir / "dense", index.save)
        seconds["dense"] = round(time.perf_counter() - start, 3)
        meta = {
            **asdict(index.params),
            "query_prefix": getattr(embedder, "query_prefix", ""),
            "build_seconds": seconds["dense"],
            "last_update": {**asdict(update), "embedded": update.embedded},
        }
        return update, meta

    def embedder(self) -> TextEmbedder:
        """The embedder the settings name (loaded once per process)."""
        if self._embedder is not None:
            return self._embedder
        s = self.settings
        if s.embedder is None:
            raise SearchIndexError("No embedding model is configured.", hint="Set one, or search with BM25 only.")
        return load_embedder(
            s.embedder, s.backend,  # type: ignore[arg-type]
            query_prefix=s.query_prefix, doc_prefix=s.doc_prefix, allow_download=s.allow_download,
        )

    def _write_records(self) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids, hashes = [], []
        for batch in self.store.iter_index_rows(50_000):
            ids.extend(r[0] for r in batch)
            hashes.extend(r[1] for r in batch)
        table = pa.table({"doc_id": pa.array(ids, pa.string()), "record_hash": pa.array(hashes, pa.string())})
        pq.write_table(table, self.index_dir / RECORDS)
        return len(ids)

    def _write_manifest(self, fingerprint: str, doc_count: int, lexical: dict | None, dense: dict | None) -> None:
        manifest = {
            "format": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "doc_count": doc_count,
            "text_recipe_version": TEXT_RECIPE_VERSION,
            "built_at": datetime.now().isoformat(timespec="seconds"),
            "database": str(self.store.path),
            "lexical": lexical,
            "dense": dense if self.settings.embedder is not None else None,
            "versions": _versions(),
        }
        tmp = self.index_dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(tmp, self.index_dir / MANIFEST)

    # -- checking -------------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any] | None:
        path = self.index_dir / MANIFEST
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None

    def status(self) -> IndexStatus:
        """Compare the index with the store (fingerprint) and with the settings."""
        manifest = self.read_manifest()
        if manifest is None:
            return IndexStatus(False, [f"no search index in {self.index_dir}"])
        fingerprint = corpus_fingerprint(self.store)
        reasons = self._lexical_reasons(manifest, fingerprint, corpus=False)
        if self.settings.embedder is not None:
            reasons += self._dense_reasons(manifest, fingerprint, corpus=False)
        changed = None
        if manifest["fingerprint"] != fingerprint:
            changed = self._count_changed()
            count = "" if changed is None else f": {changed} records changed"
            reasons.insert(0, f"the index is older than the store{count}")
        return IndexStatus(not reasons, reasons, changed)

    def _count_changed(self) -> int | None:
        import pyarrow.parquet as pq

        if not (self.index_dir / RECORDS).is_file():
            return None
        table = pq.read_table(self.index_dir / RECORDS)
        return self.store.count_changed(
            table.column("doc_id").to_pylist(), table.column("record_hash").to_pylist()
        )

    def _lexical_reasons(self, manifest: dict | None, fingerprint: str, corpus: bool = True) -> list[str]:
        if manifest is None or manifest.get("lexical") is None:
            return ["no BM25 index"]
        reasons = ["the corpus changed"] if corpus and manifest["fingerprint"] != fingerprint else []
        saved = {k: v for k, v in manifest["lexical"].items() if k != "build_seconds"}
        if saved != self.settings.lexical_manifest():
            reasons.append("the BM25 or tokenizer settings changed")
        if manifest.get("text_recipe_version") != TEXT_RECIPE_VERSION:
            reasons.append("the text recipe changed")
        return reasons

    def _dense_reasons(self, manifest: dict | None, fingerprint: str, corpus: bool = True) -> list[str]:
        dense = manifest.get("dense") if manifest else None
        if dense is None:
            return ["no dense index"]
        reasons = ["the corpus changed"] if corpus and manifest["fingerprint"] != fingerprint else []
        if dense.get("model") != self.settings.embedder:
            reasons.append(f"the dense index was built with {dense.get('model')!r}, the settings ask for {self.settings.embedder!r}")
        elif self.settings.doc_prefix is not None and dense.get("doc_prefix") != self.settings.doc_prefix:
            reasons.append("the document prefix changed")
        return reasons

    # -- loading --------------------------------------------------------------------------

    def load(self, *, require_fresh: bool = False, mmap: bool = True) -> LoadedIndex:
        """Open both indexes; a stale index loads (see ``status``) unless ``require_fresh``."""
        manifest = self.read_manifest()
        if manifest is None:
            raise SearchIndexError(f"No search index in {self.index_dir}.", hint=HINT)
        status = self.status()
        if require_fresh and not status.fresh:
            raise SearchIndexError(f"The search index is not current: {status.message}", hint=HINT)
        built_from = manifest["fingerprint"]
        lexical = LexicalIndex.load(self.index_dir / "bm25", fingerprint=built_from, mmap=mmap)
        dense = None
        if self.settings.embedder is not None:
            if manifest.get("dense") is None:
                raise SearchIndexError(f"The index in {self.index_dir} has no dense part.", hint=HINT)
            dense = DenseIndex.load(
                self.index_dir / "dense", fingerprint=built_from, model=self.settings.embedder,
                embedder=self._embedder, embedder_loader=self.embedder, mmap=mmap,
            )
            if dense.doc_ids != lexical.doc_ids:
                raise SearchIndexError(f"The BM25 and dense indexes in {self.index_dir} disagree.", hint=HINT)
        return LoadedIndex(lexical.doc_ids, lexical, dense, status, manifest)


def _replace_dir(target: Path, save: Any) -> None:
    """Save into ``target.new/``, then swap it in for ``target/``."""
    fresh = target.with_name(target.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    save(fresh)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)


def _bar(items: Any, enabled: bool, desc: str, total: int | None = None) -> Any:
    from tqdm import tqdm

    return tqdm(
        items, total=total, disable=None if enabled else True, unit=" doc", desc=desc, dynamic_ncols=True
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("medsearch", "bm25s", "numpy", "duckdb", "onnxruntime", "sentence-transformers", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out
