"""Precomputed vectors for ``medsearch index --vectors FILE``, instead of computing them.

A file of vectors keyed by PMID (or doc id), e.g. the article embeddings NCBI publishes for
all of PubMed (MedCPT), with the model that made them:

- Parquet: a column ``pmid`` (or ``doc_id``) and a column ``vector`` (a list of floats), and
  the model's name in the file's schema metadata (key ``model``);
- NumPy: ``FILE.npy`` (float32, one row per record), the ids beside it in ``FILE.ids.txt``
  (one a line, in row order), and ``FILE.json`` ``{"model": "..."}``.

Everything is checked before any work: the model must be the one the settings name
(``MEDSEARCH_EMBEDDING_MODEL``: its query encoder embeds the queries), the dimension its
dimension, every vector finite; ids the store does not hold are reported, and refused
unless ``allow_unknown`` (a file of all of PubMed for a topic mirror).

The vectors go into the build's embedding journal (``search/index/journal.py``), keyed by the
hash of each record's text, so the build that follows takes them as already embedded and
embeds only the records the file lacks: the snapshot is the one the plain path writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.errors import ConfigError
from search.index.journal import EmbeddingJournal

BATCH = 50_000


@dataclass(frozen=True, slots=True)
class VectorsFile:
    ids: list[str]
    vectors: np.ndarray
    model: str | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    path: Path
    imported: int  # vectors written for records of the store
    unknown: int  # ids of the file the store does not hold
    missing: int  # records of the store the file lacks (embedded by the build)
    unknown_examples: tuple[str, ...] = ()


def read_vectors(path: Path) -> VectorsFile:
    """The ids, vectors and model of a Parquet or NumPy vectors file (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"The vectors file {path} does not exist.", hint="Give a .parquet or .npy file.")
    if path.suffix == ".parquet":
        return _parquet(path)
    if path.suffix == ".npy":
        return _numpy(path)
    raise ConfigError(f"{path} is neither a .parquet nor a .npy file.",
                      hint="Write the vectors as Parquet (pmid, vector) or NumPy with FILE.ids.txt and FILE.json.")


def _parquet(path: Path) -> VectorsFile:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    key = "pmid" if "pmid" in table.column_names else "doc_id" if "doc_id" in table.column_names else None
    if key is None or "vector" not in table.column_names:
        raise ConfigError(f"{path} needs the columns pmid (or doc_id) and vector; it has {table.column_names}.",
                          hint="Write one row per record: its PMID and its vector as a list of floats.")
    meta = table.schema.metadata or {}
    model = meta.get(b"model", b"").decode() or None
    ids = [str(x) for x in table.column(key).to_pylist()]
    column = table.column("vector").combine_chunks()
    try:
        flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        vectors = flat.reshape(len(ids), -1) if ids else np.zeros((0, 0), dtype=np.float32)
    except ValueError as exc:
        raise ConfigError(f"The vectors of {path} differ in length.", hint="Every vector needs the model's dimension.") from exc
    return VectorsFile(ids, vectors, model)


def _numpy(path: Path) -> VectorsFile:
    ids_path, meta_path = path.with_suffix(".ids.txt"), path.with_suffix(".json")
    if not ids_path.is_file():
        raise ConfigError(f"{path} has no ids file {ids_path.name} beside it.",
                          hint="Write the PMIDs, one a line, in the order of the rows.")
    vectors = np.load(path, allow_pickle=False)
    ids = [line.strip() for line in ids_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if vectors.ndim != 2 or len(ids) != vectors.shape[0]:
        raise ConfigError(f"{path} holds {vectors.shape} vectors and {ids_path.name} {len(ids)} ids.",
                          hint="One id per row of a 2-D array.")
    model = None
    if meta_path.is_file():
        model = json.loads(meta_path.read_text(encoding="utf-8")).get("model")
    return VectorsFile(ids, np.asarray(vectors, dtype=np.float32), model)


def check(file: VectorsFile, path: Path, model: str, dims: int) -> np.ndarray:
    """The file's vectors, L2-normalised, once its model and dimension are those of the settings."""
    if file.model is None:
        raise ConfigError(f"{path} does not say which model made its vectors.",
                          hint='Add it: Parquet schema metadata {"model": NAME}, or FILE.json {"model": NAME}.')
    if file.model != model:
        raise ConfigError(f"The vectors in {path} were made by {file.model!r}; the settings name {model!r}.",
                          hint="Set MEDSEARCH_EMBEDDING_MODEL to the model that made them (its query encoder "
                          "embeds the queries), or import vectors of the configured model.")
    if file.vectors.shape[1:] != (dims,):
        raise ConfigError(f"The vectors in {path} have {file.vectors.shape[1:] or 'no'} dimensions; {model} has {dims}.",
                          hint="Import vectors of the configured model.")
    if not np.isfinite(file.vectors).all():
        raise ConfigError(f"{path} holds vectors with NaN or infinite values.", hint="Recompute them.")
    norms = np.linalg.norm(file.vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ConfigError(f"{path} holds zero vectors.", hint="Recompute them.")
    return file.vectors / norms


def import_vectors(store, index_dir: Path, params, path: Path, *, allow_unknown: bool = False) -> ImportReport:
    """Check ``path`` against the model of ``params`` (the dense index's :class:`DenseParams`)
    and the store, then write its vectors into the build's journal (see the module doc)."""
    from search.index.documents import iter_documents

    file = read_vectors(path)
    vectors = check(file, path, params.model, params.dims)
    hash_of: dict[str, str] = {}
    for doc in iter_documents(store):
        hash_of[doc.doc_id] = doc.text_hash
    by_pmid = dict(store.con.execute("SELECT pmid, doc_id FROM articles WHERE pmid IS NOT NULL").fetchall())
    doc_ids = [i if i in hash_of else by_pmid.get(i) for i in file.ids]
    unknown = [i for i, d in zip(file.ids, doc_ids, strict=True) if d is None]
    if unknown and not allow_unknown:
        raise ConfigError(
            f"{len(unknown):,} of the {len(file.ids):,} ids in {path} are not in the store "
            f"(e.g. {', '.join(unknown[:5])}).",
            hint="Ingest those records first, or pass --allow-unknown to import the vectors of the records it holds.")
    journal = EmbeddingJournal(index_dir, params)
    rows = [r for r, d in enumerate(doc_ids) if d is not None]
    for start in range(0, len(rows), BATCH):
        part = rows[start:start + BATCH]
        journal.record([hash_of[doc_ids[r]] for r in part], vectors[part])  # type: ignore[index]
    imported = {doc_ids[r] for r in rows}
    return ImportReport(path, len(rows), len(unknown), len(hash_of) - len(imported), tuple(unknown[:5]))
