"""The result set: which records match a query at all.

Ranking and the result set are two things. The ranking (BM25, dense, learned fusion,
rerank) orders candidates and is measured by nDCG@10. The result set says which records
match: what a search's ``total``, its facets, the date / author / evidence sorts, paging,
the summary's top N and saved-search alerts work on. PubMed's anchor: its result set is the
Boolean match of the query, and Best Match only orders it. Ours, for free text
(``docs/search.md``, "The result set"):

- **Concepts.** The free text's content words, each as the BM25 index's tokens: a stem
  (``diabetic`` and ``diabetes`` are one concept), a compound (``COVID-19``) as its joined
  form *or* all of its parts, a Greek letter also spelled out. Stop words are no concepts.
  The BM25 text holds title, abstract, MeSH descriptors and keywords, so a MeSH heading
  counts like a word of the abstract.
- **Lexical side.** A record holds at least :meth:`SetRule.need` of the ``n`` concepts:
  all of them for a short keyword query (``n <= all_up_to``), a share of them for a long
  natural-language question.
- **Relevance side.** A record whose relevance reaches a threshold calibrated on the BEIR
  train/dev qrels (a score cut, not a fixed top N). In ``bm25`` mode the relevance is the
  BM25 score over the best score the query could give (the share of the query's
  information a record holds, rare words weighing more), among the BM25 top
  ``semantic_depth``, for a long question only (a short keyword query is taken literally:
  bm25 mode has no model of meaning); in ``dense`` mode it is the
  cosine with the query, among the dense top ``semantic_depth`` under the filters; in
  ``hybrid`` and ``rerank`` it is the learned-fusion score (``search/retrieval/learned_fusion.py``:
  LambdaMART over BM25 and dense features, trained on the train splits) of the BM25 and dense
  top ``depth``: a record that shares few words with a question but that the relevance model
  scores high is a match. The cut depends on the query's length: a keyword query's (up to
  ``all_up_to`` concepts) is stricter than a longer question's, unless the keyword query's set
  would hold less than a page (``SetRule.few``): a word few records use is then read as a
  topic, with the question's cut (in dense mode a looser cosine; bm25 mode takes a keyword
  query literally). The size is the set's before any filter, so a filter never loosens the cut.
- **By mode.** ``bm25`` and ``hybrid`` / ``rerank``: the lexical side or the relevance
  side; ``dense``: the relevance side alone (the cosine).
- **Filters narrow.** The filters, Clinical Queries and PubMed-syntax clauses (the mask)
  restrict the set and never add to it: the relevance side is computed over the whole
  collection (less the notices) and then masked, so a record that is no match without a
  filter is none with it.
- **Notices.** Retraction notices, errata and expressions of concern are left out unless
  asked for (they show on the card of the paper they concern); asked for, they join by
  their words (the lexical side) and never by the relevance side, so asking only adds them.
- **Nothing matches nothing.** When no record holds any concept of the query, the set is
  empty: the semantic side is not asked (a nearest vector exists for any text).

Every function here is pure over a snapshot's arrays; the engine calls :func:`match`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.retrieval.ranking import Scored
from search.retrieval.tokenizer import Tokenizer, greek_variants, words_with_parts

#: The calibrated semantic cuts (``bench/tune_result_set.py`` on NFCorpus dev + SciFact train,
#: docs/quality.md "The result set"): the packaged embedder's cosine (dense mode), and the
#: packaged learned-fusion model's score (hybrid and rerank): one cut for a keyword query (up
#: to ``all_up_to`` concepts, read as the AND of its words), a looser one for a longer question.
PACKAGED_BM25_THRESHOLD = 0.2
PACKAGED_DENSE_THRESHOLD = 0.25
PACKAGED_FEW_DENSE_THRESHOLD = 0.15
PACKAGED_FUSED_THRESHOLD = -1.0
PACKAGED_QUESTION_FUSED_THRESHOLD = -2.25


@dataclass(frozen=True, slots=True)
class SetRule:
    """Which records count as matches (see the module doc).

    ``all_up_to``: a query of at most this many concepts needs all of them; a longer one
    needs ``ceil(share * n)`` of them, and never fewer than ``all_up_to``.
    ``bm25_threshold``: the relevance side's cut in bm25 mode (BM25 over the query's best
    possible score), ``dense_threshold``: its cosine cut in dense mode, ``fused_threshold``:
    its learned-fusion score cut in hybrid and rerank (None: no relevance side) for a keyword
    query of up to ``all_up_to`` concepts, ``question_fused_threshold`` the cut for a longer
    question (None: ``fused_threshold`` for every query). A question's words say less of what
    it asks than a keyword query's: its relevant papers share fewer of them, so the relevance
    model is trusted further down (on the dev splits this cut keeps the questions' nDCG@10;
    a keyword query keeps the stricter cut, so that ``asthma`` lists papers on asthma).
    ``semantic_depth``: the BM25 or dense top N under the filters in which a cut is applied.
    ``few``: a keyword query whose set (before any filter) has fewer records than this, less
    than a page, is read as a topic, as a question is: in hybrid and rerank it takes the
    question's learned-fusion cut, in dense mode the looser cosine cut ``few_dense_threshold``
    (NFCorpus dev: "cocaine" is used by 3 records, its judged papers on stimulants by none; 0
    turns this off). bm25 mode takes a keyword query literally, few matches or many.
    """

    all_up_to: int = 4
    share: float = 0.6
    dense_threshold: float | None = PACKAGED_DENSE_THRESHOLD
    fused_threshold: float | None = PACKAGED_FUSED_THRESHOLD
    bm25_threshold: float | None = PACKAGED_BM25_THRESHOLD
    semantic_depth: int = 1000
    question_fused_threshold: float | None = PACKAGED_QUESTION_FUSED_THRESHOLD
    few: int = 10
    few_dense_threshold: float | None = PACKAGED_FEW_DENSE_THRESHOLD

    def semantic(self, mode: str, n_concepts: int) -> str | None:
        """What the relevance side cuts in ``mode`` for a query of ``n_concepts``: "bm25" (BM25
        over the best possible; a long question only: a short keyword query is taken literally
        in bm25 mode), "fused" (learned-fusion scores, hybrid and rerank with a fused
        threshold), "cosine" (dense cosines), or None (no relevance side)."""
        if mode == "bm25":
            return "bm25" if self.bm25_threshold is not None and n_concepts > self.all_up_to else None
        if mode != "dense" and self.fused_threshold is not None:
            return "fused"
        return "cosine" if self.dense_threshold is not None else None

    def threshold(self, mode: str, n_concepts: int) -> float | None:
        """The relevance side's cut (None: no relevance side); see :meth:`semantic`."""
        kind = self.semantic(mode, n_concepts)
        if kind == "fused" and n_concepts > self.all_up_to and self.question_fused_threshold is not None:
            return self.question_fused_threshold
        return {"bm25": self.bm25_threshold, "fused": self.fused_threshold, "cosine": self.dense_threshold,
                None: None}[self.semantic(mode, n_concepts)]

    def few_cut(self, mode: str, n_concepts: int) -> float | None:
        """The cut of a keyword query whose set has fewer than ``few`` records (None: none), on
        the relevance list of :meth:`semantic`."""
        if self.few <= 0 or n_concepts > self.all_up_to:
            return None
        return {"fused": self.question_fused_threshold, "cosine": self.few_dense_threshold}.get(
            self.semantic(mode, n_concepts) or "")

    def need(self, n: int) -> int:
        """How many of ``n`` concepts a record must hold."""
        if n <= self.all_up_to:
            return n
        return min(n, max(self.all_up_to, math.ceil(self.share * n - 1e-9)))


