"""Ranking metrics: hand-computed golden cases and pytrec_eval (trec_eval) as the oracle."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.eval.metrics import (
    evaluate,
    mrr_at_k,
    mrr_query,
    ndcg_at_k,
    ndcg_query,
    ranked,
    recall_at_k,
    recall_query,
)

QRELS = {
    "q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1},
    "q2": {"d7": 1},
    "q3": {"d9": 0},  # no relevant document: skipped
    "q4": {"d1": 1},  # absent from the run: counts as 0
}
RUN = {
    "q1": {"d1": 0.9, "d3": 0.8, "d2": 0.7, "d5": 0.6},
    "q2": {"d8": 0.5, "d7": 0.4},
    "q3": {"d9": 1.0},
}


def test_ndcg_golden() -> None:
    # q1 ranking d1 d3 d2: DCG@3 = 2/log2(2) + 0 + 1/log2(4) = 2.5
    # ideal from all judged grades [2, 1, 1]: 2 + 1/log2(3) + 1/2
    q1 = 2.5 / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_query(QRELS["q1"], ranked(RUN["q1"]), 3) == pytest.approx(q1)
    q2 = 1 / math.log2(3)
    assert ndcg_at_k(QRELS, RUN, 3) == pytest.approx((q1 + q2 + 0.0) / 3)


def test_recall_golden() -> None:
    assert recall_query(QRELS["q1"], ranked(RUN["q1"]), 3) == pytest.approx(2 / 3)
    assert recall_at_k(QRELS, RUN, 1) == pytest.approx((1 / 3 + 0 + 0) / 3)
    assert recall_at_k(QRELS, RUN, 100) == pytest.approx((2 / 3 + 1 + 0) / 3)  # d4 never retrieved


def test_mrr_golden() -> None:
    assert mrr_at_k(QRELS, RUN, 1) == pytest.approx((1 + 0 + 0) / 3)
    assert mrr_at_k(QRELS, RUN, 10) == pytest.approx((1 + 0.5 + 0) / 3)
    assert mrr_query({"x": 1}, ["a", "b"], 10) == 0.0


def test_ties_are_broken_by_doc_id_descending_like_trec_eval() -> None:
    assert ranked({"a": 1.0, "b": 1.0, "c": 2.0}) == ["c", "b", "a"]
    assert ranked({"d10": 1.0, "d9": 1.0}) == ["d9", "d10"]  # string order, as strcmp
    assert mrr_at_k({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 1.0}}, 10) == 0.5


def test_empty_inputs() -> None:
    assert ndcg_at_k({}, {}, 10) == 0.0
    assert evaluate({"q": {"d": 0}}, {"q": {"d": 1.0}}) == {
        "nDCG@10": 0.0,
        "Recall@100": 0.0,
        "MRR@10": 0.0,
    }


def test_evaluate_names_the_headline_metrics() -> None:
    result = evaluate(QRELS, RUN)
    assert set(result) == {"nDCG@10", "Recall@100", "MRR@10"}
    assert result["MRR@10"] == pytest.approx(0.5)


# -- oracle: pytrec_eval (pytrec-eval-terrier wheel, the trec_eval C code) ----------------------

DOCS = [f"d{i}" for i in range(12)]
qrels_strategy = st.dictionaries(
    st.sampled_from(["q1", "q2", "q3"]),
    st.dictionaries(st.sampled_from(DOCS), st.integers(0, 3), min_size=1, max_size=8),
    min_size=1,
)
run_strategy = st.dictionaries(
    st.sampled_from(["q1", "q2", "q3"]),
    # few distinct scores, so ties are common
    st.dictionaries(st.sampled_from(DOCS), st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=1),
)


@settings(max_examples=150, deadline=None)
@given(qrels_strategy, run_strategy, st.sampled_from([1, 3, 5, 10]))
def test_metrics_equal_pytrec_eval(qrels, run, k: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    measures = {f"ndcg_cut.{k}", f"recall.{k}", "recip_rank"}
    ours_n = {q: ndcg_query(qrels[q], ranked(run[q]), k) for q in run if q in qrels}
    oracle = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    top_k = {q: {d: run[q][d] for d in ranked(run[q])[:k]} for q in run}
    oracle_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top_k)
    for q, values in oracle.items():
        if not any(g > 0 for g in qrels[q].values()):
            continue  # we skip these queries; trec_eval reports 0 for them
        ranking = ranked(run[q])
        assert ours_n[q] == pytest.approx(values[f"ndcg_cut_{k}"], abs=1e-9)
        assert recall_query(qrels[q], ranking, k) == pytest.approx(values[f"recall_{k}"], abs=1e-9)
        assert mrr_query(qrels[q], ranking, 1000) == pytest.approx(values["recip_rank"], abs=1e-9)
        assert mrr_query(qrels[q], ranking, k) == pytest.approx(
            oracle_rr[q]["recip_rank"], abs=1e-9
        )
