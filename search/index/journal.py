"""Finished embedding batches, kept across an interrupted index build.

Embedding is the long part of ``medsearch index`` (minutes on a laptop CPU), and a build
publishes nothing until it is whole. So each batch of vectors is written here as soon as it
is computed, keyed by the hash of the text it embeds, in a folder named for the model
(:class:`~search.retrieval.dense.DenseParams`): a rerun after Ctrl-C, a crash or a full disk
takes them from here and embeds only the rest, as the interrupt message promises. The
folder is removed once a snapshot is published.

Each batch is one ``.npz`` file (the hashes and the float32 vectors), written through a
temporary file and a rename: a batch interrupted while it was written is simply absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np

FOLDER = ".embeddings"


class EmbeddingJournal:
    """The kept batches of one model (``params``: the dense index's parameters)."""

    def __init__(self, index_dir: Path, params: object) -> None:
        key = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode()).hexdigest()[:16]  # type: ignore[call-overload]
        self.root = Path(index_dir) / FOLDER
        self.folder = self.root / key
        self._vectors: dict[str, np.ndarray] | None = None

    def vectors(self) -> dict[str, np.ndarray]:
        """Text hash -> vector of every kept batch (read once; a damaged file is skipped)."""
        if self._vectors is None:
            self._vectors = {}
            for path in sorted(self.folder.glob("*.npz")) if self.folder.is_dir() else ():
                try:
                    with np.load(path, allow_pickle=False) as batch:
                        hashes, vectors = batch["hashes"], batch["vectors"]
                except (OSError, ValueError, KeyError, EOFError):
                    continue
                self._vectors.update(zip(hashes.tolist(), vectors, strict=False))
        return self._vectors

    def record(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Keep one finished batch. A batch that cannot be written (a full disk) is only not kept."""
        if not hashes:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{uuid.uuid4().hex}.npz"
            tmp = self.folder / f".{name}.tmp"
            with open(tmp, "wb") as f:
                np.savez(f, hashes=np.asarray(hashes, dtype=str), vectors=np.asarray(vectors, dtype=np.float32))
            os.replace(tmp, self.folder / name)
        except OSError:
            for leftover in self.folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget every kept batch (of every model): the published snapshot holds them now."""
        shutil.rmtree(self.root, ignore_errors=True)
        self._vectors = None