#: Words of a question that say how it is asked, not what about: never a concept (the BM25
#: ranking still reads them). Lucene's stop words are already gone by then.
QUESTION_WORDS = frozenset(
    "what which who whom whose why how when where whether do does did done doing can could should "
    "would may might must shall has have had having been being am i we you he she its our your my me "
    "us them those than from about over between after before during within without versus vs via per "
    "any all some more most less other each both very also".split()
)

#: Every concept required, no semantic side: the strict Boolean AND of the words.
STRICT_AND = SetRule(all_up_to=10**6, dense_threshold=None, fused_threshold=None, question_fused_threshold=None,
                     bm25_threshold=None, few=0)
#: The rule before the result set was defined, kept to measure against (``medsearch eval
#: --sets``) and for tests of the ranking's mechanics: any one word, or the dense top 100.
ANY_WORD_OR_DENSE_TOP = SetRule(all_up_to=1, share=0.0, dense_threshold=-1.0, fused_threshold=None,
                                question_fused_threshold=None, bm25_threshold=None, semantic_depth=100, few=0)


@dataclass(frozen=True, slots=True)
class Concept:
    """One content word of a query as the index's tokens.

    ``forms`` are alternatives (any one suffices); each is a conjunction of slots (all are
    needed), and a slot is satisfied by any of its tokens."""

    word: str
    forms: tuple[tuple[frozenset[str], ...], ...]

    def tokens(self) -> set[str]:
        return {t for form in self.forms for slot in form for t in slot}


