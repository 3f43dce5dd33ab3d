"""The evidence of a written sentence: the sentences of the cited abstracts it rests on, chosen
by the code (never by the model), and what they do not support.

Three checks read them (each flags the sentence; the flag kinds are in :mod:`.types`):

- **Support** (``unsupported``). The scorer is content-word coverage: the share of the written
  sentence's content words (search-tokenizer stems, stop words and words about the writing
  itself such as "study" or "found" left out) and numbers found in the quoted sentences. Up to
  :data:`MAX_QUOTES` abstract sentences are chosen greedily, each adding the most words not yet
  covered (a number counts twice; a second quote must add two words or a number). A sentence
  whose quotes cover less than :data:`SUPPORT_THRESHOLD` of it, or with a clause (", which may
  indicate ...", "; ...", ", suggesting ...") that no single abstract sentence covers to
  :data:`CLAUSE_THRESHOLD`, is flagged: it is not shown as fact.
  Why lexical coverage and not an embedding model: a 1.5B model writes its findings mostly in
  the abstract's own words; coverage is exact, explainable (the matched words are what the app
  highlights), costs a few milliseconds per sentence with no model to load, and separated every
  finding's own abstract from the other abstracts of the same searches (``docs/quality.md``,
  "Supporting quotes"). Human paraphrase it separates less well (same place, SciFact).
- **Measures** (``wrong_measure``). Each number must stand in the cited abstract in a sentence
  that also names the measure the written sentence gives it: the content words just before the
  number in its clause (the nearest and half of the three nearest), or the word just after it
  (what it counts: "120 eyes"). "The prevalence of albuminuria was 5.7%" is flagged where the
  abstract's 5.7% is that of *macro*albuminuria.
- **Comparisons and verdicts** (``unsupported_comparison``). A clause that compares ("higher
  than", "compared with", "versus") needs one abstract sentence that compares too (or gives two
  rates or more) and holds :data:`COMPARISON_THRESHOLD` of the clause's content words; a yes/no
  verdict ("The answer is yes") needs one that makes the comparison of the question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from search.summarize.types import Flag, Quote

#: A sentence is supported when its quotes hold at least this share of its content words.
SUPPORT_THRESHOLD = 0.5
#: Each clause of two content words or more must find this share in one abstract sentence.
CLAUSE_THRESHOLD = 0.5
#: A comparison must find this share of its clause's content words in one comparing sentence.
COMPARISON_THRESHOLD = 0.6
#: A verdict on a question that compares nothing ("Does X suppress Y?") needs an effect sentence
#: holding this share of the question's content words (a comparison needs COMPARISON_THRESHOLD).
EFFECT_THRESHOLD = 0.5
#: At most this many quotes per written sentence; a later one must add two words or a number.
MAX_QUOTES = 2
#: A number's measure: at most this many content words next to it.
MEASURE_WORDS = 3

#: Words about the writing or the study as such: they carry no claim an abstract must hold.
_GENERIC = frozenset(
    "study studies trial trials research paper papers abstract author authors article finding findings "
    "found find show shows showed shown demonstrate demonstrates demonstrated suggest suggests suggested "
    "indicate indicates indicated report reports reported conclude concluded conclusion conclusions "
    "result results resulted observe observed investigate investigated evaluate evaluated examine examined "
    "assess assessed aim aimed answer yes unclear overall however also may might could would can "
    "whether which who what while whereas although both each all among within including include "
    "includes included one does do did has have had".split()
)
#: An abstract sentence that compares in a direction (what a written comparison needs).
_DIRECTIONAL = re.compile(
    r"\b(than|compared|comparison|comparing|versus|vs\.?|relative to|higher|lower|greater|fewer|less|more|"
    r"better|worse|superior|inferior|non-?inferior|similar|differ(?:ed|ence|ences|ent)?|"
    r"increas(?:e|ed|es|ing)|decreas(?:e|ed|es|ing)|reduc(?:e|ed|es|ing|tion)|"
    r"improv(?:e|ed|es|ing|ement)|outperform(?:ed|s)?|no (?:significant )?(?:difference|effect)|"
    r"not (?:effective|significant))\b", re.IGNORECASE)
#: An abstract sentence that states an effect or an association (what a verdict on a question
#: that is not itself a comparison needs: "Is X associated with Y?" "Yes").
_EFFECT = re.compile(
    rf"{_DIRECTIONAL.pattern}|\b(associated|association|correlat(?:e|ed|es|ion)|odds ratio|hazard ratio|"
    r"risk ratio|relative risk|effective|predict(?:s|ed|ive)?|linked)\b", re.IGNORECASE)
#: What a written sentence says when it compares: stricter than what counts in an abstract.
_COMPARES = re.compile(
    r"\b(than|compared (?:with|to)|in comparison (?:with|to)|versus|vs\.?|relative to|"
    r"(?:higher|lower|greater|fewer|less|more|better|worse|superior|inferior) (?:\w+ ){0,4}(?:than|compared))\b",
    re.IGNORECASE)
_PERCENT = re.compile(r"\d(?:[\d.,\u00b7]*\d)?\s?%")
_VERDICT = re.compile(r"\b(?:the answer (?:to the question )?is|answer:)\s*(yes|no)\b|^\s*(yes|no)\s*[,.;:]",
                      re.IGNORECASE)
_CLAUSE = re.compile(
    r"\s*(?:;|,\s*(?=which\b|suggesting\b|indicating\b|implying\b|meaning\b|highlighting\b|but\b|whereas\b|"
    r"while\b|although\b|and this\b|thus\b|therefore\b)|\s(?=which may\b|which might\b|which could\b))\s*",
    re.IGNORECASE)
_LABEL = re.compile(r"^[A-Z][A-Za-z ,&/-]{1,60}:\s+")


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the checks found for one written sentence: its quotes, best first, and its flags."""

    quotes: tuple[Quote, ...]
    flags: tuple[Flag, ...]
    support: float  # share of the sentence's content words the quotes hold


