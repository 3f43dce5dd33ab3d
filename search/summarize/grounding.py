"""Grounding checks run on every sentence before it is shown.

- Citations: every PMID a sentence cites must be one the model was given; any other is
  removed and flagged. Citations are rewritten in one form, ``[PMID 12345678]``, placed
  before the sentence's final punctuation.
- Numbers (percentages, ratios, confidence intervals, p-values, sample sizes, years):
  every number in a sentence must occur in an abstract the sentence cites, compared by
  value (``0.90`` = ``0.9``, ``1,234`` = ``1234``, ``0·85`` = ``0.85``, "Fifteen" = ``15``);
  otherwise the sentence is flagged and shown with a marker.
- An overview sentence that cites nothing is flagged, except statements that the papers do
  not answer the question; one that restates a single finding almost word for word is
  cited to that finding's paper (:func:`restates`).

Sentence boundaries come from ``sentencex`` (rule-based, knows abbreviations such as
"et al." and "vs."); a citation the model put after the full stop joins the sentence before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from search.summarize.types import Flag, Sentence

_ID_LIST = r"(?:PMIDs?\s*:?\s*)?\d{1,9}(?:\s*(?:,|;|and)\s*(?:PMIDs?\s*:?\s*)?\d{1,9})*"
#: [PMID 1], [1], [PMID: 1, 2], (PMID 1; PMID 2), and a bare "PMID 1".
CITATION = re.compile(
    rf"\[\s*{_ID_LIST}\s*\]|\(\s*PMIDs?\s*:?\s*\d{{1,9}}(?:\s*(?:,|;|and)\s*(?:PMIDs?\s*:?\s*)?\d{{1,9}})*\s*\)"
    r"|\bPMIDs?\s*:?\s*\d{1,9}",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
#: A number: digits with a decimal point (or Lancet's middle dot), thousands commas, or a bare
#: decimal such as ".001"; digits inside a word (HbA1c) are not numbers.
_NUMBER = re.compile(
    r"(?<![\w.\u00b7])(?:\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+)(?:[.\u00b7]\d+)?|(?<![\w.\u00b7])[.\u00b7]\d+"
)
_LEADING_CITATIONS = re.compile(rf"^(?:\s*(?:{CITATION.pattern})\s*[.;,]?)+", re.IGNORECASE)
_END = re.compile(r"([.!?]+[\"')]*)\s*$")
#: Canonical citations left after the final punctuation: "Text. [PMID 1]" -> "Text [PMID 1]."
_AFTER_END = re.compile(r"([.!?]+)\s*((?:\[PMID [^\]]*\]\s*)+)$")
#: Statements about the result set as a whole that need no citation.
NO_ANSWER_PATTERNS = re.compile(
    r"\b(do(es)? not (answer|address)|none of the (papers|studies|abstracts)|no (paper|study|abstract)s? "
    r"(answer|address)|cannot be answered|not enough evidence)\b",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; citations standing after a full stop join the sentence before."""
    from sentencex import segment

    out: list[str] = []
    for part in segment("en", " ".join(text.split())):
        part = part.strip()
        lead = _LEADING_CITATIONS.match(part)
        if out and lead:
            out[-1] = f"{out[-1]} {lead.group().strip()}"
            part = part[lead.end():].strip()
        if part:
            out.append(part)
    return out


def cited_ids(text: str) -> list[str]:
    """Every PMID cited in ``text``, in order, repeats removed."""
    ids: dict[str, None] = {}
    for m in CITATION.finditer(text):
        ids.update(dict.fromkeys(_DIGITS.findall(m.group())))
    return list(ids)


def strip_citations(text: str) -> str:
    """``text`` without its citations, spaces tidied."""
    text = CITATION.sub(" ", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))
    return re.sub(r"\(\s*\)|\[\s*\]", "", text).strip()


def numbers(text: str) -> set[str]:
    """The numbers of ``text`` as canonical decimal strings (citations are not numbers)."""
    return {value for value, _, _ in number_spans(CITATION.sub(" ", text))}


def number_spans(text: str) -> list[tuple[str, int, int]]:
    """Each number of ``text``: its canonical decimal string, where it starts and ends.
    A thousands comma belongs to the number only when three digits follow it and no digit comes
    after them ("n=2,545," is 2545; "2,5" is two numbers)."""
    out = []
    for m in _NUMBER.finditer(text):
        value = m.group().replace("\u00b7", ".").replace(",", "")
        try:
            d = Decimal(value).normalize()
        except InvalidOperation:
            continue
        out.append((format(d, "f"), m.start(), m.end()))
    return out


