"""What the corpus says about listed papers: present, retracted, or missing from the index;
and their records exported in a citation format (``medsearch export``).

The records come from the engine's index snapshot (:class:`Records`, which
``search.engine.Engine`` satisfies), never from the corpus store, so a list shows while an
ingest runs. A PMID whose record is absent stays in the list and is shown as missing, and
an export names it and leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ingest.records import Article
from search.library.files import atomic_write, check_writable
from search.library.lists import CitationLists
from search.library.types import EntryView, ListView


class Records(Protocol):
    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Full records of the given ids; ids the index does not hold are absent."""
        ...


def list_view(lists: CitationLists, name: str, records: Records) -> ListView:
    lst, entries = lists.entries(name)
    found = records.articles([e.pmid for e in entries]) if entries else {}
    views = []
    for e in entries:
        article = found.get(e.pmid)
        status: Literal["ok", "retracted", "missing"] = (
            "missing" if article is None else "retracted" if article.is_retracted else "ok")
        views.append(EntryView(e, status, article))
    return ListView(lst, tuple(views))


def ordered_articles(pmids: Sequence[str], records: Records) -> tuple[list[Article], list[str]]:
    """The records of ``pmids`` in that order, and the PMIDs the index does not hold."""
    found = records.articles(list(pmids)) if pmids else {}
    return [found[p] for p in pmids if p in found], [p for p in pmids if p not in found]


@dataclass(frozen=True, slots=True)
class ExportResult:
    text: str
    exported: int
    missing: tuple[str, ...]  # PMIDs the index does not hold, left out (in list order)


def export_papers(pmids: Sequence[str], records: Records, fmt: str, output: str | Path | None = None,
                  notes: Mapping[str, str] | None = None) -> ExportResult:
    """Export the records of ``pmids`` in that order (``notes`` by PMID go where the format
    has a place for them); write ``output`` atomically, encoded as the format's files are."""
    from search.citations.export import export, get_format

    chosen = get_format(fmt)
    if output is not None:
        check_writable(output)
    articles, missing = ordered_articles(list(pmids), records)
    text = export(articles, chosen.name, notes=notes)
    if output is not None:
        atomic_write(output, chosen.encode(text))
    return ExportResult(text, len(articles), tuple(missing))
