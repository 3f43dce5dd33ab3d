"""Fusion: golden cases computed by hand, ties, empty inputs, the max == min guard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import ConfigError
from search.retrieval.fusion import FusedHit, minmax, rrf, weighted_fusion, zscore

A = [("a", 12.0), ("b", 9.0), ("c", 3.0)]  # e.g. BM25
B = [("b", 0.9), ("d", 0.5)]  # e.g. dense cosine


def ids(hits: list[FusedHit]) -> list[str]:
    return [h.doc_id for h in hits]


def test_rrf_golden() -> None:
    hits = rrf([A, B])
    assert ids(hits) == ["b", "a", "d", "c"]
    expected = {"b": 1 / 62 + 1 / 61, "a": 1 / 61, "d": 1 / 62, "c": 1 / 63}
    assert {h.doc_id: h.score for h in hits} == pytest.approx(expected, abs=1e-15)
    assert hits[0] == FusedHit("b", pytest.approx(expected["b"]), (2, 1), (9.0, 0.9))
    assert hits[3].ranks == (3, None) and hits[3].scores == (3.0, None)  # only in one list


def test_rrf_k_and_weights() -> None:
    hits = rrf([[("x", 5), ("y", 4)], [("z", 1)]], k=0, weights=[2, 1])
    # x: 2/1 = 2; y: 2/2 = 1; z: 1/1 = 1 -> y and z tie; z has the better best rank (1 < 2)
    assert [(h.doc_id, h.score) for h in hits] == [("x", 2.0), ("z", 1.0), ("y", 1.0)]


def test_rrf_ties_fall_back_to_doc_id() -> None:
    assert ids(rrf([[("y", 1.0)], [("x", 1.0)]])) == ["x", "y"]  # both 1/61, both rank 1
    assert ids(rrf([[("p", 2), ("q", 1)], [("q", 2), ("p", 1)]])) == ["p", "q"]


def test_rrf_repeated_doc_counts_at_first_position() -> None:
    hits = rrf([[("a", 3.0), ("b", 2.0), ("a", 1.0)]])
    assert [(h.doc_id, h.ranks, h.scores) for h in hits] == [
        ("a", (1,), (3.0,)),
        ("b", (2,), (2.0,)),
    ]


def test_empty_inputs() -> None:
    assert rrf([]) == [] and weighted_fusion([]) == []
    assert rrf([[], []]) == [] and weighted_fusion([[], []], normalization="zscore") == []
    hits = rrf([[], [("a", 1.0)]])
    assert hits == [FusedHit("a", 1 / 61, (None, 1), (None, 1.0))]


def test_weighted_minmax_golden() -> None:
    hits = weighted_fusion([A, B], weights=[0.7, 0.3])
    # A: a=1, b=(9-3)/9=2/3, c=0.  B: b=1, d=0.  Absent -> 0.
    expected = {"a": 0.7, "b": 0.7 * 2 / 3 + 0.3, "c": 0.0, "d": 0.0}
    assert {h.doc_id: h.score for h in hits} == pytest.approx(expected)
    assert ids(hits) == ["b", "a", "d", "c"]  # d and c tie at 0: d's best rank is 2, c's is 3
    assert hits[0].ranks == (2, 1) and hits[0].scores == (9.0, 0.9)


def test_weighted_max_equals_min_is_guarded() -> None:
    hits = weighted_fusion([[("a", 3.0), ("b", 3.0)], [("c", 7.0)]])
    assert [(h.doc_id, h.score) for h in hits] == [("a", 1.0), ("c", 1.0), ("b", 1.0)]


def test_weighted_zscore_golden() -> None:
    hits = weighted_fusion(
        [[("a", 3.0), ("b", 1.0)], [("c", 5.0), ("a", 5.0)]], normalization="zscore"
    )
    # list 1: mean 2, std 1 -> a=+1, b=-1, absent c gets the floor -1.
    # list 2: std 0 -> c=a=0, absent b gets 0.
    assert [(h.doc_id, h.score) for h in hits] == [("a", 1.0), ("c", -1.0), ("b", -1.0)]


def test_normalisers() -> None:
    assert minmax([]) == [] and zscore([]) == []
    assert minmax([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert minmax([5.0]) == [1.0] and minmax([2.0, 2.0]) == [1.0, 1.0]
    assert zscore([1.0, 3.0]) == [-1.0, 1.0] and zscore([4.0, 4.0]) == [0.0, 0.0]


def test_bad_parameters_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="2 fusion weights for 1 ranked lists"):
        rrf([A], weights=[1, 2])
    with pytest.raises(ConfigError, match="finite and >= 0"):
        weighted_fusion([A], weights=[-1])
    with pytest.raises(ConfigError, match="k must be >= 0"):
        rrf([A], k=-1)
    with pytest.raises(ConfigError, match="Unknown score normalisation"):
        weighted_fusion([A], normalization="l2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite scores"):
        weighted_fusion([[("a", float("nan"))]])


rankings = st.lists(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(-10, 10)), max_size=8), max_size=4
)


@given(rankings, st.sampled_from(["rrf", "minmax", "zscore"]))
def test_fusion_properties(lists: list[list[tuple[str, float]]], how: str) -> None:
    hits = rrf(lists) if how == "rrf" else weighted_fusion(lists, normalization=how)  # type: ignore[arg-type]
    assert sorted(ids(hits)) == sorted({d for ranking in lists for d, _ in ranking})
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        assert len(h.ranks) == len(lists) and any(r is not None for r in h.ranks)



def test_learned_fusion_checks_its_model_at_once_and_loads_lightgbm_on_first_use(tmp_path):
    """LightGBM imports scikit-learn, SciPy and pandas (over a second): a BM25 search must not
    pay for it. The model file's feature count is still checked when the engine is made."""
    import subprocess
    import sys

    from search.retrieval.learned_fusion import PACKAGED_LTR, LearnedFusion

    code = ("import sys\nfrom search.retrieval.learned_fusion import FEATURES, LearnedFusion\nimport numpy\n"
            "f = LearnedFusion()\nprint('lightgbm' in sys.modules)\nf.score(numpy.zeros((2, len(FEATURES))))\n"
            "print('lightgbm' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]
    other = tmp_path / "ltr.txt"
    other.write_text(PACKAGED_LTR.read_text().replace("max_feature_idx=11", "max_feature_idx=4"))
    with pytest.raises(ConfigError, match="expects 5 features"):
        LearnedFusion(other)
