"""``medsearch similar``: the records nearest to one paper, as PubMed's "Similar articles"."""

from __future__ import annotations

import argparse
import sys

from search.cli.common import positive, print_json, safe_line
from search.cli.search_cmds import add_filter_arguments, filters_from
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "similar",
        help="the records most similar to one paper (by PMID)",
        description="The records nearest to a paper: its embedding compared with every other "
        "record's, fused with a BM25 search for its title and MeSH major topics. The paper itself "
        "is never listed, retraction notices only with --include-notices; filters apply as for "
        "`medsearch search`.",
    )
    p.add_argument("pmid", help="the paper's PMID (or, for a BEIR corpus, its document id)")
    p.add_argument("-k", type=positive, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print the paper and the hits as JSON")
    p.add_argument("--explain", action="store_true",
                   help="under each hit: its evidence level, matched title/MeSH terms and each stage's score")
    add_filter_arguments(p)
    p.set_defaults(handler=cmd_similar)


def cmd_similar(args: argparse.Namespace, settings: Settings) -> int:
    from search.assembly import open_engine
    from search.cli.search_output import print_similar

    filters = filters_from(args)
    engine = open_engine(settings)
    results = engine.similar(args.pmid, k=args.k, filters=filters, include_notices=args.include_notices)
    if args.json:
        print_json(results.to_json())
        return 0
    for w in results.warnings:
        print(f"warning: {safe_line(w)}", file=sys.stderr)
    print_similar(results, explain=args.explain)
    return 0
