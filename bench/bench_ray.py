"""Embedding on Ray (``medsearch index --ray``) against the plain path, side by side in one run.

The same ``n`` distinct record texts (the real records under ``../shared/data/pubmed``, from
the store ``bench/bench_query_engine.py`` caches; past their number, copies made distinct by a
suffix, so that each is embedded), the packaged MiniLM (int8 ONNX):

- ``plain``: ``embed_documents`` in this process, as ``medsearch index`` embeds;
- ``ray WxC`` (``--shapes``, default ``1x1,2x1``): ``search.index.ray_embed.embed_on_ray`` on
  a local Ray of W workers of C CPUs each (an actor's encoder runs C threads), start-up, actor
  model loads and the journal writes included, into a fresh journal.

Reported: seconds, texts per second, the time against the plain path, and the largest
difference between a Ray vector and the plain path's. ``1x1`` against ``2x1`` is throughput
against workers with a core each; ``2x1`` (the default shape on 2 cores) against ``plain``
(one process, 2 threads) is Ray's overhead.

    .venv/bin/python bench/bench_ray.py [--n 2000] [--shapes 1x1,2x1,1x2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_query_engine as bqe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--shapes", default="1x1,2x1", help="WORKERSxCPUS, comma-separated")
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in shape.split("x")) for shape in args.shapes.split(",")]
    from ingest.store import Store
    from search.index.build import IndexSettings
    from search.index.documents import iter_documents
    from search.index.journal import EmbeddingJournal
    from search.index.ray_embed import embed_on_ray
    from search.retrieval.dense import DenseParams
    from search.retrieval.encoders import load_embedder

    base, _ = bqe.base_index()
    with Store(base, read_only=True) as store:
        distinct = list({d.text_hash: d.text for d in iter_documents(store)}.items())
    # past the distinct texts, copies made distinct by a suffix: each is embedded (as long as a real text)
    todo = [(h if i < len(distinct) else f"{h}:{i // len(distinct)}",
             t if i < len(distinct) else f"{t} (copy {i // len(distinct)})")
            for i, (h, t) in ((i, distinct[i % len(distinct)]) for i in range(args.n))]
    s = IndexSettings()
    settings = {"name": s.embedder, "backend": s.backend}
    embedder = load_embedder(s.embedder, s.backend)  # type: ignore[arg-type]
    embedder.embed_documents([t for _, t in todo[:32]])  # warm
    t = time.perf_counter()
    expected = embedder.embed_documents([t for _, t in todo], batch_size=64)
    plain = time.perf_counter() - t
    print(f"{len(todo):,} texts")
    print(f"  {'path':<16} {'seconds':>8} {'texts/s':>8} {'vs plain':>9} {'max |diff|':>11}")
    print(f"  {'plain':<16} {plain:8.1f} {len(todo) / plain:8.1f} {'':>9}", flush=True)
    for workers, cpus in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            journal = EmbeddingJournal(Path(tmp), DenseParams.of(embedder))
            got = embed_on_ray(todo, journal, settings, address=None, workers=workers, cpus_per_worker=cpus)
            vectors = journal.vectors()
            assert len(vectors) == len(todo)
            diff = max(float(np.abs(vectors[h] - expected[i]).max()) for i, (h, _) in enumerate(todo))
        print(f"  {f'ray {workers}x{cpus}':<16} {got.seconds:8.1f} "
              f"{len(todo) / got.seconds:8.1f} {got.seconds / plain:8.2f}x {diff:11.1e}", flush=True)


if __name__ == "__main__":
    main()
