"""Choose the result-set rule (search/results/result_set.py) on the BEIR train/dev splits.

    python bench/tune_result_set.py [--beir ../shared/data/beir] [--cache-dir data/eval]
                                    [--tolerance 0.0005] [--rerank] [--test]

For NFCorpus dev and SciFact train (the eval caches that `medsearch eval` builds), every query's
signals are computed once and cached (bench/result_set_signals.py): the concepts each record holds,
the BM25 relevance list, the dense top 1,000 with cosines, the learned-fusion scores of the BM25 and
dense top 100 (the hybrid ranking itself). A rule's nDCG@10 is then each mode's ranking simulated
exactly as the engine ranks with that set (the list with the records outside the set left out, the
rest of the set after it; checked against `medsearch eval --sets` on the test splits). With
--rerank, rerank mode too: the packaged cross-encoder scores the head of each query whose head the
rule changes (slow on a CPU: about 10 pairs a second on a busy two-core machine).

nDCG@10 is compared with the rule before result sets were defined (any word, or the dense top
100) *less the queries none of whose words any record holds*: "nothing matches nothing" is a
criterion of its own (issue 20), and those queries lose what the dense top 100 gave them under any
rule (NFCorpus dev: 0.0081, test: 0.0013; SciFact: none). Both differences are printed.

The rule is chosen part by part, each the one with the smallest result sets (mean size relative to
the old rule's, averaged over the two sets) whose nDCG@10 stays within --tolerance on both sets
(where none does, the one that loses least):

0. a keyword query of up to 4 content words needs all of them (a design choice, not tuned: it is
   what PubMed's AND of the words gives, and what a searcher reads a keyword query as);
1. the lexical side's share of a longer query's words, with the BM25 relevance cut (BM25 over the
   query's best possible score, for long questions), in bm25 mode;
2. the cosine cut of dense mode: printed, chosen by hand (0.25: 0.2 keeps nDCG@10 within 0.0005
   with sets 1.6 times as large; MiniLM's cosine is a weak relevance signal);
3. the learned-fusion cut of a keyword query in hybrid mode: printed for every value, chosen by
   hand (-1.0: looser cuts keep NFCorpus's nDCG@10 but fill `asthma` on the demo records with
   airway papers that never mention asthma; docs/quality.md);
4. the learned-fusion cut of a longer question (more than 4 concepts), judged on those queries.

--test prints the chosen rule on the test splits afterwards (measure them once).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import result_set_signals as rs  # noqa: E402

from search.eval.metrics import ndcg_query  # noqa: E402
from search.results.result_set import SetRule  # noqa: E402

SPLITS = {"nfcorpus": "dev", "scifact": "train"}
TEST = {"nfcorpus": "test", "scifact": "test"}
ALL_UP_TO = 4  # step 0
BASE = SetRule(all_up_to=ALL_UP_TO)


def known_only(s: rs.Split) -> list[np.ndarray]:
    """The old rule's ranking (every candidate), less the queries no record has a word of."""
    return [np.full(s.n, q.sig.known) for q in s.queries]


def sets_of(s: rs.Split, rule: SetRule, mode: str) -> list[np.ndarray]:
    return rs.rule_sets(s, rule, mode)


def rerank_ndcg(s: rs.Split, sets: list[np.ndarray], base: list[np.ndarray]) -> float:
    """Rerank nDCG@10 of ``sets`` minus that of ``base`` (only the queries whose head differs are
    scored by the cross-encoder: the others rank alike)."""
    changed = [i for i, q in enumerate(s.queries)
               if rs.ranking(q, sets[i], "hybrid")[0][:rs.RERANK_DEPTH] != rs.ranking(q, base[i], "hybrid")[0][:rs.RERANK_DEPTH]]
    rs.fill_ce(s, {i: sorted(set(rs.ranking(s.queries[i], sets[i], "hybrid")[0][:rs.RERANK_DEPTH])
                          | set(rs.ranking(s.queries[i], base[i], "hybrid")[0][:rs.RERANK_DEPTH])) for i in changed},
               BEIR_CACHE[0], BEIR_CACHE[1])
    delta = 0.0
    for i in changed:
        q = s.queries[i]
        for sign, inside in ((1, sets[i]), (-1, base[i])):
            rows, scores = rs.ranking(q, inside, "hybrid")
            delta += sign * ndcg_query(q.judged, [s.doc_ids[r] for r in rs.reranked(q, rows, scores, s.alpha)[:10]], 10)
    return delta / len(s.queries)


BEIR_CACHE: list[Path] = []


