"""Build large PubMed XML inputs from the real records, for benchmarks and crash tests.

The real records under ``../shared/data/pubmed`` number about 790; a baseline
file holds ~30,000. ``replicate`` copies the real ``PubmedArticle`` elements
round-robin, giving each copy a fresh PMID, so the parser and the store see real
record shapes at baseline scale.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

_PMID = re.compile(rb"<PMID Version=\"(\d+)\">\d+</PMID>")
_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def _open(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def real_records(folder: Path) -> list[bytes]:
    """Every real record under ``folder`` (or in that one file) as a serialised ``PubmedArticle``."""
    records: list[bytes] = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else [folder]:
        if not path.name.endswith((".xml", ".xml.gz")):
            continue
        try:
            root = etree.fromstring(_open(path), etree.XMLParser(**_PARSER))
        except etree.XMLSyntaxError:
            continue
        for el in root:
            if el.tag == "PubmedArticle":
                records.append(etree.tostring(el))
            elif el.tag == "MedlineCitation":  # 2016 baseline layout: wrap it
                records.append(b"<PubmedArticle>" + etree.tostring(el) + b"</PubmedArticle>")
    return records


def replicate(records: list[bytes], n: int, *, first_pmid: int = 90_000_000) -> Iterator[bytes]:
    """``n`` records cycling through ``records``, the first PMID of each rewritten to be unique."""
    for i in range(n):
        rec = records[i % len(records)]
        yield _PMID.sub(lambda m, i=i: b'<PMID Version="%s">%d</PMID>' % (m.group(1), first_pmid + i), rec, count=1)


def write_pubmed_xml(path: Path, records: Iterator[bytes], *, compress: bool = True, level: int = 1) -> int:
    """Write a ``PubmedArticleSet`` file (gzip at ``level`` when ``compress``); returns the record count.

    NCBI's baseline files are gzip level 6; tests use 1, which writes faster.
    """
    n = 0
    out = gzip.open(path, "wb", compresslevel=level) if compress else open(path, "wb")
    with out:
        out.write(b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
        for rec in records:
            out.write(rec)
            out.write(b"\n")
            n += 1
        out.write(b"</PubmedArticleSet>\n")
    return n
