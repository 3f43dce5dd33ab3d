"""``medsearch lists import``: the PMIDs of a citation file into a list.

``search.citations.importers`` reads the file (RIS, MEDLINE/.nbib, CSL-JSON, BibTeX or a PMID
list, recognised by content); the list gets its PMIDs in file order, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from search.library.lists import CitationLists
from search.library.types import AddReport


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    format: str  # the format the file was read as
    report: AddReport
    without_pmid: tuple[str, ...]  # "Title (doi:...)" of the entries that name no PMID
    unreadable: tuple[str, ...] = ()  # entries the reader could not read, with their line


def import_file(lists: CitationLists, name: str, path: str | Path) -> ImportOutcome:
    """Append the PMIDs of ``path`` to the list ``name`` (created if needed). The whole file
    is read and checked first: an unreadable file or unknown format changes nothing."""
    from search.citations.importers import read_citations

    result = read_citations(Path(path))
    report = lists.add(name, result.pmids, create=True)
    return ImportOutcome(result.format, report, tuple(e.label for e in result.without_pmid), result.unreadable)
