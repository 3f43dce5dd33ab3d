"""Read the PMIDs out of citation files: RIS, MEDLINE/.nbib, CSL-JSON, BibTeX, or a plain
list of PMIDs (or PubMed links).

    result = read_citations("refs.ris")       # a path, a Path, bytes, or the text itself
    result.pmids                              # ("12140106", "15630012", ...) in file order, once each
    result.without_pmid                       # entries that name no PMID: their title and DOI

The format is sniffed from the content, not the file name: JSON (``[``/``{``) is
CSL-JSON; a ``TY  -`` line is RIS; a ``PMID-`` line (or another MEDLINE tag line)
is MEDLINE; ``@type{`` is BibTeX; anything else must be PMIDs separated by
spaces, commas, semicolons or lines. Where an entry keeps its PMID:

- RIS: ``AN`` when it is a number and ``DB`` (if given) is PubMed/MEDLINE; a
  "PMID: 123" in any field; a PubMed link in ``UR``/``L1``-``L4``/``LK``.
- MEDLINE: ``PMID``. CSL-JSON: ``PMID``, "PMID: 123" in ``note``, a PubMed ``URL``.
- BibTeX: ``pmid``, ``eprint`` with ``eprinttype = pubmed``, "PMID: 123" in
  ``note``/``annote``, a PubMed ``url``.

Readers: rispy (RIS), the project's MEDLINE record splitter
(``ingest.medline_text``), json, bibtexparser; the PMID-list reader is ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

from ingest.errors import SourceError
from search.library.limits import (
    MAX_IMPORT_BYTES,
    MAX_LIST_ENTRIES,
    check_file_size,
    check_json_depth,
)

FORMAT_NAMES = ("ris", "medline", "csljson", "bibtex", "pmids")

_PMID_LABEL = re.compile(r"\bPMID\s*[:=]?\s*(\d{1,9})\b", re.IGNORECASE)
_PUBMED_LINK = re.compile(
    r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/(?:entrez/query\.fcgi\?.*?list_uids=|pubmed/))(\d{1,9})\b",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b10\.\d{4,9}/\S+")
_RIS_START = re.compile(r"^TY\s{1,2}-", re.MULTILINE)
_MEDLINE_TAG = re.compile(r"^(?:PMID- ?\d|[A-Z][A-Z0-9]{1,3} {0,2}- )", re.MULTILINE)
_BIBTEX_START = re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)
_LIST_SEPARATORS = re.compile(r"[\s,;]+")
_SUFFIXES = (".ris", ".nbib", ".txt", ".json", ".bib", ".medline", ".csv", ".enw")


@dataclass(frozen=True, slots=True)
class UnmatchedEntry:
    """An entry of the file that names no PMID: where it is and what identifies it."""

    position: int  # 1-based entry number in the file
    title: str | None = None
    doi: str | None = None

    @property
    def label(self) -> str:
        """"Title (doi:10.1/x)", or "entry 3" when the entry has neither."""
        parts = [self.title or "", f"(doi:{self.doi})" if self.doi else ""]
        return " ".join(p for p in parts if p) or f"entry {self.position}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The PMIDs of a citation file, in file order, each once."""

    format: str  # one of FORMAT_NAMES
    pmids: tuple[str, ...]
    without_pmid: tuple[UnmatchedEntry, ...]
    entries: int  # entries (records, or list items) read
    duplicates: int  # PMIDs met again and dropped
    unreadable: tuple[str, ...] = ()  # entries the reader could not read ("entry at line 12: ..."), skipped


@dataclass(frozen=True, slots=True)
class _Entry:
    pmid: str | None
    title: str | None = None
    doi: str | None = None


def read_citations(source: str | Path | bytes) -> ImportResult:
    """The PMIDs in ``source``: a ``Path``; a ``str`` naming an existing file (else the
    text itself); or the file's bytes. ``SourceError`` for an unreadable file or an
    unknown format."""
    text, name = _load(source)
    fmt = sniff(text)
    if fmt is None:
        raise SourceError(
            f"{name} is empty: no citations to import.",
            hint="Export the references from your reference manager or PubMed, then import that file.",
        )
    unreadable: list[str] = []
    reader = _bibtex(text, name, unreadable) if fmt == "bibtex" else _READERS[fmt](text, name)
    entries = list(islice(reader, MAX_LIST_ENTRIES + 1))
    if len(entries) > MAX_LIST_ENTRIES:
        raise _too_many(name)
    return replace(_result(fmt, entries), unreadable=tuple(unreadable))


def _too_many(name: str) -> SourceError:
    return SourceError(f"{name} holds more than {MAX_LIST_ENTRIES:,} entries, more than a list holds.",
                       hint="Split it into smaller files; nothing was imported.")


