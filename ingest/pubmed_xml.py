"""Parse PubMed XML into :mod:`ingest.records` values.

Reads what NCBI publishes: ``PubmedArticleSet`` documents (efetch responses,
baseline and update files) holding ``PubmedArticle``, ``PubmedBookArticle`` and
``DeleteCitation`` elements, and the older ``MedlineCitationSet`` baseline
(2016 and before) of bare ``MedlineCitation`` elements.

* :func:`iter_pubmed_xml` streams a path (``.gz`` or not: gzip is detected by
  its magic bytes), a binary file object or ``bytes``, and yields
  :class:`~ingest.records.Article`, :class:`~ingest.records.Deletion` and
  :class:`~ingest.records.Problem` values in document order.
* :func:`parse_pubmed_xml_bytes` does the same for one in-memory response.

Bad records never stop the rest: a record without a PMID, or whose content
cannot be read, becomes a ``Problem`` whose location names the file, the
record's index and its line. A document that is not well-formed XML is
re-read record by record, so only the broken records are lost. A document
that is not PubMed XML at all (an HTML page, an E-utilities ``ERROR``)
raises :class:`~ingest.errors.SourceError`.

Security: no network, no DTD loading, no entity expansion; the DOCTYPE that
PubMed files carry is never fetched.

This module is the input side: opening a path or bytes, gzip (ISA-L where installed) with
what precedes a corruption or a cut recovered, the root check, streaming with ``iterparse``
(a tag filter, elements cleared) and the record-by-record recovery. One record's fields are
read by :mod:`ingest.pubmed_fields`. Large files are cut into chunks of whole records for worker
processes by :mod:`ingest.pubmed_chunks`.
"""

from __future__ import annotations

import functools
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from os import PathLike, fspath
from pathlib import Path
from types import ModuleType
from typing import IO, Any, cast

from lxml import etree

from ingest.errors import SourceError
from ingest.pubmed_fields import _norm, _parse_record
from ingest.records import (
    Item,
    Problem,
)
from ingest.sources import xml_root_name

_gzip: ModuleType
_zlib: ModuleType
try:  # ISA-L inflates gzip about twice as fast as zlib, with the same API
    from isal import igzip as _gzip
    from isal import isal_zlib as _zlib

    _ZLIB_ERRORS: tuple[type[Exception], ...] = (zlib.error, cast(type[Exception], _zlib.error))  # an exception class; isal's stub says otherwise
except ImportError:  # pragma: no cover - a platform without isal wheels
    _gzip, _zlib = gzip, zlib
    _ZLIB_ERRORS = (zlib.error,)

__all__ = ["iter_pubmed_xml", "parse_pubmed_xml_bytes"]

Source = str | PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 64 * 1024
_SECURE: dict[str, Any] = {
    "load_dtd": False,
    "no_network": True,
    "resolve_entities": False,
    "dtd_validation": False,
}
_ARTICLE_SET_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_MEDLINE_SET_TAGS = ("MedlineCitation", "DeleteCitation")
_ROOTS: dict[str, tuple[str, ...]] = {
    "PubmedArticleSet": _ARTICLE_SET_TAGS,
    "PubmedBookArticleSet": _ARTICLE_SET_TAGS,
    "MedlineCitationSet": _MEDLINE_SET_TAGS,
    # a document holding one bare record
    "PubmedArticle": ("PubmedArticle",),
    "PubmedBookArticle": ("PubmedBookArticle",),
    "MedlineCitation": ("MedlineCitation",),
    "DeleteCitation": ("DeleteCitation",),
}
_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.S | re.I)
_NCBI_ERROR = re.compile(rb"<ERROR>(.*?)</ERROR>", re.S)


# --------------------------------------------------------------------------- the source


