"""The check line: what the checks of a summary did and what they flagged, counted from the
summary itself, so it never says a check passed that did not.

    Checks on 4 sentences. Flagged: 1 sentence not supported by the cited abstract; 1 sentence
    with a number that stands beside another measure in the abstract. Passed: every citation
    names a paper given; each comparison or verdict has a quoted sentence that makes it.

A check is named as passed only when nothing of its kind was flagged; the numbers check only
when there were numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from search.summarize.grounding import numbers, strip_citations
from search.summarize.types import Sentence, Summary

#: Flag kinds of sentences, as the check line words them (singular, plural).
_WORDS = {
    "unsupported": ("sentence not supported by the cited abstract", "sentences not supported by the cited abstract"),
    "wrong_measure": ("sentence with a number that stands beside another measure in the abstract",
                      "sentences with a number that stands beside another measure in the abstract"),
    "unsupported_comparison": ("comparison or verdict that no quoted sentence makes",
                               "comparisons or verdicts that no quoted sentence makes"),
    "ungrounded_number": ("sentence with a number not in the cited abstract",
                          "sentences with a number not in the cited abstract"),
    "uncited": ("sentence without a citation", "sentences without a citation"),
    "invented_citation": ("citation of a paper not given, removed", "citations of papers not given, removed"),
}


@dataclass(frozen=True, slots=True)
class CheckCounts:
    """What was checked in a summary's written sentences (overview and findings), and flagged."""

    sentences: int
    cited: int  # sentences citing at least one paper
    quoted: int  # sentences with at least one supporting quote
    numbers: int  # numbers stated in the sentences
    number_sentences: int  # sentences stating a number
    flagged: dict[str, int]  # flag kind -> sentences with it (invented_citation: citations removed)

    @property
    def numbers_bound(self) -> int:
        """Sentences with numbers whose every number stands beside its measure in the abstract."""
        return self.number_sentences - self.flagged.get("ungrounded_number", 0) - self.flagged.get("wrong_measure", 0)


def counts(summary: Summary) -> CheckCounts:
    sentences: list[Sentence] = [*summary.sentences, *(s for f in summary.findings for s in f.sentences)]
    flagged: Counter[str] = Counter()
    for s in sentences:
        for kind in dict.fromkeys(f.kind for f in s.flags if f.kind != "invented_citation"):
            flagged[kind] += 1
        flagged["invented_citation"] += sum(1 for f in s.flags if f.kind == "invented_citation")
    stated = [len(numbers(strip_citations(s.text))) for s in sentences]
    return CheckCounts(sentences=len(sentences), cited=sum(1 for s in sentences if s.cited),
                       quoted=sum(1 for s in sentences if s.quotes), numbers=sum(stated),
                       number_sentences=sum(1 for n in stated if n),
                       flagged={k: v for k, v in flagged.items() if v})


def check_report(summary: Summary) -> str:
    """One line: how many sentences were checked, what was flagged, and what passed."""
    c = counts(summary)
    if not c.sentences:
        if summary.kind == "tldr" and any(f.kind == "no_abstract" for f in summary.all_flags):
            return "Checks: none: the paper has no abstract, so there was nothing to quote."
        return "Checks: none: nothing was written, so there was nothing to check."
    flagged = [f"{n} {_WORDS[k][n != 1]}" for k, n in c.flagged.items() if k in _WORDS]
    passed = []
    if "invented_citation" not in c.flagged:
        passed.append("every citation names a paper given")
    if not c.numbers:
        passed.append("no numbers to check")
    elif c.numbers_bound == c.number_sentences:
        passed.append(f"every number ({c.numbers}) stands in the cited abstract beside the measure named")
    if c.cited and "unsupported" not in c.flagged:
        passed.append("every cited sentence has a supporting quote" if c.quoted == c.cited else
                      f"{c.quoted} of {c.cited} cited sentences have a supporting quote (the others state "
                      "nothing to quote)")
    if c.cited and "unsupported_comparison" not in c.flagged:
        passed.append("each comparison or verdict has a quoted sentence that makes it")
    parts = [f"Checks on {_n(c.sentences, 'sentence')}."]
    parts.append("Flagged: " + "; ".join(flagged) + "." if flagged else "Nothing flagged.")
    if passed:
        parts.append("Passed: " + "; ".join(passed) + ".")
    return " ".join(parts)


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