@dataclass(frozen=True, slots=True)
class _Source:
    """One sentence of a cited abstract (or its title), with its terms."""

    pmid: str
    text: str
    words: frozenset[str]
    numbers: frozenset[str]
    title: bool = False

    @property
    def terms(self) -> frozenset[str]:
        return self.words | {f"#{n}" for n in self.numbers}


def check(body: str, sources: Mapping[str, str], *, question: str = "") -> Evidence:
    """Quotes and flags for ``body`` (a written sentence, citations removed) against ``sources``
    (PMID -> title, a line break and the abstract, of each paper it cites). ``question``: what a verdict answers."""
    from search.summarize.grounding import numbers

    candidates = [s for pmid, text in sources.items() for s in _sentences(pmid, text)]
    if not candidates:
        return Evidence((), (), 0.0)
    stated = frozenset().union(*(s.numbers for s in candidates))
    # a number the abstracts never state is flagged by the number check, not counted again here
    terms = content_words(body) | {f"#{n}" for n in numbers(body) if n in stated}
    quotes, support = _select(terms, candidates)
    flags: list[Flag] = []
    pmid = next(iter(sources)) if len(sources) == 1 else None
    if terms and support < SUPPORT_THRESHOLD:
        flags.append(Flag("unsupported", f"no sentence of the cited abstract supports it (the best quotes hold "
                          f"{support:.0%} of its words)", pmid))
    else:
        weak = _unsupported_clause(body, candidates)
        if weak is not None:
            flags.append(Flag("unsupported", f'"{weak}" is in no sentence of the cited abstract', pmid))
    flags += _measure_flags(body, candidates, pmid)
    comparison = _comparison_flag(body, candidates, question, pmid)
    if comparison is not None:
        flags.append(comparison)
    chosen = tuple(Quote(q.pmid, q.text, score) for q, score in quotes)
    return Evidence(chosen, tuple(flags), support)


