"""Choose ``SetRule.few`` and its cut: a keyword query whose set holds fewer than ``few`` records
takes a looser learned-fusion cut (search/results/result_set.py).

    python bench/tune_few.py [--dense] nfcorpus:dev scifact:train     # choose
    python bench/tune_few.py [--dense] nfcorpus:test scifact:test     # measure once, afterwards

Over the signals `bench/result_set_signals.py` caches (every mode's ranking simulated exactly as
the engine ranks), hybrid mode (with --dense: dense mode and its cosine cut): for each ``few``
and cut, nDCG@10 against the rule before result
sets (any word, or the dense top 100) less the queries none of whose words any record holds
(they find nothing under any rule), and the mean set size. The chosen pair is the smallest sets
that keep nDCG@10 on both splits (docs/quality.md, "Keeping nDCG@10").
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import result_set_signals as rs  # noqa: E402

from search.eval.metrics import ndcg_query  # noqa: E402
from search.results.result_set import ANY_WORD_OR_DENSE_TOP, SetRule, apply_rule  # noqa: E402

BEIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir"
CACHE = Path(__file__).resolve().parents[1] / "data" / "eval"


MODE = "hybrid"


def ndcg_and_size(s: rs.Split, sets: list[np.ndarray]) -> tuple[float, float]:
    scores = []
    for q, inside in zip(s.queries, sets, strict=True):
        rows, _ = rs.ranking(q, inside, MODE)
        scores.append(ndcg_query(q.judged, [s.doc_ids[r] for r in rows[:10]], 10))
    return float(np.mean(scores)), float(np.mean([x.sum() for x in sets]))


def few_sets(s: rs.Split, few: int, cut: float) -> list[np.ndarray]:
    """The default rule's hybrid sets with ``few`` and a cut of its own (the engine's ``few``
    takes the question's cut; this varies it alone)."""
    rule = replace(SetRule(), few=0)
    lists = "cosine" if MODE == "dense" else "fused"
    out = []
    for q in s.queries:
        sig = q.sig
        if not sig.known:
            out.append(np.zeros(s.n, dtype=bool))
            continue
        rows, scores = (sig.cosine_order, sig.cosines) if lists == "cosine" else (sig.fused_order, sig.fused)
        lex, sem = apply_rule(sig.counts, sig.n_concepts, rows, scores, MODE, rule)
        inside = lex | sem
        if sig.n_concepts <= rule.all_up_to and inside.sum() < few:
            top = rule.semantic_depth
            inside[rows[:top][scores[:top] >= cut]] = True
        out.append(inside)
    return out


def main(argv: list[str]) -> None:
    global MODE
    if "--dense" in argv:
        MODE, argv = "dense", [a for a in argv if a != "--dense"]
    data = [rs.load(BEIR, name, split, CACHE) for name, split in (a.split(":") for a in argv or
                                                                   ["nfcorpus:dev", "scifact:train"])]
    base = {s.name: ndcg_and_size(s, rs.rule_sets(s, ANY_WORD_OR_DENSE_TOP, MODE)) for s in data}
    for s in data:
        now = ndcg_and_size(s, rs.rule_sets(s, replace(SetRule(), few=0), MODE))
        print(f"{s.name} {s.split}: old rule {base[s.name][0]:.4f} (set {base[s.name][1]:.1f}); "
              f"without few {now[0]:.4f} (set {now[1]:.1f})")
    for few in (3, 5, 10, 20):
        for cut in (0.1, 0.15, 0.2, 0.25) if MODE == "dense" else (-1.5, -2.0, -2.25, -2.5, -3.0):
            cells = []
            for s in data:
                got, size = ndcg_and_size(s, few_sets(s, few, cut))
                cells.append(f"{s.name} {got - base[s.name][0]:+.4f}, {size:.1f}")
            print(f"few {few:>2}, cut {cut:+.2f}: " + " | ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
