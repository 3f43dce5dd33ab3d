"""Turn parsed records into column-oriented Arrow tables, one per store table.

Pure functions, no SQL: ``store`` registers these tables with DuckDB and
inserts them in one statement each, which is what makes bulk ingest fast
(row-by-row ``executemany`` is two orders of magnitude slower in DuckDB).

Each record carries its hash (:func:`record_hash`), a digest of a canonical text of
its values, by which the store recognises an unchanged record, and the earliest and
latest year it gives (:func:`record_years`), by which year filters find it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from ingest.records import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Deletion,
    Item,
    Keyword,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Problem,
    PublicationType,
)

_STR = pa.string()
_STR_LIST = pa.list_(pa.string())
_QUALIFIERS = pa.list_(
    pa.struct([("name", pa.string()), ("ui", pa.string()), ("major_topic", pa.bool_())])
)

ARTICLE_SCHEMA = pa.schema(
    [
        ("doc_id", _STR), ("source", _STR), ("pmid", _STR), ("pmid_version", pa.int32()),
        ("status", _STR), ("record_type", _STR), ("title", _STR),
        ("title_translated", pa.bool_()), ("vernacular_title", _STR), ("abstract", _STR),
        ("has_abstract", pa.bool_()), ("copyright", _STR), ("journal_title", _STR),
        ("journal_iso", _STR), ("issn", _STR), ("issn_linking", _STR), ("volume", _STR),
        ("issue", _STR), ("pages", _STR), ("pub_year", pa.int32()), ("pub_month", pa.int32()),
        ("pub_day", pa.int32()), ("pub_date_text", _STR), ("medline_date", _STR),
        ("article_date", pa.date32()), ("date_revised", pa.date32()), ("doi", _STR),
        ("pmcid", _STR), ("pii", _STR), ("languages", _STR_LIST),
        ("publication_types", _STR_LIST), ("mesh_terms", _STR_LIST), ("keywords", _STR_LIST),
        ("book_title", _STR), ("publisher", _STR), ("extra", _STR),
        ("is_retracted", pa.bool_()), ("earliest_year", pa.int32()), ("latest_year", pa.int32()),
        ("record_hash", _STR), ("record_hash_version", pa.int32()),
    ]
)  # ingest_run_id and ingested_at are set by the store when it writes the batch

CHILD_SCHEMAS: dict[str, pa.Schema] = {
    "abstract_sections": pa.schema(
        [("doc_id", _STR), ("abstract_index", pa.int32()), ("position", pa.int32()),
         ("label", _STR), ("nlm_category", _STR), ("text", _STR), ("other_type", _STR),
         ("other_language", _STR), ("text_start", pa.int32()), ("text_length", pa.int32())]
    ),
    "authors": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("last_name", _STR), ("fore_name", _STR),
         ("initials", _STR), ("suffix", _STR), ("collective_name", _STR), ("orcid", _STR),
         ("affiliations", _STR_LIST), ("equal_contrib", pa.bool_())]
    ),
    "mesh_headings": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("descriptor", _STR),
         ("descriptor_ui", _STR), ("major_topic", pa.bool_()), ("qualifiers", _QUALIFIERS)]
    ),
    "publication_types": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("name", _STR), ("ui", _STR)]
    ),
    "article_ids": pa.schema([("doc_id", _STR), ("id_type", _STR), ("value", _STR)]),
    "keywords": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("keyword", _STR),
         ("major_topic", pa.bool_()), ("owner", _STR)]
    ),
    "chemicals": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("name", _STR), ("ui", _STR),
         ("registry_number", _STR)]
    ),
    "comments_corrections": pa.schema(
        [("doc_id", _STR), ("position", pa.int32()), ("ref_type", _STR), ("ref_source", _STR),
         ("ref_pmid", _STR)]
    ),
}


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch reduced to one action per record and laid out as Arrow tables.

    Pure data (it pickles cheaply), so a worker process can parse and prepare
    while the main process writes the previous batch. ``keys`` is aligned with
    the rows of ``tables["articles"]``: (doc_id, pmid_version, date_revised, record_hash).
    """

    keys: list[tuple[str, int, date | None, str]]
    deletions: list[str]
    problems: list[Problem]
    seen: int
    tables: dict[str, pa.Table]


def version_key(version: int | None, revised: date | None) -> tuple[int, date]:
    return (version or 1, revised or date.min)


