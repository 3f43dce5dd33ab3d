"""Typed values of summaries: what goes in (papers), what comes out (findings, summaries), and
the events a streaming caller receives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from search.llm.base import GenerationStats

#: The fixed line every summary carries.
CHECK_LINE = "Machine-written: it can be wrong. Check every statement against the cited abstracts."
EXTRACTIVE_LINE = (
    "Extractive summary: no language model wrote it; these are the conclusion sentences of each "
    "abstract, quoted with their PMIDs."
)
#: An extractive summary that quotes nothing (no paper had an abstract) says so instead.
NOTHING_QUOTED_LINE = "Nothing to quote: no paper given could be summarised; the notes say why."

FlagKind = Literal[
    "invented_citation",  # a PMID the model was not given: removed
    "ungrounded_number",  # a number not found in the abstract(s) the sentence cites
    "uncited",  # a sentence of the overview that cites no paper
    "retracted",  # the paper was retracted
    "no_abstract",  # nothing to summarise
    "off_topic",  # the paper does not share the question's terms
    "no_answer",  # no given paper addresses the question: no summary was written
    "trimmed",  # the model wrote more than asked; the rest was dropped
    "model_error",  # the model failed; an extractive text stands in
    "fallback",  # no model: extractive summary
    "unsupported",  # no sentence of the cited abstract supports the finding above the threshold
    "wrong_measure",  # a number is in the abstract, but not in a sentence about the measure named
    "unsupported_comparison",  # a comparison or yes/no verdict no quoted sentence makes
    "not_in_overview",  # the overview does not cite this paper: its finding is shown on its own
]


#: How each flag kind reads: (the CLI's short words, the app's words to the reader).
FLAG_WORDS: dict[str, tuple[str, str]] = {
    "invented_citation": ("citation removed",
                          "citation removed: the model cited a paper it was not given"),
    "ungrounded_number": ("number not found in the cited abstract",
                          "number not found in the cited abstract"),
    "uncited": ("sentence without a citation",
                "sentence without a citation"),
    "retracted": ("retracted paper",
                  "retracted paper left out"),
    "no_abstract": ("no abstract",
                    "no abstract to summarise"),
    "off_topic": ("not about the question",
                  "not about the question"),
    "no_answer": ("no answer",
                  "no paper answers the question"),
    "trimmed": ("extra text dropped",
                "extra text dropped"),
    "model_error": ("model failed",
                    "the model failed"),
    "fallback": ("no language model",
                 "no language model"),
    "unsupported": ("not supported by the cited abstract",
                    "not supported by the cited abstract: do not read it as fact"),
    "wrong_measure": ("number beside another measure in the abstract",
                      "a number stands beside another measure in the abstract"),
    "unsupported_comparison": ("comparison no quoted sentence makes",
                               "a comparison no quoted sentence makes"),
    "not_in_overview": ("finding not in the overview",
                        "the overview does not mention this paper: read its finding"),
}


def flag_words(kind: str, *, long: bool = False) -> str:
    """The words for a flag of ``kind``: short (the CLI) or ``long`` (the app); the kind itself
    where it has none."""
    words = FLAG_WORDS.get(kind)
    return kind if words is None else words[1 if long else 0]


#: Flags marked on the sentence they concern, where it is shown ("[check: ...]").
SENTENCE_MARKS: tuple[FlagKind, ...] = ("ungrounded_number", "uncited", "unsupported", "wrong_measure",
                                        "unsupported_comparison")


@dataclass(frozen=True, slots=True)
class Flag:
    kind: FlagKind
    detail: str
    pmid: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "detail": self.detail, "pmid": self.pmid}


@dataclass(frozen=True, slots=True)
class Paper:
    """What the summariser reads of one paper."""

    pmid: str
    title: str
    abstract: str
    year: int | None = None
    is_retracted: bool = False
    #: The indexers' subject terms (MeSH headings, substance names, author keywords): the topic
    #: gate reads them beside the title and abstract; the model never sees them.
    subjects: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        """Changes whenever anything the model reads, the retraction status, or the subject terms
        the topic gate reads change."""
        parts: tuple[str, ...] = (self.pmid, self.title, self.abstract, str(self.is_retracted))
        if self.subjects:
            parts += ("\x1e".join(self.subjects),)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_article(cls, article) -> Paper:
        """From an :class:`ingest.records.Article`."""
        subjects = (*(m.descriptor for m in article.mesh_headings), *(c.name for c in article.chemicals),
                    *(k.text for k in article.keywords))
        return cls(pmid=article.pmid or article.doc_id, title=article.title,
                   abstract=article.abstract_text, year=article.pub_year,
                   is_retracted=article.is_retracted, subjects=tuple(dict.fromkeys(subjects)))


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence of a cited abstract, verbatim, that supports a written sentence; chosen by the
    code (never by the model), with the support score that chose it."""

    pmid: str
    text: str
    score: float

    def to_json(self) -> dict[str, str | float]:
        return {"pmid": self.pmid, "text": self.text, "score": round(self.score, 3)}


