"""How ``medsearch search`` and ``medsearch similar`` print results, facets and explanations.

Record text is untrusted: every value goes through :func:`safe_line`; highlights are
marked with « » around the spans the engine returned (offsets into the stored text).
"""

from __future__ import annotations

from search.cli.common import safe_line
from search.types import Facets, Filters, Hit, SearchResults, SimilarResults, Span

#: Evidence levels (search/results/evidence.py) -> the short badge of a result line; level 6 (other) has none.
BADGES = {1: "SR/MA/guideline", 2: "RCT", 3: "trial", 4: "observational", 5: "case report", 7: "opinion/notice",
          8: "RETRACTED"}
SNIPPETS = 3  # marked passages of the abstract shown by --explain
CONTEXT = 60  # characters around each one


def query_explanation(query: str, filters: Filters) -> str:
    """How ``query`` and the evidence filters of ``filters`` are read (for --explain-query)."""
    from search.query.clinical import FILTERS
    from search.query.syntax import parse

    lines = [parse(query).explain()]
    names = filters.named_filters
    if names:
        lines.append("Filters, ANDed with the query (ages: any of them):")
        lines += [f"  - {FILTERS[n].title}: {FILTERS[n].query}" for n in names]
    return "\n".join(lines)


def badge(hit: Hit) -> str:
    label = BADGES.get(hit.evidence.level) if hit.evidence else None
    return f"[{label}] " if label else ""


def print_hit(h: Hit, *, explain: bool) -> None:
    print(f"{h.rank:>3}. {safe_line(h.doc_id):<10} {h.year or '----'}  {h.score:8.4f}  {badge(h)}{safe_line(h.title)}")
    if h.is_retracted:
        notices = ", ".join(f"PMID {p}" for p in h.retracted_by) or "see PubMed"
        print(f"     RETRACTED (retraction notice: {notices})")
    if explain:
        print_explanation(h)


def print_explanation(h: Hit) -> None:
    if h.evidence is not None:
        why = "; ".join(f"{s.field.replace('_', ' ')}: {s.value}" for s in h.evidence.sources) or "no design given"
        print(f"     evidence: level {h.evidence.level}, {h.evidence.label} ({safe_line(why)})")
    if h.matched_terms:
        terms = ", ".join(f"{t.term} {t.bm25:.2f}" + (f" ({'/'.join(t.words)})" if t.words else "")
                          for t in h.matched_terms)
        print(f"     matched: {safe_line(terms)}")
    stages = [(name, getattr(h, name)) for name in ("bm25", "dense", "fused", "rerank")]
    shown = [f"{n} {s.score:.4f}" + (f" #{s.rank}" if s.rank else "") for n, s in stages if s.score is not None]
    if shown:
        print(f"     scores: {', '.join(shown)}")
    title = [s for s in h.highlights if s.field == "title"]
    if title:
        print(f"     title: {mark(h.title, title)}")
    for snippet in snippets(h):
        print(f"     ...{snippet}...")


def mark(text: str, spans) -> str:
    """``text`` with « » around each span (spans sorted, not overlapping), on one line."""
    out, at = [], 0
    for s in spans:
        out += [text[at : s.start], "«", text[s.start : s.end], "»"]
        at = s.end
    out.append(text[at:])
    return safe_line("".join(out))


def snippets(h: Hit) -> list[str]:
    spans = [s for s in h.highlights if s.field == "abstract"]
    out: list[str] = []
    last_end = -1
    for s in spans:
        if s.start < last_end or len(out) == SNIPPETS:
            continue
        start, end = max(0, s.start - CONTEXT), min(len(h.abstract), s.end + CONTEXT)
        inside = [x for x in spans if x.start >= start and x.end <= end]
        text = mark(h.abstract[start:end], [Span(x.field, x.start - start, x.end - start, x.term) for x in inside])
        out.append(text)
        last_end = end
    return out


def print_results(results: SearchResults, *, explain: bool) -> None:
    if not results.hits:
        if results.offset and results.total:
            print(f"No results from {results.offset + 1} on ({results.total} records match).")
        elif results.filters.active or results.restriction:
            print(f"No results ({results.candidates} records pass the filters).")
        else:
            print(f"No results ({results.documents} records searched).")
        return
    for h in results.hits:
        print_hit(h, explain=explain)
    total = sum(results.timings_ms.values())
    first, last = results.offset + 1, results.offset + len(results.hits)
    order = "" if results.sort == "relevance" else f", sorted by {results.sort}"
    print(f"({results.mode}{order}, results {first}-{last} of {results.total} matching, "
          f"{results.candidates} records searched, {total:.0f} ms)")


def print_facets(f: Facets) -> None:
    print(f"Facets of the {f.total} matching records:")
    for name, values in (("publication type", f.publication_types), ("journal", f.journals),
                         ("language", f.languages)):
        if values:
            print(f"  {name}: " + safe_line(", ".join(f"{v.value} ({v.count})" for v in values)))
    if f.years:
        print("  year: " + ", ".join(f"{y.year} ({y.count})" for y in f.years)
              + (f", no year ({f.no_year})" if f.no_year else ""))
    print(f"  with abstract: {f.has_abstract}; without: {f.total - f.has_abstract}; retracted: {f.retracted}")


def print_similar(results: SimilarResults, *, explain: bool) -> None:
    src = results.source
    print(f"Similar to {safe_line(src.doc_id)} ({src.year or '----'}): {safe_line(src.title)}")
    if not results.hits:
        print(f"No similar records ({results.candidates} records pass the filters).")
        return
    for h in results.hits:
        print_hit(h, explain=explain)
    total = sum(results.timings_ms.values())
    print(f"({results.candidates} records compared, {total:.0f} ms)")
