"""The documents to index, read from the store, and the text recipe that turns a record into text.

One recipe (:func:`compose_text`) serves both indexes:

- dense (bi-encoder): ``title + abstract``. MiniLM reads at most 256 word pieces,
  which a title and abstract already fill for most records; a list of MeSH
  descriptors appended at the end is cut off or, on short records, shifts the
  vector towards generic headings (``Humans``, ``Female``) that every record shares.
- BM25: ``title + abstract + MeSH descriptors + author keywords``
  (``subject_terms=True``). MeSH is PubMed's controlled vocabulary: indexers add
  the concepts an abstract implies but does not spell out (``Neoplasms`` for a
  text about "tumours", ``Diabetes Mellitus, Type 2`` for "T2DM"), which is how
  PubMed's own search reaches them (automatic term mapping). BEIR corpora carry
  no MeSH, so it was checked on the demo records instead (known-item search):
  the first three content words of each record's title as the query, the
  title left out of every indexed text, ``abstract`` vs ``abstract + MeSH +
  keywords``, over all 2,410 demo records, scored on the 578 records that have
  an abstract and MeSH or keywords: MRR@10 0.786 -> 0.821, recall@10 0.898 ->
  0.920; on the 208 of them with MeSH: MRR@10 0.801 -> 0.845 (``python
  bench/bench_search.py recipe``). Keywords often repeat title words, which
  flatters them here; MeSH helps on its own. Generic headings cost little in
  BM25 because their idf is low.

:data:`TEXT_RECIPE_VERSION` is stored with every index; bump it when the recipe
changes so that old indexes are rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ingest.store import Store

#: Bump when :func:`compose_text` would give an existing record a different text.
TEXT_RECIPE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Document:
    """One record as the indexes see it."""

    doc_id: str
    record_hash: str
    title: str
    abstract: str
    mesh_terms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The dense (embedding) text: title and abstract."""
        return compose_text(self.title, self.abstract)

    @property
    def text_hash(self) -> str:
        """Hash of :attr:`text`: the dense index keys its vectors on it."""
        return text_hash(self.text)

    @property
    def lexical_text(self) -> str:
        """The BM25 text: title, abstract, MeSH descriptors and keywords."""
        return compose_text(
            self.title, self.abstract, self.mesh_terms, self.keywords, subject_terms=True
        )


def compose_text(
    title: str,
    abstract: str | None,
    mesh_terms: Sequence[str] = (),
    keywords: Sequence[str] = (),
    *,
    subject_terms: bool = False,
) -> str:
    """The text of one record: title, abstract, then (if ``subject_terms``) MeSH and keywords."""
    parts = [title.strip(), (abstract or "").strip()]
    if subject_terms:
        parts.append("; ".join([*mesh_terms, *keywords]))
    return "\n".join(p for p in parts if p)


def text_hash(text: str) -> str:
    """SHA-256 of the UTF-8 text, first 32 hex digits: the key of an embedded text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def iter_documents(store: Store, *, batch_size: int = 10_000) -> Iterator[Document]:
    """Every stored record, ordered by ``doc_id`` (the order both indexes keep)."""
    for batch in store.iter_index_rows(batch_size):
        for doc_id, record_hash, title, abstract, mesh, keywords in batch:
            yield Document(
                doc_id=doc_id,
                record_hash=record_hash,
                title=title or "",
                abstract=abstract or "",
                mesh_terms=tuple(mesh or ()),
                keywords=tuple(keywords or ()),
            )


def corpus_fingerprint(store: Store) -> str:
    """A short string that changes whenever a record is added, changed or removed.

    ``"<count>-<xor of md5(doc_id:record_hash)>"``, computed inside DuckDB
    without sorting (~0.3 s at 1M records on 2 cores).
    """
    count, digest = store.corpus_fingerprint()
    return f"{count}-{digest}"
