"""``medsearch search`` and ``medsearch eval``: ranked papers, and retrieval quality on BEIR."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from search.cli.common import positive, print_json, safe, safe_line
from search.config import Settings
from search.query.clinical import CLINICAL_NAMES
from search.types import AGE_GROUPS, SORTS


def register(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser(
        "search",
        help="search the store: ranked PMIDs, titles, years and scores",
        description="Search the store. The query may mix free text, which ranks, with PubMed "
        "syntax, which restricts: AND, OR, NOT, parentheses, \"phrases\", truncation (random*) and "
        "field tags such as [tiab], [ti], [au], [mh], [majr], [pt], [ta], [la], [dp] (2015:2020[dp]), "
        "[pmid], [doi]; a query that is only clauses lists its matches newest first "
        "(docs/query-syntax.md). Filters apply before ranking: a filter that leaves 3 records "
        "returns those 3. Repeat --type/--journal/--language/--mesh/--age for OR.",
    )
    search.add_argument("query", help='the question, keywords or PubMed query, e.g. '
                        '"metformin breast cancer" or "metformin[tiab] AND randomized controlled trial[pt]"')
    search.add_argument("-k", type=positive, default=10, help="number of results (default 10)")
    search.add_argument("--offset", type=non_negative, default=0,
                        help="skip this many results first: -k 10 --offset 10 is the second page (default 0)")
    search.add_argument("--sort", choices=SORT_CHOICES, default="relevance",
                        help="relevance (default); date: newest first; author: first author A to Z; evidence: "
                        "strongest study design first (guidelines, systematic reviews and meta-analyses, then "
                        "RCTs, other trials, observational studies, case reports), relevance within a level")
    search.add_argument("--json", action="store_true",
                        help="print the full hits as JSON (with --facets, a \"facets\" key too)")
    add_filter_arguments(search)
    search.add_argument("--mode", choices=["bm25", "dense", "hybrid", "rerank"],
                        help="retrieval mode (default MEDSEARCH_SEARCH_MODE, else the best on dev)")
    search.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder (hybrid instead of rerank)")
    search.add_argument("--facets", action="store_true",
                        help="also print counts by publication type, year, journal and language, with abstract "
                        "and retracted, over the records that match")
    search.add_argument("--explain", action="store_true",
                        help="under each hit: its evidence level and why, the query terms it matched with their "
                        "BM25 share, each stage's score and rank, and the query's words marked in its text")
    search.add_argument("--explain-query", action="store_true",
                        help="print how the query and filters were understood (what ranks, what restricts) "
                        "and stop; needs no index")
    search.set_defaults(handler=cmd_search)

    ev = commands.add_parser(
        "eval",
        help="measure nDCG@10, Recall@100 and MRR@10 on a BEIR folder",
        description="Ingest a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into its "
        "own cached database under MEDSEARCH_HOME/eval/, index it, run the split's queries and print "
        "nDCG@10, Recall@100 and MRR@10 for each mode (trec_eval definitions, linear gain).",
    )
    ev.add_argument("beir_dir", type=Path, metavar="BEIR_DIR", help="a folder in BEIR layout")
    ev.add_argument("--split", default="test", help="qrels split to evaluate (default test)")
    ev.add_argument("--mode", default="all", choices=["bm25", "dense", "hybrid", "rerank", "all"],
                    help="mode to evaluate (default all)")
    ev.add_argument("--json", action="store_true",
                    help='print one JSON object: a key per mode, each {"ndcg@10", "recall@100", "mrr@10"}, '
                    'and "default" naming the mode `medsearch search` uses')
    ev.add_argument("--cache-dir", type=Path, default=None,
                    help="where the cached databases and indexes go (default MEDSEARCH_HOME/eval)")
    ev.add_argument("--sets", action="store_true",
                    help="also measure the result sets per mode: mean size, recall and precision of the "
                    "judged-relevant records, for the rule before result sets (any word or the dense top "
                    "100), the strict AND of the words, and the engine's rule")
    ev.set_defaults(handler=cmd_eval)


SORT_CHOICES = SORTS
CLINICAL_CHOICES = CLINICAL_NAMES
AGE_CHOICES = AGE_GROUPS


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter options shared by every command that searches."""
    parser.add_argument("--year-from", type=int, help="only records published in or after this year (a record "
                        "counts in every year it gives: online ahead of print, and its journal issue)")
    parser.add_argument("--year-to", type=int, help="only records published in or before this year (online "
                        "ahead of print counts: the earliest year a record gives)")
    parser.add_argument("--type", action="append", default=[], metavar="T", dest="types",
                        help='publication type, e.g. "Randomized Controlled Trial", "Meta-Analysis", '
                        '"Systematic Review", "Guideline", "Review" (repeatable)')
    parser.add_argument("--journal", action="append", default=[], help="journal title or ISO abbreviation (repeatable)")
    parser.add_argument("--language", action="append", default=[], help="language code, e.g. eng (repeatable)")
    parser.add_argument("--mesh", action="append", default=[], help="MeSH descriptor, e.g. Metformin (repeatable)")
    parser.add_argument("--has-abstract", action="store_true", help="only records with an abstract")
    parser.add_argument("--clinical", metavar="CATEGORY/SCOPE",
                        help="a PubMed Clinical Queries filter: therapy, diagnosis, etiology, prognosis or "
                        "prediction, /broad (sensitive) or /narrow (specific), e.g. therapy/narrow; "
                        "one of " + ", ".join(CLINICAL_CHOICES))
    parser.add_argument("--systematic-review", action="store_true",
                        help="only systematic reviews (PubMed's systematic review filter)")
    parser.add_argument("--humans", action="store_true",
                        help="leave out animal-only studies: NOT (animals[mh] NOT humans[mh])")
    parser.add_argument("--age", action="append", default=[], metavar="GROUP",
                        help="MeSH age group (repeatable, any of them): " + ", ".join(AGE_CHOICES))
    parser.add_argument("--free-full-text", action="store_true",
                        help="only records free to read in PubMed Central (with a PMCID)")
    parser.add_argument("--include-notices", action="store_true",
                        help="list retraction notices, errata and expressions of concern too (left out by "
                        "default: they show on the card of the paper they concern)")


