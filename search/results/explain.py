"""Explanations of a page of hits: the BM25 terms each hit matched, with each term's share,
and :func:`annotate`, which adds to a page of hits everything a result card shows.

BM25 (bm25s) stores every (document, token) contribution in its score matrix; a
document's score for a query is the sum of the contributions of the query's tokens,
a token repeated in the query counting once per repeat. :func:`matched_terms` reads each
query token's contributions from that matrix (``LexicalIndex.scores_from_tokens`` of
the one token) for the hits' rows, so the shares add up to the hit's BM25 score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from search.query.syntax import Node
from search.results.evidence import evidence_of
from search.results.highlight import WORD, Highlighter, query_terms
from search.retrieval.bm25 import LexicalIndex
from search.retrieval.tokenizer import Tokenizer
from search.types import Hit, TermScore


def token_words(free_text: str, tokenizer: Tokenizer) -> dict[str, tuple[str, ...]]:
    """Each BM25 token of ``free_text`` -> the words of the text it came from, in order
    (one spelling per word, ignoring case)."""
    out: dict[str, dict[str, str]] = {}
    for m in WORD.finditer(free_text):
        word = m.group()
        for tok in tokenizer(word):
            out.setdefault(tok, {}).setdefault(word.lower(), word)
    return {t: tuple(w.values()) for t, w in out.items()}


def matched_terms(
    lexical: LexicalIndex, tokens: Sequence[str], rows: Sequence[int], words: dict[str, tuple[str, ...]],
) -> list[tuple[TermScore, ...]]:
    """For each of ``rows`` (index rows of hits), the query tokens it matched, largest share
    first (ties by token), with their BM25 contributions."""
    if not tokens or not len(rows):
        return [() for _ in rows]
    rows_ = np.asarray(rows, dtype=np.int64)
    repeats = Counter(tokens)
    shares = {t: lexical.scores_from_tokens([t])[rows_] * repeats[t] for t in repeats}
    out = []
    for i in range(len(rows_)):
        found = [TermScore(t, words.get(t, ()), float(s[i])) for t, s in shares.items() if s[i] > 0]
        out.append(tuple(sorted(found, key=lambda x: (-x.bm25, x.term))))
    return out


def annotate(snap, hits: Sequence[Hit], tokens: Sequence[str], free_text: str, restriction: Node | None,
             tokenizer: Tokenizer, word_tokens: Callable[[str], tuple[str, ...]]) -> tuple[Hit, ...]:
    """``hits`` with their result cards (one batch of queries for the page), evidence levels,
    highlights and matched BM25 terms; ``snap`` is the snapshot they come from, ``word_tokens``
    gives one word's BM25 tokens (:class:`search.results.highlight.WordTokens`). Hits whose record
    the snapshot lacks are dropped."""
    ids = [h.doc_id for h in hits]
    cards = snap.records.cards(ids)
    rows_of = snap.rows_of()
    terms = matched_terms(snap.lexical, tokens, [rows_of[d] for d in ids], token_words(free_text, tokenizer))
    marker = Highlighter(query_terms(list(tokens), restriction), word_tokens)
    cols = snap.records.columns()
    out = []
    for h, matched in zip(hits, terms, strict=True):
        card = cards.get(h.doc_id)
        if card is None:
            continue
        row = rows_of[h.doc_id]
        evidence = evidence_of(card["publication_types"], card["mesh_terms"],
                               systematic=bool(cols.systematic[row]), retracted=bool(card["is_retracted"]))
        out.append(replace(
            h, **card, evidence=evidence,
            highlights=marker.spans(card["title"], card["abstract"]), matched_terms=matched,
        ))
    return tuple(out)
