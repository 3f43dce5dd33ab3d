"""Reranker: combine() math, model-path errors, the shipped model's sanity (slow, if shipped)
and its packed weights. Training and export are tested in tests/test_train_reranker.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from search.retrieval.rerank import (
    CrossEncoderReranker,
    OnnxReranker,
    Reranker,
    combine,
    load_reranker,
    passage,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "search" / "models" / "reranker"


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
    from search.index.documents import compose_text

    assert passage(" Title ", "Abstract.") == compose_text("Title", "Abstract.") == "Title\nAbstract."
    assert passage("", "Only abstract") == "Only abstract"


# -- loading errors ---------------------------------------------------------------------------


def test_missing_local_model_path_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No reranker model at") as err:
        CrossEncoderReranker(str(tmp_path / "nowhere"))
    assert "bench/train_reranker.py" in str(err.value)
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


# -- models (slow) ----------------------------------------------------------------------------


@pytest.mark.slow
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


@pytest.mark.slow
def test_unloadable_hub_name_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="Cannot load the cross-encoder") as err:
        CrossEncoderReranker("medsearch-test/no-such-cross-encoder").rerank("q", [("a", "b")])
    assert "local folder" in str(err.value)


def test_the_reranker_ships_whole_and_reads_the_one_packaged_tokenizer() -> None:
    """The shipped reranker is one int8 model.onnx under 50 MB beside its card; it has no
    tokenizer of its own but reads the MiniLM one the embedder reads (one copy in the package)."""
    from search.retrieval.encoders import PACKAGED_MINILM_DIR
    from search.retrieval.rerank import tokenizer_file

    assert (SHIPPED / "model.onnx").stat().st_size < 50 * 1024 * 1024
    assert (SHIPPED / "MODEL_CARD.md").is_file() and not (SHIPPED / "tokenizer.json").exists()
    assert tokenizer_file(SHIPPED) == PACKAGED_MINILM_DIR / "tokenizer.json"
    tokenizers = sorted(p.relative_to(REPO) for p in (REPO / "search").rglob("tokenizer.json"))
    assert tokenizers == [(PACKAGED_MINILM_DIR / "tokenizer.json").relative_to(REPO)]


def test_an_onnx_folder_without_a_tokenizer_is_a_config_error(tmp_path) -> None:
    import shutil

    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(SHIPPED / "model.onnx", folder / "model.onnx")
    with pytest.raises(ConfigError, match="has no tokenizer.json"):
        OnnxReranker(folder)
