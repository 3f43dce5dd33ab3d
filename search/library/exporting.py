"""``medsearch export``: the records of a list (in its order) or of PMIDs, in a citation format.

The formats are ``search.export``'s; this module picks the records from the index
snapshot, reports the PMIDs it does not hold, and writes the file whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError
from search.library.files import atomic_write, check_writable
from search.library.views import Records, ordered_articles


@dataclass(frozen=True, slots=True)
class ExportResult:
    data: str | bytes
    exported: int
    missing: tuple[str, ...]  # PMIDs the index does not hold, left out (in list order)


def check_format(fmt: str) -> None:
    """:class:`ConfigError` naming the valid formats when ``fmt`` is not one."""
    from search.export import FORMATS

    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}.", hint=f"Use one of {', '.join(FORMATS)}.")


def export_papers(pmids: Sequence[str], records: Records, fmt: str, output: str | Path | None = None) -> ExportResult:
    """Export the records of ``pmids`` in that order; write ``output`` atomically when given."""
    from search.export import export

    check_format(fmt)
    if output is not None:
        check_writable(output)
    articles, missing = ordered_articles(list(pmids), records)
    data = export(articles, fmt)
    if output is not None:
        atomic_write(output, data)
    return ExportResult(data, len(articles), tuple(missing))
