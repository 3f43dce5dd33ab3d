"""Dense retrieval: exact inner-product search over normalised document embeddings.

A :class:`DenseIndex` is a float32 matrix (one L2-normalised row per document,
aligned with ``doc_ids``) plus a hash of the text each row embeds (``text_hash``,
:func:`search.index.documents.text_hash`), so that :meth:`DenseIndex.update` embeds only
texts it has not embedded before: a record whose title and abstract did not change
keeps its vector whatever else changed (MeSH, a retraction link, a new version), and
ingesting 10 new records costs 10 embeddings.

Search is brute force (exact): ``scores = vectors @ query``, computed in row
chunks. Semantics match :mod:`search.retrieval.bm25`: the boolean ``mask`` is applied
*before* top-k (masked-out documents are never returned; a filter leaving 3
documents returns those 3), ties keep index order. With a selective mask only
the allowed rows are scored. From :data:`INT8_MIN_ROWS` rows on, an int8 pass
over a quantised copy picks the candidates and float32 re-scores them, with an
error bound that makes the result the exact top-k all the same
(:mod:`search.retrieval.dense_int8`; ~4x faster at 1M documents).

A saved index is a folder: ``embeddings.npy`` (memory-mappable),
``doc_ids.parquet`` (doc_id, text_hash), for large indexes the int8 copy
(``int8_matrix.npy``, ``int8_rows.npz``) and ``params.json`` (model, backend,
dims, doc prefix, text recipe version, doc count, corpus fingerprint), written
last so that a half-written folder does not load. :meth:`DenseIndex.load`
refuses another model, dims, recipe or corpus fingerprint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.errors import SearchIndexError
from ingest.progress import progress_bar
from search.index.documents import TEXT_RECIPE_VERSION
from search.retrieval import dense_int8
from search.retrieval.dense_int8 import Int8Matrix, exact_top_k
from search.retrieval.ranking import Scored, allowed_rows, top_k_order

PARAMS_FILE = "params.json"
VECTORS_FILE = "embeddings.npy"
IDS_FILE = "doc_ids.parquet"
HASH_COLUMN = "text_hash"
REBUILD_HINT = "Run `medsearch index` to rebuild the search index."
#: Rows scored per matrix-vector product (keeps a memory-mapped matrix streaming).
CHUNK_ROWS = 65_536
#: Texts embedded per call while updating (bounds the memory held for texts).
EMBED_CHUNK = 2_048
#: Below this fraction of allowed documents, only the allowed rows are scored.
GATHER_BELOW = 0.25
#: Indexes of this many rows save an int8 copy; a search that scores at least
#: GATHER_BELOW of their rows starts with an int8 pass that picks the rows to score
#: exactly (search.retrieval.dense_int8; same results); a more selective filter scores only its rows.
#: What the int8 pass buys at each size: `python bench/bench_search.py latency`.
INT8_MIN_ROWS = 50_000


class TextEmbedder(Protocol):
    """What the index needs of an embedder (:class:`search.retrieval.encoders.Embedder` is one)."""

    # read-only: a frozen dataclass (``Embedder``) or plain attributes both fit
    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str: ...

    @property
    def doc_prefix(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def embed_query(self, query: str) -> np.ndarray: ...

    def embed_documents(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class DenseParams:
    """What made the vectors; an index only loads for the same model, dims, prefix and recipe."""

    model: str
    backend: str
    dims: int
    doc_prefix: str = ""
    recipe_version: int = TEXT_RECIPE_VERSION

    @classmethod
    def of(cls, embedder: TextEmbedder) -> DenseParams:
        return cls(embedder.name, embedder.backend, embedder.dims, embedder.doc_prefix)


@dataclass(frozen=True, slots=True)
class DenseUpdate:
    """What one :meth:`DenseIndex.update` did."""

    kept: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def embedded(self) -> int:
        return self.added + self.changed


class DenseIndex:
    """Embeddings of the corpus: ``search(query, k, mask=None) -> [(doc_id, score), ...]``."""

    def __init__(
        self,
        vectors: np.ndarray,
        doc_ids: list[str],
        text_hashes: list[str],
        *,
        params: DenseParams,
        fingerprint: str,
        embedder: TextEmbedder | None = None,
        embedder_loader: Callable[[], TextEmbedder] | None = None,
    ) -> None:
        """``embedder`` (or, on first use, ``embedder_loader()``) embeds query texts and new
        documents; by default the model and backend in ``params`` load on first use."""
        if not len(doc_ids) == len(text_hashes) == vectors.shape[0]:
            raise SearchIndexError("Dense index rows, ids and hashes differ in number.", hint=REBUILD_HINT)
        self.vectors = vectors
        self.doc_ids = doc_ids
        self.text_hashes = text_hashes
        self.params = params
        self.fingerprint = fingerprint
        self._embedder = embedder
        self._embedder_loader = embedder_loader
        self._int8: Int8Matrix | None = None

    @classmethod
    def empty(cls, embedder: TextEmbedder, *, fingerprint: str = "") -> DenseIndex:
        vectors = np.zeros((0, embedder.dims), dtype=np.float32)
        return cls(vectors, [], [], params=DenseParams.of(embedder), fingerprint=fingerprint, embedder=embedder)

    @classmethod
    def build(
        cls,
        docs: Iterable[tuple[str, str, str]],
        embedder: TextEmbedder,
        *,
        fingerprint: str,
        batch_size: int = 32,
        progress: bool = False,
    ) -> DenseIndex:
        """Embed every ``(doc_id, text, text_hash)``; rows follow the order of ``docs``."""
        index = cls.empty(embedder)
        index.update(docs, fingerprint=fingerprint, batch_size=batch_size, progress=progress)
        return index

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def embedder(self) -> TextEmbedder:
        """The model of this index, loaded on first use."""
        if self._embedder is None and self._embedder_loader is not None:
            self._embedder = self._embedder_loader()
        if self._embedder is None:
            from search.retrieval.encoders import load_embedder

            p = self.params
            self._embedder = load_embedder(p.model, p.backend, doc_prefix=p.doc_prefix)  # type: ignore[arg-type]
        return self._embedder

    # -- updating -------------------------------------------------------------------------

    def update(
        self,
        docs: Iterable[tuple[str, str, str]],
        *,
        fingerprint: str,
        batch_size: int = 32,
        progress: bool = False,
        journal: Journal | None = None,
    ) -> DenseUpdate:
        """Make the index hold exactly ``docs`` (``(doc_id, text, text_hash)``), in their order.

        A document whose text hash the index already holds keeps that vector (whatever
        its doc_id); only texts not embedded before are embedded; the rest is dropped.
        ``journal`` (see ``search.index.journal``) gets every batch as soon as it is embedded,
        and gives back the batches an interrupted earlier update finished (counted as kept).
        """
        old_ids = set(self.doc_ids)
        by_hash = {h: i for i, h in enumerate(self.text_hashes)}
        resumed = journal.vectors() if journal is not None else {}
        plan = _Plan(journal)
        with progress_bar(progress, desc="embed", unit=" doc") as bar:
            for doc_id, text, text_hash in docs:
                row = by_hash.get(text_hash)
                if row is not None:
                    plan.keep(doc_id, text_hash, row)
                elif text_hash in resumed:
                    plan.resume(doc_id, text_hash, resumed[text_hash])
                else:
                    plan.embed(doc_id, text_hash, text, changed=doc_id in old_ids)
                if len(plan.texts) >= EMBED_CHUNK:
                    plan.flush(self.embedder, batch_size, bar)
            plan.flush(self.embedder if plan.texts else None, batch_size, bar)
        vectors = plan.assemble(self.vectors, self.params.dims)
        if vectors is not self.vectors:
            self.vectors, self._int8 = vectors, None
        result = DenseUpdate(
            kept=len(plan.kept_rows) + len(plan.resumed_pos),
            added=plan.added,
            changed=plan.changed,
            removed=len(old_ids - set(plan.doc_ids)),
        )
        self.doc_ids, self.text_hashes = plan.doc_ids, plan.hashes
        self.fingerprint = fingerprint
        return result

    # -- persistence ----------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """Write the index into ``folder``; ``params.json`` last, each file replaced atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PARAMS_FILE).unlink(missing_ok=True)
        _atomic(folder / VECTORS_FILE, lambda f: np.save(f, np.ascontiguousarray(self.vectors)))
        table = pa.table({
            "doc_id": pa.array(self.doc_ids, pa.string()),
            "text_hash": pa.array(self.text_hashes, pa.string()),
        })
        _atomic(folder / IDS_FILE, lambda f: pq.write_table(table, f))
        meta = {**asdict(self.params), "doc_count": len(self), "fingerprint": self.fingerprint}
        if len(self) >= INT8_MIN_ROWS:
            self.int8().save(folder, _atomic)
        else:
            for name in (dense_int8.MATRIX_FILE, dense_int8.ROWS_FILE):
                (folder / name).unlink(missing_ok=True)
        _atomic(folder / PARAMS_FILE, lambda f: f.write(json.dumps(meta, indent=2).encode()))

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        fingerprint: str | None,
        model: str | None = None,
        embedder: TextEmbedder | None = None,
        embedder_loader: Callable[[], TextEmbedder] | None = None,
        mmap: bool = True,
    ) -> DenseIndex:
        """Open a saved index; ``fingerprint``/``model`` (``None``: not checked) must match."""
        import pyarrow.parquet as pq

        folder = Path(folder)
        meta = read_params(folder)
        params = DenseParams(**{k: meta[k] for k in DenseParams.__dataclass_fields__})
        _check(folder, params, meta["fingerprint"], fingerprint=fingerprint, model=model, embedder=embedder)
        vectors = np.load(folder / VECTORS_FILE, mmap_mode="r" if mmap else None)
        ids = pq.read_table(folder / IDS_FILE)
        if HASH_COLUMN not in ids.column_names:
            raise SearchIndexError(
                f"The dense index in {folder} has no text hashes (an older index format).", hint=REBUILD_HINT
            )
        doc_ids = ids.column("doc_id").to_pylist()
        if not len(doc_ids) == meta["doc_count"] == vectors.shape[0] or vectors.shape[1:] != (params.dims,):
            raise SearchIndexError(f"The dense index in {folder} is inconsistent.", hint=REBUILD_HINT)
        index = cls(
            vectors, doc_ids, ids.column(HASH_COLUMN).to_pylist(),
            params=params, fingerprint=meta["fingerprint"], embedder=embedder,
            embedder_loader=embedder_loader,
        )
        int8 = Int8Matrix.load(folder, mmap=mmap)
        index._int8 = int8 if int8 is not None and len(int8) == len(index) else None
        return index

    def int8(self) -> Int8Matrix:
        """The int8 copy of the matrix (made on first use when not loaded with the index)."""
        if self._int8 is None:
            self._int8 = Int8Matrix.from_vectors(self.vectors)
        return self._int8

    # -- searching ------------------------------------------------------------------------

    def query_vector(self, query: str | np.ndarray) -> np.ndarray:
        """The float32 vector of a query text (embedded with the index's model) or vector."""
        vec = self.embedder.embed_query(query) if isinstance(query, str) else query
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)
        if vec.shape != (self.params.dims,):
            raise SearchIndexError(
                f"The query vector has {vec.shape[0]} dimensions, the index {self.params.dims}.",
                hint="Embed the query with the index's model.",
            )
        return vec

    def scores(self, query: str | np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Inner products of the query with every document (or with ``rows``), in index order."""
        vec = self.query_vector(query)
        if rows is not None:
            return _chunked(self.vectors, vec, rows)
        return _chunked(self.vectors, vec)

    def search(self, query: str | np.ndarray, k: int, mask: np.ndarray | None = None) -> list[Scored]:
        """The top ``k`` ``(doc_id, cosine)`` for a query text or vector, best first."""
        vec = self.query_vector(query)
        allowed = allowed_rows(mask, len(self), "dense index")
        to_score = len(self) if allowed is None else len(allowed)
        if len(self) >= INT8_MIN_ROWS and to_score >= GATHER_BELOW * len(self):
            picked, values = self._top_k_int8(vec, k, allowed)
        else:
            picked, values = self._top_k_exact(vec, k, allowed)
        return [Scored(self.doc_ids[i], float(s)) for i, s in zip(picked, values, strict=True)]

    def _top_k_exact(
        self, vec: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the top ``k``: every (allowed) row scored in float32."""
        if allowed is None:
            values = _chunked(self.vectors, vec)
        elif len(allowed) < GATHER_BELOW * len(self):
            values = _chunked(self.vectors, vec, allowed)
        else:
            values = _chunked(self.vectors, vec)[allowed]
        order = top_k_order(values, k)
        return (order if allowed is None else allowed[order]), values[order]

    def _top_k_int8(
        self, vec: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The same answer as :meth:`_top_k_exact`, from an int8 pass and a float32 re-score."""
        approx, bound = self.int8().approx_scores(vec)
        rows = np.arange(len(self)) if allowed is None else allowed
        if allowed is not None:
            approx = approx[allowed]
        positions, values = exact_top_k(
            approx, bound, k, lambda pos: _chunked(self.vectors, vec, rows[pos])
        )
        return rows[positions], values


class Journal(Protocol):
    """Where finished batches are kept across an interrupted update (``search.index.journal``)."""

    def vectors(self) -> dict[str, np.ndarray]: ...

    def record(self, hashes: list[str], vectors: np.ndarray) -> None: ...


#: Texts embedded per kept batch: what an interrupted build loses at most.
JOURNAL_BATCH = 256


class _Plan:
    """The rows of an updated index: kept rows of the old matrix, vectors an interrupted update
    kept, new embeddings for the rest."""

    def __init__(self, journal: Journal | None = None) -> None:
        self.doc_ids: list[str] = []
        self.hashes: list[str] = []
        self.kept_pos: list[int] = []
        self.kept_rows: list[int] = []
        self.resumed_pos: list[int] = []
        self.resumed: list[np.ndarray] = []
        self.new_pos: list[int] = []
        self.texts: list[str] = []
        self.new_hashes: list[str] = []
        self.chunks: list[np.ndarray] = []
        self.added = self.changed = 0
        self.journal = journal
        self._seen: set[str] = set()

    def _add(self, doc_id: str, text_hash: str) -> int:
        if doc_id in self._seen:
            raise SearchIndexError(f"The documents to index repeat doc_id {doc_id!r}.", hint="Index each document once.")
        self._seen.add(doc_id)
        self.doc_ids.append(doc_id)
        self.hashes.append(text_hash)
        return len(self.doc_ids) - 1

    def keep(self, doc_id: str, text_hash: str, row: int) -> None:
        self.kept_pos.append(self._add(doc_id, text_hash))
        self.kept_rows.append(row)

    def resume(self, doc_id: str, text_hash: str, vector: np.ndarray) -> None:
        self.resumed_pos.append(self._add(doc_id, text_hash))
        self.resumed.append(vector)

    def embed(self, doc_id: str, text_hash: str, text: str, *, changed: bool) -> None:
        self.new_pos.append(self._add(doc_id, text_hash))
        self.texts.append(text)
        self.new_hashes.append(text_hash)
        self.changed += changed
        self.added += not changed

    def flush(self, embedder: TextEmbedder | None, batch_size: int, bar: Any) -> None:
        if embedder is None or not self.texts:
            return
        if self.journal is None:
            self.chunks.append(embedder.embed_documents(self.texts, batch_size=batch_size))
        else:  # batches of similar length (little padding), each kept as soon as it is done
            order = sorted(range(len(self.texts)), key=lambda i: len(self.texts[i]))
            out = np.empty((len(self.texts), embedder.dims), dtype=np.float32)
            for start in range(0, len(order), JOURNAL_BATCH):
                rows = order[start:start + JOURNAL_BATCH]
                vectors = embedder.embed_documents([self.texts[i] for i in rows], batch_size=batch_size)
                out[rows] = vectors
                self.journal.record([self.new_hashes[i] for i in rows], vectors)
                bar.update(len(rows))
            self.chunks.append(out)
            self.texts, self.new_hashes = [], []
            return
        bar.update(len(self.texts))
        self.texts, self.new_hashes = [], []

    def assemble(self, old: np.ndarray, dims: int) -> np.ndarray:
        if not self.new_pos and not self.resumed_pos and self.kept_rows == list(range(len(old))):
            return old  # nothing changed: keep the (possibly memory-mapped) matrix
        out = np.empty((len(self.doc_ids), dims), dtype=np.float32)
        if self.kept_rows:
            out[self.kept_pos] = old[np.asarray(self.kept_rows)]
        if self.new_pos:
            out[self.new_pos] = np.concatenate(self.chunks)
        if self.resumed_pos:
            out[self.resumed_pos] = np.stack(self.resumed)
        return out


def _chunked(vectors: np.ndarray, vec: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """``vectors[rows] @ vec`` in chunks of :data:`CHUNK_ROWS` rows."""
    n = len(vectors) if rows is None else len(rows)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        block = vectors[start:stop] if rows is None else vectors[rows[start:stop]]
        np.matmul(block, vec, out=out[start:stop])
    return out


def _check(
    folder: Path,
    params: DenseParams,
    saved_fingerprint: str,
    *,
    fingerprint: str | None,
    model: str | None,
    embedder: TextEmbedder | None,
) -> None:
    """Refuse an index made from another corpus, model, dims, prefix or text recipe."""
    problems = []
    if fingerprint is not None and saved_fingerprint != fingerprint:
        problems.append(f"corpus fingerprint {saved_fingerprint!r}, expected {fingerprint!r}")
    wanted = model or (embedder.name if embedder is not None else None)
    if wanted is not None and params.model != wanted:
        problems.append(f"embedding model {params.model!r}, the settings ask for {wanted!r}")
    if embedder is not None and (params.dims, params.doc_prefix) != (embedder.dims, embedder.doc_prefix):
        problems.append("dims or document prefix differ from the loaded model's")
    if params.recipe_version != TEXT_RECIPE_VERSION:
        problems.append(f"text recipe version {params.recipe_version}, this code uses {TEXT_RECIPE_VERSION}")
    if problems:
        raise SearchIndexError(
            f"The dense index in {folder} was built differently: {'; '.join(problems)}.",
            hint=REBUILD_HINT,
        )


def read_params(folder: Path) -> dict[str, Any]:
    path = folder / PARAMS_FILE
    if not path.is_file():
        raise SearchIndexError(f"No dense index in {folder} ({PARAMS_FILE} is missing).", hint=REBUILD_HINT)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SearchIndexError(f"{path} is not valid JSON: {exc.msg}.", hint=REBUILD_HINT) from exc


def _atomic(path: Path, write: Any) -> None:
    """Write through a temporary file, then rename: a reader (or a memory map) never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)



