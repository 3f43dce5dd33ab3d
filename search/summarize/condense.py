"""The part of an abstract that a finding needs, within a budget.

An abstract longer than the budget (``MEDSEARCH_SUMMARY_ABSTRACT_CHARS``, default 5,000
characters) is condensed rather than cut at the end, where its conclusion is. A smaller
budget reads faster on a CPU and keeps less (measured in ``docs/quality.md``). A finding says
who was studied, the intervention or exposure, and the main result with its numbers; those
sit in known places of an abstract. Sentences are kept in this order of need until the
budget is spent, then given back in their own order under their own section labels:

1. the conclusion (a labelled CONCLUSIONS section, or an unlabelled abstract's last sentence);
2. the first sentence of the results (usually the primary outcome, with its numbers);
3. the first sentence that says who and what was studied (of the participants section, else
   methods or design, else the objective; an unlabelled abstract's first sentence);
4. the other results sentences, then everything else.

Nothing here decides what is true: the grounding checks still hold every number a finding
states against the whole abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from search.summarize.grounding import split_sentences

#: A line "LABEL: text" of a structured abstract.
_LINE_LABEL = re.compile(r"^([A-Z][A-Za-z ,&/()-]{1,60}):\s+(.*)$", re.DOTALL)
_CONCLUSION = re.compile(r"CONCLUSION|INTERPRETATION|IMPLICATION", re.IGNORECASE)
_RESULTS = re.compile(r"^(MAIN |KEY )?(RESULTS?|FINDINGS)\b|RESULTS", re.IGNORECASE)
_WHO_WHAT = re.compile(r"OBJECTIVE|METHOD|DESIGN|PATIENT|PARTICIPANT|SUBJECT|SETTING|POPULATION|"
                       r"INTERVENTION|EXPOSURE", re.IGNORECASE)
#: Sections that say who and what was studied, the most specific first.
_WHO_WHAT_ORDER = (
    re.compile(r"PATIENT|PARTICIPANT|SUBJECT|POPULATION", re.IGNORECASE),
    re.compile(r"METHOD|DESIGN|SETTING|INTERVENTION|EXPOSURE", re.IGNORECASE),
    re.compile(r"OBJECTIVE", re.IGNORECASE),
)
_LABEL_WORDS = 6  # "DESIGN, SETTING, AND PARTICIPANTS" has 4
CONCLUSION, FIRST_RESULT, WHO_WHAT, RESULT, OTHER = range(5)


@dataclass(frozen=True)
class _Part:
    index: int  # position in the abstract
    section: int  # which labelled section (0 for an unlabelled abstract)
    label: str | None
    text: str
    need: int  # CONCLUSION ... OTHER: lower is kept first


def condense(abstract: str, budget: int) -> str:
    """``abstract`` cut to about ``budget`` characters, keeping what a finding needs first.

    An abstract within the budget comes back unchanged. The most needed sentence is kept
    even when it alone is longer than the budget.
    """
    text = abstract.strip()
    if len(text) <= budget:
        return text
    parts = _parts(text)
    kept: set[int] = set()
    sections: set[int] = set()
    used = -1  # no separator before the first sentence
    for part in sorted(parts, key=lambda p: (p.need, p.index)):
        cost = len(part.text) + 1  # a space or a line break before it
        if part.label and part.section not in sections:
            cost += len(part.label) + 2  # "LABEL: "
        if kept and used + cost > budget:
            continue
        kept.add(part.index)
        sections.add(part.section)
        used += cost
    return _join([p for p in parts if p.index in kept])


def _label(line: str) -> re.Match | None:
    """A section label: a few words and a colon opening a line ("The aims were to: ..." is not)."""
    match = _LINE_LABEL.match(line)
    return match if match and len(match.group(1).split()) <= _LABEL_WORDS else None


def _parts(text: str) -> list[_Part]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sections = [_label(line) for line in lines]
    if len(lines) == 1 or not any(sections):  # sections are lines of their own
        return _unlabelled(split_sentences(" ".join(lines)))
    parts: list[_Part] = []
    first_result = True
    for number, (match, line) in enumerate(zip(sections, lines, strict=True)):
        label, body = (match.group(1), match.group(2)) if match else (None, line)
        for sentence in split_sentences(body):
            need = OTHER
            if label and _CONCLUSION.search(label):
                need = CONCLUSION
            elif label and _RESULTS.search(label) and not _WHO_WHAT.search(label.split()[0]):
                need = FIRST_RESULT if first_result else RESULT
                first_result = False
            parts.append(_Part(len(parts), number, label, sentence, need))
    who = _who_what(parts)
    return [replace(p, need=WHO_WHAT) if p.index == who else p for p in parts]


def _who_what(parts: list[_Part]) -> int | None:
    """The first sentence of the section that best says who and what was studied: participants
    before methods and design, those before the objective (often background in all but name)."""
    ranked = []
    for part in parts:
        if part.need == OTHER and part.label and (part.index == 0 or parts[part.index - 1].section != part.section):
            rank = next((r for r, pattern in enumerate(_WHO_WHAT_ORDER) if pattern.search(part.label)), None)
            if rank is not None:
                ranked.append((rank, part.index))
    return min(ranked)[1] if ranked else None


def _unlabelled(sentences: list[str]) -> list[_Part]:
    """No labels: the end of an abstract carries its results and conclusion, the start its aim."""
    last = len(sentences) - 1
    needs = {last: CONCLUSION, last - 1: FIRST_RESULT, 0: WHO_WHAT}
    return [_Part(i, 0, None, s, needs.get(i, RESULT if i > last // 2 else OTHER))
            for i, s in enumerate(sentences)]


def _join(parts: list[_Part]) -> str:
    lines: list[str] = []
    section = None
    for part in parts:
        if lines and part.section == section:
            lines[-1] += f" {part.text}"
        else:
            lines.append(f"{part.label}: {part.text}" if part.label else part.text)
        section = part.section
    return "\n".join(lines)