def collapse(items: Iterable[Item]) -> tuple[dict[str, Article | Deletion], int, list[Problem]]:
    """Reduce a batch to one final action per doc_id, in document order.

    A later deletion wins over an earlier record; between two records of the
    same id the newer (version, revision) wins, the later one on a tie.
    """
    final: dict[str, Article | Deletion] = {}
    problems: list[Problem] = []
    seen = 0
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        seen += 1
        prev = final.get(item.doc_id)
        if (
            isinstance(item, Article)
            and isinstance(prev, Article)
            and version_key(item.pmid_version, item.date_revised)
            < version_key(prev.pmid_version, prev.date_revised)
        ):
            continue
        final.pop(item.doc_id, None)
        final[item.doc_id] = item
    return final, seen, problems


def _article_row(a: Article) -> tuple:
    """One ``articles`` row in ``ARTICLE_SCHEMA`` order, without the trailing record hash and version."""
    return (
        a.doc_id, a.source, a.pmid, a.pmid_version, a.status, a.record_type, a.title,
        a.title_translated, a.vernacular_title, a.abstract_text or None, a.has_abstract,
        a.copyright, a.journal_title, a.journal_iso, a.issn, a.issn_linking, a.volume, a.issue,
        a.pages, a.pub_year, a.pub_month, a.pub_day, a.pub_date_text, a.medline_date,
        a.article_date, a.date_revised, a.doi, a.pmcid, a.pii, list(a.languages),
        [p.name for p in a.publication_types], [m.descriptor for m in a.mesh_headings],
        [k.text for k in a.keywords], a.book_title, a.publisher,
        json.dumps(dict(a.extra), ensure_ascii=False) if a.extra else None,
        a.is_retracted, *record_years(a),
    )


#: Four digits standing alone: the years of a MedlineDate ("1998 Dec-1999 Jan"). ASCII word
#: boundaries, as DuckDB's regular expressions have them (migration 0004 fills old rows so).
_YEAR = re.compile(r"\b\d{4}\b", re.ASCII)


def record_years(a: Article) -> tuple[int | None, int | None]:
    """The earliest and the latest year the record gives: its PubDate year, its ArticleDate
    (electronic publication) year, the years of its MedlineDate; (None, None) when none.

    ``pub_year`` alone misses an epub-ahead-of-print record in the year it went online
    (ArticleDate 2019, issue 2020) or when it has no PubDate year; the two columns
    ``earliest_year`` and ``latest_year`` give the span of years it belongs to.
    """
    years = [y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y is not None]
    if a.medline_date:
        years.extend(int(y) for y in _YEAR.findall(a.medline_date))
    return (min(years), max(years)) if years else (None, None)


def _child_rows(a: Article) -> tuple[list[tuple], ...]:
    """Rows of every child table, in ``CHILD_SCHEMAS`` order."""
    d = a.doc_id
    return (
        _section_rows(a),
        [(d, i, x.last_name, x.fore_name, x.initials, x.suffix, x.collective_name, x.orcid,
          list(x.affiliations), x.equal_contrib) for i, x in enumerate(a.authors)],
        [(d, i, m.descriptor, m.descriptor_ui, m.major_topic,
          [(q.name, q.ui, q.major_topic) for q in m.qualifiers]) for i, m in enumerate(a.mesh_headings)],
        [(d, i, p.name, p.ui) for i, p in enumerate(a.publication_types)],
        [(d, t, v) for t, v in a.other_ids],
        [(d, i, k.text, k.major_topic, k.owner) for i, k in enumerate(a.keywords)],
        [(d, i, c.name, c.ui, c.registry_number) for i, c in enumerate(a.chemicals)],
        [(d, i, c.ref_type, c.ref_source, c.pmid) for i, c in enumerate(a.comments_corrections)],
    )


def _stored_sections(rows: list[tuple]) -> list[tuple]:
    """Section rows as stored. Those of the abstract itself give where their text lies in
    ``articles.abstract`` (``text_start``, ``text_length``) instead of repeating it; that
    text is ``Article.abstract_text``, the sections joined as "LABEL: text" lines."""
    out = []
    pos = -1  # where the abstract text ends so far (-1: nothing yet)
    for row in rows:
        text, label = row[5], row[3]
        if row[1] != 0 or not text:
            out.append((*row, None, None))
            continue
        pos += 1 + (len(label) + 2 if label else 0)  # the newline, "LABEL: "
        out.append((*row[:5], None, *row[6:], pos, len(text)))
        pos += len(text)
    return out


