"""Choose the result-set rule (search/results/result_set.py) on the BEIR train/dev splits.

    python bench/tune_result_set.py [--beir ../shared/data/beir] [--cache-dir data/eval] [--tolerance 0.005]

For NFCorpus dev and SciFact train (the eval caches that `medsearch eval` builds), every query's
signals are computed once: the concepts each record holds, the dense top 1,000 with cosines, the
learned-fusion scores of the BM25 and dense top 100, and the ranking each mode gives under the rule
before result sets were defined (any word, or the dense top 100). A rule's effect on nDCG@10 is
then that ranking with the records outside the rule's set left out (the ranking inside the set
changes little: the lists it fuses lose only records outside the set).

The rule is chosen part by part, each the one with the smallest result sets (mean size relative to
the old rule's, averaged over the two sets) whose nDCG@10 stays within --tolerance of the old
rule's on both sets (where none does, the one that loses least):

0. a keyword query of up to 4 content words needs all of them (a design choice, not tuned: it is
   what PubMed's AND of the words gives, and what a searcher reads a keyword query as);
1. the lexical side's share of a longer query's words, with the BM25 relevance cut (BM25 over the
   query's best possible score, for long questions), in bm25 mode;
2. the cosine cut of dense mode;
3. the learned-fusion score cut of hybrid mode, with the lexical side of step 1.

The test splits are measured afterwards with `medsearch eval --sets` (docs/quality.md).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.engine import Engine, EngineConfig  # noqa: E402
from search.eval.beir import eval_store  # noqa: E402
from search.eval.metrics import ndcg_query  # noqa: E402
from search.eval.sets import set_of, signals  # noqa: E402
from search.index.build import IndexManager  # noqa: E402
from search.results.result_set import ANY_WORD_OR_DENSE_TOP, SetRule  # noqa: E402

SPLITS = {"nfcorpus": "dev", "scifact": "train"}
ALL_UP_TO = 4  # step 0
MODES = ("bm25", "dense", "hybrid")


class Dataset:
    def __init__(self, beir: Path, name: str, split: str, cache: Path) -> None:
        folder = beir / name
        self.name = name
        qrels = load_qrels(folder, split)
        queries = {q: t for q, t in load_queries(folder).items() if q in qrels}
        with eval_store(folder, cache, progress=False) as store:
            self.engine = Engine(IndexManager(store, None).load(), EngineConfig(result_set=ANY_WORD_OR_DENSE_TOP))
        rows_of = self.engine.snapshot.rows_of()
        self.n = len(rows_of)
        self.qrels = [qrels[q] for q in queries]
        self.sigs = [signals(self.engine, t, [d for d, g in qrels[q].items() if g > 0]) for q, t in queries.items()]
        self.rankings = {m: [[(h.doc_id, rows_of[h.doc_id]) for h in self.engine.rank(t, k=100, mode=m, syntax=False).hits]
                             for t in queries.values()] for m in MODES}

    def score(self, rule: SetRule, mode: str) -> tuple[float, float]:
        """(nDCG@10 of the old ranking inside the rule's sets, mean set size)."""
        ndcgs, sizes = [], []
        for sig, judged, ranking in zip(self.sigs, self.qrels, self.rankings[mode], strict=True):
            inside = set_of(sig, rule, mode, self.n)
            sizes.append(int(inside.sum()))
            ndcgs.append(ndcg_query(judged, [d for d, r in ranking if inside[r]], 10))
        return float(np.mean(ndcgs)), float(np.mean(sizes))


def choose(data: list[Dataset], rules: list[SetRule], mode: str, tolerance: float) -> SetRule:
    base = {d.name: d.score(ANY_WORD_OR_DENSE_TOP, mode) for d in data}
    print(f"\n{mode}: " + ", ".join(f"{n} before: nDCG@10 {b[0]:.4f}, size {b[1]:.1f}" for n, b in base.items()))
    best: tuple[float, SetRule] | None = None
    for rule in rules:
        got = {d.name: d.score(rule, mode) for d in data}
        ok = all(got[n][0] >= base[n][0] - tolerance for n in got)
        size = float(np.mean([got[n][1] / max(base[n][1], 1e-9) for n in got]))
        print(f"  all<={rule.all_up_to} share={rule.share} bm25>={rule.bm25_threshold} cos>={rule.dense_threshold} "
              f"fused>={rule.fused_threshold}: "
              + "; ".join(f"{n} {g[0]:.4f} ({g[0] - base[n][0]:+.4f}), size {g[1]:.1f}" for n, g in got.items())
              + f"; relative size {size:.3f}{'' if ok else '  (loses nDCG)'}", flush=True)
        if ok and (best is None or size < best[0]):
            best = (size, rule)
    if best is None:
        def cost(got):  # the loss (to 4 decimals), then the relative size
            return (round(max(base[n][0] - g[0] for n, g in got.items()), 4),
                    float(np.mean([got[n][1] / max(base[n][1], 1e-9) for n in got])))

        (loss, _), rule = min(((cost(got), r) for r, got in
                               ((r, {d.name: d.score(r, mode) for d in data}) for r in rules)), key=lambda p: p[0])
        print(f"  no rule keeps {mode}'s nDCG@10 within {tolerance}; the one that loses least ({loss:.4f}):")
        best = (0.0, rule)
    print(f"  -> {best[1]}")
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beir", type=Path, default=Path("../shared/data/beir"))
    ap.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    ap.add_argument("--tolerance", type=float, default=0.005)
    args = ap.parse_args()
    data = [Dataset(args.beir, name, split, args.cache_dir) for name, split in SPLITS.items()]
    lexical = choose(data, [SetRule(ALL_UP_TO, s, None, None, b) for s, b in itertools.product(
        (0.4, 0.5, 0.6), (0.1, 0.15, 0.2))], "bm25", args.tolerance)
    dense = choose(data, [SetRule(dense_threshold=t, fused_threshold=None) for t in
                          (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)], "dense", args.tolerance)
    fused = choose(data, [replace(lexical, fused_threshold=t) for t in
                          (-2.5, -2.25, -2.0, -1.5, -1.0, -0.5, 0.0)], "hybrid", args.tolerance)
    print(f"\nchosen: all_up_to={lexical.all_up_to}, share={lexical.share}, bm25_threshold={lexical.bm25_threshold}, "
          f"dense_threshold={dense.dense_threshold}, fused_threshold={fused.fused_threshold}")


if __name__ == "__main__":
    main()
