"""How well the support score separates a finding's own abstract from the others, per threshold.

    python bench/bench_evidence.py FINDINGS.jsonl [--db data/medsearch.duckdb]

FINDINGS.jsonl: what ``bench_findings.py --out`` writes (``pmid``, ``text`` per finding; one per
prompt version when several were run). Each finding is checked (``search.summarize.evidence``)
against its own abstract, and against every other abstract of the file, as if the model had
cited the wrong paper: the papers come from the same 30 clinical questions, so many of the
others are on a neighbouring subject (hard negatives). Printed per threshold: the share of
findings flagged ``unsupported`` against their own abstract (false alarms: the model's findings
are mostly faithful, so these are mostly paraphrase) and the share of wrong pairings that pass
(misses), plus the mean time of one check.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search import runtime_env  # noqa: E402

runtime_env.configure()

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("findings", type=Path)
    parser.add_argument("--db", type=Path, help="corpus database (default MEDSEARCH_DB)")
    args = parser.parse_args(argv)

    from search.assembly import open_engine
    from search.config import Settings
    from search.summarize import papers_by_id
    from search.summarize.evidence import check
    from search.summarize.grounding import strip_citations

    rows = [json.loads(line) for line in args.findings.read_text().splitlines() if line.strip()]
    engine = open_engine(Settings.from_env(db=args.db))
    papers = {p.pmid: f"{p.title}\n{p.abstract}" for p in papers_by_id(engine, sorted({r["pmid"] for r in rows}))}
    own: list[float] = []
    others: list[float] = []
    flagged_own: list[tuple[str, str, str]] = []
    spent = []
    for r in rows:
        body = strip_citations(r["text"])
        start = time.perf_counter()
        found = check(body, {r["pmid"]: papers[r["pmid"]]})
        spent.append(time.perf_counter() - start)
        own.append(found.support)
        flagged_own += [(r["pmid"], f.kind, f.detail) for f in found.flags]
        others += [check(body, {pmid: text}).support for pmid, text in papers.items() if pmid != r["pmid"]]
    table = {}
    for t in THRESHOLDS:
        table[str(t)] = {"own_flagged": _share(sum(s < t for s in own), len(own)),
                         "others_passed": _share(sum(s >= t for s in others), len(others))}
    print(json.dumps({
        "findings": len(own), "wrong_pairings": len(others),
        "support_own": {"p10": _q(own, 10), "p50": _q(own, 50)},
        "support_others": {"p50": _q(others, 50), "p90": _q(others, 90), "p99": _q(others, 99)},
        "by_threshold": table,
        "flags_on_own_abstract": [list(f) for f in flagged_own],
        "check_ms_mean": round(1000 * statistics.fmean(spent), 2),
    }, indent=2))
    return 0


def _share(num: int, den: int) -> str:
    return f"{num / den:.1%} ({num}/{den})" if den else "n/a"


def _q(values: list[float], q: int) -> float:
    return round(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1], 3)


if __name__ == "__main__":
    raise SystemExit(main())