@dataclass(frozen=True, slots=True)
class ResultSet:
    """The records a query matches (``rows``: a boolean mask over the snapshot) and how."""

    rows: np.ndarray
    concepts: tuple[str, ...]  # the query's content words, as typed (normalised)
    need: int  # how many of them the lexical side required
    unknown: tuple[str, ...]  # concepts no record of the collection holds
    lexical: int  # records the lexical side gave (under the mask)
    semantic: int  # records the semantic side gave (under the mask)

    @property
    def size(self) -> int:
        return int(self.rows.sum())


def concepts(text: str, tokenizer: Tokenizer) -> tuple[Concept, ...]:
    """The content words of ``text`` (free text), in order, one concept per distinct meaning."""
    out: dict[tuple, Concept] = {}
    for word, parts in words_with_parts(text):
        if word in QUESTION_WORDS:
            continue
        slots = tuple(s for s in (_slot(p, tokenizer) for p in parts) if s)
        if not slots:
            continue
        forms: list[tuple[frozenset[str], ...]] = [slots]
        if len(parts) > 1:
            joined = _slot("".join(parts), tokenizer)
            if joined:
                forms.insert(0, (joined,))
        key = tuple(tuple(sorted(tuple(sorted(s)) for s in f)) for f in forms)
        out.setdefault(key, Concept(word, tuple(forms)))
    return tuple(out.values())


def _slot(surface: str, tokenizer: Tokenizer) -> frozenset[str]:
    return frozenset(t for v in greek_variants(surface) if (t := tokenizer.stem_word(v)))


class Presence:
    """Which records hold a token or a concept, from the BM25 index's posting lists."""

    def __init__(self, lexical, n: int) -> None:
        self._lexical = lexical
        self._n = n
        self._tokens: dict[str, np.ndarray] = {}

    def token(self, token: str) -> np.ndarray:
        got = self._tokens.get(token)
        if got is None:
            got = np.zeros(self._n, dtype=bool)
            got[self._lexical.rows_with(token)] = True
            self._tokens[token] = got
        return got

    def concept(self, concept: Concept) -> np.ndarray:
        out = np.zeros(self._n, dtype=bool)
        for form in concept.forms:
            part = np.ones(self._n, dtype=bool)
            for slot in form:
                any_of = np.zeros(self._n, dtype=bool)
                for t in slot:
                    any_of |= self.token(t)
                part &= any_of
            out |= part
        return out


