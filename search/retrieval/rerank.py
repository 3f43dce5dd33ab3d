"""Second-stage reranking: score (query, document) pairs with a cross-encoder.

A :class:`Reranker` takes a query and the first stage's candidates as
``(doc_id, text)`` pairs and returns one relevance score per candidate, in input
order (higher is better). Two implementations:

- :class:`CrossEncoderReranker`: sentence-transformers' ``CrossEncoder`` over any
  Hugging Face cross-encoder name or local folder (e.g.
  ``cross-encoder/ms-marco-MiniLM-L-6-v2`` where it can be loaded), torch fp32.
- :class:`OnnxReranker`: an ONNX export (int8 dynamic quantisation by
  ``python bench/train_reranker.py --export-onnx``) run with onnxruntime, the
  tokenizer read from the ``tokenizer.json`` saved beside it, or, where
  ``reranker.json`` names ``"tokenizer": "packaged:minilm"`` (the shipped model),
  the MiniLM tokenizer shipped in ``search/models/minilm``, by the pure-Python BERT
  WordPiece of :mod:`search.retrieval.wordpiece` (another kind of tokenizer.json needs
  ``tokenizers``, which the ``torch`` extra brings). No torch needed.

:func:`load_reranker` picks one by what a folder holds (``model.onnx`` ->
ONNX, otherwise the cross-encoder). Heavy libraries are imported lazily; a
missing one raises :class:`~ingest.errors.ConfigError` naming the pip command.

:func:`combine` interpolates the min-max normalised first-stage and reranker
scores: ``alpha * norm(rerank) + (1 - alpha) * norm(first)``. A reranker fused
with the first stage is usually safer than one replacing it (a weak reranker
cannot bury what BM25 found).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ingest.errors import ConfigError
from search import runtime_env
from search.config import expanded
from search.retrieval.fusion import minmax

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "reranker.json"
DEFAULT_MAX_LENGTH = 128
TORCH_HINT = "pip install 'medsearch[torch]' (torch, sentence-transformers, transformers)"
ONNX_HINT = "pip install onnxruntime (in medsearch's default install)"
#: ``reranker.json``'s ``tokenizer`` value naming the shipped MiniLM tokenizer.
PACKAGED_TOKENIZER = "packaged:minilm"

#: What a reranker reads: ``(doc_id, passage text)``.
Passage = tuple[str, str]


@runtime_checkable
class Reranker(Protocol):
    """Scores ``(doc_id, text)`` candidates for a query; one float per candidate, input order."""

    def rerank(self, query: str, docs: Sequence[Passage]) -> list[float]: ...


def passage(title: str, text: str) -> str:
    """The text a reranker reads: title, newline, abstract (``corpus.compose_text``'s dense text)."""
    return "\n".join(p for p in ((title or "").strip(), (text or "").strip()) if p)


def combine(
    first_stage_scores: Sequence[float], rerank_scores: Sequence[float], alpha: float
) -> list[float]:
    """``alpha * minmax(rerank) + (1 - alpha) * minmax(first_stage)``, element-wise.

    ``alpha = 0`` keeps the first-stage order, ``alpha = 1`` is the reranker
    alone. A list without spread normalises to all 1.0 (see ``fusion.minmax``).
    """
    if not 0.0 <= alpha <= 1.0 or math.isnan(alpha):
        raise ConfigError(
            f"The rerank weight alpha must lie in [0, 1], got {alpha}.",
            hint="0 keeps the first-stage order, 1 uses the reranker alone.",
        )
    if len(first_stage_scores) != len(rerank_scores):
        raise ValueError(
            f"combine needs one rerank score per candidate: got {len(first_stage_scores)} "
            f"first-stage and {len(rerank_scores)} rerank scores."
        )
    if not all(math.isfinite(s) for s in [*first_stage_scores, *rerank_scores]):
        raise ValueError("combine needs finite scores (no inf or NaN).")
    first, second = minmax(list(first_stage_scores)), minmax(list(rerank_scores))
    return [alpha * r + (1.0 - alpha) * f for f, r in zip(first, second, strict=True)]


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The ``reranker.json`` a trained folder carries (max_length, alpha, ...); ``{}`` if none."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def holds_onnx(folder: str | Path) -> bool:
    """True where ``folder`` holds an ONNX reranker (``model.onnx``)."""
    return (Path(folder) / ONNX_FILE).is_file()


def tokenizer_file(folder: str | Path) -> Path | None:
    """The ``tokenizer.json`` an ONNX reranker folder uses: its own, or the packaged MiniLM one
    where its ``reranker.json`` names it; None when it has neither."""
    own = Path(folder) / TOKENIZER_FILE
    if own.is_file():
        return own
    if read_meta(folder).get("tokenizer") == PACKAGED_TOKENIZER:
        from search.retrieval.encoders import PACKAGED_MINILM_DIR

        return PACKAGED_MINILM_DIR / TOKENIZER_FILE
    return None


def load_reranker(
    name_or_path: str | Path, *, max_length: int | None = None, batch_size: int = 32
) -> Reranker:
    """An :class:`OnnxReranker` if the folder holds an ONNX model, else a cross-encoder."""
    path = Path(name_or_path)
    if holds_onnx(path):
        return OnnxReranker(path, max_length=max_length, batch_size=batch_size)
    length = max_length or read_meta(path).get("max_length") or DEFAULT_MAX_LENGTH
    return CrossEncoderReranker(str(name_or_path), max_length=length, batch_size=batch_size)


def _looks_local(name: str) -> bool:
    """A filesystem path rather than a hub name (``owner/model`` or a bare ``model``)."""
    return (
        expanded(name).exists()
        or name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
    )


class CrossEncoderReranker:
    """sentence-transformers ``CrossEncoder`` (torch) over a hub name or a local folder."""

    def __init__(
        self, name_or_path: str, *, max_length: int = DEFAULT_MAX_LENGTH, batch_size: int = 32
    ) -> None:
        if _looks_local(name_or_path) and not expanded(name_or_path).exists():
            raise ConfigError(
                f"No reranker model at {name_or_path}.",
                hint="Train one with `python bench/train_reranker.py --out DIR`, or give a Hugging "
                "Face cross-encoder name such as cross-encoder/ms-marco-MiniLM-L-6-v2.",
            )
        self.name = name_or_path
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import CrossEncoder
            except ImportError as exc:
                raise ConfigError(
                    "The cross-encoder reranker needs sentence-transformers and torch.",
                    hint=TORCH_HINT,
                ) from exc
            try:
                self._model = CrossEncoder(
                    str(expanded(self.name)) if _looks_local(self.name) else self.name,
                    max_length=self.max_length,
                    device="cpu",
                )
            except OSError as exc:
                raise ConfigError(
                    f"Cannot load the cross-encoder {self.name!r}: {exc}",
                    hint="Without internet only local folders load; point the reranker at one.",
                ) from exc
        return self._model

    def rerank(self, query: str, docs: Sequence[Passage]) -> list[float]:
        """Relevance logits, one per candidate, in input order."""
        if not docs:
            return []
        model = self._load()
        pairs = [(query, text) for _, text in docs]
        import torch

        scores = model.predict(
            pairs,
            batch_size=self.batch_size,
            show_progress_bar=False,
            activation_fn=torch.nn.Identity(),
        )
        return [float(s) for s in scores]


class OnnxReranker:
    """An ONNX cross-encoder (``model.onnx`` + a ``tokenizer.json``) run with onnxruntime."""

    def __init__(
        self, folder: str | Path, *, max_length: int | None = None, batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        tokenizer = tokenizer_file(self.folder)
        for name, present in ((ONNX_FILE, holds_onnx(self.folder)), (TOKENIZER_FILE, tokenizer is not None)):
            if not present:
                raise ConfigError(
                    f"The ONNX reranker folder {self.folder} has no {name}.",
                    hint="Export one with `python bench/train_reranker.py --export-onnx --out DIR`.",
                )
        assert tokenizer is not None
        self.tokenizer_path = tokenizer
        self.max_length = max_length or read_meta(self.folder).get("max_length", DEFAULT_MAX_LENGTH)
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            runtime_env.configure()  # onnxruntime's telemetry off before it loads
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise ConfigError("The ONNX reranker needs onnxruntime.", hint=ONNX_HINT) from exc
            from search.retrieval.wordpiece import load_tokenizer

            options = ort.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            self._session = ort.InferenceSession(
                str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
            # pairs truncated longest_first to max_length, padded to the batch's longest
            self._tokenizer = load_tokenizer(self.tokenizer_path)
        return self._session, self._tokenizer

    def rerank(self, query: str, docs: Sequence[Passage]) -> list[float]:
        """Relevance logits, one per candidate, in input order."""
        if not docs:
            return []
        session, tok = self._load()
        wanted = {i.name for i in session.get_inputs()}
        scores: list[float] = []
        for start in range(0, len(docs), self.batch_size):
            batch = docs[start : start + self.batch_size]
            scores.extend(
                _run_batch(session, tok, wanted, query, [t for _, t in batch], self.max_length)
            )
        return scores


def _run_batch(
    session: Any, tok: Any, wanted: set[str], query: str, texts: list[str], max_length: int
) -> list[float]:
    """One onnxruntime call over ``(query, text)`` pairs."""
    import numpy as np

    enc = tok.encode_batch([(query, t) for t in texts], max_length)
    feeds = {"input_ids": enc.ids, "attention_mask": enc.attention_mask, "token_type_ids": enc.type_ids}
    (logits,) = session.run(None, {k: v for k, v in feeds.items() if k in wanted})
    return [float(x) for x in np.asarray(logits).reshape(len(texts), -1)[:, 0]]
