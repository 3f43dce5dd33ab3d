"""The HTTP API served for real in tests: uvicorn on a free loopback port, in a thread, over an
engine that reads the index snapshots of a real store (BM25 and the fast fake embedder), a
real library file and a summariser with a scripted model (or none). Clients talk to it with
httpx, as any other program would.

    with serve(services) as base_url:
        httpx.get(f"{base_url}/search", params={"q": "sepsis"})
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fake_embedder import FakeEmbedder

#: Two clients' keys (raw) and the MEDSEARCH_API_KEYS entries that hold their hashes.
KEYS = {"alice": "msk_alice-test-key-0123456789abcdef", "bob": "msk_bob-test-key-0123456789abcdef"}


def key_entries() -> str:
    from search.api.keys import hash_key

    return ",".join(f"{name}:{hash_key(key)}" for name, key in KEYS.items())


def auth(name: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def fake_source(index_dir: Path):
    """The engine's snapshot source over ``index_dir``, embedding queries with the fake embedder
    the index was built with (the real source would load that model by name)."""
    from search.engine import SnapshotSource
    from search.index.build import IndexSettings

    class Source(SnapshotSource):
        def _embedder_once(self):
            if self._embedder is None:
                self._embedder = FakeEmbedder()
            return self._embedder

    return Source(index_dir, IndexSettings(embedder=FakeEmbedder.name))


def make_services(db: Path, library: Path, *, model=None, rate: int = 10_000, open_reads: bool = True,
                  keys: str | None = None):
    from search.api.access import Access
    from search.api.keys import KeyRing
    from search.api.ratelimit import RateLimiter
    from search.api.services import ApiServices
    from search.config import Settings
    from search.engine import Engine, EngineConfig
    from search.library import Library
    from search.summarize import Summarizer
    from search.summarize.cache import SummaryCache

    source = fake_source(db.with_name(db.stem + ".index"))
    engine = Engine(source.get(), EngineConfig(mode="hybrid", fusion="weighted"), source=source, db_path=db)
    settings = Settings.from_env({"MEDSEARCH_DB": str(db), "MEDSEARCH_LIBRARY_DB": str(library),
                                  "MEDSEARCH_EMBEDDING_MODEL": FakeEmbedder.name, "MEDSEARCH_RERANKER": "none"})
    summarizer = Summarizer(model, SummaryCache(library), unavailable=None if model else "MEDSEARCH_LLM=none")
    access = Access(KeyRing.parse(key_entries() if keys is None else keys), RateLimiter(rate), open_reads=open_reads)
    return ApiServices(settings, engine, summarizer, Library(library), access, summary_papers=3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(services) -> Iterator[str]:
    """The app over ``services`` on uvicorn, in a thread; yields its base URL."""
    import uvicorn

    from search.api.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api server", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "the API server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_for_http(url: str, tries: int = 600) -> None:
    """Until ``url`` answers (a server started in another process)."""
    import httpx

    for _ in range(tries):
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")