# -- words and sentences ------------------------------------------------------------------
@lru_cache(maxsize=1)
def _tokenizer():
    from search.retrieval.tokenizer import Tokenizer

    return Tokenizer()


@lru_cache(maxsize=1)
def _generic_stems() -> frozenset[str]:
    return frozenset(_tokenizer()(" ".join(_GENERIC)))


@lru_cache(maxsize=1)
def _question_stems() -> frozenset[str]:
    from search.summarize.topic import QUESTION_WORDS

    return frozenset(_tokenizer()(" ".join(QUESTION_WORDS)))


#: Words for the people a study counted, which writers swap freely ("1136 adults" for "1136
#: participants"): one term, so that neither support nor a number's measure hangs on the choice.
_PEOPLE = "patient patients participant participants adult adults subject subjects individual individuals " \
          "people person persons volunteer volunteers"


@lru_cache(maxsize=1)
def _people_stems() -> frozenset[str]:
    return frozenset(_tokenizer()(_PEOPLE))


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """The stems of ``text`` that carry content: no stop words, no generic words, no digits;
    words for the people counted are one term ("@people")."""
    return frozenset(_terms(text))


def _terms(text: str) -> list[str]:
    """:func:`content_words` in order, repeats kept."""
    generic, people = _generic_stems(), _people_stems()
    return ["@people" if t in people else t for t in _tokenizer()(text)
            if t not in generic and not t[0].isdigit() and len(t) > 1]


@lru_cache(maxsize=512)
def _sentences(pmid: str, text: str) -> tuple[_Source, ...]:
    """The title and each sentence of the abstract (section labels removed), verbatim; not the
    background, aims, funding or registration sections, which the finding prompt leaves out too
    (their sentences state earlier beliefs, not the paper's result)."""
    from search.summarize.grounding import source_numbers, split_sentences
    from search.summarize.prompts import essential

    short = abbreviations(text)
    title, _, abstract = text.partition("\n")
    out = []
    for i, line in enumerate([title, *essential(abstract).splitlines()]):
        line = line.strip() if i == 0 else _LABEL.sub("", line.strip())  # a title may hold a colon
        for sentence in split_sentences(line) if line else ():
            words = content_words(sentence).union(
                *(long for abbr, long in short.items() if re.search(rf"\b{re.escape(abbr)}\b", sentence)),
                *(_suspended(m) for m in _SUSPENDED.finditer(sentence)))
            out.append(_Source(pmid, sentence, words, frozenset(source_numbers(sentence)), title=i == 0))
    return tuple(out)


_SUSPENDED = re.compile(r"\b([^\W\d_]{2,})-\s+(?:and|or|to)\s+([^\W\d_]{5,})")


def _suspended(m: re.Match[str]) -> frozenset[str]:
    """"micro- and macroalbuminuria" also names microalbuminuria: the first prefix joined to each
    ending of the second word (of four letters or more), as content words."""
    head, word = m.group(1), m.group(2)
    return content_words(" ".join(head + word[i:] for i in range(1, len(word) - 3)))


_DEFINED = re.compile(r"((?:[^\W\d_][\w\u2010\u2011-]*\s+){1,8})\(([A-Z][A-Za-z0-9]{1,9}s?)\)")


def abbreviations(text: str) -> dict[str, frozenset[str]]:
    """Abbreviations the abstract defines ("fentanyl-induced cough (FIC)"): each to the content
    words of its long form, so that a sentence saying "FIC" also names fentanyl-induced cough.
    The long form is the shortest run of words before the brackets whose first word starts with
    the abbreviation's first letter (Schwartz and Hearst's rule, simplified)."""
    out: dict[str, frozenset[str]] = {}
    for m in _DEFINED.finditer(text):
        abbr, words = m.group(2), m.group(1).split()
        if sum(c.isupper() for c in abbr) < 2:
            continue
        for i in range(len(words) - 1, -1, -1):
            if words[i][0].lower() == abbr[0].lower():
                out.setdefault(abbr, content_words(" ".join(words[i:])))
                break
    return out


