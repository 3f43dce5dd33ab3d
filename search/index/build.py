"""Building the search index of one store: immutable snapshots, published atomically.

``medsearch index`` holds the store's writer lock (so no ingest changes the store under
it) and writes a new snapshot beside the current one (layout: ``search/index/snapshot.py``):

1. ``corpus.duckdb``: a copy of the record tables (``search/index/snapshot_build.py``);
2. ``bm25/``: rebuilt when the corpus changed (bm25s indexes ~10k abstracts/s), else copied;
3. ``dense/``: the previous snapshot's vectors, reused for every text embedded before
   (keyed by a hash of the text), and new embeddings for the rest only;
4. ``manifest.json``: fingerprint, counts, settings, the store's statistics, and every
   file's size and SHA-256, written last.

Then it renames the folder into place and replaces ``CURRENT``: readers switch to the
new snapshot whole, or not at all. The previous snapshot stays until the next build,
for readers that still use it. A crash leaves a ``.building-*`` folder that the next
build removes, and the current snapshot untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from ingest.diskfull import disk_full
from ingest.errors import SearchIndexError
from ingest.progress import progress_bar
from ingest.store import Store
from search.index.documents import TEXT_RECIPE_VERSION, corpus_fingerprint, iter_documents
from search.index.journal import FOLDER as JOURNAL_FOLDER
from search.index.journal import EmbeddingJournal
from search.index.snapshot import (
    CURRENT,
    FORMAT_VERSION,
    Snapshot,
    current_name,
    load_snapshot,
    read_manifest,
    snapshot_name,
)
from search.index.snapshot_build import (
    CORPUS_FILE,
    MANIFEST,
    describe_parts,
    fsync_tree,
    verify_parts,
    write_corpus_db,
)
from search.retrieval.bm25 import BM25Params, LexicalIndex
from search.retrieval.dense import DenseIndex, DenseUpdate, TextEmbedder
from search.retrieval.encoders import DEFAULT_BACKEND, DEFAULT_EMBEDDER, load_embedder
from search.retrieval.tokenizer import TokenizerConfig


def default_index_dir(db_path: str | Path) -> Path:
    """``data/medsearch.duckdb`` -> ``data/medsearch.index/``."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".index")


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """How to index; ``embedder=None`` builds BM25 only."""

    bm25: BM25Params = field(default_factory=BM25Params)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    bm25_subject_terms: bool = True  # MeSH + keywords in the BM25 text (see search.index.documents)
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
    snapshot: str  # the current snapshot's name after the run
    doc_count: int
    fingerprint: str
    lexical_rebuilt: bool
    dense: DenseUpdate | None  # None: no dense index (BM25 only), or nothing was built
    seconds: dict[str, float]
    reasons: tuple[str, ...] = ()  # why a new snapshot was built
    bytes_on_disk: int = 0

    @property
    def up_to_date(self) -> bool:
        """Nothing had to be done."""
        return not self.reasons


