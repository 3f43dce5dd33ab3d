"""Tokenisation shared by index time and query time, tuned for biomedical text.

The same :class:`Tokenizer` (same :class:`TokenizerConfig`) must tokenise the
documents and the queries; the lexical index stores its config in ``params.json``
and refuses to load an index built by another :data:`TOKENIZER_VERSION`.

What one call does, in order:

1. Unicode NFKC (full-width forms, ligatures, the micro sign ``µ`` -> ``μ``),
   case folding, Latin diacritics removed (``Sjögren`` -> ``sjogren``) and the
   possessive ``'s`` dropped.
2. Compounds: word pieces joined by hyphens (``COVID-19``, ``IL-6``, ``5-FU``)
   yield each part *and* the parts joined: ``covid``, ``19``, ``covid19``. A
   Greek letter glued to other characters is its own part (``TNFα`` gives
   ``tnf``, ``α``, ``tnfα``; ``IL-1β`` gives ``il``, ``1``, ``β``, ``il1β`` and
   also ``il1``). Digits are kept (``type 2 diabetes`` -> ``type``, ``2``,
   ``diabetes``), decimals stay whole (``0.05``), ``HbA1c`` stays ``hba1c``.
3. Greek letters: every token holding one is kept *and* also emitted spelled
   out (``β-blocker`` -> ``β``, ``blocker``, ``βblocker``, ``beta``,
   ``betablocker``), so ``beta-blocker`` and ``β-blocker`` match each other.
4. Optional stop-word removal, then optional Snowball stemming (PyStemmer).

Defaults (Snowball English stemmer, Lucene's 33 English stop words) were chosen
by BM25 nDCG@10 on the NFCorpus dev and SciFact train splits: stemming adds
about +0.025, the stop words +0.001, Porter ties Snowball
(``python bench/bench_bm25.py tune`` prints the table).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ingest.errors import ConfigError

#: Bump when a change would give an existing index different tokens.
TOKENIZER_VERSION = 1

#: Lucene's ``EnglishAnalyzer`` default stop set (also Anserini's), 33 words.
LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with".split()
)
STOPWORD_LISTS: dict[str, frozenset[str]] = {"lucene": LUCENE_STOPWORDS}

GREEK_NAMES = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu",
    "ν": "nu", "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma",
    "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}  # fmt: skip
_GREEK_TABLE = str.maketrans(GREEK_NAMES)

_HYPHENS = "-\u2010\u2011"
_PIECE = r"(?:\d+(?:\.\d+)+|[^\W_]+)"
_COMPOUND = re.compile(rf"{_PIECE}(?:[{_HYPHENS}]{_PIECE})*")
_HYPHEN_SPLIT = re.compile(f"[{_HYPHENS}]")
_GREEK_RUNS = re.compile(r"[\u0370-\u03ff]+|[^\u0370-\u03ff]+")
_HAS_GREEK = re.compile(r"[\u0370-\u03ff]")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    """How text becomes tokens; stored with every index.

    ``stemmer``: a PyStemmer algorithm name (``"english"`` = Snowball/Porter2,
    ``"porter"`` = the original Porter) or ``None``. ``stopwords``: a key of
    :data:`STOPWORD_LISTS` or ``None``.
    """

    stemmer: str | None = "english"
    stopwords: str | None = "lucene"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "version": TOKENIZER_VERSION}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizerConfig:
        return cls(stemmer=data.get("stemmer"), stopwords=data.get("stopwords"))


class Tokenizer:
    """A callable ``text -> list[str]``. Not thread-safe (PyStemmer): one per thread."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._stop = _stopwords(self.config.stopwords)
        self._stemmer = _stemmer(self.config.stemmer)

    def __call__(self, text: str) -> list[str]:
        tokens = [t for t in surface_tokens(text) if t not in self._stop]
        return self._stemmer.stemWords(tokens) if self._stemmer else tokens

    def stem_word(self, word: str) -> str | None:
        """One surface token (already normalised, no compound expansion) as the index stores
        it; None for a stop word."""
        if word in self._stop:
            return None
        return self._stemmer.stemWord(word) if self._stemmer else word


def normalize(text: str) -> str:
    """NFKC, case folding, Latin diacritics and possessive ``'s`` removed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize(
            "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
        )
    return _POSSESSIVE.sub("", text)


def surface_tokens(text: str) -> list[str]:
    """Tokens before stop words and stemming: compound parts, joined forms, Greek names."""
    text = normalize(text)
    greek = _HAS_GREEK.search(text) is not None
    out: list[str] = []
    for word in _COMPOUND.findall(text):
        if greek or not word.isalnum():  # a hyphen, a decimal point or a Greek letter
            out.extend(_expand(word))
        else:
            out.append(word)
    return out


def words_with_parts(text: str) -> list[tuple[str, list[str]]]:
    """Each word of ``text`` (normalised, as :func:`surface_tokens` finds them) with its
    parts: the pieces between hyphens, a Greek run split from the letters around it."""
    return [(w, [run for piece in _HYPHEN_SPLIT.split(w) for run in _greek_runs(piece)])
            for w in _COMPOUND.findall(normalize(text))]


def greek_variants(word: str) -> set[str]:
    """``word`` and, if it holds a Greek letter, the same word with the letter spelled out."""
    return {word, word.translate(_GREEK_TABLE)} if _HAS_GREEK.search(word) else {word}


def _expand(compound: str) -> list[str]:
    parts = [run for piece in _HYPHEN_SPLIT.split(compound) for run in _greek_runs(piece)]
    words = parts if len(parts) == 1 else [*parts, "".join(parts)]
    latin = [p for p in parts if not _HAS_GREEK.search(p)]
    if 1 < len(latin) < len(parts):  # IL-1β is also IL-1
        words.append("".join(latin))
    out: list[str] = []
    for word in words:
        out.append(word)
        if _HAS_GREEK.search(word):
            out.append(word.translate(_GREEK_TABLE))
    return out


def _greek_runs(piece: str) -> list[str]:
    if not _HAS_GREEK.search(piece):
        return [piece]
    return _GREEK_RUNS.findall(piece)


def _stopwords(name: str | None) -> frozenset[str]:
    if name is None:
        return frozenset()
    if name not in STOPWORD_LISTS:
        raise ConfigError(
            f"Unknown stop-word list {name!r}.",
            hint=f"Use one of {sorted(STOPWORD_LISTS)} or none.",
        )
    return STOPWORD_LISTS[name]


def _stemmer(name: str | None) -> Any:
    if name is None:
        return None
    import Stemmer  # PyStemmer

    if name not in Stemmer.algorithms():
        raise ConfigError(
            f"Unknown stemmer {name!r}.", hint="Use 'english' (Snowball), 'porter' or none."
        )
    return Stemmer.Stemmer(name)


@lru_cache(maxsize=8)
def _shared(config: TokenizerConfig) -> Tokenizer:
    return Tokenizer(config)


def tokenize(text: str, config: TokenizerConfig | None = None) -> list[str]:
    """Tokenise one text with a cached :class:`Tokenizer` (single-threaded use)."""
    return _shared(config or TokenizerConfig())(text)
