"""``medsearch summarize``: a cited overview of the top results, or one paper's TL;DR.

Text arrives as it is written: each paper's finding, then each sentence of the overview,
every one of them checked before it is printed. A summary is labelled with the model that
wrote it, the time, and the line that it must be checked against the cited abstracts.
When the model runs on another machine, the command says so before it sends anything.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, cast

from search.cli.common import positive, print_json, safe, safe_line
from search.cli.search_cmds import add_filter_arguments, filters_from
from search.config import Settings
from search.types import MODES

if TYPE_CHECKING:
    from search.summarize import SummaryReady


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "summarize",
        help="a cited summary of the top results (or of one paper with --pmid)",
        description="Search, then summarise the top N papers: one finding per paper, each cited "
        "to its PMID, and an overview that answers the question from those findings. Under each "
        "sentence, the abstract sentences it rests on, quoted (chosen by the code). Every citation "
        "must name a paper given, every number must appear in the abstract it cites beside the "
        "measure named, and every sentence and comparison must be supported by a quoted sentence; "
        "what fails is removed or marked, and the check line says what was flagged. Runs on this machine by default (MEDSEARCH_LLM); "
        "without a model it quotes each abstract's conclusion instead.",
    )
    p.add_argument("query", help='the clinical question, e.g. "does metformin lower cancer risk"')
    p.add_argument("-n", type=positive, default=None,
                   help="how many top results to summarise (default MEDSEARCH_SUMMARY_PAPERS, 5)")
    p.add_argument("--pmid", help="summarise this one paper (a TL;DR) instead of the top results")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: text, given_pmids, cited_pmids, flags, model, label, "
                   "findings, ... (nothing is printed while it is written)")
    add_filter_arguments(p)
    p.add_argument("--mode", choices=MODES,
                   help="retrieval mode (default MEDSEARCH_SEARCH_MODE, else the best on dev)")
    p.set_defaults(handler=cmd_summarize)


def cmd_summarize(args: argparse.Namespace, settings: Settings) -> int:
    from search.assembly import open_engine
    from search.summarize import open_summarizer, papers_by_id, papers_from_search

    filters = filters_from(args)
    summarizer = open_summarizer(settings)
    model = summarizer.model
    if model is not None and model.destination is not None:
        print(f"note: summaries are written by {safe_line(model.name)}: your question and the abstracts "
              f"are sent to {safe_line(model.destination)} (MEDSEARCH_LLM_URL).", file=sys.stderr)
    engine = open_engine(settings)
    if args.pmid:
        papers = papers_by_id(engine, [args.pmid.strip()])
        if not papers:
            from ingest.errors import SearchIndexError

            raise SearchIndexError(f"PMID {args.pmid} is not in the search index.",
                                   hint="Ingest it (medsearch ingest pubmed \"PMID[uid]\"), then run medsearch index.")
        events = summarizer.stream_tldr(args.query, papers[0])
    else:
        n = args.n or settings.summary_papers
        papers = papers_from_search(engine, args.query, n=n, filters=filters, mode=args.mode)
        events = summarizer.stream_overview(args.query, papers)
    if args.json:
        *_, last = events  # the stream ends with the whole summary
        print_json(cast("SummaryReady", last).summary.to_json())
        return 0
    _print_stream(events, "TL;DR:" if args.pmid else "Findings, one per paper:")
    return 0


def _print_stream(events, heading: str) -> None:
    from search.summarize import FindingReady, SentenceReady, SummaryReady

    in_overview = False
    for event in events:
        if isinstance(event, FindingReady):
            if event.index == 1:
                extractive = event.finding.source == "extractive"
                print("Conclusions quoted from the abstracts:" if extractive else heading)
            print(f"  - {safe_line(event.finding.text)}")
            for sentence in event.finding.sentences:
                _print_quotes(sentence, "      ")
            sys.stdout.flush()
        elif isinstance(event, SentenceReady):
            if not in_overview:
                print("\nOverview:")
                in_overview = True
            print(f"  {safe_line(event.sentence.shown)}")
            _print_quotes(event.sentence, "      ")
            sys.stdout.flush()
        elif isinstance(event, SummaryReady):
            _print_end(event.summary)


def _print_end(summary) -> None:
    from search.summarize.types import flag_words

    for note in summary.notes:
        print(f"\n{safe_line(note)}")
    # papers left out are named in the notes; the rest of the flags are listed here
    flags = [f for f in summary.all_flags
             if not (f.kind in ("retracted", "no_abstract", "off_topic", "no_answer") and summary.notes)]
    if flags:
        print("\nFlags:")
        for f in flags:
            where = f" (PMID {safe(f.pmid)})" if f.pmid else ""
            print(f"  ! {flag_words(f.kind)}: {safe_line(f.detail)}{where}")
    print(f"\n{safe_line(summary.check_report)}")
    print(f"\n{safe_line(summary.label)}", flush=True)
    _print_stats(summary)


def _print_quotes(sentence, indent: str) -> None:
    """The abstract sentences a written sentence rests on, verbatim (chosen by the code)."""
    for q in sentence.quotes:
        print(f'{indent}> "{safe_line(q.text)}" (PMID {safe(q.pmid)})')


def _print_stats(summary) -> None:
    if summary.cached:
        print("(from the summary cache)", file=sys.stderr)
        return
    firsts = [s.first_token_s for s in summary.stats if s.first_token_s is not None]
    speeds = [s.tokens_per_s for s in summary.stats if s.tokens_per_s]
    if firsts:
        print(f"({len(summary.stats)} model calls; first text after {firsts[0]:.1f} s; "
              f"{sum(speeds) / max(len(speeds), 1):.1f} tokens/s)", file=sys.stderr)