def sniff(text: str) -> str | None:
    """The format name of ``text`` (``None`` when it holds nothing but white space)."""
    head = text.lstrip()
    if not head:
        return None
    if head[0] in "[{":
        return "csljson"
    if _RIS_START.search(text):
        return "ris"
    if _MEDLINE_TAG.match(head) and re.search(r"^PMID-", text, re.MULTILINE):
        return "medline"
    if _BIBTEX_START.match(head):
        return "bibtex"
    return "pmids"


def _load(source: str | Path | bytes) -> tuple[str, str]:
    if isinstance(source, bytes):
        if len(source) > MAX_IMPORT_BYTES:
            raise SourceError(f"The imported data is {len(source) / 2**20:,.1f} MB; at most "
                              f"{MAX_IMPORT_BYTES / 2**20:,.0f} MB are read.", hint="Split it into smaller files.")
        return _decode(source, "the imported data"), "the imported data"
    if isinstance(source, str) and not _names_a_file(source):
        return source.lstrip("\ufeff"), "the imported text"
    path = Path(source)
    check_file_size(path, MAX_IMPORT_BYTES, "The file")
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist.", hint="Check the file name and path.") from exc
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}.", hint="Check that the file is readable.") from exc
    return _decode(data, str(path)), str(path)


def _names_a_file(text: str) -> bool:
    """A one-line string that is an existing file, or looks like a file name (so that a
    typo says "does not exist" rather than "not a PMID")."""
    candidate = text.strip()
    if "\n" in candidate or not candidate or len(candidate) > 4096 or candidate[0] in "[{@":
        return False
    try:
        if Path(candidate).is_file():
            return True
    except OSError:  # a name too long for the file system: text, then
        return False
    return candidate.lower().endswith(_SUFFIXES)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{name} is not UTF-8 text (byte {exc.start}).",
            hint="Export it again as UTF-8 (reference managers offer it), or convert it: iconv -t utf-8.",
        ) from exc


def _result(fmt: str, entries: list[_Entry]) -> ImportResult:
    pmids: dict[str, None] = {}
    unmatched: list[UnmatchedEntry] = []
    duplicates = 0
    for position, entry in enumerate(entries, 1):
        if entry.pmid is None:
            unmatched.append(UnmatchedEntry(position, entry.title, entry.doi))
        elif entry.pmid in pmids:
            duplicates += 1
        else:
            pmids[entry.pmid] = None
    return ImportResult(fmt, tuple(pmids), tuple(unmatched), len(entries), duplicates)