def _from_columns(columns: Sequence[Sequence], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def _to_table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    return _from_columns(list(zip(*rows, strict=True)) if rows else [()] * len(schema), schema)


#: The record hash written with new rows (``articles.record_hash_version``). Version 1, in
#: stores written before migration 0004, was SHA-256 of a pickle of the rows; the store
#: compares such a record by recomputing its version-2 hash from its rows.
HASH_VERSION = 2

_FIELDS = Article._fields
_DEFAULTS = tuple(Article._field_defaults.get(name, object()) for name in _FIELDS)


def _parts(parts: tuple) -> list:
    return [(type(p).__name__, *p) for p in parts]


def _other_abstracts(others: tuple[OtherAbstract, ...]) -> list:
    return [("OtherAbstract", _parts(o.sections), o.type, o.language) for o in others]


def _mesh_headings(headings: tuple[MeshHeading, ...]) -> list:
    return [("MeshHeading", m.descriptor, m.descriptor_ui, m.major_topic, _parts(m.qualifiers))
            for m in headings]


#: How a field whose value is not plain JSON is written; every other field is written as it is.
_CANONICAL: dict[str, Callable[[Any], object]] = {  # each takes its field's value
    "abstract": _parts, "other_abstracts": _other_abstracts, "authors": _parts,
    "publication_types": _parts, "mesh_headings": _mesh_headings, "keywords": _parts,
    "chemicals": _parts, "comments_corrections": _parts,
    "article_date": date.isoformat, "date_revised": date.isoformat,
}
_ENCODER = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":"), check_circular=False)


def canonical_text(a: Article) -> str:
    """The record's values as one canonical JSON text, what :func:`record_hash` digests.

    A JSON object: ``"@": "Article"`` and every field whose value differs from the field's
    default (so a new field with a default leaves existing hashes as they are), keys
    sorted, no spaces, non-ASCII characters escaped (``\\u00e9``). A record part is an
    array of its kind and its values in the order ``ingest.records`` declares them
    (``["Author","Smith","John","J",null,null,null,["Univ"],false]``), parts within parts
    likewise; a date is ``"YYYY-MM-DD"``; other tuples are arrays. Nothing depends on how
    Python lays out objects in memory or pickles them.
    """
    value: dict[str, object] = {
        name: v for name, v, default in zip(_FIELDS, a, _DEFAULTS, strict=True) if v != default
    }
    value["@"] = "Article"
    for name in _CANONICAL.keys() & value.keys():
        value[name] = _CANONICAL[name](value[name])
    return _ENCODER.encode(value)


def record_hash(a: Article) -> str:
    """The first 128 bits of SHA-256 of :func:`canonical_text`, as 32 hex digits."""
    return hashlib.sha256(canonical_text(a).encode("ascii")).hexdigest()[:32]


def prepare_batch(items: Iterable[Item]) -> PreparedBatch:
    """Collapse ``items`` and lay the surviving records out as Arrow tables, with their hashes.

    The record hash (:func:`record_hash`) is a digest of every value of the record, so
    an unchanged record is recognised without a field-by-field compare.

    The tables hold what :func:`_article_row`, :func:`_child_rows` and
    :func:`_stored_sections` give record by record, built a column at a time (the
    record's fields transposed in one step) instead: it takes half the time.
    """
    final, seen, problems = collapse(items)
    deletions: list[str] = []
    arts: list[Article] = []
    for doc_id, item in final.items():
        if isinstance(item, Deletion):
            deletions.append(doc_id)
        else:
            arts.append(item)
    digests = [record_hash(a) for a in arts]
    keys = list(zip([a.doc_id for a in arts], [a.pmid_version for a in arts],
                    [a.date_revised for a in arts], digests, strict=True))
    tables = {"articles": _articles_table(arts, digests)}
    tables.update(_child_tables(arts))
    return PreparedBatch(keys, deletions, problems, seen, tables)


_F = {name: i for i, name in enumerate(_FIELDS)}
#: ``articles`` columns that hold an ``Article`` field as it is.
_DIRECT = {name: _F[name] for name in ARTICLE_SCHEMA.names if name in _F and name not in (
    "abstract", "languages", "publication_types", "mesh_headings", "keywords", "extra")}
