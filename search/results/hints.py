"""What to say when a query finds little: spelling suggestions and MeSH headings.

- :func:`suggest`: words of the collection's own vocabulary close to a word no record holds
  ("did you mean"), as PubMed's spell check proposes corrections from its own index. The
  vocabulary is the snapshot's word table (``qx_vocab``: every word of titles, abstracts,
  MeSH, keywords, names); a candidate must be a word the BM25 index holds, and candidates
  are ranked by edit distance (Levenshtein, through rapidfuzz), then by how many records
  hold them.
- :func:`mesh_hints`: for a ``[mh]`` / ``[majr]`` term that names no heading of the
  collection, the headings the collection has that contain its words, with their counts
  ("Diabetes Mellitus, Type 2 (12)"): the collection indexes the specific heading, and
  ``[mh]`` here does not explode the MeSH tree.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence

from search.query.syntax import Node, Term, to_pubmed
from search.retrieval.tokenizer import Tokenizer

#: Edit distance allowed for a suggestion: 1 for words of up to 4 letters, else 2.
SHORT_WORD = 4
#: Vocabulary words shorter than this are never proposed.
MIN_SUGGESTION = 3

_vocab_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_vocab_lock = threading.Lock()


def _vocabulary(snap) -> tuple[str, ...]:
    """The snapshot's words (letters only, at least MIN_SUGGESTION long), loaded once."""
    records = snap.records
    with _vocab_lock:
        got = _vocab_cache.get(records)
        if got is None:
            rows = records.vocabulary()
            got = tuple(w for w in rows if len(w) >= MIN_SUGGESTION and w.isalpha())
            _vocab_cache[records] = got
    return got


def suggest(snap, tokenizer: Tokenizer, word: str, limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` words of the collection close to ``word``, best first."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    word = word.lower()
    if not word.isalpha() or len(word) < MIN_SUGGESTION:
        return ()
    max_distance = 1 if len(word) <= SHORT_WORD else 2
    found = process.extract(word, _vocabulary(snap), scorer=Levenshtein.distance,
                            score_cutoff=max_distance, limit=50)
    ranked = []
    for candidate, distance, _ in found:
        stem = tokenizer.stem_word(candidate)
        held = len(snap.lexical.rows_with(stem)) if stem else 0
        if held:
            ranked.append((distance, -held, candidate))
    ranked.sort()
    return tuple(c for _, _, c in ranked[:limit])


def corrected(text: str, fixes: dict[str, str]) -> str:
    """``text`` with each unknown word replaced by its best suggestion (case ignored)."""
    if not fixes:
        return ""
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(fixes, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)
    return pattern.sub(lambda m: fixes[m.group(1).lower()], text)


def mesh_terms_of(node: Node | None) -> list[Term]:
    """The ``[mh]`` / ``[majr]`` terms of a restriction, in order (not those under a NOT)."""
    if node is None:
        return []
    if isinstance(node, Term):
        return [node] if node.field in ("mh", "majr") else []
    return [t for child in getattr(node, "items", ()) for t in mesh_terms_of(child)]


def mesh_hints(snap, restriction: Node | None, limit: int = 5) -> tuple[str, ...]:
    """A sentence for each MeSH term of ``restriction`` that matches no record."""
    out = []
    for term in mesh_terms_of(restriction):
        if snap.records.restrict_mask(term).any():
            continue
        words = [w for w in term.text.lower().replace(",", " ").split() if w]
        found = snap.records.headings_with(words, limit)
        shown = to_pubmed(term)
        if found:
            listed = ", ".join(f"{name} ({count:,})" for name, count in found)
            out.append(f"No record has the MeSH heading of {shown}. Headings of this collection "
                       f"that contain its words: {listed}.")
        else:
            out.append(f"No record has the MeSH heading of {shown}, and no heading of this collection "
                       "contains its words; search the words as text instead ([tiab]).")
    return tuple(out)


def unknown_words_message(unknown: Sequence[str], fixes: dict[str, tuple[str, ...]]) -> str:
    """"No record has the word 'asthama' (did you mean asthma?)." for the words of ``unknown``."""
    parts = []
    for w in unknown:
        alts = fixes.get(w, ())
        parts.append(f"'{w}'" + (f" (did you mean {' or '.join(alts)}?)" if alts else ""))
    noun = "word" if len(unknown) == 1 else "words"
    return f"No record of this collection has the {noun} {', '.join(parts)}."
