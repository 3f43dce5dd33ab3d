"""``medsearch search`` and ``medsearch eval``: ranked papers, and retrieval quality on BEIR."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from search.cli.common import positive, print_json, safe_line
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser(
        "search",
        help="search the store: ranked PMIDs, titles, years and scores",
        description="Search the store. Filters apply before ranking: a filter that leaves 3 "
        "records returns those 3. Repeat --type/--journal/--language/--mesh for OR.",
    )
    search.add_argument("query", help='the question or keywords, e.g. "metformin breast cancer"')
    search.add_argument("-k", type=positive, default=10, help="number of results (default 10)")
    search.add_argument("--json", action="store_true", help="print the full hits as JSON")
    add_filter_arguments(search)
    search.add_argument("--mode", choices=["bm25", "dense", "hybrid", "rerank"],
                        help="retrieval mode (default MEDSEARCH_SEARCH_MODE, else the best on dev)")
    search.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder (hybrid instead of rerank)")
    search.set_defaults(handler=cmd_search)

    ev = commands.add_parser(
        "eval",
        help="measure nDCG@10, Recall@100 and MRR@10 on a BEIR folder",
        description="Ingest a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into its "
        "own cached database under data/eval/, index it, run the split's queries and print "
        "nDCG@10, Recall@100 and MRR@10 for each mode (trec_eval definitions, linear gain).",
    )
    ev.add_argument("beir_dir", type=Path, metavar="BEIR_DIR", help="a folder in BEIR layout")
    ev.add_argument("--split", default="test", help="qrels split to evaluate (default test)")
    ev.add_argument("--mode", default="all", choices=["bm25", "dense", "hybrid", "rerank", "all"],
                    help="mode to evaluate (default all)")
    ev.add_argument("--json", action="store_true",
                    help='print one JSON object: a key per mode, each {"ndcg@10", "recall@100", "mrr@10"}, '
                    'and "default" naming the mode `medsearch search` uses')
    ev.add_argument("--cache-dir", type=Path, default=Path("data/eval"),
                    help="where the cached databases and indexes go (default data/eval)")
    ev.set_defaults(handler=cmd_eval)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter options shared by every command that searches."""
    parser.add_argument("--year-from", type=int, help="only records published in or after this year")
    parser.add_argument("--year-to", type=int, help="only records published in or before this year")
    parser.add_argument("--type", action="append", default=[], metavar="T", dest="types",
                        help='publication type, e.g. "Randomized Controlled Trial", "Meta-Analysis", '
                        '"Systematic Review", "Guideline", "Review" (repeatable)')
    parser.add_argument("--journal", action="append", default=[], help="journal title or ISO abbreviation (repeatable)")
    parser.add_argument("--language", action="append", default=[], help="language code, e.g. eng (repeatable)")
    parser.add_argument("--mesh", action="append", default=[], help="MeSH descriptor, e.g. Metformin (repeatable)")
    parser.add_argument("--has-abstract", action="store_true", help="only records with an abstract")


def filters_from(args: argparse.Namespace):
    from search.types import Filters

    return Filters(
        year_from=args.year_from, year_to=args.year_to, publication_types=tuple(args.types),
        journals=tuple(args.journal), languages=tuple(args.language), mesh_terms=tuple(args.mesh),
        has_abstract=True if args.has_abstract else None,
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from search.service import open_engine

    filters = filters_from(args)  # validated before any work
    engine = open_engine(settings)
    mode = args.mode
    if args.no_rerank and (mode or engine.config.mode) == "rerank":
        mode = "hybrid"
    results = engine.search(args.query, k=args.k, filters=filters, mode=mode)
    if args.json:
        print_json(results.to_json())
        return 0
    for w in results.warnings:
        print(f"warning: {safe_line(w)}", file=sys.stderr)
    if not results.hits:
        print(f"No results ({results.candidates} records pass the filters).")
        return 0
    for h in results.hits:
        print(f"{h.rank:>3}. {safe_line(h.doc_id):<10} {h.year or '----'}  {h.score:8.4f}  {safe_line(h.title)}")
        if h.is_retracted:
            notices = ", ".join(f"PMID {p}" for p in h.retracted_by) or "see PubMed"
            print(f"     RETRACTED (retraction notice: {notices})")
    total = sum(results.timings_ms.values())
    print(f"({results.mode}, {results.candidates} records searched, {total:.0f} ms)")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from search.engine import MODES
    from search.evaluate import evaluate_beir
    from search.service import engine_config, index_settings, reranker_from

    reranker = reranker_from(settings)
    modes = [m for m in MODES if m != "rerank" or reranker is not None] if args.mode == "all" else [args.mode]
    report = evaluate_beir(
        args.beir_dir, split=args.split, modes=modes, cache_dir=args.cache_dir,
        config=engine_config(settings, reranker), index_settings=index_settings(settings),
        reranker=reranker, progress=not args.json,
    )
    if args.json:
        print_json(report.to_json())
        return 0
    print(f"{report.folder} ({report.split} split, {report.documents} documents)")
    print(f"{'mode':<8} {'nDCG@10':>8} {'Recall@100':>10} {'MRR@10':>8} {'queries':>8} {'seconds':>8}")
    for mode, r in report.results.items():
        star = " *" if mode == report.default_mode else ""
        print(f"{mode:<8} {r.ndcg10:8.4f} {r.recall100:10.4f} {r.mrr10:8.4f} {r.queries:8d} {r.seconds:8.1f}{star}")
    print("* the mode `medsearch search` uses by default")
    return 0
