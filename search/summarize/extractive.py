"""What stands in when no model can write: the abstract's own conclusion, quoted.

The conclusion is the section PubMed labels CONCLUSIONS (or an author label such as
"Interpretation"); an abstract without labelled sections gives its last sentence. The same
text is the reference the benchmark measures each model-written finding against.
"""

from __future__ import annotations

import re

from search.summarize.grounding import split_sentences

_LABEL = re.compile(
    r"^(CONCLUSIONS?|CONCLUSIONS? AND RELEVANCE|INTERPRETATION|IMPLICATIONS?|SUMMARY|MAIN CONCLUSIONS?)"
    r"\s*:\s*", re.IGNORECASE | re.MULTILINE,
)
#: A line "LABEL: text" of :attr:`ingest.records.Article.abstract_text`.
_ANY_LABEL = re.compile(r"^[A-Z][A-Za-z ,&/-]{1,60}:\s", re.MULTILINE)
MAX_SENTENCES = 2


def conclusion(abstract: str) -> str:
    """The conclusion of an abstract (at most two sentences); empty for an empty abstract."""
    text = abstract.strip()
    if not text:
        return ""
    labelled = labelled_conclusion(text)
    if labelled:
        return labelled
    sentences = split_sentences(_ANY_LABEL.sub("", text))
    return sentences[-1] if sentences else ""


def labelled_conclusion(abstract: str) -> str:
    """The section the abstract labels as its conclusion (at most two sentences); empty when it
    labels none (the last sentence of an unlabelled abstract is often no conclusion)."""
    text = abstract.strip()
    labelled = [m for m in _LABEL.finditer(text)]
    if not labelled:
        return ""
    start = labelled[-1].end()
    nxt = _ANY_LABEL.search(text, start)
    section = text[start:nxt.start() if nxt else len(text)]
    return " ".join(split_sentences(section)[:MAX_SENTENCES])
