"""Learned fusion: a LambdaMART model (LightGBM) over cheap features of the fused candidates.

PubMed's own Best Match ranks with LambdaMART over cheap features; this is the same
idea at our scale. For every candidate of a query (the union of the BM25 and dense
top-N) it computes :data:`FEATURES` (exact BM25 and dense scores, their ranks and
min-max normalisations, the equal-weight fusion, title overlap, lengths) and scores
them with a model trained on the BEIR *train* splits (``bench/train_ltr.py``;
dev splits for model selection, test never). Costs a few milliseconds per query.

The model is a LightGBM text dump (``search/models/ltr/model.txt``); LightGBM is
imported lazily.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import ConfigError
from search import runtime_env
from search.retrieval.tokenizer import Tokenizer

PACKAGED_LTR = Path(__file__).resolve().parents[1] / "models" / "ltr" / "model.txt"
FEATURES = (
    "bm25", "bm25_recip_rank", "bm25_minmax", "dense", "dense_recip_rank", "dense_minmax",
    "fused_minmax", "title_overlap", "title_len", "abstract_len", "query_len", "in_both",
)  # fmt: skip


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return np.ones_like(values) if hi == lo else (values - lo) / (hi - lo)


def _recip(ranks: dict[str, int], ids: Sequence[str]) -> np.ndarray:
    return np.array([1.0 / math.log2(ranks[d] + 1) if d in ranks else 0.0 for d in ids], dtype=np.float32)


def features(
    query_tokens: Sequence[str],
    ids: Sequence[str],
    bm25: np.ndarray,
    dense: np.ndarray,
    bm25_ranks: dict[str, int],
    dense_ranks: dict[str, int],
    texts: dict[str, tuple[str, str]],
    tokenize: Tokenizer,
) -> np.ndarray:
    """The feature matrix (one row per candidate, columns in :data:`FEATURES` order)."""
    q = set(query_tokens)
    bm, dn = _minmax(bm25), _minmax(dense)
    rows = []
    for d in ids:
        title, abstract = texts.get(d, ("", ""))
        title_tokens = set(tokenize(title))
        rows.append((
            len(q & title_tokens) / max(len(q), 1), math.log1p(len(title)), math.log1p(len(abstract)),
            float(d in bm25_ranks and d in dense_ranks),
        ))
    extra = np.array(rows, dtype=np.float32).reshape(len(ids), 4)
    return np.column_stack([
        bm25, _recip(bm25_ranks, ids), bm, dense, _recip(dense_ranks, ids), dn, 0.5 * bm + 0.5 * dn,
        extra[:, 0], extra[:, 1], extra[:, 2], np.full(len(ids), math.log1p(len(q)), dtype=np.float32),
        extra[:, 3],
    ]).astype(np.float32)


def candidate_features(
    snapshot: Any, tokenize: Tokenizer, query: str, qvec: np.ndarray,
    bm25: Sequence[tuple[str, float]], dense: Sequence[tuple[str, float]], stage: Any = None,
) -> tuple[list[str], np.ndarray]:
    """Candidates (union of both lists, BM25's first) and their features, with exact scores of
    both retrievers for every candidate (one missing from a list still gets its score).
    ``snapshot`` is a loaded index snapshot (``search.index.snapshot.Snapshot``); ``stage`` the
    first stage that scores (``search/retrieval/contract.py``; None: the snapshot's own indexes)."""
    ids = list(dict.fromkeys([d for d, _ in bm25] + [d for d, _ in dense]))
    if not ids:
        return [], np.zeros((0, len(FEATURES)), dtype=np.float32)
    if stage is None:
        rows_of = snapshot.rows_of()
        rows = np.array([rows_of[d] for d in ids])
        bm = np.asarray(snapshot.lexical.scores(query), dtype=np.float32)[rows]
        dn = np.asarray(snapshot.dense.scores(qvec, rows), dtype=np.float32)
    else:
        from search.retrieval.contract import TextQuery

        bm = np.asarray(stage.text_scores(TextQuery(query, tuple(tokenize(query))), ids), dtype=np.float32)
        dn = np.asarray(stage.vector_scores(qvec, ids), dtype=np.float32)
    b_ranks = {d: r for r, (d, _) in enumerate(bm25, start=1)}
    d_ranks = {d: r for r, (d, _) in enumerate(dense, start=1)}
    texts = snapshot.records.texts(ids)
    matrix = features(tokenize(query), ids, bm, dn, b_ranks, d_ranks, texts, tokenize)
    return ids, matrix


class LearnedFusion:
    """Scores fused candidates with a LightGBM ranking model.

    The model file is checked when the object is made (present, LightGBM installed, as many
    features as :data:`FEATURES`: read from the file's ``max_feature_idx`` line); LightGBM
    itself, which imports scikit-learn, SciPy and pandas (over a second of start-up), loads on
    the first :meth:`score`, so a BM25 or dense search never pays for it."""

    def __init__(self, model_path: str | Path = PACKAGED_LTR) -> None:
        if importlib.util.find_spec("lightgbm") is None:
            raise ConfigError("Learned fusion needs LightGBM.", hint="pip install lightgbm==4.7.0")
        path = Path(model_path)
        if not path.is_file():
            raise ConfigError(f"No learned-fusion model at {path}.", hint="Train one with bench/train_ltr.py, or use fusion 'weighted'.")
        features = _feature_count(path)
        if features != len(FEATURES):
            raise ConfigError(
                f"The model at {path} expects {features} features, this code makes {len(FEATURES)}.",
                hint="Retrain it with bench/train_ltr.py.",
            )
        self.path = path
        self._booster: Any = None
        self._lock = threading.Lock()

    @property
    def booster(self) -> Any:
        if self._booster is None:
            with self._lock:
                if self._booster is None:
                    runtime_env.configure()  # OpenMP's wait policy, before LightGBM loads OpenMP
                    import lightgbm

                    self._booster = lightgbm.Booster(model_file=str(self.path))
        return self._booster

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float64)


def _feature_count(path: Path) -> int | None:
    """The features a LightGBM text model expects (``max_feature_idx`` + 1), read from its header."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("max_feature_idx="):
                return int(line.split("=", 1)[1]) + 1
            if line.startswith("Tree="):
                break
    return None
