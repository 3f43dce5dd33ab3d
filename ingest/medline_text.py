"""Read the MEDLINE text format into :class:`~ingest.records.Article` values.

This is what PubMed's "Send to > File (MEDLINE)" and the ``.nbib`` citation
files write: one field a line as ``TAG - value`` (the tag padded to four
characters), continuation lines indented six spaces, records separated by
blank lines. Some exporters leave the blank lines out, so a second ``PMID``
line also starts a new record.

The parser is our own rather than ``Bio.Medline``: it keeps line numbers for
:class:`~ingest.records.Problem` locations and survives missing separators.
A record without a PMID becomes a ``Problem``; it never stops the file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

from ingest.errors import SourceError
from ingest.pubmed_values import (
    INVALID_ID,
    MONTHS,
    checked_doi,
    checked_pmcid,
    is_translated_title,
    orcid,
    with_id_problems,
)
from ingest.records import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Keyword,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Problem,
    PublicationType,
)

#: MEDLINE comment/correction tags -> PubMed XML ``CommentsCorrections/@RefType``.
REF_TYPES: dict[str, str] = {
    "CIN": "CommentIn",
    "CON": "CommentOn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "CRI": "CorrectedandRepublishedIn",
    "CRF": "CorrectedandRepublishedFrom",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
    "PRIN": "PartialRetractionIn",
    "PROF": "PartialRetractionOf",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "RRI": "RetractedandRepublishedIn",
    "RRF": "RetractedandRepublishedFrom",
    "RIN": "RetractionIn",
    "ROF": "RetractionOf",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
}

#: Author-label spellings in structured abstracts -> NLM category (conservative).
NLM_CATEGORIES: dict[str, str] = {
    "BACKGROUND": "BACKGROUND",
    "INTRODUCTION": "BACKGROUND",
    "CONTEXT": "BACKGROUND",
    "OBJECTIVE": "OBJECTIVE",
    "OBJECTIVES": "OBJECTIVE",
    "AIM": "OBJECTIVE",
    "AIMS": "OBJECTIVE",
    "PURPOSE": "OBJECTIVE",
    "METHODS": "METHODS",
    "METHOD": "METHODS",
    "MATERIALS AND METHODS": "METHODS",
    "DESIGN": "METHODS",
    "RESULTS": "RESULTS",
    "FINDINGS": "RESULTS",
    "CONCLUSION": "CONCLUSIONS",
    "CONCLUSIONS": "CONCLUSIONS",
    "INTERPRETATION": "CONCLUSIONS",
}

_SEASONS = {"spring", "summer", "autumn", "fall", "winter"}
_SUFFIXES = {"Jr", "Sr", "2nd", "3rd", "4th", "II", "III", "IV", "V"}

_TAG_LINE = re.compile(r"([A-Z][A-Z0-9]{0,3}) {0,3}- ?(.*)")
_LABEL = re.compile(r"(?:^|(?<=[.?!)\]] ))([A-Z][A-Z0-9 ,&/'\-]{1,60}):\s")
_LABEL_WORD = re.compile(r"[A-Z]{3,}")
_DP_PLAIN = re.compile(r"(\d{4})(?: ([A-Za-z]{3})(?: (\d{1,2}))?)?")
_DP_LEAD = re.compile(r"(\d{4})(?: ([A-Za-z]{3})\b)?")
_REF_PMID = re.compile(r"\s*\.?\s*PMID:\s*(\d+)\s*\.?\s*$")
_ID_TYPED = re.compile(r"(.*?)\s*\[([A-Za-z-]+)\]")
_CHEMICAL = re.compile(r"(EC [0-9.n-]+|\S+) \((.*)\)")


@dataclass
class RawRecord:
    """One record's fields as read: ``(tag, value, line)`` in file order."""

    index: int  # 1-based position in the file
    line: int  # line of its first field
    fields: list[tuple[str, str, int]] = field(default_factory=list)
    stray_lines: list[int] = field(default_factory=list)

    def has(self, tag: str) -> bool:
        return any(t == tag for t, _, _ in self.fields)


