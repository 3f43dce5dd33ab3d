"""How well the support score separates a finding's own abstract from the others, per threshold.

    python bench/bench_evidence.py FINDINGS.jsonl [--db data/medsearch.duckdb]
    python bench/bench_evidence.py --scifact ../shared/data/beir/scifact [--limit 300]

FINDINGS.jsonl: what ``bench_findings.py --out`` writes (``pmid``, ``text`` per finding; one per
prompt version when several were run). Each finding is checked (``search.summarize.evidence``)
against its own abstract, and against every other abstract of the file, as if the model had
cited the wrong paper: the papers come from the same 30 clinical questions, so many of the
others are on a neighbouring subject (hard negatives). Printed per threshold: the share of
findings flagged ``unsupported`` against their own abstract (false alarms: the model's findings
are mostly faithful, so these are mostly paraphrase) and the share of wrong pairings that pass
(misses), plus the mean time of one check; and per prompt version, the findings with a
supporting quote for every sentence, the numbers bound to their measure and the flags seen.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import runtime_env  # noqa: E402

runtime_env.configure()

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("findings", type=Path, nargs="?")
    parser.add_argument("--db", type=Path, help="corpus database (default MEDSEARCH_DB)")
    parser.add_argument("--scifact", type=Path, help="instead: SciFact's claims (a BEIR folder, e.g. "
                        "../shared/data/beir/scifact) against the abstracts they cite as support")
    parser.add_argument("--limit", type=int, default=300, help="with --scifact: this many claims")
    args = parser.parse_args(argv)
    if args.scifact:
        return scifact(args.scifact, args.limit)

    from search.assembly import open_engine
    from search.config import Settings
    from search.summarize import papers_by_id
    from search.summarize.evidence import check
    from search.summarize.grounding import split_sentences, strip_citations

    rows = [json.loads(line) for line in args.findings.read_text().splitlines() if line.strip()]
    engine = open_engine(Settings.from_env(db=args.db))
    papers = {p.pmid: f"{p.title}\n{p.abstract}" for p in papers_by_id(engine, sorted({r["pmid"] for r in rows}))}
    own: list[float] = []
    others: list[float] = []
    flagged_own: list[tuple[str, str, str]] = []
    spent = []
    for r in rows:  # a finding is as well supported as its least supported sentence
        bodies = split_sentences(strip_citations(r["text"]))
        start = time.perf_counter()
        found = [check(body, {r["pmid"]: papers[r["pmid"]]}) for body in bodies]
        spent.append((time.perf_counter() - start) / len(bodies))
        own.append(min(f.support for f in found))
        flagged_own += [(r["pmid"], flag.kind, flag.detail) for f in found for flag in f.flags]
        others += [min(check(body, {pmid: text}).support for body in bodies)
                   for pmid, text in papers.items() if pmid != r["pmid"]]
    checks = {version: finding_checks([r for r in rows if r.get("prompt", "") == version], papers)
              for version in dict.fromkeys(r.get("prompt", "") for r in rows)}
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
        "findings_checked_by_prompt": checks,
        "check_ms_per_sentence_mean": round(1000 * statistics.fmean(spent), 2),
    }, indent=2))
    return 0


def scifact(folder: Path, limit: int) -> int:
    """Claims written by people (paraphrases, harder than a small model's copying findings) against
    the abstract they cite as support, and against the 5 other abstracts of the corpus that share
    the most content words with the claim (hard negatives)."""
    from search.summarize.evidence import check, content_words

    corpus = {}
    for line in (folder / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        corpus[doc["_id"]] = f"{doc['title']}\n{doc['text']}"
    words = {d: content_words(t) for d, t in corpus.items()}
    claims = []
    for line in (folder / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        cited = [d for d, ev in q.get("metadata", {}).items() if any(e["label"] == "SUPPORT" for e in ev)]
        if cited and cited[0] in corpus:
            claims.append((q["text"], cited[0]))
    own, others = [], []
    for claim, doc in claims[:limit]:
        own.append(check(claim, {doc: corpus[doc]}).support)
        mine = content_words(claim)
        near = sorted((d for d in corpus if d != doc), key=lambda d: -len(mine & words[d]))[:5]
        others += [check(claim, {d: corpus[d]}).support for d in near]
    table = {str(t): {"own_flagged": _share(sum(s < t for s in own), len(own)),
                      "hard_negatives_passed": _share(sum(s >= t for s in others), len(others))}
             for t in THRESHOLDS}
    auc = sum((a > b) + 0.5 * (a == b) for a in own for b in others) / (len(own) * len(others))
    print(json.dumps({"claims": len(own), "auc": round(auc, 3),
                      "support_own": {"p10": _q(own, 10), "p50": _q(own, 50)},
                      "support_hard_negatives": {"p50": _q(others, 50), "p90": _q(others, 90)},
                      "by_threshold": table}, indent=2))
    return 0


def finding_checks(rows: list[dict], papers: dict[str, str]) -> dict:
    """The findings as the pipeline checks them (cited to their own paper): how many have a
    supporting quote for every sentence, the numbers bound to their measure, the flags seen."""
    from bench_summaries import _number_counts

    from search.summarize.grounding import check_text

    quoted = stated = bound = 0
    flags: dict[str, int] = {}
    for r in rows:
        sentences = check_text(r["text"], {r["pmid"]: papers[r["pmid"]]}, cite_as=r["pmid"])
        quoted += all(s.quotes and s.supported for s in sentences)
        n, _, b = _number_counts(sentences, papers)
        stated, bound = stated + n, bound + b
        for f in (f for s in sentences for f in s.flags):
            flags[f.kind] = flags.get(f.kind, 0) + 1
    return {"findings": len(rows), "with_a_supporting_quote": _share(quoted, len(rows)),
            "numbers_bound_to_their_measure": _share(bound, stated), "flags": flags}


def _share(num: int, den: int) -> str:
    return f"{num / den:.1%} ({num}/{den})" if den else "n/a"


def _q(values: list[float], q: int) -> float:
    return round(statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1], 3)


if __name__ == "__main__":
    raise SystemExit(main())