@dataclass(slots=True)
class _Input:
    """Where the XML comes from: a path (streamed) or bytes in memory (already gunzipped)."""

    label: str
    path: Path | None
    data: bytes | None
    gzipped: bool
    root: str
    encoding: str | None
    index_offset: int = 0  # records before this document (a chunk of a larger file)
    line_offset: int = 0  # lines before this document's first record, likewise
    damage: str | None = None  # why ``data`` stops early (a damaged gzip file)

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return _gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")  # noqa: SIM115

    def read_all(self) -> tuple[bytes, str | None]:
        """The whole document, as much of it as can be decompressed, and why it stops early."""
        if self.data is not None:
            return self.data, self.damage
        assert self.path is not None
        raw = self.path.read_bytes()
        return _gunzip_report(raw) if self.gzipped else (raw, None)

    def where(self, index: int, line: int | None) -> str:
        index += self.index_offset
        line = line + self.line_offset if line else line
        return (
            f"{self.label}: record {index} (line {line})"
            if line
            else f"{self.label}: record {index}"
        )


def _gunzip_report(raw: bytes) -> tuple[bytes, str | None]:
    """Decompressed data (in 1 MiB steps, so a corrupt block loses only what follows it)
    and, where the data stopped early, why."""
    damage: list[str] = []
    steps = (raw[pos : pos + _READ_BLOCK] for pos in range(0, len(raw), _READ_BLOCK))
    data = b"".join(_inflate(steps, damage))
    return data, damage[0] if damage else None


_READ_BLOCK = 1 << 20


def _inflate(blocks: Iterable[bytes], damage: list[str]) -> Iterator[bytes]:
    """Decompress gzip data block by block (concatenated members too).

    What precedes a corruption or a truncation is yielded; then ``damage`` gets
    one message saying why the data stopped early.
    """
    unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False
    for raw in blocks:
        while raw:
            fed = True
            try:
                out = unzip.decompress(raw)
            except _ZLIB_ERRORS as exc:
                damage.append(f"the gzip data is corrupt ({exc}); records after that point are lost")
                return
            if out:
                yield out
            if not unzip.eof:
                break
            raw = unzip.unused_data  # the next member starts here
            unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
            fed = False
    if fed and not unzip.eof:
        damage.append("the gzip file is truncated; records after the cut are lost")


def _head_of(path: Path, gzipped: bool) -> bytes:
    """The first bytes of the (decompressed) document, for sniffing its root."""
    with open(path, "rb") as raw:
        if not gzipped:
            return raw.read(_SNIFF_BYTES)
        unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
        head = b""
        while len(head) < _SNIFF_BYTES and not unzip.eof:
            chunk = raw.read(16 * 1024)
            if not chunk:
                break
            try:
                head += unzip.decompress(chunk)
            except _ZLIB_ERRORS as exc:
                if head:
                    break
                raise SourceError(
                    f"{path}: cannot decompress this gzip file ({exc})",
                    hint="the download may be corrupt: fetch the file again",
                ) from exc
        return head


def _check_root(head: bytes, label: str) -> tuple[str, str | None]:
    """The document's root tag and declared encoding; SourceError unless it is PubMed XML."""
    if not head.strip():
        raise SourceError(
            f"{label}: the document is empty",
            hint="expected PubMed XML; check the download or the efetch request",
        )
    root = xml_root_name(head)
    if root is None:
        raise SourceError(
            f"{label}: not XML (it starts with {head[:60]!r})",
            hint="expected PubMed XML (efetch with db=pubmed&retmode=xml, or a baseline/update file)",
        )
    enc = _ENCODING.match(head)
    encoding = enc.group(1).decode("ascii") if enc else None
    if root in _ROOTS:
        return root, encoding
    raise _not_pubmed(head, root, label)


