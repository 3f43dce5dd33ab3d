"""The engine, the summariser and the library: loaded once per process, shared by every session.

``st.cache_resource`` keeps one :class:`Services` for the whole server process, so the
index snapshot and the models load once whatever the number of browser sessions. Each
part is safe to share between the sessions' threads: the engine is thread-safe and moves
to a new index snapshot by itself after ``medsearch index`` (no restart); a local summary
model serialises its requests; the library opens its file for one short transaction per
operation. A failure to load is not cached: the next page load tries again, so the app
starts working once the user has run what the error message said.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from search.config import Settings
    from search.engine import Engine
    from search.library import Library
    from search.summarize import Summarizer

log = logging.getLogger("medsearch.app")

#: A query run once at start-up, so that the models a search needs (the query embedder, the
#: reranker) are loaded before the first user presses Enter.
WARM_UP_QUERY = "randomized trial of treatment outcomes"


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    summarizer: Summarizer
    library: Library
    summary_papers: int = 5  # how many top results an overview reads

    @property
    def models(self) -> tuple[tuple[str, str], ...]:
        """(role, what is in use) for the status panel."""
        s, engine = self.settings, self.engine
        embedder = "off (BM25 only)" if s.embedding_model.lower() == "none" else \
            f"{s.embedding_model} ({s.embedding_backend})"
        reranker = "off" if engine.reranker is None else s.reranker
        model = self.summarizer.model
        if model is None:
            writer = f"none: extractive summaries ({self.summarizer.unavailable})"
        elif model.destination:
            writer = f"{model.name} at {model.destination} (external)"
        else:
            writer = f"{model.name} (on this machine)"
        return (("Search mode", engine.config.mode), ("Embeddings", embedder), ("Reranker", reranker),
                ("Summaries", writer))


def open_services(settings: Settings) -> Services:
    """Every part from ``settings``; raises the library's errors (no index yet, bad settings)."""
    from search.assembly import open_engine
    from search.library import Library
    from search.summarize import open_summarizer

    engine = open_engine(settings)
    return Services(settings, engine, open_summarizer(settings), Library(settings.library_path),
                    settings.summary_papers)


def warm_up(engine: Engine) -> None:
    """One search, so that lazily loaded models are ready; a failure only costs the first user
    a slower search."""
    from ingest.errors import MedsearchError

    try:
        engine.search(WARM_UP_QUERY, k=1)
    except MedsearchError as exc:
        log.info("warm-up search failed: %s", exc.message)


def preload_summary_model(summarizer: Summarizer) -> threading.Thread | None:
    """Load a local summary model in a background thread (seconds, ~2 GB of memory) and, where the
    runtime compiles on its first generation (OpenVINO), write one token, so that the first
    summary asked for waits for neither; a model at an endpoint has nothing to load."""
    load = getattr(summarizer.model, "warm_up", None) or getattr(summarizer.model, "load", None)
    if load is None:
        return None

    def run() -> None:
        try:
            load()
        except Exception as exc:  # the first summary meets the same error and shows it
            log.info("preloading the summary model failed: %s", exc)

    thread = threading.Thread(target=run, name="summary model preload", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner="Loading the search index and models...")
def shared_services() -> Services:
    """The process's services, created by the first session that asks and shared by all."""
    from search.config import Settings

    services = open_services(Settings.from_env())
    warm_up(services.engine)
    preload_summary_model(services.summarizer)
    return services
