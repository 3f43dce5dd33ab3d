"""Find input files, tell their format, and read them into items.

Three formats are supported:

* ``pubmed_xml``: PubMed/MEDLINE XML (``PubmedArticleSet`` from efetch, the
  ``MedlineCitationSet`` of older baselines), plain or gzipped. Recognised by
  its root element, whatever the file is called.
* ``medline``: MEDLINE text (PubMed "File (MEDLINE)" exports, ``.nbib``).
  ``.medline``/``.nbib`` by name; other names when the first non-blank line
  is ``PMID- ...``.
* ``beir_corpus``: a BEIR ``corpus.jsonl`` (or a ``.jsonl`` whose first line
  has ``_id``). A folder holding ``corpus.jsonl`` is a BEIR dataset: only the
  corpus is read, never ``queries.jsonl`` or the qrels.

:func:`discover` expands folders (recursively, sorted by name, hidden files
skipped) and reports unknown files found there as :class:`Problem` values;
a path named explicitly that is missing or of unknown format raises
:class:`SourceError`. Symbolic links are followed, but each real folder is walked
once (known by device and inode), so a link that loops back ends the descent;
only regular files are opened: a named pipe, socket or device in a folder is
reported as skipped (opening a pipe would wait for a writer forever).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import stat
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import NoRecordsError, SourceError
from ingest.records import Item, Problem

PUBMED_XML = "pubmed_xml"
MEDLINE = "medline"
BEIR_CORPUS = "beir_corpus"
FORMATS = (PUBMED_XML, MEDLINE, BEIR_CORPUS)

PUBMED_ROOTS = frozenset({"PubmedArticleSet", "MedlineCitationSet"})
SUPPORTED = (
    "PubMed XML (.xml or .xml.gz whose root is PubmedArticleSet or MedlineCitationSet), "
    "MEDLINE text (.medline, .nbib, or a .txt starting with 'PMID- '), "
    "BEIR corpus (corpus.jsonl, or a .jsonl whose lines have '_id')"
)

_GZIP_MAGIC = b"\x1f\x8b"
_HEAD_BYTES = 8192
_FINGERPRINT_CHUNK = 64 * 1024
#: An XML document up to its root element's name: a byte-order mark, then white space, the
#: XML declaration and processing instructions, comments, a DOCTYPE (internal subset included).
_PROLOG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*"
    rb"<([A-Za-z_][\w.:-]*)",
    re.S | re.I,
)
_MEDLINE_TAG = re.compile(r"[A-Z][A-Z0-9]{0,3} {0,3}- ")


@dataclass(frozen=True)
class SourceFile:
    """One input file and the format it was recognised as (one of :data:`FORMATS`)."""

    path: Path
    format: str


def discover(paths: Sequence[str | Path]) -> tuple[list[SourceFile], list[Problem]]:
    """Expand ``paths`` into the files to read, in order, and the files skipped as unknown.

    Raises ``SourceError`` for a path that does not exist or a file named
    explicitly whose format is unknown; each message names the path.
    """
    found: list[SourceFile] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    walked: set[tuple[int, int]] = set()
    for raw in paths:
        path = Path(raw)
        mode = _mode(path)
        if mode is None:
            raise SourceError(
                f"{path}: no such file or folder",
                hint=f"give files or folders holding {SUPPORTED}",
            )
        if stat.S_ISDIR(mode):
            _walk(path, found, problems, walked)
        elif stat.S_ISREG(mode):
            fmt, reason = sniff(path)
            if fmt is None:
                raise SourceError(f"{path}: {reason}", hint=f"supported formats: {SUPPORTED}")
            found.append(SourceFile(path, fmt))
        else:
            raise SourceError(
                f"{path}: {_not_regular(mode)}",
                hint="ingest reads regular files only: write the data to a file first",
            )
    unique = []
    for sf in found:
        key = sf.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(sf)
    return unique, problems


def _walk(folder: Path, found: list[SourceFile], problems: list[Problem], walked: set[tuple[int, int]]) -> None:
    """Add the files under ``folder``, sorted by name; a folder already walked is not walked again."""
    try:
        info = folder.stat()
    except OSError as exc:
        problems.append(Problem(str(folder), f"cannot read folder: {exc.strerror}; skipped"))
        return
    if (info.st_dev, info.st_ino) in walked:  # reached again through a symbolic link
        return
    walked.add((info.st_dev, info.st_ino))
    corpus = folder / "corpus.jsonl"
    if corpus.is_file():  # a BEIR dataset: the corpus only
        found.append(SourceFile(corpus, BEIR_CORPUS))
        return
    try:
        children = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        problems.append(Problem(str(folder), f"cannot list folder: {exc.strerror}; skipped"))
        return
    for child in children:
        if child.name.startswith("."):
            continue
        mode = _mode(child)
        if mode is not None and stat.S_ISDIR(mode):
            _walk(child, found, problems, walked)
        elif mode is not None and not stat.S_ISREG(mode):
            problems.append(Problem(str(child), f"{_not_regular(mode)}; skipped, not opened"))
        else:
            fmt, reason = sniff(child)  # a broken link (mode None) says so as it fails to open
            if fmt is None:
                problems.append(Problem(str(child), f"{reason}; skipped (supported: {SUPPORTED})"))
            else:
                found.append(SourceFile(child, fmt))


def _mode(path: Path) -> int | None:
    """The file type and mode of ``path``, links followed; None where it cannot be read."""
    try:
        return path.stat().st_mode
    except OSError:
        return None


def _not_regular(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"{kind}, not a regular file"


def sniff(path: Path) -> tuple[str | None, str]:
    """``(format, "")`` for a supported file, else ``(None, why it is not)``.

    Content decides over the name: a gzip or XML file is PubMed XML only if
    its root element is ``PubmedArticleSet`` or ``MedlineCitationSet``.
    """
    try:
        head, gzipped = _head(path)
    except (OSError, EOFError, zlib.error) as exc:
        return None, f"cannot read file ({exc})"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if gzipped or text.lstrip().startswith("<"):
        return _sniff_xml(text, gzipped)
    name = path.name.lower()
    if name.endswith(".jsonl"):
        return _sniff_jsonl(name, text)
    return _sniff_medline(name, text)


def _head(path: Path) -> tuple[bytes, bool]:
    """The first bytes of the file, decompressed when it is gzip (by magic, not by name)."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head[:2] != _GZIP_MAGIC:
        return head, False
    with gzip.open(path, "rb") as handle:
        return handle.read(_HEAD_BYTES), True


