"""Train the learned-fusion model (LambdaMART, LightGBM) on the BEIR train splits.

    .venv/bin/python bench/train_ltr.py [--out search/models/ltr/model.txt]

Training queries: NFCorpus train and 80% of SciFact train (a fixed, hash-based
split); model selection and the printed comparison: NFCorpus dev and the other
20% of SciFact train. Test splits are never read. Candidates and features are
exactly what the engine computes (``search.retrieval.learned_fusion.candidate_features`` over the
BM25 and dense top 100); labels are the graded judgements, 0 for unjudged.
Uses the cached eval databases and indexes (run ``medsearch eval`` first).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.eval.beir import eval_store  # noqa: E402
from search.eval.metrics import ndcg_at_k  # noqa: E402
from search.index.build import IndexManager  # noqa: E402
from search.retrieval.learned_fusion import FEATURES, PACKAGED_LTR, candidate_features  # noqa: E402
from search.retrieval.tokenizer import Tokenizer  # noqa: E402

BEIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir"
DEPTH = 100


def _held_out(qid: str) -> bool:
    return int(hashlib.md5(qid.encode()).hexdigest(), 16) % 5 == 0


def _groups(name: str, split: str, keep) -> list[tuple[str, list[str], np.ndarray, np.ndarray, dict]]:
    store = eval_store(BEIR / name, Path("data/eval"), progress=False)
    manager = IndexManager(store)
    manager.build_or_update(progress=False)
    index = manager.load()
    tok = Tokenizer(index.lexical.tokenizer_config)
    qrels = load_qrels(BEIR / name, split)
    queries = load_queries(BEIR / name)
    out = []
    for qid, judged in qrels.items():
        if qid not in queries or not keep(qid):
            continue
        text = queries[qid]
        qvec = index.dense.query_vector(text)
        bm25 = index.lexical.search(text, DEPTH)
        dense = index.dense.search(qvec, DEPTH)
        ids, x = candidate_features(index, tok, text, qvec, bm25, dense)
        y = np.array([judged.get(d, 0) for d in ids], dtype=np.int32)
        out.append((qid, ids, x, y, judged))
    store.close()
    return out


def _ndcg(groups, scores_of) -> float:
    qrels, run = {}, {}
    for qid, ids, x, _, judged in groups:
        s = scores_of(x)
        qrels[qid] = judged
        run[qid] = {d: float(v) for d, v in zip(ids, s, strict=True)}
    return ndcg_at_k(qrels, run, 10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=PACKAGED_LTR)
    ap.add_argument("--trees", type=int, default=300)
    args = ap.parse_args()
    import lightgbm as lgb

    train = _groups("nfcorpus", "train", lambda q: True) + _groups("scifact", "train", lambda q: not _held_out(q))
    dev = {"nfcorpus:dev": _groups("nfcorpus", "dev", lambda q: True),
           "scifact:train-heldout": _groups("scifact", "train", _held_out)}
    x = np.vstack([g[2] for g in train])
    y = np.concatenate([g[3] for g in train])
    sizes = [len(g[1]) for g in train]
    model = lgb.LGBMRanker(
        objective="lambdarank", n_estimators=args.trees, learning_rate=0.05, num_leaves=15,
        min_child_samples=50, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
        label_gain=[0, 1, 3], random_state=13, n_jobs=2, verbose=-1,
    )
    model.fit(x, y, group=sizes)
    fused = FEATURES.index("fused_minmax")
    print(f"{'dev set':<24}{'min-max fusion':>16}{'learned fusion':>16}")
    better = True
    for name, groups in dev.items():
        base = _ndcg(groups, lambda m: m[:, fused])
        ltr = _ndcg(groups, model.predict)
        better &= ltr > base
        print(f"{name:<24}{base:>16.4f}{ltr:>16.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.booster_.save_model(str(args.out))
    print(f"saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB); better on every dev set: {better}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
