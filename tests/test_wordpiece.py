"""The pure-Python WordPiece tokenizer against Hugging Face ``tokenizers`` (the oracle).

Every comparison is ids, attention mask and type ids of a padded batch, element for
element, with ``tokenizers`` set up as ``OnnxEncoder`` (single texts, 256) and
``OnnxReranker`` (pairs, longest_first, 128) used it before: hand-written hard cases,
truncation of every pair of lengths, a fast BEIR subset, and (slow) every NFCorpus and
SciFact document and query and every Unicode code point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import ConfigError
from search.retrieval.encoders import PACKAGED_MINILM_DIR
from search.retrieval.rerank import passage
from search.retrieval.wordpiece import WordPiece

tokenizers = pytest.importorskip("tokenizers")

TOKENIZER = PACKAGED_MINILM_DIR / "tokenizer.json"


def _shared_data() -> Path:
    env = os.environ.get("MEDSEARCH_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


BEIR = _shared_data() / "beir"
needs_data = pytest.mark.skipif(
    not BEIR.is_dir(), reason=f"BEIR data not found at {BEIR} (set MEDSEARCH_SHARED_DATA)"
)

HARD = [
    "",
    " ",
    "   \t\n  ",
    "\n",
    "Héllo Wörld, CAFÉ crème brûlée; naïve Ångström façade",
    "ﬁnancial ﬂow Ⅻ ① ㎏ ½",  # compatibility characters (NFD keeps them)
    "北京大学 的研究 Noguchi 野口里佳 かなカナ 한국어 㐀 𠀀 豈",
    "emoji 😀👍🏽 🧬 ❤️ 👨‍👩‍👧 flags 🇫🇷",
    "control\x00chars\x01 here\x7f and\x0b\x0c vt ff \x1c\x1d\x1e\x1f \x85 nel",
    "bom\ufeff zw\u200bsp\u200c\u200d replacement \ufffd private \ue000\U000f0000 x",
    "nbsp\xa0thin\u2009ideographic\u3000space line\u2028para\u2029end",
    "a" * 101,
    "b" * 100,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "Greek: α-synuclein, β-blockers, γδ T cells, ΣΑΣ ΟΔΟΣ κόσμος, μg/mL, Δψ",
    "n=2,545 participants (95% CI: 1.2–3.4; p<0.001) ≥ ≤ ± × ÷ → ← °C",
    "https://www.ncbi.nlm.nih.gov/pubmed/?term=covid-19&sort=date#results e-mail: a.b@c.org",
    "IL-6/STAT3 TNF-α NF-κB CD4+CD25+ Foxp3+ mRNA-1273 SARS-CoV-2 H₂O Ca²⁺ 10⁻⁶",
    "quotes “double” ‘single’ «guillemets» „low“ — em – en ‐ hyphen … ellipsis · middot",
    "special [CLS] tokens [SEP] inside [PAD] text [UNK] and [MASK]x[cls] [ CLS ]",
    "İstanbul DŽUNGLA ǅ Σ ΣΣ σς ß ẞ ﬀ ŉ",
    "Thai ภาษาไทย Hindi हिन्दी Arabic العربية Hebrew עברית Russian Русский",
    "\u0301\u0302 leading combining marks a\u0301\u0327 e\u0308\u0304",
    "tab\tseparated\tvalues\r\nwindows line",
    "x" * 5000,
    " ".join(["word"] * 600),
    "ĳ ǆ ǉ ǌ ǳ Ǆ Ǉ Ǌ Ǳ",
    "\u0340\u0341\u0343\u0344 \u0f73\u0f75\u0f81 \u2126 \u212a \u212b",
]


@pytest.fixture(scope="module")
def ours() -> WordPiece:
    return WordPiece(TOKENIZER)


def _oracle(max_length: int, *, pairs: bool) -> object:
    tok = tokenizers.Tokenizer.from_file(str(TOKENIZER))
    if pairs:  # as OnnxReranker set it up
        tok.enable_truncation(max_length, strategy="longest_first")
        tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    else:  # as OnnxEncoder set it up
        tok.enable_truncation(max_length=max_length)
        tok.enable_padding()
    return tok


def _compare(ours: WordPiece, inputs: list, max_length: int, batch: int = 64) -> int:
    """Encode ``inputs`` by batches with both tokenizers; assert equality; count compared."""
    ref = _oracle(max_length, pairs=not isinstance(inputs[0], str))
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        expected = ref.encode_batch(chunk)
        got = ours.encode_batch(chunk, max_length)
        for name, attr in (("ids", "ids"), ("attention_mask", "attention_mask"), ("type_ids", "type_ids")):
            want = np.array([getattr(e, attr) for e in expected], dtype=np.int64)
            have = getattr(got, name)
            assert have.dtype == np.int64
            if not np.array_equal(have, want):
                for i, (h, w) in enumerate(zip(have.tolist(), want.tolist(), strict=False)):
                    assert h == w, f"{name} differ for {chunk[i]!r}"
                assert have.shape == want.shape, f"{name}: shape {have.shape} != {want.shape}"
    return len(inputs)


def test_hard_cases_single(ours: WordPiece) -> None:
    for text in HARD:  # one by one: the padding width is each text's own
        _compare(ours, [text], 256)
    _compare(ours, HARD, 256)
    _compare(ours, HARD, 16)


def test_hard_cases_pairs(ours: WordPiece) -> None:
    pairs = [(a, b) for a in HARD for b in HARD[:8]] + [(b, a) for a in HARD for b in HARD[:8]]
    _compare(ours, pairs, 128)
    _compare(ours, pairs, 7)


def test_pair_truncation_every_length(ours: WordPiece) -> None:
    """longest_first for every pair of lengths 0..24 at odd and even limits (ties included)."""
    words = [" ".join(["cell"] * n) for n in range(25)]
    pairs = [(a, b) for a in words for b in words]
    for limit in (3, 4, 5, 10, 11, 20, 128):
        _compare(ours, pairs, limit, batch=len(pairs))


def test_single_truncation_every_length(ours: WordPiece) -> None:
    texts = [" ".join(["tumor"] * n) for n in range(30)]
    for limit in (2, 3, 10, 256):
        _compare(ours, texts, limit, batch=len(texts))


def test_too_small_limit_raises(ours: WordPiece) -> None:
    with pytest.raises(ValueError):
        ours.encode_batch([("a", "b")], 2)


def test_empty_batch(ours: WordPiece) -> None:
    got = ours.encode_batch([], 128)
    assert got.ids.shape == (0, 0) and got.ids.dtype == np.int64


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("model", {"type": "BPE", "vocab": {}, "merges": []}),
        ("normalizer", {"type": "NFKC"}),
        ("pre_tokenizer", {"type": "ByteLevel"}),
    ],
)
def test_refuses_other_tokenizers(tmp_path: Path, section: str, value: dict) -> None:
    spec = json.loads(TOKENIZER.read_text(encoding="utf-8"))
    spec[section] = value
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        WordPiece(path)
    assert "torch" in err.value.hint and "tokenizers" in err.value.hint


def _beir(name: str) -> tuple[list[str], list[str]]:
    docs, queries = [], []
    with (BEIR / name / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            docs.append(passage(row.get("title", ""), row.get("text", "")))
    with (BEIR / name / "queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            queries.append(json.loads(line)["text"])
    return docs, queries


def _pairs(docs: list[str], queries: list[str]) -> list[tuple[str, str]]:
    """Every document with a query and every query with a document (round robin)."""
    n = max(len(docs), len(queries))
    return [(queries[i % len(queries)], docs[i % len(docs)]) for i in range(n)]


@needs_data
@pytest.mark.parametrize("name", ["nfcorpus", "scifact"])
def test_beir_subset(ours: WordPiece, name: str) -> None:
    docs, queries = _beir(name)
    docs, queries = docs[::40], queries[::40]
    _compare(ours, docs + queries, 256)
    _compare(ours, _pairs(docs, queries), 128)


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("name", ["nfcorpus", "scifact"])
def test_beir_every_document_and_query(ours: WordPiece, name: str) -> None:
    docs, queries = _beir(name)
    assert _compare(ours, docs + queries, 256) == len(docs) + len(queries)
    assert _compare(ours, _pairs(docs, queries), 128) == max(len(docs), len(queries))


@pytest.mark.slow
def test_every_code_point(ours: WordPiece) -> None:
    """Each code point alone, inside a word and after a capital, without special tokens."""
    ref = tokenizers.Tokenizer.from_file(str(TOKENIZER))
    ref.no_padding()  # the file itself asks for padding to 128 and truncation
    ref.no_truncation()
    texts = [
        f"a{chr(c)}b {chr(c)} Z{chr(c)}"
        for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF
    ]
    for start in range(0, len(texts), 4096):
        chunk = texts[start : start + 4096]
        for text, enc in zip(chunk, ref.encode_batch(chunk, add_special_tokens=False), strict=True):
            assert ours.tokenize(text) == enc.ids, f"U+{ord(text[1]):04X}"


def _bpe_file(tmp_path: Path) -> Path:
    """A real non-WordPiece tokenizer.json (BPE), written by tokenizers itself."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.BPE(vocab={"[PAD]": 0, "a": 1, "b": 2, "ab": 3}, merges=[("a", "b")]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_other_tokenizers_go_through_tokenizers(tmp_path: Path) -> None:
    from search.retrieval.wordpiece import HFTokenizer, load_tokenizer

    assert isinstance(load_tokenizer(TOKENIZER), WordPiece)
    bpe = load_tokenizer(_bpe_file(tmp_path))
    assert isinstance(bpe, HFTokenizer)
    got = bpe.encode_batch(["ab a b", "b"], 8)
    assert got.ids.tolist() == [[3, 1, 2], [2, 0, 0]]
    assert got.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    # the adapter agrees with WordPiece on the BERT file (same batch interface)
    hf = HFTokenizer(TOKENIZER)
    for inputs, limit in ((HARD, 256), ([(a, b) for a in HARD[:10] for b in HARD[10:20]], 128)):
        want, have = hf.encode_batch(inputs, limit), WordPiece(TOKENIZER).encode_batch(inputs, limit)
        for name in ("ids", "attention_mask", "type_ids"):
            assert np.array_equal(getattr(want, name), getattr(have, name))