def abstract_sentences(text: str) -> list[str]:
    """The sentences quotes are chosen from (``text``: the title, a line break, the abstract): the
    title, then each sentence of the abstract."""
    return [s.text for s in _sentences("", text)]


# -- support --------------------------------------------------------------------------------
def _select(terms: frozenset[str], candidates: Sequence[_Source]) -> tuple[list[tuple[_Source, float]], float]:
    """Greedy cover: each quote adds the most terms not yet covered; (quote, own score), support."""
    if not terms:
        return [], 1.0
    chosen: list[tuple[_Source, float]] = []
    covered: set[str] = set()
    body = [s for s in candidates if not s.title and s.terms & terms]
    for n in range(MAX_QUOTES):
        # the first quote comes from the abstract where it can: the title names the topic, the
        # abstract states the result
        pool = body if n == 0 and body else candidates
        best = max(pool, key=lambda s: (_weight((s.terms & terms) - covered), len(s.terms & terms)))
        gain = (best.terms & terms) - covered
        if not gain or (chosen and _weight(gain) < 2):
            break
        chosen.append((best, len(best.terms & terms) / len(terms)))
        covered |= gain
    chosen.sort(key=lambda q: -q[1])
    return chosen, len(covered) / len(terms)


def _weight(terms: set[str] | frozenset[str]) -> int:
    """What covering ``terms`` is worth: a number counts twice (the reader must find it)."""
    return sum(2 if t.startswith("#") else 1 for t in terms)


def clauses(body: str) -> list[str]:
    """The clauses of a sentence: split at ";" and before "which", "suggesting", "but", ..."""
    return [c.strip(" ,.;") for c in _CLAUSE.split(body) if c and c.strip(" ,.;")]


def _unsupported_clause(body: str, candidates: Sequence[_Source]) -> str | None:
    parts = clauses(body)
    if len(parts) < 2:
        return None
    for part in parts:
        words = content_words(part)
        if len(words) < 2:
            continue
        best = max(len(words & s.words) for s in candidates) / len(words)
        if best < CLAUSE_THRESHOLD:
            return part
    return None


