"""Choose the result-set rule (search/results/result_set.py) on the BEIR train/dev splits.

    python bench/tune_result_set.py [--beir ../shared/data/beir] [--cache-dir data/eval]

For NFCorpus dev and SciFact train (the eval caches that `medsearch eval` builds), every query's
signals are computed once (concepts held per record, the dense top 1,000); then a grid of rules
(all words up to N, the share of a longer query's words, the cosine cut) is scored in hybrid mode
by mean set recall, mean set size and mean F2 per query (recall weighted four times precision: a
searcher misses a relevant paper more than an extra one). The rule with the best F2 averaged over
the two sets is printed last; the engine's default is set from it by hand.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.engine import Engine, EngineConfig  # noqa: E402
from search.eval.beir import eval_store  # noqa: E402
from search.eval.sets import set_of, signals  # noqa: E402
from search.index.build import IndexManager  # noqa: E402
from search.results.result_set import ANY_WORD_OR_DENSE_TOP, STRICT_AND, SetRule  # noqa: E402

SPLITS = {"nfcorpus": "dev", "scifact": "train"}


def load(beir: Path, name: str, split: str, cache: Path):
    folder = beir / name
    qrels = load_qrels(folder, split)
    queries = {q: t for q, t in load_queries(folder).items() if q in qrels}
    with eval_store(folder, cache, progress=False) as store:
        engine = Engine(IndexManager(store, None).load(), EngineConfig())
    sigs = [signals(engine, text, [d for d, g in qrels[q].items() if g > 0]) for q, text in queries.items()]
    return len(engine.snapshot.doc_ids), sigs


def score(n: int, sigs, rule: SetRule, mode: str = "hybrid") -> tuple[float, float, float]:
    recall, size, f2 = [], [], []
    for sg in sigs:
        s = set_of(sg, rule, mode, n)
        k = int(s.sum())
        hit = int(s[sg.relevant].sum()) if len(sg.relevant) else 0
        r = hit / len(sg.relevant) if len(sg.relevant) else 0.0
        p = hit / k if k else 0.0
        recall.append(r)
        size.append(k)
        f2.append(5 * p * r / (4 * p + r) if p + r else 0.0)
    return float(np.mean(recall)), float(np.mean(size)), float(np.mean(f2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beir", type=Path, default=Path("../shared/data/beir"))
    ap.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    args = ap.parse_args()
    data = {name: load(args.beir, name, split, args.cache_dir) for name, split in SPLITS.items()}
    print(f"{'rule':<44}" + "".join(f"{n + ' R / size / F2':>34}" for n in data) + f"{'mean F2':>10}")
    grid = [SetRule(a, s, t) for a, s, t in itertools.product(
        (1, 2, 3, 4), (0.3, 0.4, 0.5, 0.6, 0.75), (None, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7))]
    rows = []
    for name, rule in [("before", ANY_WORD_OR_DENSE_TOP), ("strict-and", STRICT_AND)] + [(None, r) for r in grid]:
        got = {d: score(n, sigs, rule) for d, (n, sigs) in data.items()}
        mean_f2 = float(np.mean([g[2] for g in got.values()]))
        label = name or f"all<={rule.all_up_to} share={rule.share} cos>={rule.dense_threshold}"
        rows.append((mean_f2, label, got))
        print(f"{label:<44}" + "".join(f"{g[0]:>14.3f} {g[1]:>9.1f} {g[2]:>8.4f}" for g in got.values())
              + f"{mean_f2:>10.4f}", flush=True)
    best = max(r for r in rows if not r[1].startswith(("before", "strict")))
    print(f"\nbest by mean F2: {best[1]} ({best[0]:.4f})")


if __name__ == "__main__":
    main()
