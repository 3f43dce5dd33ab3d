"""The bounds on one query, in one place: every surface that takes a query checks them the
same way (a search, a saved query at save and at restore).

``search.engine.EngineConfig`` holds the same numbers for a search (``max_query_chars``,
``max_query_terms``, ``max_k``); a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.errors import ConfigError
from search.query.syntax import MAX_NESTING, ParsedQuery, parse
from search.types import MODES

MAX_QUERY_CHARS = 2000
MAX_QUERY_TERMS = 64
MAX_K = 1000

__all__ = ["MAX_K", "MAX_NESTING", "MAX_QUERY_CHARS", "MAX_QUERY_TERMS", "MODES", "check_query"]


def check_query(query: str, *, mode: str | None = None, k: int | None = None,
                tokenize: Callable[[str], list[str]] | None = None) -> ParsedQuery:
    """``query`` parsed, or the error a search with it would raise: too long, unparsable (a
    nesting deeper than :data:`MAX_NESTING` included), too many distinct terms, an unknown
    mode, a ``k`` out of range. ``tokenize``: the index's tokenizer (default: the default one)."""
    if len(query) > MAX_QUERY_CHARS:
        raise ConfigError(f"The query is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}.",
                          hint="Shorten it to the words that matter (a question, or keywords).")
    parsed = parse(query)
    if tokenize is None:
        from search.retrieval.tokenizer import tokenize as default_tokenize

        tokenize = default_tokenize
    terms = len(set(tokenize(parsed.free_text)))
    if terms > MAX_QUERY_TERMS:
        raise ConfigError(f"The query has {terms} distinct search terms; the limit is {MAX_QUERY_TERMS}.",
                          hint="Shorten it to the words that matter (a question, or keywords).")
    if mode is not None and mode not in MODES:
        raise ConfigError(f"Unknown search mode {mode!r}.", hint=f"Use one of {', '.join(MODES)}.")
    if k is not None and not 1 <= k <= MAX_K:
        raise ConfigError(f"k must lie between 1 and {MAX_K}, got {k}.", hint="Ask for fewer results.")
    return parsed
