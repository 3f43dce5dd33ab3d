"""The Milvus collection: its schema, a build from an index snapshot, and atomic publication.

One collection holds one build. ``medsearch index`` (with ``MEDSEARCH_BACKEND=milvus``) writes
every record of the new snapshot into ``<alias>_<n>``, waits until it is indexed and loaded,
then switches the alias readers search (``<alias>``) to it and drops older builds, keeping
the one before (as the previous snapshot is kept): a reader mid-query keeps the collection it resolved, and no reader ever sees a half-built one
(the same promise as ``CURRENT`` for snapshots). A failed build drops its collection and
leaves the alias where it was.

Fields (``docs/scale.md``):

- ``doc_id`` (primary key), ``row`` (the snapshot row);
- ``text``: the record's BM25 tokens by *our* tokeniser (``search/retrieval/tokenizer.py``:
  stemming, stop words, compounds, Greek letters), ``.`` of decimals written ``_``, analysed
  by Milvus' ``standard`` tokenizer, which then splits nowhere (milvus-lite has no whitespace
  tokenizer); ``sparse``: Milvus' BM25 function over it (``SPARSE_INVERTED_INDEX``, metric
  BM25, k1 and b ours);
- ``vector``: the snapshot's embedding (FLOAT_VECTOR, inner product on unit vectors); index
  FLAT on milvus-lite (exact, as in process), HNSW on a server (see ``docs/scale.md``);
- filter fields: ``year``, ``year_last``, ``date_first``, ``date_last``, ``pt``, ``la``,
  ``journal``, ``mesh`` (lower-case arrays), ``terms`` (``kind:name`` of ``qx_terms``),
  ``filters`` (the named filters a record passes, from ``qx_filters``), ``has_abstract``,
  ``retracted``, ``notice``.

The collection's property ``medsearch.manifest`` holds its manifest (JSON: corpus fingerprint, model, dims,
tokeniser, BM25 parameters, schema version, build time); a reader refuses one of another
model or schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import SearchIndexError
from search.retrieval.milvus import require
from search.retrieval.milvus.connect import Target, connect

#: Bumped when fields or their meaning change; a reader refuses a collection of another.
#: 2: the text of a milvus-lite build is padded to our BM25 b (:func:`padding`).
SCHEMA_VERSION = 2
#: The BM25 b milvus-lite computes with, whatever the index asks (with k1 1.5: fitted exactly to
#: its scores; ``tests/test_first_stage_contract.py`` checks the padding against rank-bm25); a
#: Milvus server takes ours.
LITE_B = 0.75
#: The filler token of the padding: our tokeniser never writes a letter beside ``_``.
FILLER = "ms_pad"
TEXT_MAX = 65_535  # bytes of a VARCHAR; a longer token text is cut (docs/scale.md)
ARRAY_CAPS = {"pt": 64, "la": 16, "journal": 2, "mesh": 256, "terms": 1024, "filters": 64}
INSERT_BATCH = 2_000
MANIFEST_PROPERTY = "medsearch.manifest"
HINT = "Run `medsearch index` with MEDSEARCH_BACKEND=milvus to build the collection."


@dataclass(frozen=True, slots=True)
class BuildReport:
    collection: str
    records: int
    seconds: float
    published: bool


def milvus_text(tokens: list[str] | tuple[str, ...]) -> str:
    """Our tokens as the ``text`` field: the standard tokenizer keeps each whole once the
    decimal point (the one character of our tokens it splits at) is ``_``."""
    return " ".join(t.replace(".", "_") for t in tokens)


def padding(avgdl: float, b: float, target: Target) -> int:
    """Filler tokens appended to every record's text so that Milvus' BM25 length norm is ours.

    BM25 divides a term's frequency by ``tf + k1 * (1 - b + b * dl / avgdl)``. milvus-lite
    ignores the index's ``bm25_b`` and uses 0.75; with ``P`` fillers in every record (``dl + P``
    and ``avgdl + P``), ``1 - 0.75 + 0.75 * (dl + P) / (avgdl + P)`` equals ``1 - b + b * dl /
    avgdl`` for every ``dl`` when ``P = avgdl * (0.75 / b - 1)``. The filler matches no query,
    so only the norm moves. 0 on a server (it takes our b) or where ``b >= 0.75``."""
    if not target.lite or b >= LITE_B or b <= 0:
        return 0
    return max(0, round(avgdl * (LITE_B / b - 1)))


def padded(text: str, pad: int) -> str:
    """``text`` (a ``milvus_text``) with ``pad`` fillers, cut to the field's size."""
    return _cut(f"{text} {' '.join([FILLER] * pad)}" if pad else text)