class IndexManager:
    """Builds, checks and loads the index snapshots of one store."""

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

    # -- checking -----------------------------------------------------------------------
    def reasons(self, *, full_verify: bool = True) -> list[str]:
        """Why the current snapshot does not serve this store and these settings ([]: it does)."""
        name = current_name(self.index_dir)
        if name is None:
            return [f"no search index in {self.index_dir}"]
        folder = self.index_dir / name
        manifest = read_manifest(folder)
        if manifest is None:
            return [f"the index {folder} has no readable manifest"]
        if manifest.get("format") != FORMAT_VERSION:
            return [f"the index was built by another version of medsearch (format {manifest.get('format')}, "
                    f"this one writes {FORMAT_VERSION})"]
        problems = verify_parts(folder, manifest.get("parts", []), full=full_verify)
        if problems:
            return ["the index is damaged: " + "; ".join(problems[:3])]
        out = []
        if manifest["fingerprint"] != corpus_fingerprint(self.store):
            out.append("the store changed since the index was built")
        out += self._setting_reasons(manifest)
        return out

    def _setting_reasons(self, manifest: dict[str, Any]) -> list[str]:
        out = []
        if manifest.get("lexical") != self.settings.lexical_manifest():
            out.append("the BM25 or tokenizer settings changed")
        if manifest.get("text_recipe_version") != TEXT_RECIPE_VERSION:
            out.append("the text recipe changed")
        dense = manifest.get("dense")
        if self.settings.embedder is not None:
            if dense is None:
                out.append("the index has no dense part")
            elif dense.get("model") != self.settings.embedder:
                out.append(f"the index was built with {dense.get('model')!r}, the settings ask for "
                           f"{self.settings.embedder!r}")
            elif self.settings.doc_prefix is not None and dense.get("doc_prefix") != self.settings.doc_prefix:
                out.append("the document prefix changed")
        return out

    # -- building -----------------------------------------------------------------------
    def build_or_update(self, progress: bool = True, *, force: bool = False) -> IndexReport:
        """Publish a new snapshot if the store, the settings or a damaged index ask for one
        (``force``: always)."""
        self._prepare_dir()
        fingerprint = corpus_fingerprint(self.store)
        reasons = self.reasons(full_verify=True)
        if force and not reasons:
            reasons = ["--force"]
        name = current_name(self.index_dir)
        if not reasons:  # reasons() just read both: a published name and a readable manifest
            manifest = cast("dict[str, Any]", read_manifest(self.index_dir / cast(str, name)))
            return IndexReport(self.index_dir, name or "", manifest["doc_count"], fingerprint, False, None, {})
        new_name = self._next_name()
        tmp = self.index_dir / f".building-{new_name}-{os.getpid()}"
        try:
            report = self._build(tmp, new_name, fingerprint, reasons, progress)
            fsync_tree(tmp)
            os.rename(tmp, self.index_dir / new_name)
            self._publish(new_name)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # the current snapshot is untouched
            full = disk_full(exc, self.index_dir, hint="Free some space there (or set MEDSEARCH_INDEX_DIR to a "
                             "larger disk), then run `medsearch index` again: the current snapshot still serves "
                             "searches, and the embeddings computed so far are kept.")
            if full is not None and full is not exc:
                raise full from exc
            raise
        shutil.rmtree(self.index_dir / JOURNAL_FOLDER, ignore_errors=True)  # the snapshot holds those vectors now
        self._clean(keep={new_name, name})
        return report

    def _build(self, tmp: Path, new_name: str, fingerprint: str, reasons: list[str], progress: bool) -> IndexReport:
        tmp.mkdir(parents=True)
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        count = write_corpus_db(self.store, tmp / CORPUS_FILE)
        seconds["records"] = round(time.perf_counter() - start, 3)
        previous = self._previous_manifest()
        lexical_rebuilt = self._lexical(tmp, previous, fingerprint, count, progress, seconds)
        dense_update, dense_meta = None, None
        if self.settings.embedder is not None:
            dense_update, dense_meta = self._dense(tmp, fingerprint, progress, seconds)
        manifest = {
            "format": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "doc_count": count,
            "text_recipe_version": TEXT_RECIPE_VERSION,
            "built_at": datetime.now().isoformat(timespec="seconds"),
            "database": str(self.store.path),
            "lexical": self.settings.lexical_manifest(),
            "dense": dense_meta,
            "stats": self.store.stats().to_json(),
            "seconds": seconds,
            "versions": _versions(),
        }
        parts = describe_parts(tmp)
        manifest["parts"] = [asdict(p) for p in parts]
        _write_json(tmp / MANIFEST, manifest)
        size = sum(p.size for p in parts)
        return IndexReport(self.index_dir, new_name, count, fingerprint, lexical_rebuilt, dense_update, seconds,
                           tuple(reasons), size)

    def _lexical(
        self, tmp: Path, previous: tuple[Path, dict] | None, fingerprint: str, count: int, progress: bool,
        seconds: dict[str, float],
    ) -> bool:
        """Copy the previous BM25 index when it is of the same corpus and settings, else build one."""
        start = time.perf_counter()
        if previous is not None:
            folder, manifest = previous
            same = (manifest["fingerprint"] == fingerprint and manifest.get("lexical") == self.settings.lexical_manifest()
                    and manifest.get("text_recipe_version") == TEXT_RECIPE_VERSION)
            if same and not verify_parts(folder, [p for p in manifest["parts"] if p["path"].startswith("bm25/")],
                                         full=True):
                shutil.copytree(folder / "bm25", tmp / "bm25", copy_function=_link_or_copy)
                return False
        use_terms = self.settings.bm25_subject_terms
        docs = progress_bar(progress, desc="bm25", unit=" doc", total=count, items=iter_documents(self.store))
        pairs = ((d.doc_id, d.lexical_text if use_terms else d.text) for d in docs)
        index = LexicalIndex.build(pairs, fingerprint=fingerprint, tokenizer=self.settings.tokenizer,
                                   params=self.settings.bm25)
        (tmp / "bm25").mkdir()
        index.save(tmp / "bm25")
        seconds["bm25"] = round(time.perf_counter() - start, 3)
        return True

    def _dense(self, tmp: Path, fingerprint: str, progress: bool, seconds: dict[str, float]) -> tuple[DenseUpdate, dict]:
        start = time.perf_counter()
        embedder = self.embedder()
        index = self._previous_dense(embedder)
        docs = ((d.doc_id, d.text, d.text_hash) for d in iter_documents(self.store))
        # finished batches outlive an interrupted build (cleared once a snapshot is published)
        journal = EmbeddingJournal(self.index_dir, index.params)
        update = index.update(docs, fingerprint=fingerprint, batch_size=self.settings.batch_size, progress=progress,
                              journal=journal)
        index.save(tmp / "dense")
        seconds["dense"] = round(time.perf_counter() - start, 3)
        meta = {
            **asdict(index.params),
            "query_prefix": getattr(embedder, "query_prefix", ""),
            "last_update": {**asdict(update), "embedded": update.embedded},
        }
        return update, meta

    def _previous_dense(self, embedder: TextEmbedder) -> DenseIndex:
        """The vectors to reuse: the current snapshot's, if it has them for this model."""
        previous = self._previous_manifest()
        if previous is not None:
            folder, manifest = previous
            intact = not verify_parts(folder, [p for p in manifest["parts"] if p["path"].startswith("dense/")],
                                      full=True)
            try:
                if intact:
                    return DenseIndex.load(folder / "dense", fingerprint=None, embedder=embedder, mmap=True)
            except (SearchIndexError, OSError, ValueError, EOFError):
                pass  # another model, no dense part, or damaged: embed everything
        return DenseIndex.empty(embedder)

    def _previous_manifest(self) -> tuple[Path, dict] | None:
        name = current_name(self.index_dir)
        if name is None:
            return None
        manifest = read_manifest(self.index_dir / name)
        if manifest is None or manifest.get("format") != FORMAT_VERSION:
            return None
        return self.index_dir / name, manifest

    def embedder(self) -> TextEmbedder:
        """The embedder the settings name (loaded once per process)."""
        if self._embedder is not None:
            return self._embedder
        s = self.settings
        if s.embedder is None:
            raise SearchIndexError("No embedding model is configured.", hint="Set one, or search with BM25 only.")
        self._embedder = load_embedder(
            s.embedder, s.backend,  # type: ignore[arg-type]
            query_prefix=s.query_prefix, doc_prefix=s.doc_prefix, allow_download=s.allow_download,
        )
        return self._embedder

    # -- the folder ---------------------------------------------------------------------
    def _prepare_dir(self) -> None:
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise SearchIndexError(
                f"The index path {self.index_dir} exists and is not a folder.",
                hint="Set MEDSEARCH_INDEX_DIR to a folder (or unset it: the index goes beside the database).",
            ) from None
        except OSError as exc:
            raise SearchIndexError(
                f"Cannot create the index folder {self.index_dir}: {exc.strerror or exc}.",
                hint="Set MEDSEARCH_INDEX_DIR to a folder you can write.",
            ) from exc
        if not os.access(self.index_dir, os.W_OK | os.X_OK):
            raise SearchIndexError(
                f"No permission to write in the index folder {self.index_dir}.",
                hint="Set MEDSEARCH_INDEX_DIR to a folder you can write, or fix its permissions.",
            )

    def _next_name(self) -> str:
        numbers = [int(m.group(1)) for p in self.index_dir.iterdir() if (m := re.search(r"v(\d{6})", p.name))]
        return snapshot_name(max(numbers, default=0) + 1)

    def _publish(self, name: str) -> None:
        """Point ``CURRENT`` at ``name``: one rename, so readers see the old or the new name."""
        tmp = self.index_dir / f".{CURRENT}.{os.getpid()}"
        tmp.write_text(name + "\n", encoding="utf-8")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.index_dir / CURRENT)
        fd = os.open(self.index_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _clean(self, keep: set[str | None]) -> None:
        """Remove older snapshots, leftovers of crashed builds and the older index layout."""
        for path in self.index_dir.iterdir():
            stale_build = path.name.startswith(".building-") and not _alive(path.name.rsplit("-", 1)[-1])
            old = re.fullmatch(r"v\d{6}", path.name) is not None and path.name not in keep
            if stale_build or old:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    # -- loading ------------------------------------------------------------------------
    def load(self, *, full_verify: bool = False) -> Snapshot:
        """The current snapshot (see :func:`search.index.snapshot.load_snapshot`)."""
        return load_snapshot(
            self.index_dir, embedding_model=self.settings.embedder, embedder=self._embedder,
            embedder_loader=self.embedder, full_verify=full_verify,
        )


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _write_json(path: Path, data: dict) -> None:
    import json

    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("medsearch", "bm25s", "numpy", "duckdb", "onnxruntime", "sentence-transformers", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out