def filters_from(args: argparse.Namespace):
    from search.types import Filters

    return Filters(
        year_from=args.year_from, year_to=args.year_to, publication_types=tuple(args.types),
        journals=tuple(args.journal), languages=tuple(args.language), mesh_terms=tuple(args.mesh),
        has_abstract=True if args.has_abstract else None, clinical=args.clinical,
        systematic_review=args.systematic_review, humans_only=args.humans, ages=tuple(args.age),
        free_full_text=args.free_full_text, include_notices=args.include_notices,
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from search.assembly import open_engine
    from search.cli import search_output as out

    filters = filters_from(args)  # validated before any work
    if args.explain_query:
        print(safe(out.query_explanation(args.query, filters)))  # the query is the user's text: no ESC, BEL
        return 0
    from search.query.syntax import parse

    parse(args.query)  # a syntax error is reported before the index loads
    engine = open_engine(settings)
    mode = args.mode
    if args.no_rerank and (mode or engine.config.mode) == "rerank":
        mode = "hybrid"
    results = engine.search(args.query, k=args.k, offset=args.offset, filters=filters, mode=mode, sort=args.sort)
    facets = engine.facets(args.query, filters=filters, mode=mode) if args.facets else None
    if args.json:
        data = results.to_json()
        if facets is not None:
            data["facets"] = facets.to_json()
        print_json(data)
        return 0
    for w in results.warnings:
        print(f"warning: {safe_line(w)}", file=sys.stderr)
    if results.did_you_mean:
        print(f"Did you mean: {safe_line(results.did_you_mean)}", file=sys.stderr)
    out.print_results(results, explain=args.explain)
    if facets is not None:
        out.print_facets(facets)
    return 0


def _milvus_target(settings: Settings):
    """With MEDSEARCH_BACKEND=milvus, where eval writes its collections (else None)."""
    if settings.backend != "milvus":
        return None
    from search.assembly import milvus_target

    return milvus_target(settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from search.assembly import engine_config, index_settings, reranker_from
    from search.engine import MODES
    from search.eval.beir import evaluate_beir

    reranker = reranker_from(settings)
    modes = [m for m in MODES if m != "rerank" or reranker is not None] if args.mode == "all" else [args.mode]
    report = evaluate_beir(
        args.beir_dir, split=args.split, modes=modes, cache_dir=args.cache_dir or settings.home / "eval",
        config=engine_config(settings, reranker), index_settings=index_settings(settings),
        reranker=reranker, progress=not args.json, sets=args.sets, milvus=_milvus_target(settings),
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
    if report.sets:
        print("\nresult sets (mean over queries; precision counts unjudged records as not relevant)")
        print(f"{'mode':<8} {'rule':<11} {'size':>9} {'recall':>8} {'precision':>10} {'empty':>7}")
        for mode, by in report.sets.items():
            for rule, st in by.items():
                print(f"{mode:<8} {rule:<11} {st.size:9.1f} {st.recall:8.4f} {st.precision:10.4f} {st.empty:7.1%}")
    return 0
