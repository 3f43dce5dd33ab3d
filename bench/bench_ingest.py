"""Ingest throughput: parse + store real PubMed XML replicated to baseline scale.

    .venv/bin/python bench/bench_ingest.py [--records 30000] [--data ../shared/data/pubmed]

Builds one ``PubmedArticleSet`` .xml.gz from the ~790 real records (each copy
with a fresh PMID), then measures, in one run on the same file: parsing alone,
and parsing + storing into a fresh DuckDB file through the real pipeline
(``ingest_files``, batches of 2,000 in one transaction each). Prints records/s
for both and the share of time the store takes.
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

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=30_000, help="records in the benchmark file (default 30000)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("MEDSEARCH_DEMO_DATA", DEFAULT_DATA)),
                    help="folder of real PubMed XML (default ../shared/data/pubmed)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is kept")
    args = ap.parse_args()

    from ingest.pipeline import ingest_files
    from ingest.pubmed_xml import iter_pubmed_xml
    from ingest.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "baseline-like.xml.gz"
        records = real_records(args.data)
        n = write_pubmed_xml(src, replicate(records, args.records))
        print(f"input: {n} records ({len(records)} distinct real ones), {src.stat().st_size / 1e6:.1f} MB gzip")

        parse_s = store_s = float("inf")
        for i in range(args.repeat):
            t = time.perf_counter()
            parsed = sum(1 for _ in iter_pubmed_xml(src))
            parse_s = min(parse_s, time.perf_counter() - t)
            db = Path(tmp) / f"bench{i}.duckdb"
            t = time.perf_counter()
            with Store(db) as store:
                report = ingest_files(store, [src], progress=False)
            store_s = min(store_s, time.perf_counter() - t)
            assert parsed == n and report.result.stored == n, (parsed, report.result)

        print(f"parse only:      {n / parse_s:8.0f} records/s ({parse_s:.2f} s)")
        print(f"parse + store:   {n / store_s:8.0f} records/s ({store_s:.2f} s)")
        print(f"store share:     {1 - parse_s / store_s:8.0%} of parse + store time")
        print(f"target 3,000/s:  {'met' if n / store_s >= 3000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