def concept_counts(presence: Presence, found: Sequence[Concept], n: int) -> np.ndarray:
    """How many of ``found`` each record holds (int16, index order)."""
    counts = np.zeros(n, dtype=np.int16)
    for c in found:
        counts += presence.concept(c)
    return counts


def bm25_relevance(lexical, tokens: Sequence[str], depth: int, allowed: np.ndarray | None) -> list[Scored]:
    """The relevance list of bm25 mode: the BM25 top ``depth`` under ``allowed``, each score over
    the best the query could give (:meth:`search.retrieval.bm25.LexicalIndex.best_possible`)."""
    best = lexical.best_possible(tokens) or 1.0
    return [Scored(d, s / best) for d, s in lexical.search_tokens(list(tokens), depth, allowed)]


def asks_for_notices(restriction) -> bool:
    """Whether a query's restriction names a notice type (``retraction of publication[pt]``,
    ``published erratum[pt]``, ``expression of concern[pt]``): then notices are results."""
    from search.index.records import NOTICE_TYPES
    from search.query.syntax import Term

    wanted = {t.lower() for t in NOTICE_TYPES}

    def walk(node) -> bool:
        if node is None:
            return False
        if isinstance(node, Term):
            return node.field == "pt" and " ".join(node.text.lower().split()) in wanted
        return any(walk(child) for child in getattr(node, "items", ()))  # not under a NOT

    return walk(restriction)


def apply_rule(counts: np.ndarray, n_concepts: int, sem_rows: np.ndarray, sem_scores: np.ndarray,
               mode: str, rule: SetRule) -> tuple[np.ndarray, np.ndarray]:
    """The lexical and the semantic side of a set: ``counts`` (concepts held per record),
    ``sem_rows`` / ``sem_scores`` (the relevance list of ``mode``, best first: see
    :meth:`SetRule.semantic`). Unfiltered; the caller ANDs its mask and checks that some
    concept is known."""
    n = len(counts)
    lex = counts >= rule.need(n_concepts) if mode != "dense" else np.zeros(n, dtype=bool)
    sem = np.zeros(n, dtype=bool)
    cut = rule.threshold(mode, n_concepts)
    if cut is not None:
        depth = rule.semantic_depth
        sem[sem_rows[:depth][sem_scores[:depth] >= cut]] = True
    few_cut = rule.few_cut(mode, n_concepts)
    if few_cut is not None and (cut is None or few_cut < cut) and int((lex | sem).sum()) < rule.few:
        depth = rule.semantic_depth
        sem[sem_rows[:depth][sem_scores[:depth] >= few_cut]] = True
    return lex, sem


def match(lexical, rows_of: dict[str, int], found: Sequence[Concept], allowed: np.ndarray | None,
          semantic: Sequence[Scored], mode: str, rule: SetRule) -> ResultSet:
    """The result set of a free-text query under ``allowed`` (None: every record).

    ``semantic``: the scored list the semantic side cuts (see :func:`apply_rule`; empty in
    bm25 mode), best first."""
    n = len(rows_of)
    presence = Presence(lexical, n)
    held = [presence.concept(c) for c in found]
    unknown = tuple(c.word for c, h in zip(found, held, strict=True) if not h.any())
    words = tuple(c.word for c in found)
    need = rule.need(len(found))
    if not found or len(unknown) == len(found):
        return ResultSet(np.zeros(n, dtype=bool), words, need, unknown, 0, 0)
    counts = np.zeros(n, dtype=np.int16)
    for h in held:
        counts += h
    sem_rows = np.array([rows_of[d] for d, _ in semantic], dtype=np.int64)
    sem_scores = np.array([s for _, s in semantic], dtype=np.float32)
    lex, sem = apply_rule(counts, len(found), sem_rows, sem_scores, mode, rule)
    if allowed is not None:
        lex &= allowed
        sem &= allowed
    return ResultSet(lex | sem, words, need, unknown, int(lex.sum()), int(sem.sum()))
