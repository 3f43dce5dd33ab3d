"""The user's library: saved queries with alerts, citation lists, backup and restore.

Everything lives in the user-data file (``search/library/userdata.py``, setting
``MEDSEARCH_LIBRARY_DB``), apart from the corpus: it survives re-ingests, deletions,
index rebuilds and corpus migrations, and a save never waits for an ingest. Every
operation opens that file for one short transaction, so the app's sessions (threads)
and CLI processes can write at the same time.

    lib = Library(settings.library_path)
    lib.saved.add("sglt2", "SGLT2 inhibitors heart failure", filters=Filters(year_from=2020))
    lib.lists.add("review", ["31452104"], note="key trial", create=True)
    with open_searcher(settings) as engine:
        outcome = run_query(lib.saved, lib.saved.get("sglt2"), engine)   # which results are new
        view = list_view(lib.lists, "review", engine)                    # missing / retracted shown
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search.library.userdata import UserData

#: Public name -> the module that defines it. Imported on first use (PEP 562), so that
#: importing one light module of this package (the CLI does, to build its parser) does
#: not load DuckDB.
_EXPORTS = {
    "Digest": "alerts", "QueryFailure": "alerts", "Searcher": "alerts", "count_new": "alerts",
    "newly_retracted": "alerts", "preview_query": "alerts", "run_all": "alerts", "run_query": "alerts",
    "CitationLists": "lists",
    "DEFAULT_K": "queries", "SavedQueries": "queries",
    "open_searcher": "searcher",
    "AddReport": "types", "AlertHit": "types", "CitationList": "types", "EntryView": "types",
    "ListEntry": "types", "ListView": "types", "QueryRun": "types", "Retraction": "types",
    "RunOutcome": "types", "SavedQuery": "types", "StoredRun": "types",
    "Records": "views", "list_view": "views", "ordered_articles": "views",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"search.library.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'search.library' has no attribute {name!r}")


class Library:
    """The saved queries and citation lists of one user-data file."""

    def __init__(self, path: str | Path, *, wait_seconds: float = 15.0) -> None:
        from search.library.lists import CitationLists
        from search.library.queries import SavedQueries
        from search.library.userdata import UserData

        self.data: UserData = UserData(path, wait_seconds=wait_seconds)
        self.saved = SavedQueries(self.data)
        self.lists = CitationLists(self.data)


__all__ = ["Library", *_EXPORTS]