#: ``extra`` as :func:`_article_row` writes it (``json.dumps(..., ensure_ascii=False)``), one encoder for all.
_EXTRA = json.JSONEncoder(ensure_ascii=False).encode


def _articles_table(arts: list[Article], digests: list[str]) -> pa.Table:
    """The ``articles`` rows of ``arts`` (as :func:`_article_row`, plus hash and version)."""
    if not arts:
        return _to_table([], ARTICLE_SCHEMA)
    fields = list(zip(*arts, strict=True))
    years = [record_years(a) for a in arts]
    computed: dict[str, Sequence] = {
        "abstract": [a.abstract_text or None for a in arts],
        "has_abstract": [a.has_abstract for a in arts],
        "languages": fields[_F["languages"]],
        "publication_types": [[p.name for p in ps] for ps in fields[_F["publication_types"]]],
        "mesh_terms": [[m.descriptor for m in ms] for ms in fields[_F["mesh_headings"]]],
        "keywords": [[k.text for k in ks] for ks in fields[_F["keywords"]]],
        "extra": [_EXTRA(dict(e)) if e else None for e in fields[_F["extra"]]],
        "is_retracted": [a.is_retracted for a in arts],
        "earliest_year": [y[0] for y in years],
        "latest_year": [y[1] for y in years],
        "record_hash": digests,
        "record_hash_version": [HASH_VERSION] * len(arts),
    }
    columns = [
        computed[f.name] if f.name in computed else fields[_DIRECT[f.name]] for f in ARTICLE_SCHEMA
    ]
    return _from_columns(columns, ARTICLE_SCHEMA)


def _part_columns(arts: list[Article], field: int) -> tuple[list[str], list[int], list[tuple]]:
    """The doc ids, positions and values (transposed: one tuple per value) of one kind of
    part of every record, in record order."""
    doc_ids: list[str] = []
    positions: list[int] = []
    parts: list[tuple] = []
    for a in arts:
        these: tuple = a[field]  # type: ignore[assignment]  # a tuple-valued field, by its index
        if these:
            n = len(these)
            doc_ids += [a[0]] * n
            positions += range(n)
            parts += these
    return doc_ids, positions, list(zip(*parts, strict=True))


def _child_tables(arts: list[Article]) -> dict[str, pa.Table]:
    """Every child table of ``arts`` (as :func:`_child_rows` and :func:`_stored_sections`)."""
    tables: dict[str, pa.Table] = {}
    tables["abstract_sections"] = _to_table(
        [r for a in arts if a.abstract or a.other_abstracts for r in _stored_sections(_section_rows(a))],
        CHILD_SCHEMAS["abstract_sections"],
    )
    d, i, v = _part_columns(arts, _F["authors"])
    if v:  # last_name, fore_name, initials, suffix, collective_name, orcid, affiliations, equal_contrib
        tables["authors"] = _from_columns([d, i, *v], CHILD_SCHEMAS["authors"])
    d, i, v = _part_columns(arts, _F["mesh_headings"])
    if v:  # descriptor, descriptor_ui, major_topic, qualifiers
        tables["mesh_headings"] = _from_columns([d, i, *v], CHILD_SCHEMAS["mesh_headings"])
    d, i, v = _part_columns(arts, _F["publication_types"])
    if v:
        tables["publication_types"] = _from_columns([d, i, *v], CHILD_SCHEMAS["publication_types"])
    d, _, v = _part_columns(arts, _F["other_ids"])
    if v:
        tables["article_ids"] = _from_columns([d, *v], CHILD_SCHEMAS["article_ids"])
    for name in ("keywords", "chemicals", "comments_corrections"):
        d, i, v = _part_columns(arts, _F[name])
        if v:
            tables[name] = _from_columns([d, i, *v], CHILD_SCHEMAS[name])
    return {name: tables[name] if name in tables else _to_table([], schema) for name, schema in CHILD_SCHEMAS.items()}


def _section_rows(a: Article) -> list[tuple]:
    """The ``abstract_sections`` rows of :func:`_child_rows`, before :func:`_stored_sections`."""
    d = a.doc_id
    sections: list[tuple] = [(d, 0, i, s.label, s.nlm_category, s.text, None, None) for i, s in enumerate(a.abstract)]
    for n, other in enumerate(a.other_abstracts, start=1):
        sections += [
            (d, n, i, s.label, s.nlm_category, s.text, other.type, other.language)
            for i, s in enumerate(other.sections)
        ]
    return sections