def test_other_tokenizers_without_tokenizers_name_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from search.retrieval.wordpiece import load_tokenizer

    path = _bpe_file(tmp_path)
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers -> ImportError
    with pytest.raises(ConfigError) as err:
        load_tokenizer(path)
    assert "BPE" in str(err.value) and "medsearch[torch]" in err.value.hint
    assert isinstance(load_tokenizer(TOKENIZER), WordPiece)


@pytest.mark.slow
def test_packaged_embedder_and_reranker_run_without_tokenizers() -> None:
    """The default install has no tokenizers: both packaged ONNX models load and run."""
    code = (
        "import sys; sys.modules['tokenizers'] = None\n"
        "from search.retrieval.encoders import load_embedder\n"
        "from search.retrieval.rerank import load_reranker, passage\n"
        "from search.retrieval.encoders import PACKAGED_MINILM_DIR\n"
        "v = load_embedder(backend='onnx').encode(['Metformin and breast cancer risk.'])\n"
        "assert v.shape == (1, 384)\n"
        "r = load_reranker(PACKAGED_MINILM_DIR.parent / 'reranker')\n"
        "s = r.rerank('vitamin D fractures', [('a', passage('Vitamin D', 'hip fractures')),"
        " ('b', passage('Sleep', 'phones'))])\n"
        "assert len(s) == 2 and s[0] > s[1], s\n"
        "print('ok')\n"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
