"""``medsearch export``: the records of a list (in its order) or of PMIDs, in a citation format.

The formats are ``search.citations.export``'s; this module picks the records from the index
snapshot, passes the list's notes along, reports the PMIDs the index does not hold, and
writes the file whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from search.library.files import check_output, write_output
from search.library.views import Records, ordered_articles


@dataclass(frozen=True, slots=True)
class ExportResult:
    text: str
    exported: int
    missing: tuple[str, ...]  # PMIDs the index does not hold, left out (in list order)


def check_format(fmt: str) -> str:
    """The format's name as ``search.citations.export`` spells it; ``ConfigError`` naming the valid ones."""
    from search.citations.export import get_format

    return get_format(fmt).name


def export_papers(pmids: Sequence[str], records: Records, fmt: str, output: str | Path | None = None,
                  notes: Mapping[str, str] | None = None) -> ExportResult:
    """Export the records of ``pmids`` in that order (``notes`` by PMID go where the format
    has a place for them); write ``output`` (see ``search.library.files``: a regular file atomically, a device or FIFO as a stream, ``-`` to stdout), encoded as the format's files are."""
    from search.citations.export import export, get_format

    chosen = get_format(fmt)
    if output is not None:
        check_output(output)
    articles, missing = ordered_articles(list(pmids), records)
    text = export(articles, chosen.name, notes=notes)
    if output is not None:
        write_output(output, chosen.encode(text))
    return ExportResult(text, len(articles), tuple(missing))