def dense_index(target: Target) -> tuple[str, dict[str, Any]]:
    """The vector index: FLAT (exact) on milvus-lite, HNSW on a server."""
    if target.lite:
        return "FLAT", {}
    return "HNSW", {"M": 16, "efConstruction": 200}


def schema(client: Any, dims: int | None) -> Any:
    pymilvus = require()
    DataType, Function, FunctionType = pymilvus.DataType, pymilvus.Function, pymilvus.FunctionType
    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("doc_id", DataType.VARCHAR, max_length=128, is_primary=True)
    s.add_field("row", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    if dims:
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dims)
    for name in ("year", "year_last", "date_first", "date_last"):
        s.add_field(name, DataType.INT32)
    for name, cap in ARRAY_CAPS.items():
        s.add_field(name, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=cap, max_length=512)
    for name in ("has_abstract", "retracted", "notice"):
        s.add_field(name, DataType.BOOL)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    return s


def index_params(client: Any, target: Target, dims: int | None, k1: float, b: float) -> Any:
    ip = client.prepare_index_params()
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": k1, "bm25_b": b, "inverted_index_algo": "DAAT_MAXSCORE"})
    if dims:
        kind, params = dense_index(target)
        ip.add_index("vector", index_type=kind, metric_type="IP", params=params)
    return ip


def read_manifest(client: Any, name: str) -> dict[str, Any] | None:
    """The manifest a build stored in the collection's description (None: not ours)."""
    try:
        data = json.loads(client.describe_collection(name).get("properties", {}).get(MANIFEST_PROPERTY, ""))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and "medsearch" in data else None


def rows_of_snapshot(snap, *, batch: int = INSERT_BATCH, pad: int = 0) -> Iterator[list[dict[str, Any]]]:
    """The snapshot's records as collection rows, in batches (vectors from its dense index),
    each text with ``pad`` fillers (:func:`padding`)."""
    import duckdb

    from search.index.documents import compose_text
    from search.index.snapshot_build import CORPUS_FILE
    from search.retrieval.tokenizer import Tokenizer

    tok = Tokenizer(snap.lexical.tokenizer_config)
    subject = bool(snap.manifest.get("lexical", {}).get("subject_terms", True))
    con = duckdb.connect(str(Path(snap.folder) / CORPUS_FILE), read_only=True)
    try:
        terms = _grouped(con, "SELECT ix, list(k || ':' || term) FROM qx_terms WHERE k IN "
                         "('mh','majr','pt','ta','la','sb','pmid','doi','pmcid') GROUP BY ix")
        named = _grouped(con, "SELECT ix, list(DISTINCT name) FROM qx_filters GROUP BY ix")
        dates = {int(r[0]): (int(r[1]), int(r[2])) for r in con.execute(
            "SELECT ix, min(d - DATE '1970-01-01'), max(d - DATE '1970-01-01') FROM qx_dates GROUP BY ix").fetchall()}
        notice = snap.records.columns().notice
        cur = con.execute(
            "SELECT ix, doc_id, title, abstract, mesh_terms, keywords, publication_types, languages, journal_title, "
            "journal_iso, coalesce(year_filter, 0), coalesce(year_last, year_filter, 0), has_abstract, is_retracted "
            "FROM articles ORDER BY ix")
        vectors = snap.dense.vectors if snap.dense is not None else None
        while chunk := cur.fetchmany(batch):
            out = []
            for (ix, doc_id, title, abstract, mesh, kw, pt, la, jt, ji, year, year_last, has_abs, retracted) in chunk:
                text = compose_text(title or "", abstract, mesh or (), kw or (), subject_terms=subject)
                d0, d1 = dates.get(ix, (0, 0))
                row = {
                    "doc_id": doc_id, "row": ix, "text": padded(milvus_text(tok(text)), pad),
                    "year": int(year), "year_last": int(year_last), "date_first": d0, "date_last": d1,
                    "pt": _low(pt, "pt"), "la": _low(la, "la"), "mesh": _low(mesh, "mesh"),
                    "journal": _low([j for j in (jt, ji) if j], "journal"),
                    "terms": (terms.get(ix) or [])[: ARRAY_CAPS["terms"]],
                    "filters": (named.get(ix) or [])[: ARRAY_CAPS["filters"]],
                    "has_abstract": bool(has_abs), "retracted": bool(retracted), "notice": bool(notice[ix]),
                }
                if vectors is not None:
                    row["vector"] = np.asarray(vectors[ix], dtype=np.float32)
                out.append(row)
            yield out
    finally:
        con.close()