@dataclass(frozen=True, slots=True)
class Sentence:
    """One checked sentence: the text as shown (canonical citations, no markers), the PMIDs it
    cites, and what the checks found."""

    text: str
    cited: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    quotes: tuple[Quote, ...] = ()  # the abstract sentences it rests on, best first

    @property
    def shown(self) -> str:
        """The sentence with a visible marker for each problem the checks found."""
        marks = [f"[check: {f.detail}]" for f in self.flags if f.kind in SENTENCE_MARKS]
        return " ".join([self.text, *marks])

    @property
    def supported(self) -> bool:
        """False when no sentence of the cited abstracts supports it: not to be shown as fact."""
        return not any(f.kind == "unsupported" for f in self.flags)

    def to_json(self) -> dict:
        return {"text": self.text, "cited": list(self.cited), "flags": [f.to_json() for f in self.flags],
                "quotes": [q.to_json() for q in self.quotes]}


@dataclass(frozen=True, slots=True)
class Finding:
    """One or two sentences on one paper (also its TL;DR), cited to it by construction."""

    pmid: str
    sentences: tuple[Sentence, ...]
    source: Literal["model", "extractive", "none"]
    flags: tuple[Flag, ...] = ()  # about the paper or the generation; sentence flags are inside
    cached: bool = False

    @property
    def retracted(self) -> bool:
        return any(f.kind == "retracted" for f in self.flags)

    @property
    def text(self) -> str:
        prefix = "RETRACTED - " if self.retracted else ""
        return prefix + " ".join(s.shown for s in self.sentences)

    @property
    def all_flags(self) -> tuple[Flag, ...]:
        return self.flags + tuple(f for s in self.sentences for f in s.flags)

    def to_json(self) -> dict:
        return {"pmid": self.pmid, "text": self.text, "source": self.source, "cached": self.cached,
                "flags": [f.to_json() for f in self.all_flags], "sentences": [s.to_json() for s in self.sentences]}


@dataclass(frozen=True, slots=True)
class Summary:
    """An overview of a result set (``kind="overview"``) or one paper's TL;DR (``"tldr"``)."""

    kind: Literal["overview", "tldr"]
    query: str
    sentences: tuple[Sentence, ...]
    findings: tuple[Finding, ...]
    given_pmids: tuple[str, ...]  # the papers the model was given
    model: str  # who wrote it: a model's name, or "extractive"
    created_at: datetime
    flags: tuple[Flag, ...] = ()  # about the whole summary (no answer, fallback, left-out papers)
    notes: tuple[str, ...] = ()  # fixed sentences the code adds (papers left out and why)
    sent_to: str | None = None  # host the text was sent to, None when it stayed on this machine
    cached: bool = False
    stats: tuple[GenerationStats, ...] = ()  # one per model call: first token, tokens, tokens/s

    @property
    def fallback(self) -> bool:
        return any(f.kind in ("fallback", "model_error") for f in self.all_flags)

    @property
    def text(self) -> str:
        """The overview's sentences (or, without them, the findings), then the notes."""
        if self.sentences:
            body = " ".join(s.shown for s in self.sentences)
        else:
            body = " ".join(f.text for f in self.findings)
        return " ".join(p for p in (body, *self.notes) if p)

    @property
    def cited_pmids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in (*self.sentences, *(s for f in self.findings for s in f.sentences)):
            seen.update(dict.fromkeys(s.cited))
        return tuple(seen)

    @property
    def all_flags(self) -> tuple[Flag, ...]:
        out = list(self.flags)
        out += [f for s in self.sentences for f in s.flags]
        out += [f for fd in self.findings for f in fd.all_flags]
        return tuple(out)

    @property
    def label(self) -> str:
        when = self.created_at.strftime("%Y-%m-%d %H:%M")
        if self.model == "extractive":
            if not any(f.sentences for f in self.findings):
                return f"{NOTHING_QUOTED_LINE} Made on {when}."
            return f"{EXTRACTIVE_LINE} Made on {when}."
        return f"Written by {self.model} on {when}. {CHECK_LINE}"

    @property
    def check_report(self) -> str:
        """What the checks did and found, built from this summary's sentences and flags
        (:func:`search.summarize.checks.check_report`): it never says a check passed that did not."""
        from search.summarize.checks import check_report

        return check_report(self)

    def to_json(self) -> dict:
        return {
            "kind": self.kind, "query": self.query, "text": self.text,
            "given_pmids": list(self.given_pmids), "cited_pmids": list(self.cited_pmids),
            "flags": [f.to_json() for f in self.all_flags], "model": self.model,
            "created_at": self.created_at.isoformat(timespec="seconds"), "label": self.label,
            "check_report": self.check_report, "sentences": [s.to_json() for s in self.sentences],
            "fallback": self.fallback, "cached": self.cached, "sent_to": self.sent_to,
            "findings": [f.to_json() for f in self.findings], "stats": [s.to_json() for s in self.stats],
        }


@dataclass(frozen=True, slots=True)
class FindingReady:
    """Streamed: one paper's finding is written and checked (``index`` counts from 1)."""

    finding: Finding
    index: int
    total: int


@dataclass(frozen=True, slots=True)
class SentenceReady:
    """Streamed: one sentence of the overview is written and checked."""

    sentence: Sentence


@dataclass(frozen=True, slots=True)
class SummaryReady:
    """Streamed last: the whole summary."""

    summary: Summary


Event = FindingReady | SentenceReady | SummaryReady