def choose(data: list[rs.Split], rules: list[SetRule], mode: str, tolerance: float,
           only: Callable[[rs.Query], bool] | None = None) -> SetRule:
    """The rule with the smallest sets within ``tolerance`` (``only``: judged on those queries)."""
    def score(s: rs.Split, sets: list[np.ndarray]) -> rs.Scores:
        if only is None:
            return rs.evaluate(s, sets, mode)
        keep = [i for i, q in enumerate(s.queries) if only(q)]
        sub = rs.Split(s.name, s.split, s.doc_ids, [s.queries[i] for i in keep], s.alpha)
        return rs.evaluate(sub, [sets[i] for i in keep], mode)

    base = {d.name: score(d, known_only(d)) for d in data}
    before = {d.name: score(d, rs.everything(d)) for d in data}
    print(f"\n{mode}{' (those queries)' if only else ''}: " + ", ".join(
        f"{n}: nDCG@10 before {before[n].ndcg:.4f}, less the queries no record has a word of {b.ndcg:.4f}"
        for n, b in base.items()))
    best: tuple[float, SetRule] | None = None
    least: tuple[tuple[float, float], SetRule] | None = None
    for rule in rules:
        got = {d.name: score(d, sets_of(d, rule, mode)) for d in data}
        ok = all(got[n].ndcg >= base[n].ndcg - tolerance for n in got)
        size = float(np.mean([got[n].size / max(before[n].size, 1e-9) for n in got]))
        print(f"  all<={rule.all_up_to} share={rule.share} bm25>={rule.bm25_threshold} cos>={rule.dense_threshold} "
              f"fused>={rule.fused_threshold} question fused>={rule.question_fused_threshold}: "
              + "; ".join(f"{n} {g.ndcg:.4f} ({g.ndcg - base[n].ndcg:+.4f}), size {g.size:.1f}, recall {g.recall:.3f}"
                          for n, g in got.items())
              + f"; relative size {size:.3f}{'' if ok else '  (loses nDCG)'}", flush=True)
        if ok and (best is None or size < best[0]):
            best = (size, rule)
        cost = (round(max(base[n].ndcg - g.ndcg for n, g in got.items()), 4), size)
        if least is None or cost < least[0]:
            least = (cost, rule)
    if best is None:
        assert least is not None
        print(f"  no rule keeps {mode}'s nDCG@10 within {tolerance}; the one that loses least ({least[0][0]:.4f}):")
        best = (0.0, least[1])
    print(f"  -> {best[1]}")
    return best[1]


def report(data: list[rs.Split], rule: SetRule, rerank: bool) -> None:
    print(f"\n{rule}")
    for s in data:
        every, known = rs.everything(s), known_only(s)
        for mode in ("bm25", "dense", "hybrid"):
            sets = sets_of(s, rule, mode)
            b, k, g = (rs.evaluate(s, x, mode) for x in (every, known, sets))
            print(f"  {s.name} {s.split} {mode:6s}: nDCG@10 before {b.ndcg:.4f} -> {g.ndcg:.4f} ({g.ndcg - b.ndcg:+.4f}; "
                  f"{g.ndcg - k.ndcg:+.4f} on the queries with a known word), size {g.size:.1f}, recall {g.recall:.3f}, "
                  f"precision {g.precision:.3f}, empty {g.empty:.1%}", flush=True)
        if rerank:
            sets = sets_of(s, rule, "hybrid")
            print(f"  {s.name} {s.split} rerank: {rerank_ndcg(s, sets, known):+.4f} on the queries with a "
                  f"known word", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beir", type=Path, default=Path("../shared/data/beir"))
    ap.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    ap.add_argument("--tolerance", type=float, default=0.0005)
    ap.add_argument("--rerank", action="store_true", help="also rerank mode (the cross-encoder: slow)")
    ap.add_argument("--test", action="store_true", help="then measure the chosen rule on the test splits")
    args = ap.parse_args()
    BEIR_CACHE[:] = [args.beir, args.cache_dir]
    data = [rs.load(args.beir, name, split, args.cache_dir) for name, split in SPLITS.items()]
    lexical = choose(data, [replace(BASE, share=s, bm25_threshold=b, dense_threshold=None, fused_threshold=None)
                            for s, b in itertools.product((0.4, 0.5, 0.6), (0.1, 0.15, 0.2))], "bm25", args.tolerance)
    dense = choose(data, [replace(BASE, dense_threshold=t, fused_threshold=None) for t in
                          (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)], "dense", args.tolerance)
    keyword = choose(data, [replace(lexical, fused_threshold=t, question_fused_threshold=None) for t in
                            (-2.5, -2.25, -2.0, -1.5, -1.0, -0.5, 0.0)], "hybrid", args.tolerance)
    print("  (chosen by hand: -1.0; see the module doc)")
    keyword = replace(keyword, fused_threshold=-1.0)
    question = choose(data, [replace(keyword, question_fused_threshold=t) for t in
                             (-3.0, -2.5, -2.25, -2.0, -1.75, -1.5, -1.25, -1.0)], "hybrid", args.tolerance,
                      only=lambda q: q.sig.n_concepts > ALL_UP_TO)
    print(f"  (dense: {dense.dense_threshold} keeps nDCG@10; chosen by hand: 0.25, sets 40 % smaller; see the module doc)")
    chosen = replace(question, dense_threshold=0.25)
    print(f"\nchosen: all_up_to={chosen.all_up_to}, share={chosen.share}, bm25_threshold={chosen.bm25_threshold}, "
          f"dense_threshold={chosen.dense_threshold}, fused_threshold={chosen.fused_threshold}, "
          f"question_fused_threshold={chosen.question_fused_threshold}")
    report(data, chosen, args.rerank)
    if args.test:
        report([rs.load(args.beir, name, split, args.cache_dir) for name, split in TEST.items()], chosen, args.rerank)


if __name__ == "__main__":
    main()
