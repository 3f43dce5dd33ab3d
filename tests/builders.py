"""Test data builders shared by the tests (and by the benchmarks, through ``bench/corpus.py``).

PubMed XML at scale: the real records under ``../shared/data/pubmed`` number about 790;
a baseline file holds ~30,000. :func:`replicate` copies the real ``PubmedArticle``
elements round-robin, giving each copy a fresh PMID, so the parser and the store see
real record shapes at baseline scale.

BEIR folders: :func:`write_beir` writes one from values; :func:`beir_sample` cuts a
small real one (a few train queries, their judged documents and some others) out of a
shared BEIR set, for training runs that must finish in a couple of minutes.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
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


# -- BEIR folders -------------------------------------------------------------------------------


def write_beir(
    folder: Path,
    corpus: Mapping[str, tuple[str, str]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Sequence[tuple[str, str, int]]],
) -> Path:
    """Write a BEIR folder: ``corpus`` maps doc id -> (title, text), ``qrels`` split -> (qid, doc, grade)."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"_id": d, "title": t, "text": x}) for d, (t, x) in corpus.items()]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [json.dumps({"_id": q, "text": t}) for q, t in queries.items()]
    (folder / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split, rows in qrels.items():
        tsv = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{g}" for q, d, g in rows)]
        (folder / "qrels" / f"{split}.tsv").write_text("\n".join(tsv) + "\n", encoding="utf-8")
    return folder


def read_beir(folder: Path) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, list[tuple[str, str, int]]]]:
    """The corpus, queries and qrels of a BEIR folder, as :func:`write_beir` takes them."""
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            corpus[str(obj["_id"])] = (obj.get("title") or "", obj.get("text") or "")
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            queries[str(obj["_id"])] = obj["text"]
    qrels = {}
    for path in sorted((folder / "qrels").glob("*.tsv")):
        rows = [r.split("\t") for r in path.read_text(encoding="utf-8").splitlines()[1:] if r.strip()]
        qrels[path.stem] = [(q, d, int(g)) for q, d, g in rows]
    return corpus, queries, qrels


def beir_sample(source: Path, dest: Path, *, queries: int, extra_docs: int, seed: int = 0) -> Path:
    """A small BEIR folder cut from ``source``: ``queries`` random train queries (train split
    only), every document they judge, and ``extra_docs`` other random documents."""
    corpus, texts, qrels = read_beir(source)
    rng = random.Random(seed)
    train = [r for r in qrels["train"] if r[1] in corpus]
    picked = set(rng.sample(sorted({q for q, _, _ in train}), queries))
    rows = [r for r in train if r[0] in picked]
    judged = {d for _, d, _ in rows}
    others = rng.sample(sorted(set(corpus) - judged), extra_docs)
    docs = {d: corpus[d] for d in sorted(judged | set(others))}
    return write_beir(dest, docs, {q: texts[q] for q in sorted(picked)}, {"train": rows})