def normal_pmid(value: object) -> str | None:
    """``value`` as a PMID ("12140106"), or ``None`` when it is not one (a positive integer
    of at most nine digits)."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or len(text) > 9 or int(text) == 0:
        return None
    return str(int(text))


def _pmid_in(texts: Iterable[object]) -> str | None:
    """The first PMID labelled "PMID: 123" or in a PubMed link among ``texts``."""
    for text in texts:
        if not isinstance(text, str):
            continue
        for pattern in (_PMID_LABEL, _PUBMED_LINK):
            m = pattern.search(text)
            if m and normal_pmid(m[1]):
                return normal_pmid(m[1])
    return None


def _doi(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    m = _DOI.search(value)
    return m[0].rstrip(".,;") if m else None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


# --------------------------------------------------------------------------- formats


def _ris(text: str, name: str) -> Iterator[_Entry]:
    import rispy

    try:
        records = rispy.loads(text.replace("\r\n", "\n").replace("\r", "\n"), skip_unknown_tags=False)
    except Exception as exc:  # rispy raises bare errors on broken files
        raise SourceError(f"{name} looks like RIS but cannot be read: {exc}",
                          hint="Export it again from your reference manager.") from exc
    for r in records:
        yield _Entry(_ris_pmid(r), _clean(r.get("title") or r.get("primary_title")), _ris_doi(r))


def _ris_values(r: dict) -> list[object]:
    values: list[object] = []
    for key, value in r.items():
        if key == "unknown_tag":
            values += [v for vs in value.values() for v in vs]
        elif isinstance(value, list):
            values += value
        else:
            values.append(value)
    return values


def _ris_pmid(r: dict) -> str | None:
    database = str(r.get("name_of_database", "")).lower()
    an = r.get("accession_number")
    if normal_pmid(an) and (not database or "pubmed" in database or "medline" in database):
        return normal_pmid(an)
    unknown = r.get("unknown_tag") or {}
    for tag in ("PM", "PMID"):
        for value in unknown.get(tag, ()):
            if normal_pmid(value):
                return normal_pmid(value)
    return _pmid_in(_ris_values(r))


def _ris_doi(r: dict) -> str | None:
    return _doi(r.get("doi")) or next((d for v in _ris_values(r) if (d := _doi(v))), None)


def _medline(text: str, name: str) -> Iterator[_Entry]:
    from ingest.medline_text import iter_raw_records

    for raw in iter_raw_records(text.splitlines()):
        tags: dict[str, list[str]] = {}
        for tag, value, _ in raw.fields:
            tags.setdefault(tag, []).append(value)
        ids = tags.get("LID", []) + tags.get("AID", [])
        doi = next((v[: -len("[doi]")].strip() for v in ids if v.endswith("[doi]")), None)
        pmid = normal_pmid((tags.get("PMID") or [""])[0])
        yield _Entry(pmid, _clean(next(iter(tags.get("TI", [])), None)), doi)


def _csljson(text: str, name: str) -> Iterator[_Entry]:
    check_json_depth(text, name)
    try:
        data = json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise SourceError(f"{name} nests JSON too deeply.", hint="Export CSL-JSON again.") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name} looks like JSON but is not valid JSON: {exc.msg} (line {exc.lineno}).",
                          hint="Export CSL-JSON again from your reference manager.") from exc
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise SourceError(f"{name} is JSON but not CSL-JSON (a list of citation objects).",
                          hint="Export the references as CSL-JSON.")
    for item in data:
        keys = {k.lower(): v for k, v in item.items()}
        pmid = normal_pmid(keys.get("pmid")) or _pmid_in([keys.get("note"), keys.get("extra"), keys.get("url")])
        yield _Entry(pmid, _clean(keys.get("title")), _doi(keys.get("doi")))


def _bibtex(text: str, name: str, unreadable: list[str] | None = None) -> Iterator[_Entry]:
    """The entries of a BibTeX file; one bibtexparser cannot read (an unbalanced brace) is named in
    ``unreadable`` with its line, never dropped unsaid."""
    import logging

    import bibtexparser

    quiet = logging.getLogger("bibtexparser")
    level, quiet.level = quiet.level, logging.ERROR + 1  # its own warning goes to the console: ours is below
    try:
        library = bibtexparser.parse_string(text)
    finally:
        quiet.setLevel(level)
    for block in library.failed_blocks:
        if unreadable is not None:
            raw = " ".join(str(getattr(block, "raw", "")).split())[:60]
            unreadable.append(f"entry at line {(block.start_line or 0) + 1} ({raw}...): not valid BibTeX "
                              "(an unbalanced brace or quote?); its PMID, if any, was not read")
    if not library.entries:
        raise SourceError(f"{name} looks like BibTeX but has no readable entry.",
                          hint="Export it again from your reference manager.")
    for entry in library.entries:
        fields = {k.lower(): _unbrace(v.value) for k, v in entry.fields_dict.items()}
        pmid = normal_pmid(fields.get("pmid"))
        if pmid is None and fields.get("eprinttype", "").lower() == "pubmed":
            pmid = normal_pmid(fields.get("eprint"))
        pmid = pmid or _pmid_in([fields.get("note"), fields.get("annote"), fields.get("url")])
        yield _Entry(pmid, _clean(fields.get("title", "").replace("{", "").replace("}", "")), _doi(fields.get("doi")))


def _unbrace(value: object) -> str:
    text = str(value).strip()
    while len(text) >= 2 and text[0] + text[-1] in ("{}", '""'):
        text = text[1:-1].strip()
    return text


def _pmid_list(text: str, name: str) -> Iterator[_Entry]:
    """Tokens separated by white space, commas or semicolons: PMIDs, "PMID:123", PubMed
    links. A first line reading "PMID" or "PMIDs" is a header and skipped."""
    lines = text.splitlines()
    if lines and lines[0].strip().lower() in ("pmid", "pmids"):
        lines = lines[1:]
    bad: list[str] = []
    entries: list[_Entry] = []
    for number, line in enumerate(lines, 1):
        line = re.sub(r"\bPMID\s*:\s*", "PMID:", line, flags=re.IGNORECASE)
        for token in _LIST_SEPARATORS.split(line.strip()):
            if not token:
                continue
            pmid = normal_pmid(token) or _pmid_in([token])
            if pmid is None:
                bad.append(f"line {number}: {token[:60]!r}")
            entries.append(_Entry(pmid))
            if len(entries) > MAX_LIST_ENTRIES:  # stop reading: a list cannot hold them
                raise _too_many(name)
    if bad:
        shown = "; ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise SourceError(
            f"{name} is not a citation file this reader knows, nor a list of PMIDs ({shown}).",
            hint="Import RIS, MEDLINE/.nbib (PubMed's 'Send to > Citation manager'), CSL-JSON, BibTeX, "
            "or PMIDs separated by spaces, commas or lines.",
        )
    return iter(entries)


_READERS = {"ris": _ris, "medline": _medline, "csljson": _csljson, "bibtex": _bibtex, "pmids": _pmid_list}
