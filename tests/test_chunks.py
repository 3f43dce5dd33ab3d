"""Parallel parsing reads what streaming reads: ``split_pubmed_xml`` + ``parse_chunk``
against ``iter_pubmed_xml`` (the oracle) on real files and on every kind of damage."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from ingest import pubmed_chunks, pubmed_xml, sources
from ingest.pubmed_chunks import parse_chunk, split_pubmed_xml
from ingest.pubmed_xml import iter_pubmed_xml
from ingest.records import Article, Item, Problem
from tests.test_pubmed_xml import (
    PUBMED,
    PUBMED_GLOBS,
    _corrupt_three,
    _real_records,
    doc,
    needs_data,
    record,
)

SIZES = (1, 2, 3, 1000)


def chunked(path: Path, size: int) -> list[Item]:
    return [item for chunk in split_pubmed_xml(path, size) for item in parse_chunk(chunk)]


def assert_same(path: Path, size: int) -> None:
    """Records and deletions in the same order; the same Problems, each in its chunk's place.

    A problem of the whole file (junk between records, a cut) comes at the end of
    the chunk that holds it instead of at the end of the file.
    """
    want = list(iter_pubmed_xml(path))
    got = chunked(path, size)
    assert [i for i in got if not isinstance(i, Problem)] == [
        i for i in want if not isinstance(i, Problem)
    ], (path, size)
    assert sorted(map(repr, (i for i in got if isinstance(i, Problem)))) == sorted(
        map(repr, (i for i in want if isinstance(i, Problem)))
    ), (path, size)


def real_files() -> list[Path]:
    """The real files that are PubMed XML, as ingest recognises them."""
    files = sorted({p for pattern in PUBMED_GLOBS for p in PUBMED.glob(pattern)})
    return [p for p in files if sources.sniff(p)[0] == sources.PUBMED_XML]


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("size", SIZES)
def test_every_real_file_reads_the_same_in_chunks(size: int, monkeypatch) -> None:
    monkeypatch.setattr(pubmed_xml, "_READ_BLOCK", 4096)  # start tags cut by block boundaries
    files = real_files()
    assert len(files) > 20
    for path in files:
        assert_same(path, size)


def _write(tmp_path: Path, name: str, data: bytes, *, gz: bool) -> Path:
    path = tmp_path / (name + (".xml.gz" if gz else ".xml"))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


DELETES = '<DeleteCitation><PMID Version="1">11</PMID><PMID Version="1">12</PMID></DeleteCitation>\n'
NESTED = record("8").replace("</MedlineCitation>", "</MedlineCitation>" + record("9"))
def with_refs(pmid: str, refs: str) -> str:
    return record(pmid).replace("</MedlineCitation>", f"</MedlineCitation><PubmedData>{refs}</PubmedData>")


REFS = "<ReferenceList>\n<Reference><Citation>A &amp; B. 2001.</Citation></Reference>\n</ReferenceList>"
NESTED_REFS = "<ReferenceList><Title>x</Title><ReferenceList>\n<Reference/></ReferenceList>\n</ReferenceList>"
DAMAGED = {
    "references": doc(with_refs("1", REFS), with_refs("2", "<ReferenceList/>"), with_refs("3", NESTED_REFS),
                      with_refs("4", REFS + REFS)),
    "unclosed-references": doc(with_refs("1", REFS), with_refs("2", "<ReferenceList><Reference>"),
                               with_refs("3", REFS), record("4")),
    "references-without-pmid": doc(with_refs("1", REFS), with_refs("2", REFS).replace("<PMID", "<X"),
                                   record("3")),
    "missing-end-tag": doc(record("1"), record("2").replace("</PubmedArticle>", ""), record("3"), record("4")),
    "junk": doc(record("1"), "junk & more", record("2"), record("3")),
    "no-pmid": doc(record("1"), record(None), record("3")),
    "deletes": doc(record("1"), DELETES, record("2"), "<DeleteCitation></DeleteCitation>"),
    "empty": doc(),
    "bare-record": record("6").encode(),
    "medline-set": b"<MedlineCitationSet>\n" + b"".join(
        record(str(n)).removeprefix("<PubmedArticle>").replace("</PubmedArticle>", "").encode()
        for n in range(1, 6)
    ) + b"</MedlineCitationSet>\n",
    "cut-mid-record": doc(*(record(str(n)) for n in range(1, 6)))[:-200],
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
@pytest.mark.parametrize("gz", [False, True])
def test_damaged_documents_read_the_same_in_chunks(tmp_path: Path, name: str, gz: bool, monkeypatch) -> None:
    monkeypatch.setattr(pubmed_xml, "_READ_BLOCK", 64)
    path = _write(tmp_path, name, DAMAGED[name], gz=gz)
    for size in SIZES:
        assert_same(path, size)


def test_a_record_nested_in_a_chunk_is_streamed_and_reported(tmp_path: Path) -> None:
    """A well-formed record inside a record: the tree parse finds fewer top-level records
    than the splitter counted start tags, so the chunk is streamed, as the whole file is.
    (Cut between the two start tags, the inner record would read as a record of its own.)"""
    path = _write(tmp_path, "nested", doc(record("7"), NESTED, record("10")), gz=False)
    assert_same(path, 1000)
    items = chunked(path, 1000)
    assert [type(i).__name__ for i in items] == ["Article", "Article", "Problem", "Article"]
    assert "nested" in items[2].message  # type: ignore[union-attr]


@needs_data
def test_a_malformed_real_record_is_located_in_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "three", _corrupt_three(_real_records()), gz=True)
    for size in SIZES:
        assert_same(path, size)
    problems = [i for i in chunked(path, 1) if isinstance(i, Problem)]
    assert [p.location for p in problems] == [f"{path}: record 2 (line 5)"]


def _gzip_damage(tmp_path: Path) -> dict[str, Path]:
    rnd = random.Random(7)
    title = lambda: " ".join(f"{rnd.getrandbits(40):x}" for _ in range(30))  # noqa: E731 - incompressible
    data = doc(*(record(str(n), title()) for n in range(1, 1000)))
    packed = gzip.compress(data)
    assert len(packed) * 3 // 4 > 64 * 1024  # the damage lies past the first bytes, which are sniffed
    corrupt = bytearray(packed)
    corrupt[len(packed) * 3 // 4 : len(packed) * 3 // 4 + 40] = b"\xff" * 40
    out = {
        "truncated": packed[: len(packed) * 2 // 3],
        "corrupt": bytes(corrupt),
        "two-members": gzip.compress(data[:5000]) + gzip.compress(data[5000:]),
        "trailing-garbage": packed + b"\x00garbage",
    }
    paths = {}
    for name, raw in out.items():
        paths[name] = tmp_path / f"{name}.xml.gz"
        paths[name].write_bytes(raw)
    return paths


@pytest.mark.parametrize("name", ["truncated", "corrupt", "two-members", "trailing-garbage"])
def test_gzip_damage_reads_the_same_in_chunks(tmp_path: Path, name: str, monkeypatch) -> None:
    monkeypatch.setattr(pubmed_xml, "_READ_BLOCK", 1000)
    path = _gzip_damage(tmp_path)[name]
    for size in (1, 7, 1000):
        assert_same(path, size)
    items = chunked(path, 7)
    if name == "two-members":
        assert [i.pmid for i in items] == [str(n) for n in range(1, 1000)]  # type: ignore[union-attr]
    else:
        assert isinstance(items[-1], Problem) and "gzip" in items[-1].message
        assert any(isinstance(i, Article) for i in items)


def test_chunks_hold_the_records_asked_for(tmp_path: Path) -> None:
    path = _write(tmp_path, "many", doc(*(record(str(n)) for n in range(1, 24))), gz=True)
    chunks = list(split_pubmed_xml(path, 5))
    assert [c.records for c in chunks] == [5, 5, 5, 5, 3]
    assert [c.first_index for c in chunks] == [0, 5, 10, 15, 20]
    assert [len(parse_chunk(c)) for c in chunks] == [5, 5, 5, 5, 3]


def test_reference_lists_are_cut_before_the_tree_is_built() -> None:
    data = doc(with_refs("1", REFS), with_refs("2", NESTED_REFS), with_refs("3", "<ReferenceList/>"))
    cut = pubmed_chunks._without_references(data)
    assert b"<Reference>" not in cut and b"<Citation>" not in cut and b"<Reference/>" not in cut
    assert cut.count(b"\n") == data.count(b"\n")  # lines keep their numbers
    assert cut.count(b"<PubmedArticle>") == 3 and b"<ReferenceList/>" in cut
    unclosed = doc(with_refs("1", "<ReferenceList><Reference>"), record("2"))
    assert pubmed_chunks._without_references(unclosed) == unclosed