_UNITS = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
#: Numbers spelled out, two to ninety-nine, to their values ("one" is mostly a pronoun).
_WORD_VALUES = {
    **{w: i for i, w in enumerate(_UNITS, start=1) if w != "one"},
    **{w: i for i, w in enumerate(_TEENS, start=10)},
    **{w: 10 * i for i, w in enumerate(_TENS, start=2)},
    **{f"{t}-{u}": 10 * i + j for i, t in enumerate(_TENS, start=2) for j, u in enumerate(_UNITS, start=1)},
}
_SPELLED = re.compile(r"\b(?:" + "|".join(sorted(_WORD_VALUES, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def source_numbers(text: str) -> set[str]:
    """The numbers an abstract states: :func:`numbers`, and those it spells out from two to
    ninety-nine ("Fifteen patients" states 15)."""
    return numbers(text) | {str(_WORD_VALUES[word.lower()]) for word in _SPELLED.findall(text)}


def cite(text: str, pmids: Iterable[str]) -> str:
    """``text`` with ``[PMID a, PMID b]`` before its final punctuation (a full stop if none)."""
    pmids = list(pmids)
    if not pmids:
        return text
    mark = "[" + ", ".join(f"PMID {p}" for p in pmids) + "]"
    m = _END.search(text)
    if m:
        return f"{text[:m.start()].rstrip()} {mark}{m.group(1)}"
    return f"{text} {mark}."


def canonical_citations(text: str, keep: Iterable[str]) -> str:
    """Citations rewritten in place as ``[PMID a, PMID b]``, keeping only PMIDs in ``keep``;
    citations after the final punctuation move before it."""
    keep = set(keep)

    def one(m: re.Match) -> str:
        ids = [i for i in dict.fromkeys(_DIGITS.findall(m.group())) if i in keep]
        return " [" + ", ".join(f"PMID {i}" for i in ids) + "] " if ids else " "

    text = " ".join(CITATION.sub(one, text).split())
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text).strip()
    return _AFTER_END.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text).strip()


def check_sentence(raw: str, sources: Mapping[str, str], *, cite_as: str | None = None,
                   question: str = "") -> Sentence:
    """Check one sentence against the abstracts the model was given (``sources``: PMID -> text).

    ``cite_as``: the sentence is about that one paper (a finding): it is cited to it, at its
    end, whatever the model wrote. Otherwise (an overview) it keeps the citations the model
    wrote, where it wrote them, less any PMID not in ``sources``. The sentences of the cited
    abstracts it rests on are chosen and checked by :func:`search.summarize.evidence.check`
    (``question``: what a yes/no verdict answers).
    """
    from search.summarize import evidence

    flags: list[Flag] = []
    wrote = cited_ids(raw)
    for pmid in wrote:
        if pmid not in sources:
            flags.append(Flag("invented_citation", f"PMID {pmid} was not among the papers given; removed",
                              pmid))
        elif cite_as is not None and pmid != cite_as:
            flags.append(Flag("invented_citation", f"PMID {pmid} cited in the finding of PMID {cite_as}; "
                              "removed", pmid))
    if cite_as is not None:
        cited = [cite_as]
        text = cite(strip_citations(raw), cited)
    else:
        cited = [p for p in wrote if p in sources]
        text = canonical_citations(raw, cited)
    body = strip_citations(raw)
    grounded = set().union(*(source_numbers(sources[p]) for p in cited)) if cited else set()
    missing = sorted(numbers(body) - grounded, key=lambda x: (len(x), x))
    if missing:
        where = "in the cited abstract" if cited else "from a cited abstract"
        flags.append(Flag("ungrounded_number", f"{', '.join(missing)} not {where}",
                          cited[0] if len(cited) == 1 else None))
    if not cited and not NO_ANSWER_PATTERNS.search(body):
        flags.append(Flag("uncited", "cites no paper"))
    found = evidence.check(body, {p: sources[p] for p in cited}, question=question)
    return Sentence(text=text, cited=tuple(cited), flags=(*flags, *found.flags), quotes=found.quotes)


def check_text(raw: str, sources: Mapping[str, str], *, cite_as: str | None = None,
               question: str = "") -> list[Sentence]:
    return [check_sentence(s, sources, cite_as=cite_as, question=question) for s in split_sentences(raw)]


#: An uncited sentence is a restatement of a finding when at least this share of its content
#: words come from that finding and at most half from any other.
RESTATES_SHARE = 0.8


def restates(raw: str, findings: Mapping[str, str]) -> str | None:
    """The PMID whose finding ``raw`` restates (content words: search-tokenizer stems without
    stop words), or None when it restates none, or more than one."""
    from search.retrieval.tokenizer import Tokenizer

    tokenize = Tokenizer()
    words = set(tokenize(strip_citations(raw)))
    if len(words) < 4:
        return None
    shares = sorted(((len(words & set(tokenize(text))) / len(words), pmid) for pmid, text in findings.items()),
                    reverse=True)
    if not shares or shares[0][0] < RESTATES_SHARE or (len(shares) > 1 and shares[1][0] > 0.5):
        return None
    return shares[0][1]
