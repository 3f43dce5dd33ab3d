"""Read BEIR retrieval benchmarks: the corpus as ``Article`` values, queries and qrels as dicts.

A BEIR folder holds ``corpus.jsonl`` (one JSON object a line: ``_id``,
``title``, ``text``, optional ``metadata``), ``queries.jsonl`` (``_id``,
``text``) and ``qrels/{train,dev,test}.tsv`` (``query-id corpus-id score``
with a header line). The corpus feeds the store like any other source; the
queries and judgements feed the evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import SourceError
from ingest.records import AbstractSection, Article, Problem

SOURCE = "beir"


def iter_beir_corpus(path: str | Path, *, location: str | None = None) -> Iterator[Article | Problem]:
    """Yield one ``Article`` per line of a BEIR ``corpus.jsonl``; a bad line is a ``Problem``.

    ``doc_id`` is the corpus ``_id``; the text becomes a single unlabelled
    abstract section; scalar ``metadata`` values go to ``extra`` (others as JSON).
    """
    path = Path(path)
    loc = location or str(path)
    for number, line in _numbered_lines(path, "corpus"):
        if not line.strip():
            continue
        item = _corpus_line(line, f"{loc}:{number}")
        yield item


def _corpus_line(line: str, where: str) -> Article | Problem:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return Problem(where, f"not valid JSON ({exc.msg} at column {exc.colno}); line skipped")
    if not isinstance(obj, dict):
        return Problem(where, "a corpus line must be a JSON object; line skipped")
    doc_id = obj.get("_id")
    if doc_id is None or str(doc_id).strip() == "":
        return Problem(where, "corpus line has no '_id'; line skipped")
    text = _str(obj.get("text"))
    return Article(
        doc_id=str(doc_id),
        source=SOURCE,
        title=_str(obj.get("title")),
        abstract=(AbstractSection(text),) if text else (),
        extra=_metadata(obj.get("metadata")),
    )


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _metadata(meta: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(meta, dict):
        return ()
    return tuple(
        (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in meta.items()
    )


def load_queries(folder: str | Path) -> dict[str, str]:
    """``{query_id: text}`` from ``folder/queries.jsonl`` (every query, all splits)."""
    path = Path(folder) / "queries.jsonl"
    queries: dict[str, str] = {}
    for number, line in _numbered_lines(path, "queries"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            queries[str(obj["_id"])] = str(obj.get("text") or "")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SourceError(
                f"{path}:{number}: not a BEIR query line (need a JSON object with '_id', 'text')",
                hint="check that the file is a BEIR queries.jsonl",
            ) from exc
    return queries


def load_qrels(folder: str | Path, split: str = "test") -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}`` from ``folder/qrels/{split}.tsv``.

    The header line (``query-id corpus-id score``) is skipped when present;
    a malformed row raises ``SourceError`` naming the file and line.
    """
    path = Path(folder) / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise SourceError(
            f"BEIR split {split!r} not found: {path} does not exist",
            hint=f"available splits: {', '.join(available_splits(folder)) or 'none'}",
        )
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _numbered_lines(path, "qrels"):
        cols = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or (number == 1 and cols[:1] == ["query-id"]):
            continue
        try:
            query_id, doc_id, score = cols[0], cols[1], int(cols[-1])
        except (IndexError, ValueError) as exc:
            raise SourceError(
                f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score', got {line!r}"
            ) from exc
        qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def available_splits(folder: str | Path) -> list[str]:
    """The qrels splits a BEIR folder has, e.g. ``["dev", "test", "train"]``."""
    qrels = Path(folder) / "qrels"
    return sorted(p.stem for p in qrels.glob("*.tsv")) if qrels.is_dir() else []


def _numbered_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 file, line ends stripped; unreadable -> ``SourceError``."""
    try:
        with path.open(encoding="utf-8-sig", newline=None) as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n")
    except FileNotFoundError as exc:
        raise SourceError(
            f"BEIR {what} file not found: {path}",
            hint="a BEIR folder has corpus.jsonl, queries.jsonl and qrels/<split>.tsv",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read BEIR {what} file {path}: {exc}") from exc
