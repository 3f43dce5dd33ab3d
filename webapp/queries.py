"""The engine's answers, cached for the process with ``st.cache_data``.

Every click reruns the page; without this cache each rerun would search again (a reranked
search costs a good part of a second). The cache key holds the engine and the name of
the index snapshot it reads, so a new snapshot published by ``medsearch index`` gets
fresh answers at once. Answers are the engine's frozen dataclasses; errors are not cached.
"""

from __future__ import annotations

import streamlit as st

from search.engine import Engine
from search.types import Facets, Filters, SearchResults, SimilarResults

PAGE_SIZE = 10
_TTL = 300  # seconds: also bounds how long a cached answer's index-status warning may be old


def snapshot_key(engine: Engine) -> str:
    """Names the engine and the snapshot it reads now."""
    return f"{id(engine)}:{engine.snapshot.name}"


@st.cache_data(max_entries=512, ttl=_TTL, show_spinner=False)
def search(_engine: Engine, key: str, query: str, filters: Filters, sort: str, page: int) -> SearchResults:
    return _engine.search(query, k=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, filters=filters, sort=sort)


@st.cache_data(max_entries=512, ttl=_TTL, show_spinner=False)
def facets(_engine: Engine, key: str, query: str, filters: Filters) -> Facets:
    return _engine.facets(query, filters=filters)


@st.cache_data(max_entries=256, ttl=_TTL, show_spinner=False)
def similar(_engine: Engine, key: str, pmid: str, filters: Filters) -> SimilarResults:
    return _engine.similar(pmid, k=PAGE_SIZE, filters=filters)


def page_count(results: SearchResults, engine: Engine) -> int:
    """Pages of results the engine can list: relevance and evidence orders at most
    ``max_k`` results, date and author orders and queries without free text ``max_results``."""
    long = results.sort in ("date", "author") or not results.free_text
    cap = engine.config.max_results if long else engine.config.max_k
    return max(1, -(-min(results.total, cap) // PAGE_SIZE))
