"""Finding prompts side by side: how much of each abstract the model reads, against speed and quality.

    python bench/bench_findings.py [--budgets 5000 1200] [--runtimes openvino llama.cpp]
                                   [--prompts finding-3 finding-4a] [--limit 39] [--db data/medsearch.duckdb]

The papers are those the 30 questions of ``bench/questions.jsonl`` bring up among their top 5
with an abstract about the question (39 on the demo records). Each paper's TL;DR is written
by the pipeline (``Summarizer(..., abstract_chars=budget).tldr``) with the configured model
(``MEDSEARCH_LLM``, default the packaged one) once per budget (5000 is the whole abstract,
less its background), in one run, the budgets' order turning from paper to paper. Each
budget has a model instance of its own, and so does each runtime (``--runtimes``: every
budget is run on each; default the configured one, ``MEDSEARCH_LLM_RUNTIME``): llama.cpp
keeps the prompts it has read and reuses any cached start, so one instance would read the
second prompt of a paper faster than the first. No summary cache is used.

Printed per budget (``runtime/budget`` with more than one runtime): prompt characters
(p50), first token and whole call (p50 / p90 s), tokens/s, conclusion recall (as
``bench_summaries.py``) and numbers grounded (numbers of the finding that its abstract
states, as the checks read them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search import runtime_env  # noqa: E402

runtime_env.configure()  # OpenMP's wait policy, before LightGBM loads OpenMP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summaries import QUESTIONS, conclusion_recall  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[5000, 1200])
    parser.add_argument("--runtimes", nargs="+", help="local runtimes to compare (default MEDSEARCH_LLM_RUNTIME)")
    parser.add_argument("--prompts", nargs="+", help="finding prompt versions to compare (default the "
                        "current one; see search.summarize.prompts.FINDING_SYSTEMS)")
    parser.add_argument("--limit", type=int, default=None, help="first K papers only")
    parser.add_argument("--db", type=Path, help="corpus database (default MEDSEARCH_DB)")
    parser.add_argument("--out", type=Path, help="also write every finding here (JSON lines)")
    args = parser.parse_args(argv)

    from search.config import Settings
    from search.llm import open_model

    settings = Settings.from_env(db=args.db)
    papers = bench_papers(settings)[:args.limit]
    from search.summarize.prompts import FINDING_VERSION

    runtimes = args.runtimes or [settings.llm_runtime]
    versions = args.prompts or [FINDING_VERSION]
    arms = [(runtime, budget, v) for runtime in runtimes for budget in args.budgets for v in versions]
    # one model per runtime and budget (module doc); prompts share one: they differ from the first words
    models = {(r, b): open_model(dataclasses.replace(settings, llm_runtime=r)) for r, b, _ in arms}
    rows: dict[tuple[str, int, str], list[dict]] = {arm: [] for arm in arms}
    for i, paper in enumerate(papers):
        turn = i % len(arms)
        for arm in arms[turn:] + arms[:turn]:
            runtime, budget, version = arm
            row = one_finding(models[runtime, budget], paper, budget, version)
            rows[arm].append(row)
            print(f"{paper.pmid} {'/'.join(map(str, arm))}: {row['prompt_chars']} chars, first token "
                  f"{row['first_token_s']:.2f} s, {row['total_s']:.2f} s, recall {row['recall']}",
                  file=sys.stderr, flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"pmid": paper.pmid, "runtime": runtime, "budget": budget,
                                        "prompt": version, **row}, ensure_ascii=False) + "\n")

    def label(arm: tuple[str, int, str]) -> str:
        shown = [str(x) for x, many in zip(arm, (len(runtimes), len(args.budgets), len(versions)), strict=True)
                 if many > 1]
        return "/".join(shown) or str(arm[1])
    print(json.dumps({label(arm): summary(r) for arm, r in rows.items()} | {"papers": len(papers),
                                                                     "load_average": os.getloadavg()[0]},
                     indent=2))
    return 0


def bench_papers(settings) -> list:
    """The on-topic papers with an abstract of the questions' top 5, each once, in order."""
    from search.assembly import open_engine
    from search.summarize import papers_from_search
    from search.summarize.topic import on_topic

    engine = open_engine(settings)
    seen: dict[str, object] = {}
    for line in QUESTIONS.read_text().splitlines():
        if line.strip():
            question = json.loads(line)["question"]
            for p in papers_from_search(engine, question, n=settings.summary_papers):
                if p.abstract.strip() and not p.is_retracted and on_topic(question, p.title, p.abstract):
                    seen.setdefault(p.pmid, p)
    return list(seen.values())


def one_finding(model, paper, budget: int, version: str | None = None) -> dict:
    """The paper's TL;DR as the pipeline writes it (no cache), with its call's timings."""
    from search.summarize import Summarizer, prompts
    from search.summarize.extractive import conclusion
    from search.summarize.grounding import numbers, source_numbers, strip_citations

    version = version or prompts.FINDING_VERSION
    summary = Summarizer(model, None, abstract_chars=budget, finding_version=version).tldr("", paper)
    (stats,) = summary.stats
    text = strip_citations(" ".join(s.text for f in summary.findings for s in f.sentences))
    stated = numbers(text)
    return {"prompt_chars": len(prompts.finding_messages(paper, budget, version=version)[-1].content),
            "first_token_s": stats.first_token_s, "total_s": stats.total_s, "tokens_per_s": stats.tokens_per_s,
            "recall": conclusion_recall(conclusion(paper.abstract), text), "numbers": len(stated),
            "grounded": len(stated & source_numbers(f"{paper.title}\n{paper.abstract}")), "text": text}


def summary(rows: list[dict]) -> dict:
    def pct(values, q):
        values = sorted(values)
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    recalls = [r["recall"] for r in rows if r["recall"] is not None]
    return {
        "prompt_chars_p50": statistics.median(r["prompt_chars"] for r in rows),
        "first_token_s": {"p50": round(statistics.median(r["first_token_s"] for r in rows), 2),
                          "p90": pct([r["first_token_s"] for r in rows], 0.9)},
        "finding_s": {"p50": round(statistics.median(r["total_s"] for r in rows), 2),
                      "p90": pct([r["total_s"] for r in rows], 0.9)},
        "tokens_per_s_p50": round(statistics.median(r["tokens_per_s"] for r in rows if r["tokens_per_s"]), 1),
        "conclusion_recall_mean": round(statistics.mean(recalls), 3) if recalls else None,
        "numbers_grounded": f"{sum(r['grounded'] for r in rows)}/{sum(r['numbers'] for r in rows)}",
    }


if __name__ == "__main__":
    raise SystemExit(main())
