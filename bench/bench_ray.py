"""Embedding on Ray (``medsearch index --ray``) against the plain path, side by side in one run.

The same ``n`` distinct record texts (the real records under ``../shared/data/pubmed``, from
the store ``bench/bench_query_engine.py`` caches; past their number, copies made distinct by a
suffix, so that each is embedded), the packaged MiniLM (int8 ONNX):

- ``plain``: ``embed_documents`` in this process, as ``medsearch index`` embeds;
- ``ray, 1 worker`` and ``ray, 2 workers``: ``search.index.ray_embed.embed_on_ray`` on a local
  Ray (start-up, actor model loads and the journal writes included), into a fresh journal.

Reported: seconds, texts per second, and Ray's overhead over the plain path. On the 2-core
development machine 2 workers cannot beat 1 by much (each ONNX session already uses both
cores); the point is that the overhead is small and that throughput holds with workers.

    .venv/bin/python bench/bench_ray.py [--n 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_query_engine as bqe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
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
    embedder.embed_documents([t for _, t in todo], batch_size=64)
    plain = time.perf_counter() - t
    print(f"{len(todo):,} texts")
    print(f"  {'path':<16} {'seconds':>8} {'texts/s':>8} {'vs plain':>9}")
    print(f"  {'plain':<16} {plain:8.1f} {len(todo) / plain:8.1f} {'':>9}", flush=True)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            journal = EmbeddingJournal(Path(tmp), DenseParams.of(embedder))
            got = embed_on_ray(todo, journal, settings, address=None, workers=workers)
            assert len(journal.vectors()) == len(todo)
        print(f"  {f'ray, {workers} worker' + ('s' if workers > 1 else ''):<16} {got.seconds:8.1f} "
              f"{len(todo) / got.seconds:8.1f} {got.seconds / plain:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
