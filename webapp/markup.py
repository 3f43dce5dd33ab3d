"""HTML of result cards and summaries, built so that record text can never write markup.

Every piece of text that comes from a record (title, abstract, authors, journal, links'
citations), from a user (notes, names) or from a model (summaries) goes through
:func:`esc`; the only tags in the output are the ones written here, and highlights are
``<mark>`` elements placed at the engine's character offsets (``search.types.Span``)
around escaped slices of the stored text. URLs are built from identifiers that are checked
first (a PMID is digits, a PMCID is ``PMC`` and digits) or percent-encoded (a DOI).

The app shows the result with ``st.html``, which does not read Markdown, so a title such as
``**bold** [link](javascript:x)`` stays those characters; Streamlit also passes it through
DOMPurify, a second line of defence that this module does not rely on. Pure functions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from search.types import Hit, Span

PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
PMC = "https://www.ncbi.nlm.nih.gov/pmc/articles/"
DOI = "https://doi.org/"
SNIPPET_CHARS = 320
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # with bidi overrides
_PMCID = re.compile(r"PMC\d{1,12}")
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_CITATION = re.compile(r"\[PMIDs? ([\d, ]+)\]")

STYLE = """<style>
.ms-card{border-bottom:1px solid rgba(128,128,128,.25);padding:.6rem 0 .4rem 0}
.ms-title{font-size:1.08rem;font-weight:600;text-decoration:none}
.ms-meta{font-size:.86rem;opacity:.85;margin:.15rem 0}
.ms-meta a{margin-right:.6rem}
.ms-badge{display:inline-block;font-size:.74rem;padding:.05rem .45rem;border-radius:.6rem;
 margin:.15rem .3rem .15rem 0;border:1px solid rgba(128,128,128,.4)}
