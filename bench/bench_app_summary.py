"""Time to first words in the app: a real browser, the real summary model, an empty cache.

Starts ``streamlit run app.py`` over a copy of the browser tests' demo store and index
(``data/test-cache/browser``, built by tests/test_browser.py), with a fresh library file (so
the summary cache is empty) and the configured summary model (MEDSEARCH_LLM, default the
packaged one). For each question it searches, presses **Summarize the top N**, and measures
in the page, from the click: the first finding on screen and the finished summary. Beside it,
the same summariser called in-process on the same papers (another fresh cache) gives the
pipeline's own time to the first finding, so the difference is what the app adds.

    .venv/bin/python bench/bench_app_summary.py [--runs 3]

Writes ``data/test-cache/browser/app_summary_timings.json``. The numbers depend on the load
of the machine (printed with them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MEDSEARCH_TEST_CACHE", REPO / "data" / "test-cache")) / "browser"
QUESTIONS = ("inhaled corticosteroids in children with asthma", "metformin breast cancer",
             "vitamin D supplementation and fractures")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy(folder: Path) -> Path:
    db = CACHE / "demo.duckdb"
    if not db.exists():
        sys.exit(f"{db} not found: run tests/test_browser.py once to build it")
    shutil.copy(db, folder / db.name)
    shutil.copy(db.with_name(db.name + ".state.json"), folder / (db.name + ".state.json"))
    shutil.copytree(db.with_name("demo.index"), folder / "demo.index")
    return folder / db.name


def _in_page(url: str, questions: list[str], settle: float, screenshot: Path | None = None) -> list[dict]:
    """Each question searched, then summarised; the first click waits ``settle`` seconds after
    the first results are on screen (the app starts loading the summary model then: a user
    reads the results before asking; 0 asks at once, while the model is still loading)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("MEDSEARCH_CHROMIUM", "/usr/bin/chromium"),
                                    args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(600_000)
        opened = time.monotonic()
        for i, q in enumerate(questions):
            page.goto(f"{url}/?q={urllib.request.quote(q)}")
            button = page.get_by_role("button", name="Summarize the top", exact=False)
            button.wait_for()
            if i == 0:
                time.sleep(settle)
            page.evaluate("""() => { window.__first = null; window.__done = null;
              const fresh = sel => [...document.querySelectorAll(sel)].some(e => !e.closest('[data-stale="true"]'));
              new MutationObserver(() => {
                if (window.__first === null && fresh('.st-key-ms-summary li')) window.__first = performance.now();
                if (window.__done === null && [...document.querySelectorAll('.st-key-ms-summary .ms-machine')]
                    .some(e => /Written by|Made on/.test(e.innerText))) window.__done = performance.now();
              }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
            start = page.evaluate("() => performance.now()")
            button.click()
            page.wait_for_function("() => window.__done !== null")
            first, done = page.evaluate("() => [window.__first, window.__done]")
            if screenshot is not None and i == 0:  # the README's picture: the first question, summarised
                page.evaluate("() => window.scrollTo(0, 0)")
                page.screenshot(path=str(screenshot))
            out.append({"question": q, "after_first_page_open_s": round(time.monotonic() - opened, 1),
                        "click_to_first_finding_s": round((first - start) / 1000, 2),
                        "click_to_summary_s": round((done - start) / 1000, 2)})
            print(out[-1], flush=True)
        browser.close()
    return out


def _in_process(db: Path, library: Path, questions: list[str]) -> list[dict]:
    """The pipeline alone: the same engine's top papers, the summariser's first finding."""
    sys.path.insert(0, str(REPO))
    from search.assembly import open_engine
    from search.config import Settings
    from search.summarize import FindingReady, open_summarizer, papers_from_search

    settings = Settings.from_env({**os.environ, "MEDSEARCH_DB": str(db), "MEDSEARCH_LIBRARY_DB": str(library)})
    engine, summarizer = open_engine(settings), open_summarizer(settings)
    if summarizer.model is not None:  # as in the app, where the model is preloaded when the page opens
        (getattr(summarizer.model, "warm_up", None) or getattr(summarizer.model, "load", lambda: None))()
    out = []
    for q in questions:
        papers = papers_from_search(engine, q, n=settings.summary_papers)
        start = time.perf_counter()
        first = None
        for event in summarizer.stream_overview(q, papers):
            if first is None and isinstance(event, FindingReady):
                first = time.perf_counter() - start
        out.append({"question": q, "first_finding_s": round(first or 0, 2),
                    "summary_s": round(time.perf_counter() - start, 2)})
        print(out[-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="questions to time (at most 3)")
    parser.add_argument("--screenshot", type=Path, help="save the page of the first summarised question here "
                        "(docs/screenshot.png)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds from the first results on screen to the first click (0: at once, while the model loads)")
    args = parser.parse_args()
    questions = list(QUESTIONS[: args.runs])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = _copy(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEARCH_") or k == "MEDSEARCH_LLM"}
        env |= {"MEDSEARCH_DB": str(db), "MEDSEARCH_LIBRARY_DB": str(folder / "app-library.duckdb")}
        port = _port()
        log = (folder / "server.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    time.sleep(0.5)
            load_before = os.getloadavg()
            app = _in_page(url, questions, args.settle, args.screenshot)
        finally:
            proc.terminate()
            proc.wait(30)
        pipeline = _in_process(db, folder / "bench-library.duckdb", questions)
    record = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), "settle_s": args.settle,
              "load_average_before": load_before,
              "load_average_after": os.getloadavg(), "app": app, "pipeline": pipeline}
    (CACHE / "app_summary_timings.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
