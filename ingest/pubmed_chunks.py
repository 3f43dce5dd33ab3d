"""PubMed XML cut into chunks of whole records for worker processes (``ingest/reader.py``):
:func:`split_pubmed_xml` cuts the decompressed stream, :func:`parse_chunk` parses one chunk
as one tree (cited-reference lists cut out first), with the streaming reader of
:mod:`ingest.pubmed_xml` as the fallback that isolates broken records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ingest import pubmed_xml
from ingest.pubmed_fields import _parse_record
from ingest.pubmed_xml import (
    _ROOTS,
    _SECURE,
    _from_path,
    _inflate,
    _Input,
    _start_tags,
    _stream,
    _where_at,
)
from ingest.records import Item, Problem


@dataclass(frozen=True, slots=True)
class XmlChunk:
    """A self-contained slice of a PubMed XML file: some whole top-level records, re-wrapped.

    Made by :func:`split_pubmed_xml` in one process and parsed by
    :func:`parse_chunk` in another; Problems still name the file, the record's
    index in the file and its line.
    """

    label: str
    root: str
    encoding: str | None
    data: bytes
    first_index: int
    line_offset: int
    records: int  # record start tags the splitter found in ``data``
    problem: str | None = None  # a file-level problem to report with this chunk


def split_pubmed_xml(path: str | Path, records_per_chunk: int) -> Iterator[XmlChunk]:
    """Cut a PubMed XML file (gzip or not) into chunks of ``records_per_chunk`` records.

    Streams: the file is decompressed block by block and a chunk goes out as
    soon as its records are read. Splits on the start tags of top-level
    records, as the record-by-record recovery does; a malformed record stays
    inside one chunk, whose own parse then isolates it.
    """
    src = _from_path(path, None)
    assert src.path is not None
    damage: list[str] = []
    with open(src.path, "rb") as fh:
        blocks: Iterator[bytes] = iter(lambda: fh.read(pubmed_xml._READ_BLOCK), b"")  # one knob with the streaming reader
        if src.gzipped:
            blocks = _inflate(blocks, damage)
        tags = _ROOTS[src.root]
        if src.root in tags:  # a lone record as the root: nothing to split
            data = b"".join(blocks)
            yield XmlChunk(src.label, src.root, src.encoding, data, 0, 0, 1, damage[0] if damage else None)
            return
        yield from _split_blocks(src, blocks, damage, records_per_chunk)


def _split_blocks(src: _Input, blocks: Iterator[bytes], damage: list[str], size: int) -> Iterator[XmlChunk]:
    tags = _ROOTS[src.root]
    pattern = _start_tags(src.root)
    guard = max(len(t) for t in tags) + 2  # a start tag cut by a block boundary waits for the next
    close_tag = f"</{src.root}".encode()
    head = f'<?xml version="1.0" encoding="{src.encoding or "utf-8"}"?><{src.root}>'.encode()
    tail = f"</{src.root}>".encode()
    buf = bytearray()
    starts: list[int] = []  # offsets in buf of the record start tags found so far
    scan = 0  # where in buf the search for start tags goes on
    newlines = 0  # newlines before buf[0]
    first = 0  # index in the file of the record at starts[0]
    eof = False
    while not eof:
        block = next(blocks, None)
        if block is None:
            eof = True
        else:
            buf += block
        limit = len(buf) if eof else len(buf) - guard
        for m in pattern.finditer(buf, scan):
            if m.start() >= limit:
                break
            starts.append(m.start())
        scan = max(scan, limit)
        while len(starts) > size or (eof and starts):
            n = min(size, len(starts))
            begin = starts[0]
            if n < len(starts):
                stop = starts[n]
            else:  # the file's last records end where the root closes
                close = buf.rfind(close_tag)
                stop = close if close > starts[-1] else len(buf)
            newlines += buf.count(b"\n", 0, begin)
            with memoryview(buf) as view:
                data = b"".join((head, view[begin:stop], tail))
            last = eof and n == len(starts)
            yield XmlChunk(src.label, src.root, src.encoding, data, first, newlines, n,
                           damage[0] if last and damage else None)
            newlines += buf.count(b"\n", begin, stop)
            del buf[:stop]
            starts = [s - stop for s in starts[n:]]
            scan = max(0, scan - stop)
            first += n
    if first == 0 and damage:
        yield XmlChunk(src.label, src.root, src.encoding, head + tail, 0, 0, 0, damage[0])


def parse_chunk(chunk: XmlChunk) -> list[Item]:
    """The items of one chunk, located in the original file.

    A chunk is parsed as one tree, which is faster than streaming it; when that
    fails (malformed XML) or finds records other than the ``chunk.records`` the
    splitter counted (a record nested in another), the chunk is streamed
    instead, whose recovery isolates the broken records.
    """
    src = _Input(chunk.label, None, chunk.data, False, chunk.root, chunk.encoding,
                 index_offset=chunk.first_index, line_offset=chunk.line_offset)
    items = _parse_tree(src, chunk.records)
    if items is None:
        items = list(_stream(src))
    if chunk.problem:
        items.append(Problem(chunk.label, chunk.problem))
    return items


_REFS_OPEN = b"<ReferenceList"
_REFS_CLOSE = b"</ReferenceList>"


def _without_references(data: bytes) -> bytes:
    """``data`` with each ``ReferenceList`` element cut down to its newlines.

    No field is read from a record's cited references, yet they are most of a
    modern record's elements: cut out, the tree builds a third faster. Lines
    keep their numbers. A list that does not close, or closes in another record,
    takes the next record's start tag with it, so ``_parse_tree`` finds fewer
    records than it expects and streams the chunk, uncut, instead.
    """
    parts: list[bytes] = []
    pos = 0  # copied up to here
    search = 0
    while (start := data.find(_REFS_OPEN, search)) >= 0:
        gt = data.find(b">", start)
        if gt < 0:
            break
        after = data[start + len(_REFS_OPEN) : start + len(_REFS_OPEN) + 1]
        if after not in (b">", b" ", b"\t", b"\n", b"\r") or data[gt - 1 : gt] == b"/":
            search = gt  # another tag, or an empty list: left as it is
            continue
        end, depth = gt, 1
        while depth:  # lists nest
            close = data.find(_REFS_CLOSE, end)
            if close < 0:
                break
            depth += data.count(_REFS_OPEN, end, close) - 1
            end = close + len(_REFS_CLOSE)
        if depth:
            break
        parts += (data[pos:start], b"\n" * data.count(b"\n", start, end))
        pos = search = end
    if not parts:
        return data
    parts.append(data[pos:])
    return b"".join(parts)


def _parse_tree(src: _Input, expected: int) -> list[Item] | None:
    """The items of an in-memory document parsed whole, or None where it must be streamed."""
    assert src.data is not None
    tags = _ROOTS[src.root]
    try:
        root = etree.fromstring(_without_references(src.data), etree.XMLParser(**_SECURE))
    except etree.XMLSyntaxError:
        return None
    records = [root] if src.root in tags else [el for el in root if el.tag in tags]
    if len(records) != expected:
        return None
    items: list[Item] = []
    for index, el in enumerate(records, 1):
        items.extend(_parse_record(el, _where_at(src, index, el)))
    return items
