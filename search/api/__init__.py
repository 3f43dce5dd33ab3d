"""The HTTP API (``medsearch serve``, FastAPI on uvicorn) over the same engine, library and
summariser as the CLI and the app; ``docs/api.md`` describes every endpoint.

    app.py          the FastAPI application (create_app)
    services.py     what it serves from, loaded once per worker
    access.py       API keys, open or closed reads, rate limits (keys.py, ratelimit.py)
    problems.py     errors as application/problem+json
    routes_*.py     the endpoints by group: search, summaries, saved, lists, status
    streaming.py    summaries as server-sent events; feeds.py: Atom and RSS
"""