def _grouped(con, sql: str) -> dict[int, list[str]]:
    return {int(ix): list(v) for ix, v in con.execute(sql).fetchall()}


def _low(values, field: str) -> list[str]:
    return list(dict.fromkeys(v.lower()[:512] for v in (values or ()) if v))[: ARRAY_CAPS[field]]


def _cut(text: str) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= TEXT_MAX:
        return text
    return raw[:TEXT_MAX].decode("utf-8", "ignore").rsplit(" ", 1)[0]


def mean_length(snap) -> float:
    """The snapshot's mean document length in tokens: kept by its BM25 index, else counted
    over the texts the collection would get (an index saved before it was kept)."""
    if snap.lexical.avgdl is not None:
        return float(snap.lexical.avgdl)
    total = n = 0
    for rows in rows_of_snapshot(snap):
        total += sum(len(r["text"].split()) for r in rows)
        n += len(rows)
    return total / max(n, 1)


def manifest_of(snap, target: Target) -> dict[str, Any]:
    dense = snap.dense
    return {
        "medsearch": SCHEMA_VERSION, "fingerprint": snap.fingerprint, "snapshot": snap.name,
        "records": len(snap.doc_ids), "model": dense.params.model if dense else None,
        "dims": dense.params.dims if dense else None,
        "tokenizer": snap.lexical.tokenizer_config.to_dict(),
        "bm25": {"k1": snap.lexical.params.k1, "b": snap.lexical.params.b},
        "vector_index": dense_index(target)[0] if dense else None,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def build_from_snapshot(snap, target: Target, *, progress: bool = False) -> BuildReport:
    """Write ``snap`` into a new collection and switch the alias to it (see the module doc).
    A collection the alias already serves for the same corpus and model is kept."""
    client = connect(target)
    start = time.perf_counter()
    manifest = manifest_of(snap, target)
    current = current_collection(client, target.collection)
    if current is not None:
        held = read_manifest(client, current) or {}
        if all(held.get(k) == manifest[k] for k in ("medsearch", "fingerprint", "model", "tokenizer", "bm25")):
            return BuildReport(current, int(held.get("records", 0)), 0.0, False)
    name = _next_name(client, target.collection)
    dims = manifest["dims"]
    manifest["pad"] = padding(mean_length(snap), snap.lexical.params.b, target) if target.lite else 0
    try:
        client.create_collection(name, schema=schema(client, dims),
                                 index_params=index_params(client, target, dims, **manifest["bm25"]))
        client.alter_collection_properties(name, properties={MANIFEST_PROPERTY: json.dumps(manifest)})
        done = 0
        for rows in rows_of_snapshot(snap, pad=manifest["pad"]):
            client.insert(name, rows)
            done += len(rows)
            if progress:
                print(f"milvus: {done:,} records written to {name}", flush=True)
        client.flush(name)
        client.load_collection(name)
        count = client.get_collection_stats(name).get("row_count", done)
        if int(count) != len(snap.doc_ids):
            raise SearchIndexError(f"The Milvus build {name} holds {count} records, the snapshot {len(snap.doc_ids)}.",
                                   hint=HINT)
    except BaseException:
        _drop_quietly(client, name)
        raise
    publish(client, target.collection, name)
    return BuildReport(name, done, round(time.perf_counter() - start, 3), True)


def current_collection(client: Any, alias: str) -> str | None:
    """The collection ``alias`` points at (None: no build published)."""
    if alias not in (client.list_aliases().get("aliases") or []):
        return None
    return client.describe_alias(alias).get("collection_name")


def publish(client: Any, alias: str, name: str) -> None:
    """Point ``alias`` at ``name`` (atomic for readers), then drop older builds; the one it
    served before is kept (readers that resolved it finish on it), as the previous snapshot is."""
    before = current_collection(client, alias)
    if before is None:
        client.create_alias(name, alias)
    else:
        client.alter_alias(name, alias)
    for old in client.list_collections():
        if old.startswith(alias + "_") and old not in (name, before):
            _drop_quietly(client, old)  # older builds and leftovers of crashed ones


def _next_name(client: Any, alias: str) -> str:
    taken = [c for c in client.list_collections() if c.startswith(alias + "_") and c[len(alias) + 1:].isdigit()]
    n = max((int(c[len(alias) + 1:]) for c in taken), default=0) + 1
    return f"{alias}_{n:06d}"


def _drop_quietly(client: Any, name: str) -> None:
    try:
        client.drop_collection(name)
    except Exception:  # best effort: a leftover is dropped by the next publish
        pass
