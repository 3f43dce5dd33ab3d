"""Highlights: where a query's terms occur in a hit's title and abstract, as character offsets.

Two kinds of terms are marked:

- the free text's BM25 tokens: every word of the text is run through the same
  :class:`search.retrieval.tokenizer.Tokenizer` as the BM25 index (normalisation, compounds, Greek
  letters, stop words, Snowball stemming), so the query "diabetic" marks "diabetes" and
  "IL-6" marks "IL-6" and "IL6"; a word is marked when any of its tokens is a query token;
- the words of the restriction's positive text clauses (``[tiab]``, ``[ti]``, ``[ab]``,
  ``[tw]``, untagged): exact words as :func:`search.query.restrict.tokens` reads them (no
  stemming, as the restriction matched them), ``random*`` as a prefix, a phrase only where
  its words stand side by side; ``[ti]`` marks the title only, ``[ab]`` the abstract only.
  Clauses under ``NOT`` mark nothing.

Spans index the stored text itself (``Hit.title[start:end]``), never a normalised copy,
so a front end can escape the text and wrap the spans without re-tokenising anything.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from search.query.restrict import tokens as exact_tokens
from search.query.syntax import And, Node, Not, Or, Term
from search.retrieval.tokenizer import Tokenizer, TokenizerConfig
from search.types import Span

#: A word as the BM25 tokenizer cuts compounds (search/retrieval/tokenizer.py), matched on the stored text.
_HYPHENS = "-\u2010\u2011"
_PIECE = r"(?:\d+(?:\.\d+)+|[^\W_]+)"
_COMPOUND = re.compile(rf"{_PIECE}(?:[{_HYPHENS}]{_PIECE})*")
#: A word of free text as the BM25 tokenizer cuts it (compounds whole), for explanations.
WORD = _COMPOUND
#: A word as the restriction's word index reads it (search/query/restrict.py TOKEN_RE).
_WORD = re.compile(r"[^\W_]+")

#: Text fields a restriction clause of each tag marks.
_TAG_FIELDS = {None: ("title", "abstract"), "all": ("title", "abstract"), "tw": ("title", "abstract"),
               "tiab": ("title", "abstract"), "ti": ("title",), "ab": ("abstract",)}


@dataclass(frozen=True, slots=True)
class Phrase:
    """A restriction clause's words, in order; ``prefix`` marks words that end in ``*``."""

    words: tuple[str, ...]
    prefix: tuple[bool, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """What to mark: the free text's BM25 tokens and the restriction's positive phrases."""

    tokens: frozenset[str] = frozenset()
    phrases: tuple[Phrase, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.tokens and not self.phrases


def query_terms(tokens: list[str], restriction: Node | None) -> QueryTerms:
    """The terms to mark for BM25 ``tokens`` and a query ``restriction``."""
    return QueryTerms(frozenset(tokens), tuple(_phrases(restriction)))


def _phrases(node: Node | None) -> Iterator[Phrase]:
    if node is None or isinstance(node, Not):
        return
    if isinstance(node, (And, Or)):
        for item in node.items:
            yield from _phrases(item)
        return
    if not isinstance(node, Term) or node.field not in _TAG_FIELDS:
        return
    fields = _TAG_FIELDS[node.field]
    units = [node.text] if (node.field is not None or node.quoted) else node.text.split()
    for unit in units:
        words: list[str] = []
        prefix: list[bool] = []
        for w in unit.split():
            toks = exact_tokens(w.rstrip("*"))
            words += toks
            prefix += [False] * len(toks)
            if toks and w.endswith("*"):
                prefix[-1] = True
        if words:
            yield Phrase(tuple(words), tuple(prefix), fields)


class WordTokens:
    """The BM25 tokens of one word, cached: pages of hits repeat most of their words, and
    tokenising word by word is the larger part of highlighting. Thread-safe (a tokenizer
    per thread; ``functools.lru_cache`` is)."""

    def __init__(self, config: TokenizerConfig, size: int = 1 << 16) -> None:
        self.config = config
        self._local = threading.local()
        self.of: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=size)(self._tokens)

    def _tokens(self, word: str) -> tuple[str, ...]:
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = self._local.tokenizer = Tokenizer(self.config)
        return tuple(tok(word))


@lru_cache(maxsize=1 << 16)
def exact_token(word: str) -> str:
    """A word as the restriction's word index reads it (an ASCII word: lower case, which is
    what :func:`search.query.restrict.tokens` gives it; others go through that function)."""
    if word.isascii():
        return word.lower()
    found = exact_tokens(word)
    return found[0] if found else ""


class Highlighter:
    """Marks query terms in texts (``word_tokens``: the BM25 tokens of one word)."""

    def __init__(self, terms: QueryTerms, word_tokens: Callable[[str], tuple[str, ...]]) -> None:
        self.terms = terms
        self._word_tokens = word_tokens
        # Built once for a page: each field's phrases by their first word (exact, or a prefix in one
        # regular expression), so a text is read once, whatever the number of phrases.
        self._starts = {name: _PhraseStarts([p for p in terms.phrases if name in p.fields])
                        for name in ("title", "abstract")}

    def spans(self, title: str, abstract: str) -> tuple[Span, ...]:
        """Spans in ``title`` then ``abstract``, each list in text order, overlaps merged."""
        if self.terms.empty:
            return ()
        return (*self._field("title", title), *self._field("abstract", abstract))

    def _field(self, name: str, text: str) -> list[Span]:
        if not text:
            return []
        found = list(self._bm25(name, text)) if self.terms.tokens else []
        starts = self._starts[name]
        if starts:
            found += self._exact(name, text, starts)
        return _merge(found)

    def _bm25(self, name: str, text: str) -> Iterator[Span]:
        wanted = self.terms.tokens
        for m in _COMPOUND.finditer(text):
            for t in self._word_tokens(m.group()):
                if t in wanted:
                    yield Span(name, m.start(), m.end(), t)
                    break

    def _exact(self, name: str, text: str, starts: _PhraseStarts) -> list[Span]:
        words = [(m.start(), m.end(), exact_token(m.group())) for m in _WORD.finditer(text)]
        out = []
        for i, (_, _, token) in enumerate(words):
            for p in starts.at(token):
                size = len(p.words)
                if i + size <= len(words) and all(
                        _matches(words[i + j][2], p.words[j], p.prefix[j]) for j in range(1, size)):
                    out.append(Span(name, words[i][0], words[i + size - 1][1], " ".join(p.words)))
        return out


class _PhraseStarts:
    """Phrases by their first word: a dict for exact first words, one regular expression (and a
    dict by prefix) for first words that end in ``*``. :meth:`at` gives the phrases that may start
    at a token, in the order given."""

    def __init__(self, phrases: list[Phrase]) -> None:
        self.order = {p: i for i, p in enumerate(phrases)}
        self.exact: dict[str, list[Phrase]] = {}
        self.by_prefix: dict[str, list[Phrase]] = {}
        for p in phrases:
            (self.by_prefix if p.prefix[0] else self.exact).setdefault(p.words[0], []).append(p)
        alternatives = sorted(self.by_prefix, key=len, reverse=True)
        self.prefixes = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None

    def __bool__(self) -> bool:
        return bool(self.order)

    def at(self, token: str) -> list[Phrase]:
        found = list(self.exact.get(token, ()))
        if self.prefixes is not None and self.prefixes.match(token):
            found += [p for prefix, ps in self.by_prefix.items() if token.startswith(prefix) for p in ps]
        if len(found) > 1:
            found.sort(key=self.order.__getitem__)
        return found


def _matches(token: str, word: str, prefix: bool) -> bool:
    return token.startswith(word) if prefix else token == word


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted by start; a span overlapping the previous one extends it (the first term is kept)."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                out[-1] = Span(last.field, last.start, s.end, last.term)
            continue
        out.append(s)
    return out
