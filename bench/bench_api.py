"""The HTTP API under load: ``GET /search`` in bm25, hybrid and rerank modes with 1, 4 and 16
concurrent clients, against ``medsearch serve`` with 1 and 2 uvicorn workers, on the demo corpus
with the default models (packaged MiniLM int8 ONNX embedder, packaged int8 ONNX reranker).

Prints, side by side from one run: the engine's own latency per mode, called in this process
with no HTTP (the baseline), then requests/s, p50 and p95 latency per (workers, mode, clients),
the ratio of each throughput to one client's, the ratio of one client's p50 to the engine's,
and each worker's resident memory after the run.
The demo store and its index are built once under ``--cache`` (embedding the demo records takes
a few minutes on 2 cores) and reused.

    python bench/bench_api.py [--seconds 6] [--workers 1 2] [--clients 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDSEARCH = str(Path(sys.executable).parent / "medsearch")
MODES = ("bm25", "hybrid", "rerank")


def _questions() -> list[str]:
    lines = (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x)["question"] for x in lines if x.strip()]


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_")}
    return {**env, "MEDSEARCH_DB": str(db), "MEDSEARCH_LLM": "none", "MEDSEARCH_API_RATE": "100000000"}


def _prepare(cache: Path) -> Path:
    db = cache / "demo.duckdb"
    cache.mkdir(parents=True, exist_ok=True)
    for args in (("ingest", "demo", "--if-empty"), ("index",)):
        subprocess.run([MEDSEARCH, "--db", str(db), *args], check=True, cwd=REPO, env=_env(db),
                       stdout=subprocess.DEVNULL)
    return db


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _workers_of(pid: int) -> list[int]:
    """The processes that serve requests: the server itself, or its worker children."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cmdline = (stat.parent / "cmdline").read_text(errors="replace")
        if int(fields[1]) == pid and "resource_tracker" not in cmdline:  # the parent's pid, after the state
            children.append(int(stat.parent.name))
    return children or [pid]


def _load(base: str, mode: str, clients: int, seconds: float, questions: list[str]) -> tuple[int, list[float], int]:
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        mine, bad, i = [], 0, offset
        with httpx.Client(base_url=base, timeout=120) as http:
            while time.monotonic() < stop:
                q = questions[i % len(questions)]
                i += clients
                t = time.perf_counter()
                r = http.get("/search", params={"q": q, "mode": mode, "k": 10})
                ms = (time.perf_counter() - t) * 1000
                if r.status_code == 200:
                    mine.append(ms)
                else:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(latencies), latencies, errors[0]


def _engine_p50(db: Path, seconds: float, questions: list[str]) -> dict[str, float]:
    """The engine's p50 per mode, searched serially in this process (the same settings as the server)."""
    from search.assembly import open_engine
    from search.config import Settings

    engine = open_engine(Settings.from_env(_env(db)))
    out = {}
    for mode in MODES:
        engine.search(questions[0], k=10, mode=mode)  # models loaded before the clock runs
        lat, i, stop = [], 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            t = time.perf_counter()
            engine.search(questions[i % len(questions)], k=10, mode=mode)
            lat.append((time.perf_counter() - t) * 1000)
            i += 1
        out[mode] = _pct(lat, 0.5)
    return out


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="load per (workers, mode, clients) cell")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "bench-api")
    args = ap.parse_args()
    import httpx

    db = _prepare(args.cache)
    questions = _questions()
    print(f"demo corpus at {db}; {os.cpu_count()} CPUs; {args.seconds:.0f} s per cell; "
          f"{len(questions)} questions in turn")
    engine = _engine_p50(db, args.seconds, questions)
    print("engine in this process, no HTTP, one search at a time: "
          + ", ".join(f"{m} p50 {v:.1f} ms" for m, v in engine.items()))
    print(f"{'workers':>7} {'mode':<7} {'clients':>7} {'req/s':>8} {'x 1 client':>10} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p50 x engine':>12} {'errors':>6}")
    for workers in args.workers:
        port = _port()
        server = subprocess.Popen([MEDSEARCH, "--db", str(db), "serve", "--port", str(port), "--workers", str(workers)],
                                  cwd=REPO, env=_env(db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(1200):
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            for mode in MODES:  # every worker loads the mode's models before the clock runs
                for _ in range(2 * workers):
                    httpx.get(f"{base}/search", params={"q": questions[0], "mode": mode}, timeout=300)
                one = None
                for clients in args.clients:
                    n, lat, errors = _load(base, mode, clients, args.seconds, questions)
                    rate = n / args.seconds
                    one = one or rate
                    p50 = _pct(lat, 0.5)
                    print(f"{workers:>7} {mode:<7} {clients:>7} {rate:8.1f} {rate / one:10.2f} "
                          f"{p50:8.1f} {_pct(lat, 0.95):8.1f} {p50 / engine[mode]:12.2f} {errors:>6}", flush=True)
            rss = [_rss_mb(p) for p in _workers_of(server.pid)]
            print(f"{workers:>7} worker(s): resident memory per worker "
                  + ", ".join(f"{m:.0f} MB" for m in rss))
        finally:
            server.terminate()
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