# -- numbers and their measures -----------------------------------------------------------
def measure_words(body: str, number_at: int, number_end: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The measure a number is given in ``body``: up to :data:`MEASURE_WORDS` content words before
    it in its clause (nearest first), and the first content word after it, before the next
    number or clause boundary: what it counts ("240 patients", "5.7% had macroalbuminuria")."""
    start = max(body.rfind(sep, 0, number_at) for sep in _BEFORE)
    before = _ordered_words(body[start + 1:number_at])[::-1][:MEASURE_WORDS]
    ends = [i for i in (body.find(sep, number_end) for sep in _AFTER) if i != -1]
    nxt = _NUMBER_START.search(body, number_end)
    if nxt:
        ends.append(nxt.start())
    after = _ordered_words(body[number_end:min(ends, default=len(body))])[:1]  # what it counts: "120 eyes"
    return tuple(before), tuple(after)


_BEFORE = (",", ";", ":", "(", " and ", " while ", " whereas ", " but ")
_AFTER = (",", ";", "(", ")", " and ", " while ", " whereas ", " but ", " compared ", " than ", " versus ", " vs")
_NUMBER_START = re.compile(r"(?<![\w.])\d")


def _ordered_words(text: str) -> list[str]:
    return list(dict.fromkeys(_terms(text)))


def _measure_flags(body: str, candidates: Sequence[_Source], pmid: str | None) -> list[Flag]:
    """``wrong_measure`` for each number that the cited abstracts state, but never in a sentence
    holding the measure the written sentence gives it."""
    wrong = _off_measure(body, candidates)
    if not wrong:
        return []
    return [Flag("wrong_measure", f"{', '.join(wrong)} stands in the cited abstract beside another measure",
                 pmid)]


def off_measure(body: str, sources: Mapping[str, str]) -> list[str]:
    """The numbers of ``body`` that ``sources`` state, but never beside the measure ``body`` names."""
    return _off_measure(body, [s for pmid, text in sources.items() for s in _sentences(pmid, text)])


def _off_measure(body: str, candidates: Sequence[_Source]) -> list[str]:
    from search.summarize.grounding import number_spans

    used = frozenset().union(*(s.words for s in candidates))
    wrong: list[str] = []
    for value, at, end in number_spans(body):
        holders = [s for s in candidates if value in s.numbers]
        if not holders:
            continue  # not in the abstract at all: ungrounded_number says so
        # words the abstract never uses cannot be checked
        sides = [tuple(w for w in side if w in used) for side in measure_words(body, at, end)]
        sides = [side for side in sides if side]
        if sides and not any(_bound(side, holders) for side in sides) and value not in wrong:
            wrong.append(value)
    return wrong


def _bound(measure: tuple[str, ...], holders: Sequence[_Source]) -> bool:
    """Whether one sentence holding the number also holds the measure's nearest word and at least
    half of its words."""
    return any(measure[0] in s.words and 2 * len(s.words.intersection(measure)) >= len(measure) for s in holders)


# -- comparisons and verdicts ---------------------------------------------------------------
def _comparison_flag(body: str, candidates: Sequence[_Source], question: str, pmid: str | None) -> Flag | None:
    # a sentence that gives two rates or more ("9.2% and 40.8% in groups A and B") compares too
    directional = [s for s in candidates if _DIRECTIONAL.search(s.text) or len(_PERCENT.findall(s.text)) >= 2]
    for part in clauses(body):
        if not _COMPARES.search(part):
            continue
        words = content_words(part)
        if len(words) < 2:
            continue
        if _share(words, directional) < COMPARISON_THRESHOLD:
            return Flag("unsupported_comparison", f'no sentence of the cited abstract makes the comparison "{part}"',
                        pmid)
    verdict = _VERDICT.search(body)
    if verdict is not None and question:
        words = content_words(question) - _question_stems()
        comparative = bool(_COMPARES.search(question))
        needed = directional if comparative else [
            s for s in candidates if _EFFECT.search(s.text) or len(_PERCENT.findall(s.text)) >= 2]
        if words and _share(words, needed) < (COMPARISON_THRESHOLD if comparative else EFFECT_THRESHOLD):
            answer = (verdict.group(1) or verdict.group(2)).lower()
            return Flag("unsupported_comparison", f'"{answer}" answers the question, but no sentence of the cited '
                        "abstract makes its comparison", pmid)
    return None


def _share(words: frozenset[str], sentences: Sequence[_Source]) -> float:
    """The largest share of ``words`` that one of ``sentences`` holds."""
    return max((len(words & s.words) for s in sentences), default=0) / len(words)


# -- what the app highlights --------------------------------------------------------------------
_WORD_OR_NUMBER = re.compile(r"\d[\d,.\u00b7]*\d|\d|[^\W\d_][\w'\u2010\u2011-]*")


def matched_spans(quote: str, sentence: str) -> list[tuple[int, int]]:
    """Where ``quote`` holds a content word or a number of ``sentence`` (citations left out):
    (start, end) character offsets into ``quote``, in order; what the app marks."""
    from search.summarize.grounding import numbers, strip_citations

    body = strip_citations(sentence)
    words = content_words(body)
    values = numbers(body)
    out = []
    for m in _WORD_OR_NUMBER.finditer(quote):
        token = m.group().rstrip(".,")
        if not token:
            continue
        if token[0].isdigit():
            hit = bool(numbers(token) & values)
        else:
            hit = bool(content_words(token) & words)
        if hit:
            out.append((m.start(), m.start() + len(token)))
    return out
