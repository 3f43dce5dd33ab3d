"""First-stage retrieval on Milvus (``docs/scale.md``).

- :mod:`.connect`: the URI (a file path runs milvus-lite embedded; ``http(s)://`` a Milvus
  server or cluster, token from the environment) and the errors for a target that fails.
- :mod:`.collection`: the schema, building a collection from an index snapshot and
  publishing it by switching an alias.
- :mod:`.expr`: a restriction as a Milvus boolean filter expression.
- :mod:`.stage`: :class:`MilvusFirstStage`, the retriever contract over a published collection.

pymilvus and milvus-lite are the ``scale`` extra; nothing here imports them until a Milvus
backend is used (:func:`require`).
"""

from __future__ import annotations

from typing import Any

from ingest.errors import ConfigError

INSTALL_HINT = "Install the scale extra: pip install -e '.[scale]' (pymilvus, milvus-lite, ray)."


def require() -> Any:
    """The pymilvus module, or a ConfigError naming the install command."""
    try:
        import pymilvus
    except ImportError as exc:
        raise ConfigError("MEDSEARCH_BACKEND=milvus needs pymilvus and milvus-lite, which are not installed.",
                          hint=INSTALL_HINT) from exc
    return pymilvus
