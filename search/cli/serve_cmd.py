"""``medsearch serve``: the HTTP API (FastAPI on uvicorn) over the current index and the library,
and ``--new-key NAME`` to make an API key (``search/api``, ``docs/api.md``)."""

from __future__ import annotations

import argparse
import json
import os

from search.cli.common import positive
from search.config import Settings

#: How ``serve --workers N`` hands its options to each worker process (they build their own app).
_HANDOFF = "MEDSEARCH_SERVE_OPTIONS"
#: A search run once per worker at start, so the models it needs are loaded before the first request.
WARM_UP_QUERY = "randomized trial of treatment outcomes"


def register(commands: argparse._SubParsersAction) -> None:
    from search.api.services import DEFAULT_HOST, DEFAULT_PORT

    p = commands.add_parser(
        "serve", help="serve the HTTP API: search, records, summaries, the library, exports, feeds",
        description="Start the HTTP API (FastAPI on uvicorn): JSON endpoints for search, records, similar "
        "articles, summaries (streamed as server-sent events), saved searches with Atom/RSS feeds, citation "
        "lists and exports; OpenAPI docs at /docs. It reads index snapshots like the app, so it answers "
        "while ingest or index run and switches to a new snapshot without a restart. Writes need an API "
        "key (MEDSEARCH_API_KEYS); on a host other than this machine, reads need one too unless "
        "--open-reads is given. See docs/api.md.",
    )
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=positive, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--workers", type=positive, default=1,
                   help="uvicorn worker processes, each with its own engine and models (default 1; "
                   "docs/api.md measures what more give)")
    p.add_argument("--open-reads", action="store_true",
                   help="let anyone who reaches the port search and read without a key (always so on 127.0.0.1)")
    p.add_argument("--new-key", metavar="NAME",
                   help="print a new API key for the client NAME and the MEDSEARCH_API_KEYS entry to add, then exit")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.new_key:
        return _new_key(args.new_key)
    import uvicorn

    from search.api.services import make_access

    make_access(settings, host=args.host, open_reads=args.open_reads)  # refuse a server nobody could use, now
    options = {"db": str(settings.db), "host": args.host, "open_reads": args.open_reads}
    print(f"medsearch API: http://{args.host}:{args.port}  (docs: /docs; Ctrl-C stops it)", flush=True)
    if args.workers == 1:
        app = build_app(settings, options)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5)
        return 0
    os.environ[_HANDOFF] = json.dumps(options)
    uvicorn.run("search.cli.serve_cmd:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", timeout_graceful_shutdown=5)
    return 0


def _new_key(name: str) -> int:
    from ingest.errors import ConfigError
    from search.api.keys import hash_key, keys_problem, new_key

    key = new_key()
    entry = f"{name}:{hash_key(key)}"
    if keys_problem(entry) is not None:
        raise ConfigError(f"{name!r} cannot name a key.", hint="Use letters, digits and . _ @ - (at most 64).")
    print(f"API key for {name} (shown once; give it to the client, keep it secret):\n  {key}")
    print(f"Add this entry to MEDSEARCH_API_KEYS (comma-separated; only the hash is stored):\n  {entry}")
    return 0


def build_app(settings: Settings, options: dict):
    from ingest.errors import MedsearchError
    from search.api.app import create_app
    from search.api.services import open_services

    services = open_services(settings, host=options["host"], open_reads=options["open_reads"])
    try:
        services.engine.search(WARM_UP_QUERY, k=1)
    except MedsearchError:  # only the first request pays for loading
        pass
    return create_app(services)


def app_from_env():
    """The app of one worker of ``serve --workers N`` (uvicorn imports and calls this)."""
    options = json.loads(os.environ[_HANDOFF])
    from pathlib import Path

    return build_app(Settings.from_env(db=Path(options["db"])), options)