def iter_medline_text(
    source: str | Path | IO[str] | IO[bytes], *, location: str | None = None
) -> Iterator[Article | Problem]:
    """Yield one ``Article`` per record of a MEDLINE text file, or a ``Problem`` for a bad one.

    ``source`` is a path or an open file (text, or binary read as UTF-8). A BOM
    and CRLF line ends are fine. ``location`` names the file in problems
    (default: the path or the file object's name).
    """
    if isinstance(source, str | Path):
        path = Path(source)
        loc = location or str(path)
        try:
            handle = path.open(encoding="utf-8-sig", newline=None)
        except OSError as exc:
            raise SourceError(f"cannot read MEDLINE file {path}: {exc.strerror}") from exc
        with handle:
            yield from _iter_handle(handle, loc)
        return
    loc = location or str(getattr(source, "name", "<stream>"))
    yield from _iter_handle(_as_text(source), loc)


def _as_text(handle: IO[str] | IO[bytes]) -> IO[str]:
    """A text view of ``handle``; binary handles are decoded as UTF-8 (BOM tolerated)."""
    if isinstance(handle, io.TextIOBase):
        return handle
    mode = getattr(handle, "mode", "")
    if isinstance(handle, io.BufferedIOBase | io.RawIOBase) or "b" in str(mode):
        return io.TextIOWrapper(cast(IO[bytes], handle), encoding="utf-8-sig", newline=None)
    return handle  # type: ignore[return-value]


def _iter_handle(handle: IO[str], loc: str) -> Iterator[Article | Problem]:
    for raw in iter_raw_records(_lines(handle, loc)):
        where = f"{loc}: record {raw.index} (line {raw.line})"
        if raw.stray_lines:
            lines = ", ".join(str(n) for n in raw.stray_lines[:5])
            yield Problem(where, f"text outside any 'TAG - value' field ignored (line {lines})")
        yield from with_id_problems([record_to_article(raw, where)], _fixed(where))


def _fixed(text: str) -> Callable[[], str]:
    """A callable that gives ``text``."""
    return lambda: text


def _lines(handle: IO[str], loc: str) -> Iterator[str]:
    """The file's lines without line ends or BOM; undecodable bytes raise ``SourceError``."""
    try:
        for number, line in enumerate(handle):
            if number == 0:
                line = line.lstrip("\ufeff")
            yield line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{loc} is not UTF-8 text (byte {exc.start}): cannot read it as MEDLINE",
            hint="re-export the file from PubMed, or convert it to UTF-8 (iconv -t utf-8)",
        ) from exc


def iter_raw_records(lines: Iterable[str]) -> Iterator[RawRecord]:
    """Group lines into records of ``(tag, value, line)`` fields, continuations joined."""
    record: RawRecord | None = None
    count = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if record is not None and (record.fields or record.stray_lines):
                yield record
                record = None
            continue
        match = _TAG_LINE.fullmatch(line) if line[:1] != " " else None
        is_tag = match is not None and len(line) >= 5 and line[4] == "-"
        if record is None or (is_tag and match and match[1] == "PMID" and record.has("PMID")):
            if record is not None:
                yield record
            count += 1
            record = RawRecord(index=count, line=number)
        if is_tag and match:
            record.fields.append((match[1], match[2].strip(), number))
        elif record.fields:
            tag, value, at = record.fields[-1]
            record.fields[-1] = (tag, f"{value} {line.strip()}".strip(), at)
        else:
            record.stray_lines.append(number)
    if record is not None and (record.fields or record.stray_lines):
        yield record


def record_to_article(raw: RawRecord, where: str) -> Article | Problem:
    """Map one raw record to an ``Article``; a missing or odd PMID gives a ``Problem``."""
    tags: dict[str, list[str]] = {}
    for tag, value, _ in raw.fields:
        tags.setdefault(tag, []).append(value)
    pmid = (tags.get("PMID") or [""])[0]
    if not pmid:
        return Problem(where, "MEDLINE record has no PMID field; skipped")
    if not pmid.isdigit():
        return Problem(where, f"MEDLINE record has a PMID that is not a number: {pmid!r}")
    fields = [(t, v) for t, v, _ in raw.fields]
    authors, orphan_affiliations = _authors(fields)
    ids = _id_fields(pmid, tags)
    invalid = ids.pop("_invalid")
    return Article(
        doc_id=pmid,
        pmid=pmid,
        **_title_fields(tags),
        **_abstract_fields(fields, tags),
        authors=authors,
        **_journal_fields(tags),
        **_date_fields(tags),
        **ids,
        languages=tuple(tags.get("LA", ())),
        publication_types=tuple(PublicationType(p) for p in tags.get("PT", ())),
        mesh_headings=tuple(parse_mesh(v) for v in tags.get("MH", ())),
        keywords=_keywords(fields),
        chemicals=tuple(parse_chemical(v) for v in tags.get("RN", ())),
        comments_corrections=tuple(
            parse_reference(REF_TYPES[t], v) for t, v in fields if t in REF_TYPES
        ),
        extra=_extra(tags, orphan_affiliations) + invalid,
    )