def _not_pubmed(head: bytes, root: str, label: str) -> SourceError:
    if root.lower() == "html":
        t = _HTML_TITLE.search(head)
        title = _norm(t.group(1).decode("utf-8", "replace")) if t else "no title"
        return SourceError(
            f"{label}: got an HTML page ({title!r}), not PubMed XML",
            hint="NCBI answered with a web page (outage, rate limit or a bad request): "
            "retry later and check the request's URL",
        )
    err = _NCBI_ERROR.search(head)
    detail = f" with the error {_norm(err.group(1).decode('utf-8', 'replace'))!r}" if err else ""
    return SourceError(
        f"{label}: got a <{root}> document{detail}, not PubMed XML",
        hint="expected a <PubmedArticleSet> or <MedlineCitationSet> "
        "(efetch with db=pubmed&retmode=xml, or a PubMed baseline/update file)",
    )


def _open_input(source: Source, location: str | None) -> _Input:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source), location or "<bytes>")
    if isinstance(source, (str, PathLike)):
        return _from_path(source, location)
    read = getattr(source, "read", None)
    if read is None:
        raise SourceError(
            f"cannot read PubMed XML from a {type(source).__name__}",
            hint="pass a path, a binary file object or bytes",
        )
    data = read()
    label = location or str(getattr(source, "name", "<stream>"))
    if not isinstance(data, bytes):
        raise SourceError(
            f"{label}: the file object is opened in text mode",
            hint="open it in binary mode ('rb'), or pass its path",
        )
    return _from_bytes(data, label)


def _from_bytes(data: bytes, label: str) -> _Input:
    damage = None
    if data[:2] == _GZIP_MAGIC:
        data, damage = _gunzip_report(data)
    root, encoding = _check_root(data[:_SNIFF_BYTES], label)
    return _Input(label, None, data, False, root, encoding, damage=damage)


def _from_path(source: str | PathLike[str], location: str | None) -> _Input:
    text = fspath(source)
    if isinstance(text, str) and text.lstrip().startswith("<"):
        raise SourceError(
            "got XML text where a path was expected",
            hint="pass the document as bytes (text.encode()) or write it to a file",
        )
    path = Path(text)
    label = location or str(path)
    if not path.is_file():
        raise SourceError(f"{label}: no such file", hint="check the path")
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == _GZIP_MAGIC
    root, encoding = _check_root(_head_of(path, gzipped), label)
    return _Input(label, path, None, gzipped, root, encoding)


# --------------------------------------------------------------------------- iteration

_POSITION = re.compile(r",? line \d+, column \d+$")
_STREAM_ERRORS = (etree.XMLSyntaxError, EOFError, OSError, *_ZLIB_ERRORS)


def _stream(src: _Input) -> Iterator[Item]:
    """Stream the records with iterparse; on malformed XML re-read the rest record by record."""
    done = 0
    tags = _ROOTS[src.root]
    try:
        with src.open() as fh:
            pending: list[Item] = []
            for _, el in etree.iterparse(fh, events=("end",), tag=tags, **_SECURE):
                parent = el.getparent()
                if parent is not None and parent.getparent() is not None:
                    # a record inside a record: an end tag is missing somewhere
                    pending.append(_nested(src, el))
                    continue
                done += 1
                items = _parse_record(el, _where_at(src, done, el))
                el.clear()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
                yield from items
                if pending:
                    yield from pending
                    pending.clear()
    except _STREAM_ERRORS as exc:
        yield from _recover(src, done, exc)


def _where_at(src: _Input, index: int, el: Any) -> Callable[[], str]:
    """Where record ``index`` (element ``el``) is, worked out only when asked."""
    return lambda: src.where(index, _line(el))


def _where_in_chunk(src: _Input, index: int, line: int, el: Any) -> Callable[[], str]:
    """Where record ``index`` is: ``el``'s line within a chunk that starts at ``line``."""
    return lambda: src.where(index, line + el.sourceline - 1)


def _line(el: Any) -> int | None:
    """``el.sourceline``, exact past line 65535 too.

    There libxml2 stores line numbers on text nodes only, taken where the text
    ends, and reports an element's line from its first text: take the newlines
    of that text back off.
    """
    line = el.sourceline
    if line is None or line < 65535:
        return line
    node = el
    while node is not None:
        text = node.text
        if text:
            return line - text.count("\n")
        node = next(iter(node), None)
    return line


