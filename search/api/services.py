"""What the API serves from: the engine, the summariser and the library the CLI and the app use,
loaded once per worker process and shared by every request.

Each part is thread-safe (FastAPI runs plain ``def`` endpoints in a thread pool): the engine
reads the current index snapshot and moves to a new one by itself after ``medsearch index``
(no restart; ``search.engine.SnapshotSource``), a local summary model serialises its requests,
and the library opens its file for one short transaction per operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from search.api import DEFAULT_HOST, DEFAULT_PORT  # noqa: F401 - where serve listens by default
from search.api.access import Access
from search.api.keys import KeyRing
from search.api.ratelimit import RateLimiter
from search.llm.endpoint import is_loopback

if TYPE_CHECKING:
    from search.config import Settings
    from search.engine import Engine
    from search.library import Library
    from search.summarize import Summarizer


@dataclass(frozen=True, slots=True)
class ApiServices:
    settings: Settings
    engine: Engine
    summarizer: Summarizer
    library: Library
    access: Access
    summary_papers: int = 5  # how many top results an overview reads


def make_access(settings: Settings, *, host: str, open_reads: bool) -> Access:
    """Keys and rate limit from ``settings``; reads open on loopback or when asked for. A server
    that only key holders may read and that has no key could serve nobody: refused."""
    from ingest.errors import ConfigError

    keys = KeyRing.parse(settings.api_keys)
    opened = open_reads or is_loopback(host)
    if not opened and not keys:
        raise ConfigError(
            f"On {host} the server would answer only API key holders, and MEDSEARCH_API_KEYS holds none.",
            hint="Make a key with `medsearch serve --new-key NAME` and set MEDSEARCH_API_KEYS, or add "
            "--open-reads to let anyone who reaches the port search and read.",
        )
    return Access(keys, RateLimiter(settings.api_rate), open_reads=opened)


def open_services(settings: Settings, *, host: str = DEFAULT_HOST, open_reads: bool = False) -> ApiServices:
    """Every part from ``settings``; raises the project's errors (no index yet, bad settings)."""
    from search.assembly import open_engine
    from search.library import Library
    from search.summarize import open_summarizer

    access = make_access(settings, host=host, open_reads=open_reads)
    engine = open_engine(settings)
    return ApiServices(settings, engine, open_summarizer(settings), Library(settings.library_path), access,
                       settings.summary_papers)