def _extra(tags: dict[str, list[str]], orphans: list[str]) -> tuple[tuple[str, str], ...]:
    """Leftovers under the keys ``pubmed_xml`` uses, plus AD lines with no author to go to."""
    pairs = [("medline_ta", "TA"), ("nlm_unique_id", "JID"), ("publication_status", "PST")]
    extra = [(key, value) for key, tag in pairs if (value := _first(tags, tag))]
    if orphans:
        extra.append(("affiliation", "; ".join(orphans)))
    return tuple(extra)


def _first(tags: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        for value in tags.get(name, ()):
            if value:
                return value
    return None


def _title_fields(tags: dict[str, list[str]]) -> dict[str, Any]:
    title = _first(tags, "TI") or ""
    return {
        "status": _first(tags, "STAT"),
        "title": title,
        "title_translated": is_translated_title(title),
        "vernacular_title": _first(tags, "TT", "VTI"),
    }


def _abstract_fields(
    fields: list[tuple[str, str]], tags: dict[str, list[str]]
) -> dict[str, Any]:
    text = " ".join(tags.get("AB", ()))
    return {
        "abstract": split_abstract(text),
        "other_abstracts": _other_abstracts(fields),
        "copyright": _first(tags, "CI"),
    }


def _journal_fields(tags: dict[str, list[str]]) -> dict[str, Any]:
    issn = linking = None
    for value in tags.get("IS", ()):
        number, _, kind = value.partition(" ")
        if "Linking" in kind:
            linking = linking or number
        else:
            issn = issn or number
    return {
        "journal_title": _first(tags, "JT"),
        "journal_iso": _first(tags, "TA"),
        "issn": issn,
        "issn_linking": linking,
        "volume": _first(tags, "VI"),
        "issue": _first(tags, "IP"),
        "pages": _first(tags, "PG"),
    }


def _date_fields(tags: dict[str, list[str]]) -> dict[str, Any]:
    dp = _first(tags, "DP")
    year, month, day, medline_date = parse_pub_date(dp) if dp else (None, None, None, None)
    return {
        "pub_year": year,
        "pub_month": month,
        "pub_day": day,
        "pub_date_text": dp,
        "medline_date": medline_date,
        "article_date": parse_yyyymmdd(_first(tags, "DEP")),
        "date_revised": parse_yyyymmdd(_first(tags, "LR")),
    }


def _id_fields(pmid: str, tags: dict[str, list[str]]) -> dict[str, Any]:
    ids: list[tuple[str, str]] = [("pubmed", pmid)]
    for value in [*tags.get("LID", ()), *tags.get("AID", ())]:
        match = _ID_TYPED.fullmatch(value)
        if match and match[1]:
            ids.append((match[2].lower(), match[1]))
    pmcid, bad_pmcid = checked_pmcid(_first(tags, "PMC"))
    ids += [("pmc", v) for v in tags.get("PMC", ())] + [("mid", v) for v in tags.get("MID", ())]
    ids = list(dict.fromkeys(ids))
    doi, bad_doi = checked_doi(next((v for t, v in ids if t == "doi"), None))
    return {
        "doi": doi,
        "pii": next((v for t, v in ids if t == "pii"), None),
        "pmcid": pmcid,
        "other_ids": tuple(ids),
        "_invalid": tuple((INVALID_ID, why) for why in (bad_doi, bad_pmcid) if why),
    }


@dataclass
class _AuthorDraft:
    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    suffix: str | None = None
    collective_name: str | None = None
    orcid: str | None = None
    affiliations: list[str] = field(default_factory=list)
    from_fau: bool = False  # waiting for the AU line that pairs with this FAU

    def freeze(self) -> Author:
        return Author(
            last_name=self.last_name,
            fore_name=self.fore_name,
            initials=self.initials,
            suffix=self.suffix,
            collective_name=self.collective_name,
            orcid=self.orcid,
            affiliations=tuple(self.affiliations),
        )


def _authors(fields: list[tuple[str, str]]) -> tuple[tuple[Author, ...], list[str]]:
    """Authors in order (FAU/AU pairs, AU alone, CN), with AUID and AD attached.

    AD and AUID belong to the author before them. AD lines before any author
    (older records carry one article-level AD there) go to the first author;
    with no author at all they are returned as orphans.
    """
    drafts: list[_AuthorDraft] = []
    current: _AuthorDraft | None = None
    orphans: list[str] = []
    for tag, value in fields:
        if tag == "FAU":
            current = _from_fau(value)
            drafts.append(current)
        elif tag == "AU":
            if current is not None and current.from_fau:
                _pair_au(current, value)
            else:
                current = _from_au(value)
                drafts.append(current)
        elif tag == "CN":
            current = _AuthorDraft(collective_name=value)
            drafts.append(current)
        elif tag in ("IR", "FIR"):  # investigators are not authors; keep their AD/AUID off
            current = None
        elif tag == "AUID" and current is not None:
            if "ORCID" in value.upper() and current.orcid is None:
                current.orcid = orcid(value)
        elif tag == "AD":
            (current.affiliations if current is not None else orphans).append(value)
    if drafts and orphans and not drafts[0].affiliations:
        drafts[0].affiliations, orphans = orphans, []
    return tuple(d.freeze() for d in drafts), orphans


def _from_fau(value: str) -> _AuthorDraft:
    last, sep, fore = value.partition(",")
    return _AuthorDraft(last_name=last.strip(), fore_name=fore.strip() or None, from_fau=True)


def _pair_au(draft: _AuthorDraft, value: str) -> None:
    """Take initials (and a suffix such as "Jr") from the AU line that follows a FAU."""
    draft.from_fau = False
    last = draft.last_name or ""
    rest = value[len(last):].split() if value.startswith(last) else _name_tail(value.split())
    if rest and rest[-1] in _SUFFIXES and (len(rest) > 1 or not rest[0].isupper()):
        draft.suffix = rest.pop()
        if draft.fore_name and draft.fore_name.endswith(" " + draft.suffix):
            draft.fore_name = draft.fore_name[: -len(draft.suffix) - 1]
    draft.initials = " ".join(rest) or None


def _name_tail(words: list[str]) -> list[str]:
    """The initials (and suffix) that end an AU value whose surname differs from the FAU's."""
    suffix = words[-1:] if len(words) > 2 and words[-1] in _SUFFIXES else []
    words = words[: len(words) - len(suffix)]
    initials = words[-1:] if len(words) > 1 and words[-1].isalpha() and words[-1].isupper() else []
    return initials + suffix


def _from_au(value: str) -> _AuthorDraft:
    """An author known only by the AU line: "Smith JA", "van der Berg J Jr"."""
    words = value.split()
    suffix = words.pop() if len(words) > 2 and words[-1] in _SUFFIXES else None
    if len(words) > 1 and words[-1].isalpha() and words[-1].isupper():
        return _AuthorDraft(last_name=" ".join(words[:-1]), initials=words[-1], suffix=suffix)
    return _AuthorDraft(last_name=value)


def _other_abstracts(fields: list[tuple[str, str]]) -> tuple[OtherAbstract, ...]:
    """OAB paragraphs, each with the language from the OABL line next to it."""
    items: list[list[str | None]] = []  # [text, language]
    pending: str | None = None
    for tag, value in fields:
        if tag == "OAB":
            items.append([value, pending])
            pending = None
        elif tag == "OABL":
            if items and items[-1][1] is None:
                items[-1][1] = value
            else:
                pending = value
    return tuple(
        OtherAbstract(sections=split_abstract(text or ""), language=lang) for text, lang in items
    )


def _keywords(fields: list[tuple[str, str]]) -> tuple[Keyword, ...]:
    """OT lines, each owned by the OTO line before it; a leading "*" marks a major topic."""
    owner: str | None = None
    found: list[Keyword] = []
    for tag, value in fields:
        if tag == "OTO":
            owner = value or None
        elif tag == "OT" and value.lstrip("*").strip():
            text = value.lstrip("*").strip()
            found.append(Keyword(text=text, major_topic=value.startswith("*"), owner=owner))
    return tuple(found)


def split_abstract(text: str) -> tuple[AbstractSection, ...]:
    """Split "BACKGROUND: ... METHODS: ..." into labelled sections when clearly structured.

    Clearly structured means: the text starts with an upper-case label followed
    by a colon, and at least two such labels begin sentences. Otherwise the
    abstract is one unlabelled section (or none when empty).
    """
    text = text.strip()
    if not text:
        return ()
    labels = [m for m in _LABEL.finditer(text) if _LABEL_WORD.search(m[1])]
    if len(labels) < 2 or labels[0].start() != 0:
        return (AbstractSection(text),)
    sections = []
    for match, after in zip(labels, [*labels[1:], None], strict=True):
        body = text[match.end(): after.start() if after else len(text)].strip()
        label = match[1].strip()
        sections.append(AbstractSection(body, label=label, nlm_category=NLM_CATEGORIES.get(label)))
    return tuple(sections)


def parse_mesh(value: str) -> MeshHeading:
    """"Neoplasms/*drug therapy/pathology" -> descriptor, qualifiers; "*" marks a major topic."""
    descriptor, *qualifiers = (part.strip() for part in value.split("/"))
    return MeshHeading(
        descriptor=descriptor.lstrip("*").strip(),
        major_topic=descriptor.startswith("*"),
        qualifiers=tuple(
            MeshQualifier(name=q.lstrip("*").strip(), major_topic=q.startswith("*"))
            for q in qualifiers
            if q.lstrip("*").strip()
        ),
    )


def parse_chemical(value: str) -> Chemical:
    """"9007-49-2 (DNA)" / "EC 1.1.1.1 (Alcohol Dehydrogenase)" -> ``Chemical``; "0" is no number."""
    match = _CHEMICAL.fullmatch(value)
    if not match:
        return Chemical(name=value)
    number = match[1] if match[1] != "0" else None  # "0": no number, as the XML parser has it
    return Chemical(name=match[2].strip(), registry_number=number)


def parse_reference(ref_type: str, value: str) -> CommentCorrection:
    """"Cardiovasc Res. 2010;88(3):547. PMID: 20679414" -> citation text and PMID."""
    match = _REF_PMID.search(value)
    source = value[: match.start()] if match else value
    return CommentCorrection(
        ref_type=ref_type,
        ref_source=source.strip() or None,
        pmid=match[1] if match else None,
    )


def parse_pub_date(dp: str) -> tuple[int | None, int | None, int | None, str | None]:
    """DP -> (year, month, day, medline_date).

    "2006 Mar 1" and "2010 Spring" are plain dates; anything else ("1998
    Dec-1999 Jan", "2009 Nov-Dec") is returned whole as the MedlineDate, with
    the year and month it starts with (as ``pubmed_xml`` reads a MedlineDate).
    """
    dp = dp.strip()
    plain = _DP_PLAIN.fullmatch(dp)
    if plain and (plain[2] is None or plain[2].lower() in MONTHS):
        month = MONTHS[plain[2].lower()] if plain[2] else None
        day = int(plain[3]) if plain[3] and 1 <= int(plain[3]) <= 31 else None
        return int(plain[1]), month, day, None
    parts = dp.split()
    if len(parts) == 2 and parts[0].isdigit() and parts[1].lower() in _SEASONS:
        return int(parts[0]), None, None, None
    lead = _DP_LEAD.match(dp)
    if lead:
        return int(lead[1]), MONTHS.get((lead[2] or "").lower()), None, dp
    year = re.search(r"\b(\d{4})\b", dp)
    return (int(year[1]) if year else None), None, None, dp


def parse_yyyymmdd(value: str | None) -> date | None:
    """"20060110" -> ``date(2006, 1, 10)``; anything else -> ``None``."""
    if not value or not re.fullmatch(r"\d{8}", value.strip()):
        return None
    text = value.strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
