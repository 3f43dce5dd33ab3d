"""Is a paper about the question at all? A cheap lexical gate before anything is written.

A search engine always returns its top results, even for a question the corpus cannot
answer. A paper counts as on topic when its title and abstract hold at least half of the
question's content words (stemmed with the search tokenizer; question words such as "does"
or "effect" do not count). Papers below that are left out of the overview and named; when
none is on topic, no summary is written at all. The threshold was checked on the benchmark's
questions and on off-topic ones (``docs/quality.md``).
"""

from __future__ import annotations

from search.text import Tokenizer

#: Words of clinical questions that say nothing about their subject (stemmed below).
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how does do did can could should would may might "
    "effect effects effective effectiveness efficacy affect affects associated association "
    "risk risks patient patients people adult adults use used using treatment treat treated "
    "compared versus vs between among about than more less any have has had improve improves "
    "outcome outcomes study studies evidence role impact benefit benefits there relation "
    "related increase increases decrease decreases reduce reduces".split()
)
ON_TOPIC_SHARE = 0.5


def _terms(text: str, tokenizer: Tokenizer) -> set[str]:
    return set(tokenizer(text))


def question_terms(query: str) -> set[str]:
    tokenizer = Tokenizer()
    return _terms(query, tokenizer) - _terms(" ".join(QUESTION_WORDS), tokenizer)


def topic_share(query: str, title: str, abstract: str) -> float:
    """Share of the question's content words found in the paper (1.0 when the question has none)."""
    terms = question_terms(query)
    if not terms:
        return 1.0
    found = terms & _terms(f"{title}\n{abstract}", Tokenizer())
    return len(found) / len(terms)


def on_topic(query: str, title: str, abstract: str) -> bool:
    return topic_share(query, title, abstract) >= ON_TOPIC_SHARE
