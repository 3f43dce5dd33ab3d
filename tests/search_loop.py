"""A reader process for the one-writer-many-readers tests and benchmark: it searches in a
loop through the public engine API and writes one JSON line per search, until a stop file
appears.

    python tests/search_loop.py DB OUT_JSONL STOP_FILE QUERY [MODE]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(db: str, out: str, stop: str, query: str, mode: str | None = None) -> int:
    from search.assembly import open_engine
    from search.config import Settings

    engine = open_engine(Settings.from_env(db=Path(db)))
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps({"ready": True}) + "\n")
        f.flush()
        while not Path(stop).exists():
            start = time.perf_counter()
            try:
                r = engine.search(query, k=50, mode=mode)
                line = {"ok": True, "snapshot": r.snapshot, "documents": r.documents,
                        "hits": [h.doc_id for h in r.hits], "warnings": list(r.warnings)}
            except Exception as exc:  # the test asserts that none happens
                line = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            line["ms"] = round((time.perf_counter() - start) * 1000, 3)
            line["t"] = time.time()
            f.write(json.dumps(line) + "\n")
            f.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