def _sniff_xml(text: str, gzipped: bool) -> tuple[str | None, str]:
    root = xml_root_name(text)
    what = "gzip content" if gzipped else "markup"
    if root in PUBMED_ROOTS:
        return PUBMED_XML, ""
    if root is None:
        return None, f"{what} with no XML root element in the first 8 KiB: not PubMed XML"
    return None, f"{what} with root element <{root}>: not PubMed XML"


def xml_root_name(head: bytes | str) -> str | None:
    """The root element's name of a document that starts with ``head``, skipping the XML
    declaration, comments and DOCTYPE; None when ``head`` is not XML. The one sniffer of the
    package: ``ingest.pubmed_xml`` reads the root with it too."""
    data = head.encode("utf-8") if isinstance(head, str) else head
    m = _PROLOG.match(data)
    return m.group(1).decode("ascii", "replace") if m else None


def _sniff_jsonl(name: str, text: str) -> tuple[str | None, str]:
    if name == "corpus.jsonl":
        return BEIR_CORPUS, ""
    if name.startswith("queries"):
        return None, "a BEIR queries file is not a corpus (give the dataset folder instead)"
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return None, "a .jsonl file whose first line is not a complete JSON object"
    if isinstance(obj, dict) and "_id" in obj:
        return BEIR_CORPUS, ""
    return None, "a .jsonl file whose first line has no '_id' (not a BEIR corpus)"


def _sniff_medline(name: str, text: str) -> tuple[str | None, str]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.startswith("PMID-"):
        return MEDLINE, ""
    if name.endswith((".medline", ".nbib")) and (not first or _MEDLINE_TAG.match(first)):
        return MEDLINE, ""
    return None, "unknown format (not PubMed XML, MEDLINE text or a BEIR corpus)"


def iter_items(sf: SourceFile) -> Iterator[Item]:
    """Read one discovered file; yields ``Article``/``Deletion``/``Problem`` in file order."""
    location = str(sf.path)
    if sf.format == PUBMED_XML:
        from ingest.pubmed_xml import iter_pubmed_xml  # lazy: lxml is heavy

        yield from iter_pubmed_xml(sf.path, location=location)
    elif sf.format == MEDLINE:
        from ingest.medline_text import iter_medline_text

        yield from iter_medline_text(sf.path, location=location)
    elif sf.format == BEIR_CORPUS:
        from ingest.beir import iter_beir_corpus

        yield from iter_beir_corpus(sf.path, location=location)
    else:
        raise SourceError(f"{sf.path}: unknown format {sf.format!r}", hint=f"one of {FORMATS}")


def iter_paths(paths: Sequence[str | Path]) -> Iterator[Item]:
    """Discover ``paths`` and yield every item: first the skipped files' problems, then records."""
    files, problems = discover(paths)
    yield from problems
    for sf in files:
        yield from iter_items(sf)


def fingerprint(path: str | Path) -> str:
    """A cheap identity of a file's content: ``size:mtime_ns:sha256(first + last 64 KiB)``.

    Ingest records it for each fully read file, so a rerun can skip files
    that have not changed.
    """
    path = Path(path)
    try:
        stat = path.stat()
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            digest.update(handle.read(_FINGERPRINT_CHUNK))
            if stat.st_size > _FINGERPRINT_CHUNK:
                handle.seek(max(_FINGERPRINT_CHUNK, stat.st_size - _FINGERPRINT_CHUNK), os.SEEK_SET)
                digest.update(handle.read(_FINGERPRINT_CHUNK))
    except OSError as exc:
        raise SourceError(f"cannot fingerprint {path}: {exc.strerror}") from exc
    return f"{stat.st_size}:{stat.st_mtime_ns}:{digest.hexdigest()}"


def require_record_files(paths: Sequence[str | Path]) -> list[SourceFile]:
    """:func:`discover`, refusing paths that hold no file of a record format (a folder of
    other files, an empty one) with :class:`NoRecordsError`, before anything is written."""
    files, skipped = discover(paths)
    if not files:
        where = ", ".join(str(p) for p in paths)
        other = f" ({len(skipped)} other files skipped)" if skipped else ""
        raise NoRecordsError(f"No record files in {where}{other}.", hint=f"Give a folder or files holding {SUPPORTED}.")
    return files
