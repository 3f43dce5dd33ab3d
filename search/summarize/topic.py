"""Is a paper about the question at all? A cheap lexical gate before anything is written.

A search engine always returns its top results, even for a question the corpus cannot
answer. A paper counts as on topic when its title, abstract and subject terms (MeSH headings,
substances, keywords) hold more than half of the question's content words (matched by the
search tokenizer's stems, irregular plurals by their singular too, so "children" finds the MeSH
check tag "Child"; question words such as "does" or "effect" do not count). Papers below that are left out of the overview and named; when
none is on topic, no summary is written at all. The threshold was checked on the benchmark's
questions and on off-topic ones (``docs/quality.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from search.retrieval.tokenizer import Tokenizer

#: Words of clinical questions that say nothing about their subject.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how does do did is are was were be been can could "
    "should would may might effect effects effective effectiveness efficacy affect affects "
    "associated association risk risks patient patients people adult adults use used using "
    "treatment treatments treat treated therapy therapies compared versus vs between among about "
    "than more less any have has had improve improves outcome outcomes study studies evidence "
    "role impact benefit benefits there relation related increase increases decrease decreases "
    "reduce reduces disease diseases disorder disorders syndrome condition conditions clinical "
    "health care manage managed management help helps give gives best better good safe treating "
    "after before during with without".split()
)
#: A paper must hold more than this share of the question's content words.
ON_TOPIC_SHARE = 0.5
_WORD = re.compile(r"[^\s/]+")


#: Irregular plurals the stemmer leaves apart from their singular (it does "trials" -> "trial").
IRREGULAR_PLURALS = {
    "children": "child", "women": "woman", "men": "man", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "lice": "louse", "geese": "goose", "people": "person",
}


def content_words(query: str, tokenizer: Tokenizer | None = None) -> list[set[str]]:
    """The question's words that carry its subject, each as the set of its search tokens, an
    irregular plural's singular included (a word such as "COVID-19" gives several; finding any
    one of them finds the word)."""
    tokenizer = tokenizer or Tokenizer()
    generic = set(tokenizer(" ".join(QUESTION_WORDS)))
    words = []
    for word in _WORD.findall(query):
        tokens = set(tokenizer(word))
        singular = IRREGULAR_PLURALS.get(word.lower().strip(".,;:?!()[]\"'"))
        if singular:
            tokens |= set(tokenizer(singular))
        if tokens and not tokens <= generic and tokens not in words:
            words.append(tokens)
    return words


def topic_share(query: str, title: str, abstract: str, subjects: Sequence[str] = ()) -> float:
    """Share of the question's content words found in the paper's title, abstract and subject
    terms (1.0 when the question has none)."""
    tokenizer = Tokenizer()
    words = content_words(query, tokenizer)
    if not words:
        return 1.0
    found = set(tokenizer("\n".join((title, abstract, *subjects))))
    return sum(1 for w in words if w & found) / len(words)


def on_topic(query: str, title: str, abstract: str, subjects: Sequence[str] = ()) -> bool:
    return topic_share(query, title, abstract, subjects) > ON_TOPIC_SHARE