def merge_prepared(batches: Sequence[PreparedBatch]) -> list[PreparedBatch]:
    """Consecutive batches joined into as few as can be written as one.

    Batches join while their records (and deletions) are disjoint; a record in
    two batches starts a new group, so the later one is still applied after
    the earlier one.
    """
    groups: list[list[PreparedBatch]] = []
    seen_ids: set[str] = set()
    for batch in batches:
        ids = {k[0] for k in batch.keys}.union(batch.deletions)
        if not groups or not seen_ids.isdisjoint(ids):
            groups.append([])
            seen_ids = set()
        groups[-1].append(batch)
        seen_ids |= ids
    return [_join(g) for g in groups]


def _join(group: list[PreparedBatch]) -> PreparedBatch:
    if len(group) == 1:
        return group[0]
    return PreparedBatch(
        keys=[k for b in group for k in b.keys],
        deletions=[d for b in group for d in b.deletions],
        problems=[p for b in group for p in b.problems],
        seen=sum(b.seen for b in group),
        tables={name: pa.concat_tables([b.tables[name] for b in group]) for name in group[0].tables},
    )


def _sections(rows: list[dict]) -> tuple[AbstractSection, ...]:
    return tuple(AbstractSection(r["text"], r["label"], r["nlm_category"]) for r in rows)


def article_from_rows(row: dict, children: dict[str, list[dict]]) -> Article:
    """The inverse of :func:`prepare_batch` for one record: ``articles`` row + child rows -> Article.

    ``children`` maps each child table to the record's rows as dicts (``abstract_sections``
    with their text, as the view ``abstract_section_texts`` gives it), in stored order.
    """
    secs = sorted(children["abstract_sections"], key=lambda r: (r["abstract_index"], r["position"]))
    others: dict[int, list[dict]] = {}
    for r in secs:
        if r["abstract_index"] > 0:
            others.setdefault(r["abstract_index"], []).append(r)
    return Article(
        doc_id=row["doc_id"], source=row["source"], pmid=row["pmid"],
        pmid_version=row["pmid_version"], status=row["status"], record_type=row["record_type"],
        title=row["title"], title_translated=row["title_translated"],
        vernacular_title=row["vernacular_title"],
        abstract=_sections([r for r in secs if r["abstract_index"] == 0]),
        other_abstracts=tuple(
            OtherAbstract(_sections(rs), rs[0]["other_type"], rs[0]["other_language"])
            for _, rs in sorted(others.items())
        ),
        copyright=row["copyright"],
        authors=tuple(
            Author(r["last_name"], r["fore_name"], r["initials"], r["suffix"], r["collective_name"],
                   r["orcid"], tuple(r["affiliations"] or ()), r["equal_contrib"])
            for r in children["authors"]
        ),
        journal_title=row["journal_title"], journal_iso=row["journal_iso"], issn=row["issn"],
        issn_linking=row["issn_linking"], volume=row["volume"], issue=row["issue"],
        pages=row["pages"], pub_year=row["pub_year"], pub_month=row["pub_month"],
        pub_day=row["pub_day"], pub_date_text=row["pub_date_text"],
        medline_date=row["medline_date"], article_date=row["article_date"],
        date_revised=row["date_revised"], doi=row["doi"], pmcid=row["pmcid"], pii=row["pii"],
        other_ids=tuple((r["id_type"], r["value"]) for r in children["article_ids"]),
        languages=tuple(row["languages"] or ()),
        publication_types=tuple(PublicationType(r["name"], r["ui"]) for r in children["publication_types"]),
        mesh_headings=tuple(
            MeshHeading(r["descriptor"], r["descriptor_ui"], r["major_topic"],
                        tuple(MeshQualifier(q["name"], q["ui"], q["major_topic"]) for q in r["qualifiers"] or ()))
            for r in children["mesh_headings"]
        ),
        keywords=tuple(Keyword(r["keyword"], r["major_topic"], r["owner"]) for r in children["keywords"]),
        chemicals=tuple(Chemical(r["name"], r["ui"], r["registry_number"]) for r in children["chemicals"]),
        comments_corrections=tuple(
            CommentCorrection(r["ref_type"], r["ref_source"], r["ref_pmid"])
            for r in children["comments_corrections"]
        ),
        book_title=row["book_title"], publisher=row["publisher"],
        extra=tuple(json.loads(row["extra"]).items()) if row["extra"] else (),
    )
