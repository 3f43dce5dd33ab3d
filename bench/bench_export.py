"""Time each export format on a 1,000-paper list of real records.

The real PubMed records under ``../shared/data/pubmed`` (PubMed XML and MEDLINE
text, read by the project's readers as ingest reads them) are repeated round-robin
with new PMIDs until the list holds ``--papers`` records; each format then exports
the whole list ``--repeat`` times and the best time is printed (target: under 2 s).

    .venv/bin/python bench/bench_export.py [--papers 1000] [--repeat 3] [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest import sources  # noqa: E402
from ingest.records import Article  # noqa: E402
from search.citations.export import FORMATS, export_bytes  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed"
TARGET_S = 2.0


def real_articles(folder: Path) -> list[Article]:
    files, _ = sources.discover([folder])
    articles = []
    for sf in files:
        if sf.format == sources.BEIR_CORPUS:
            continue
        articles += [item for item in sources.iter_items(sf) if isinstance(item, Article)]
    return articles


def paper_list(articles: list[Article], n: int, first_pmid: int = 90_000_000) -> list[Article]:
    """``n`` records cycling through ``articles``, each with its own PMID."""
    out = []
    for i in range(n):
        pmid = str(first_pmid + i)
        out.append(articles[i % len(articles)]._replace(doc_id=pmid, pmid=pmid))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    real = real_articles(args.data)
    papers = paper_list(real, args.papers)
    notes = {a.doc_id: "a note on this paper" for a in papers[::3]}
    print(f"{len(papers)} papers from {len(real)} real records; best of {args.repeat} runs per format")
    print(f"{'format':<16}{'seconds':>9}{'ms/paper':>10}{'MB':>8}  target < {TARGET_S:.0f} s")
    worst = 0.0
    for name in FORMATS:
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            size = len(export_bytes(papers, name, notes=notes))
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
        print(f"{name:<16}{best:>9.3f}{best * 1000 / len(papers):>10.3f}{size / 1e6:>8.2f}"
              f"  {'ok' if best < TARGET_S else 'SLOW'}")
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