def _nested(src: _Input, el: Any) -> Problem:
    return Problem(
        f"{src.label}: line {(_line(el) or 0) + src.line_offset}",
        f"<{el.tag}> nested inside another record (an end tag is missing?); not read",
    )


@functools.cache
def _start_tags(root: str) -> re.Pattern[bytes]:
    """The start tags of the top-level records under ``root``: what files are cut on."""
    return re.compile(rb"<(?:%s)[\s>/]" % b"|".join(t.encode() for t in _ROOTS[root]))


def _record_chunks(data: bytes, root: str) -> list[tuple[int, bytes]]:
    """Each top-level record's raw bytes with its offset, split on the records' start tags."""
    tags = _ROOTS[root]
    if root in tags:
        return [(0, data)]
    starts = [m.start() for m in _start_tags(root).finditer(data)]
    if not starts:
        return []
    close = data.rfind(f"</{root}".encode())
    bounds = starts[1:] + [close if close > starts[-1] else len(data)]
    chunks = []
    for start, end in zip(starts, bounds, strict=True):
        chunk = data[start:end]
        tag = re.match(rb"<([\w]+)", chunk).group(1)  # type: ignore[union-attr]
        last = chunk.rfind(b"</" + tag + b">")
        chunks.append((start, chunk[: last + len(tag) + 3] if last >= 0 else chunk))
    return chunks


def _syntax_message(err: etree.XMLSyntaxError, first_line: int) -> str:
    """lxml's message with its position made absolute (it counts from the record's start)."""
    msg = _POSITION.sub("", err.msg or str(err))
    where = f" at line {first_line + err.lineno - 1}" if err.lineno else ""
    return f"not well-formed XML{where}: {msg}; record skipped"


def _recover(src: _Input, done: int, exc: Exception) -> Iterator[Item]:
    """Parse each record after the first ``done`` on its own; only broken ones become Problems."""
    data, damage = src.read_all()
    parser = etree.XMLParser(encoding=src.encoding, **_SECURE)
    line, prev, failed = 1, 0, False
    for index, (start, chunk) in enumerate(_record_chunks(data, src.root)[done:], done + 1):
        line += data.count(b"\n", prev, start)
        prev = start
        try:
            el = etree.fromstring(chunk, parser)
        except etree.XMLSyntaxError as err:
            failed = True
            yield Problem(src.where(index, line), _syntax_message(err, line + src.line_offset))
            continue
        yield from _parse_record(el, _where_in_chunk(src, index, line, el))
    if damage:
        yield Problem(src.label, damage)
    elif not failed:
        yield Problem(src.label, f"the file is not well-formed XML ({_where_broken(src, exc)}); read record by record")


def _where_broken(src: _Input, exc: Exception) -> str:
    """What broke the stream, with a line counted from the start of the file."""
    if isinstance(exc, etree.XMLSyntaxError):
        msg = _POSITION.sub("", exc.msg or str(exc))
        return f"line {exc.lineno + src.line_offset}: {msg}" if exc.lineno else msg
    return str(exc)


def iter_pubmed_xml(source: Source, *, location: str | None = None) -> Iterator[Item]:
    """Yield the ``Article``, ``Deletion`` and ``Problem`` values of a PubMed XML document.

    ``source`` is a path (``str`` or ``Path``; gzip detected by its magic bytes),
    a binary file object (read whole) or ``bytes``. ``location`` names it in
    Problems (default: the path, the file object's name, or ``<bytes>``).
    Raises :class:`SourceError` at once when the document is not PubMed XML.
    """
    return _stream(_open_input(source, location))


def parse_pubmed_xml_bytes(data: bytes, *, location: str) -> list[Item]:
    """All items of one in-memory PubMed XML document (an efetch response)."""
    return list(iter_pubmed_xml(data, location=location))