.ms-ev1{background:#1b5e20;color:#fff}.ms-ev2{background:#2e7d32;color:#fff}
.ms-ev3{background:#558b2f;color:#fff}.ms-ev4{background:#9e9d24;color:#fff}
.ms-ev5{background:#f9a825}.ms-ev6{background:transparent}.ms-ev7{background:#9e9e9e;color:#fff}.ms-ev8{background:#b71c1c;color:#fff}
.ms-new{background:#1565c0;color:#fff}.ms-listed{border-color:#1565c0}
.ms-retracted{background:#b71c1c;color:#fff;padding:.35rem .6rem;border-radius:.3rem;margin:.3rem 0}
.ms-retracted a{color:#fff;text-decoration:underline}
.ms-erratum{background:#fff3e0;color:#5d4037;padding:.3rem .6rem;border-radius:.3rem;margin:.3rem 0}
.ms-label{font-weight:600;font-size:.8rem;letter-spacing:.03em}
.ms-abstract p{margin:.25rem 0}
.ms-why table{font-size:.82rem;border-collapse:collapse}
.ms-why td,.ms-why th{padding:.1rem .6rem .1rem 0;text-align:left}
.ms-check{background:#fff3e0;color:#8d4a00;font-size:.8rem;padding:0 .3rem;border-radius:.3rem}
.ms-flags{font-size:.85rem}
.ms-machine{font-size:.8rem;opacity:.8;font-style:italic}
mark{padding:0 .1rem;border-radius:.15rem}
.ms-brand{font-size:1.6rem;font-weight:700}.ms-brand span{font-size:1rem;font-weight:400;opacity:.7}
</style>"""


def esc(text: object) -> str:
    """``text`` as HTML text: markup characters escaped, control characters dropped."""
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def md_text(text: object) -> str:
    """``text`` for a Streamlit element that reads Markdown (``st.error``, widget labels...):
    every ASCII punctuation character backslash-escaped (CommonMark), so that nothing in it
    becomes a link, an image, emphasis, a colour directive, an emoji code or math."""
    return _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub("", str(text)))


def marked(text: str, spans: Iterable[Span], start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` escaped, with each span's stretch of it inside ``<mark>``.

    Spans index ``text`` itself; overlapping or touching spans merge; parts of spans outside
    ``start:end`` are cut off."""
    end = len(text) if end is None else min(end, len(text))
    out, at = [], start
    for lo, hi in _merged(spans, start, end):
        out.append(esc(text[at:lo]))
        out.append(f"<mark>{esc(text[lo:hi])}</mark>")
        at = hi
    out.append(esc(text[at:end]))
    return "".join(out)


def _merged(spans: Iterable[Span], start: int, end: int) -> list[tuple[int, int]]:
    cut = sorted((max(s.start, start), min(s.end, end)) for s in spans)
    out: list[tuple[int, int]] = []
    for lo, hi in cut:
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# -- links from checked identifiers --------------------------------------------------------


def pubmed_url(pmid: str | None) -> str | None:
    return f"{PUBMED}{pmid}/" if pmid and str(pmid).isdigit() else None


def pmc_url(pmcid: str | None) -> str | None:
    return f"{PMC}{pmcid}/" if pmcid and _PMCID.fullmatch(pmcid) else None


def doi_url(doi: str | None) -> str | None:
    """The doi.org link of ``doi``, percent-encoded (a DOI may hold ``<``, ``"`` or ``#``)."""
    if not doi or not doi.strip():
        return None
    return DOI + quote(doi.strip(), safe="/:;()._-")


def link(url: str, text: str, *, title: str | None = None) -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer"{tip}>{esc(text)}</a>'


# -- the parts of a result card -----------------------------------------------------------


def anchor(hit: Hit) -> str:
    """The card's element id, which summary citations link to."""
    if hit.pmid and hit.pmid.isdigit():
        return f"pmid-{hit.pmid}"
    return "doc-" + re.sub(r"[^A-Za-z0-9_-]", "_", hit.doc_id)[:64]


def title_html(hit: Hit) -> str:
    spans = [s for s in hit.highlights if s.field == "title"]
    text = marked(hit.title, spans) if hit.title else "(no title)"
    url = pubmed_url(hit.pmid)
    if url is None:
        return f'<span class="ms-title">{text}</span>'
    return f'<a class="ms-title" href="{esc(url)}" target="_blank" rel="noopener noreferrer">{text}</a>'


def authors_html(hit: Hit) -> str:
    if not hit.authors:
        return '<div class="ms-meta">(no authors listed)</div>'
    if len(hit.authors) <= 3:
        return f'<div class="ms-meta">{esc(hit.authors_short)}</div>'
    return (f'<details class="ms-meta"><summary>{esc(hit.authors_short)}</summary>'
            f'{esc(", ".join(hit.authors))}</details>')


def source_html(hit: Hit) -> str:
    """Journal, year, PMID, DOI and PMC links."""
    parts = [f"<i>{esc(hit.journal)}</i>" if hit.journal else "", esc(hit.pub_date or hit.year or "")]
    ids = []
    if pubmed_url(hit.pmid):
        ids.append(link(pubmed_url(hit.pmid), f"PMID {hit.pmid}"))  # type: ignore[arg-type]
    elif hit.doc_id:
        ids.append(esc(f"id {hit.doc_id}"))
    if doi_url(hit.doi):
        ids.append(link(doi_url(hit.doi), f"DOI {hit.doi}"))  # type: ignore[arg-type]
    if pmc_url(hit.pmcid):
        ids.append(link(pmc_url(hit.pmcid), f"{hit.pmcid} (free full text)"))  # type: ignore[arg-type]
    head = ". ".join(p for p in parts if p)
    return f'<div class="ms-meta">{head}{". " if head else ""}{" ".join(ids)}</div>'


def badges_html(hit: Hit, *, new: bool = False, listed_in: Sequence[str] = ()) -> str:
    out = ['<span class="ms-badge ms-new">NEW</span>'] if new else []
    if hit.evidence is not None:
        why = ", ".join(s.value for s in hit.evidence.sources) or "no study design in its publication types"
        out.append(f'<span class="ms-badge ms-ev{int(hit.evidence.level)}" title="{esc("from: " + why)}">'
                   f'Level {int(hit.evidence.level)} &middot; {esc(hit.evidence.label)}</span>')
    types = [t for t in hit.publication_types if t != "Journal Article"][:3]
    out += [f'<span class="ms-badge">{esc(t)}</span>' for t in types]
    if listed_in:
        out.append(f'<span class="ms-badge ms-listed" title="in your lists">In: {esc(", ".join(listed_in))}</span>')
    return f'<div>{"".join(out)}</div>' if out else ""


def notices_html(hit: Hit) -> str:
    """The retraction warning and the errata, each linking its notice."""
    out = []
    if hit.is_retracted:
        notices = [x for x in hit.links if x.kind == "RetractionIn"]
        where = "; ".join(_linked_notice(x.pmid, x.citation) for x in notices) or "notice not in the record"
        out.append(f'<div class="ms-retracted" role="alert"><b>RETRACTED.</b> This paper was retracted: '
                   f"do not rely on its findings. Retraction notice: {where}</div>")
    errata = [x for x in hit.links if x.kind == "ErratumIn"]
    if errata:
        where = "; ".join(_linked_notice(x.pmid, x.citation) for x in errata)
        out.append(f'<div class="ms-erratum"><b>Erratum published.</b> Read the correction: {where}</div>')
    return "".join(out)


def _linked_notice(pmid: str | None, citation: str | None) -> str:
    text = esc(citation) if citation else ""
    if pmid and pubmed_url(pmid):
        return f"{link(pubmed_url(pmid), f'PMID {pmid}')}{' (' + text + ')' if text else ''}"  # type: ignore[arg-type]
    return text or "(no identifier)"


def abstract_html(hit: Hit) -> str:
    """The abstract with its labelled sections and the query's terms marked."""
    if not hit.abstract:
        return '<div class="ms-meta">No abstract.</div>'
    spans = [s for s in hit.highlights if s.field == "abstract"]
    sections = sorted(hit.sections, key=lambda s: s.start)
    if not sections:
        return f'<div class="ms-abstract"><p>{marked(hit.abstract, spans)}</p></div>'
    paras = []
    for s in sections:
        label = s.label or s.category
        head = f'<span class="ms-label">{esc(label.upper())}:</span> ' if label else ""
        paras.append(f"<p>{head}{marked(hit.abstract, spans, s.start, s.start + s.length)}</p>")
    return f'<div class="ms-abstract">{"".join(paras)}</div>'


def snippet_html(hit: Hit, chars: int = SNIPPET_CHARS) -> str:
    """A short part of the abstract shown on the card: its conclusions where labelled, else its
    beginning, cut at a word boundary."""
    if not hit.abstract:
        return ""
    spans = [s for s in hit.highlights if s.field == "abstract"]
    concl = [s for s in hit.sections if (s.category or "").upper() == "CONCLUSIONS"]
    start, end, label = 0, len(hit.abstract), ""
    if concl:
        start, end, label = concl[0].start, concl[0].start + concl[0].length, "Conclusions: "
    cut = end if end - start <= chars else _word_end(hit.abstract, start + chars)
    more = " &hellip;" if cut < end else ""
    return f'<div class="ms-snippet">{esc(label)}{marked(hit.abstract, spans, start, cut)}{more}</div>'


def _word_end(text: str, at: int) -> int:
    space = text.rfind(" ", 0, at)
    return space if space > at - 60 else at


def why_html(hit: Hit) -> str:
    """Why this rank: each stage's score and rank, and the query terms the paper matched."""
    rows = []
    for name, stage in (("BM25 (words)", hit.bm25), ("Dense (meaning)", hit.dense),
                        ("Fused", hit.fused), ("Reranker", hit.rerank)):
        score = "&mdash;" if stage.score is None else f"{stage.score:.3f}"
        rank = "not in its list" if stage.rank is None else f"#{stage.rank}"
        rows.append(f"<tr><td>{name}</td><td>{score}</td><td>{rank}</td></tr>")
    terms = ", ".join(f"{esc(t.term)} ({esc('/'.join(t.words))}: {t.bm25:.2f})" for t in hit.matched_terms)
    return (f'<details class="ms-why"><summary>Why this rank (#{hit.rank})</summary>'
            f"<table><tr><th>stage</th><th>score</th><th>rank</th></tr>{''.join(rows)}</table>"
            f'<div class="ms-meta">Matched terms (BM25 share): {terms or "none (found by meaning)"}</div>'
            "</details>")


def card_html(hit: Hit, *, new: bool = False, listed_in: Sequence[str] = (), show_rank: bool = True) -> str:
    """The whole card of one hit (without its buttons, which are widgets)."""
    rank = f"{hit.rank}. " if show_rank else ""
    return (
        f'<div class="ms-card" id="{anchor(hit)}" data-pmid="{esc(hit.pmid or "")}">'
        f"<div>{rank}{title_html(hit)}</div>"
        f"{notices_html(hit)}{authors_html(hit)}{source_html(hit)}{badges_html(hit, new=new, listed_in=listed_in)}"
        f"{snippet_html(hit)}"
        f"<details><summary>Abstract</summary>{abstract_html(hit)}</details>"
        f"{why_html(hit) if show_rank else ''}</div>"
    )


# -- summaries ------------------------------------------------------------------------------


def cited(text: str, known: Iterable[str] = ()) -> str:
    """Escaped ``text`` whose ``[PMID n]`` citations link to their card (``#pmid-n``) when the
    paper is on the page (``known``), else to PubMed."""
    on_page = set(known)

    def one(pmid: str) -> str:
        if pmid in on_page:
            return f'<a href="#pmid-{pmid}">PMID {pmid}</a>'
        return link(pubmed_url(pmid), f"PMID {pmid}")  # type: ignore[arg-type]

    def repl(m: re.Match[str]) -> str:
        ids = [p for p in re.split(r"[,\s]+", m.group(1)) if p.isdigit()]
        return "[" + ", ".join(one(p) for p in ids) + "]"

    # the pattern matches digits, commas and spaces only, inside escaped text
    return _CITATION.sub(repl, esc(text))


def check_mark(detail: str) -> str:
    return f'<span class="ms-check" title="grounding check">&#9888; {esc(detail)}</span>'
