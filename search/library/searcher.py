"""The engine as the library uses it: searches and full records from the index snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from search.config import Settings
from search.library.alerts import Searcher


@contextmanager
def open_searcher(settings: Settings) -> Iterator[Searcher]:
    """The engine over the current index snapshot (never the store, so it works while an
    ingest runs); a block, so that callers hold it only while they need it."""
    from search.assembly import open_engine

    yield open_engine(settings)


def current_index_version(settings: Settings) -> str | None:
    """The name of the index's current snapshot, read from its folder without loading it."""
    from search.index.build import default_index_dir
    from search.index.snapshot import current_name

    return current_name(settings.index_dir or default_index_dir(settings.db))
