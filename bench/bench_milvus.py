"""In-process vs milvus-lite first stage, side by side in one run, through ``Engine.search``.

For each size (10k and 100k records by default), over the same index snapshot:

- build: the Milvus collection written from the snapshot (``collection.build_from_snapshot``:
  our tokens, vectors, filter fields; index FLAT + BM25 inverted index), its time, disk and
  the peak memory of this process and its children (milvus-lite runs as a child) while building;
- queries, each engine in turn (in-process, then Milvus), p50 / p95 in ms: ``bm25``,
  ``dense``, ``hybrid`` (BM25 + dense top 100 + learned fusion, no rerank), ``hybrid + 3
  clauses`` with a restriction Milvus translates (``english[la] AND journal article[pt] AND
  2005:2024[dp]``) and one it cannot (``random*[tiab] AND humans[mh] AND 2010:2024[dp]``: a
  word search, sent as a bounded id list when selective), and ``facets`` (the selective one).
  Query embedding and the result cards of 10 hits are included, as a user meets them.

The corpus and its snapshot: ``bench/bench_query_engine.py`` (the real records under
``../shared/data/pubmed`` replicated with new PMIDs and years, indexed with the packaged
MiniLM; copies share their text and so their vector). Cached under ``data/bench/``.

    .venv/bin/python bench/bench_milvus.py [--sizes 10000 100000] [--queries 40]

Figures: ``docs/scale.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_query_engine as bqe  # noqa: E402

CACHE = REPO / "data" / "bench" / "milvus"
TRANSLATED = "english[la] AND journal article[pt] AND 2005:2024[dp]"
NOT_TRANSLATED = bqe.SELECTIVE


class PeakRss:
    """Peak resident memory of this process and its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self._proc, *self._proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except Exception:
                pass
            time.sleep(0.1)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def du(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def pct(values: list[float]) -> tuple[float, float]:
    v = sorted(values)
    return statistics.median(v), v[min(len(v) - 1, int(0.95 * len(v)))]


def timed(fn, items: list, warmup: int = 3) -> list[float]:
    for x in items[:warmup]:
        fn(x)
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
    return out


def build_milvus(snap, n: int) -> tuple[object, dict]:
    from search.retrieval.milvus.collection import build_from_snapshot
    from search.retrieval.milvus.connect import Target

    folder = CACHE / f"n{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = Target.from_settings(str(folder / "milvus.db"))
    with PeakRss() as peak:
        t = time.perf_counter()
        build_from_snapshot(snap, target)
        seconds = time.perf_counter() - t
    return target, {"build_s": round(seconds, 1), "disk_mb": round(du(folder) / 1e6, 1),
                    "peak_mb": round(peak.peak / 1e6)}


def run_inprocess(n: int, qs: list[str]) -> dict:
    """The in-process engine alone (a size milvus-lite cannot hold in this machine's memory):
    the index build's time and peak memory, then the same cases."""
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexSettings

    base, base_idx = bqe.base_index()
    with PeakRss() as peak:
        t = time.perf_counter()
        db, index, seconds = bqe.replicated(base, base_idx, n)
        build_s = time.perf_counter() - t
    with PeakRss() as open_peak:
        inproc = Engine.open(index_dir=index, db_path=db, index_settings=IndexSettings(),
                             config=EngineConfig(mode="hybrid"))
        inproc.facets(NOT_TRANSLATED)
        rows = {}
        for label, fn in CASES.items():
            a = pct(timed(lambda q, fn=fn: fn(inproc, q), qs))
            rows[label] = {"inprocess": a}
            print(f"  {label:<34} {a[0]:8.1f} {a[1]:8.1f}", flush=True)
    return {"n": n, "snapshot_mb": round(du(inproc.snapshot.folder) / 1e6, 1), "store_and_index_s": round(build_s, 1),
            "index_build_s": seconds, "build_peak_mb": round(peak.peak / 1e6),
            "serving_peak_mb": round(open_peak.peak / 1e6), "cases": rows}


CASES = {
    "bm25": lambda e, q: e.search(q, k=10, mode="bm25"),
    "dense": lambda e, q: e.search(q, k=10, mode="dense"),
    "hybrid": lambda e, q: e.search(q, k=10),
    "hybrid + 3 clauses (translated)": lambda e, q: e.search(f"{q} AND {TRANSLATED}", k=10),
    "hybrid + 3 clauses (id list)": lambda e, q: e.search(f"{q} AND {NOT_TRANSLATED}", k=10),
    "facets": lambda e, q: e.facets(f"{q} AND {NOT_TRANSLATED}"),
}


def run(n: int, qs: list[str]) -> dict:
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexSettings
    from search.retrieval.milvus.stage import MilvusFirstStage

    base, base_idx = bqe.base_index()
    db, index, _ = bqe.replicated(base, base_idx, n)
    inproc = Engine.open(index_dir=index, db_path=db, index_settings=IndexSettings(),
                         config=EngineConfig(mode="hybrid"))
    snap = inproc.snapshot
    snapshot_mb = round(du(snap.folder) / 1e6, 1)
    target, built = build_milvus(snap, n)
    milvus = Engine.open(index_dir=index, db_path=db, index_settings=IndexSettings(),
                         config=EngineConfig(mode="hybrid"), first_stage=lambda s: MilvusFirstStage.open(target, s))
    for e in (inproc, milvus):
        e.facets(NOT_TRANSLATED)  # per-record columns loaded once, as the first facet request would
    rows = {}
    for label, fn in CASES.items():
        a = pct(timed(lambda q, fn=fn: fn(inproc, q), qs))
        b = pct(timed(lambda q, fn=fn: fn(milvus, q), qs))
        rows[label] = {"inprocess": a, "milvus": b}
        print(f"  {label:<34} {a[0]:8.1f} {a[1]:8.1f}   {b[0]:8.1f} {b[1]:8.1f}   x{b[0] / a[0]:.1f}", flush=True)
    same = statistics.mean(
        len({h.doc_id for h in inproc.search(q, k=10).hits} & {h.doc_id for h in milvus.search(q, k=10).hits}) / 10
        for q in qs)
    return {"n": n, "snapshot_mb": snapshot_mb, **built, "cases": rows, "hybrid_top10_overlap": round(same, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--inprocess-only", action="store_true",
                    help="the in-process engine alone, with its build time and peak memory (e.g. at 1M records)")
    args = ap.parse_args()
    qs = bqe.queries(args.queries)
    out = []
    for n in args.sizes:
        if args.inprocess_only:
            print(f"\n{n:,} records, in-process only\n  {'case (ms)':<34} {'p50':>8} {'p95':>8}", flush=True)
            got = run_inprocess(n, qs)
            print(f"  snapshot {got['snapshot_mb']} MB; store copy + index build {got['store_and_index_s']} s "
                  f"({got['index_build_s']}), peak {got['build_peak_mb']} MB; serving peak {got['serving_peak_mb']} MB",
                  flush=True)
            out.append(got)
            continue
        print(f"\n{n:,} records", flush=True)
        print(f"  {'case (ms)':<34} {'in-process p50':>17}   {'milvus-lite p50':>17}", flush=True)
        got = run(n, qs)
        print(f"  snapshot {got['snapshot_mb']} MB; Milvus build {got['build_s']} s, {got['disk_mb']} MB on disk, "
              f"peak {got['peak_mb']} MB; hybrid top-10 overlap {got['hybrid_top10_overlap']}", flush=True)
        out.append(got)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
