"""The result set's parts on hand-made documents: concepts, how many a record needs, which
records hold them, the relevance cut, and the rule put together (search/results/result_set.py).
Expected sets are written out by hand from the documents below."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from search.query.syntax import parse
from search.results.result_set import (
    ANY_WORD_OR_DENSE_TOP,
    STRICT_AND,
    SetRule,
    asks_for_notices,
    concepts,
    match,
)
from search.retrieval.bm25 import LexicalIndex
from search.retrieval.ranking import Scored
from search.retrieval.tokenizer import Tokenizer

DOCS = {
    "a": "Inhaled corticosteroids in children with asthma",
    "b": "Asthma in adults: a cohort",
    "c": "Corticosteroid use in children",
    "d": "COVID-19 and IL-6 in the intensive care unit",
    "e": "covid and interleukin 19 levels",  # the parts of COVID-19 apart
    "f": "TNF-α and β-blockers in heart failure",
    "g": "beta blocker dosing",
}


@pytest.fixture(scope="module")
def lexical():
    return LexicalIndex.build(DOCS.items(), fingerprint="hand-made")


def matched(lexical, query, mode="bm25", rule=STRICT_AND, semantic=(), allowed=None) -> set[str]:
    rows_of = {d: i for i, d in enumerate(lexical.doc_ids)}
    found = concepts(query, Tokenizer())
    r = match(lexical, rows_of, found, allowed, list(semantic), mode, rule)
    return {lexical.doc_ids[i] for i in np.flatnonzero(r.rows)}


def test_concepts_drop_stop_and_question_words_and_merge_one_stem():
    words = [c.word for c in concepts("What is the effect of diabetes on diabetic children?", Tokenizer())]
    assert words == ["effect", "diabetes", "children"]  # "diabetic" is the concept "diabetes" again


def test_a_compound_matches_as_its_joined_form_or_all_its_parts(lexical):
    assert matched(lexical, "COVID-19") == {"d", "e"}  # d: joined; e: "covid" and "19" both
    assert matched(lexical, "IL-6") == {"d"}


def test_a_greek_letter_matches_spelled_out(lexical):
    assert matched(lexical, "β-blocker") == {"f", "g"}  # "beta blocker" holds both parts
    assert matched(lexical, "TNF-alpha") == {"f"}


@pytest.mark.parametrize(("n", "rule", "need"), [
    (1, SetRule(all_up_to=3, share=0.5), 1), (3, SetRule(all_up_to=3, share=0.5), 3),
    (4, SetRule(all_up_to=3, share=0.5), 3), (8, SetRule(all_up_to=3, share=0.5), 4),
    (9, SetRule(all_up_to=3, share=0.5), 5), (10, SetRule(all_up_to=2, share=0.3), 3),
    (5, STRICT_AND, 5), (7, ANY_WORD_OR_DENSE_TOP, 1),
])
def test_how_many_concepts_a_record_needs(n, rule, need):
    assert rule.need(n) == need


def test_a_short_query_needs_every_word(lexical):
    assert matched(lexical, "asthma children") == {"a"}
    assert matched(lexical, "corticosteroids children", rule=SetRule(bm25_threshold=None)) == {"a", "c"}


def test_a_long_question_needs_a_share_of_its_words(lexical):
    q = "inhaled corticosteroids for asthma in children or adults"  # 5 concepts
    rule = SetRule(all_up_to=3, share=0.5, bm25_threshold=None, fused_threshold=None, dense_threshold=None)
    assert matched(lexical, q, rule=rule) == {"a"}  # 3 of 5 needed: only a holds 3 (b 2, c 2)
    loose = SetRule(all_up_to=2, share=0.4, bm25_threshold=None, fused_threshold=None, dense_threshold=None)
    assert matched(lexical, q, rule=loose) == {"a", "b", "c"}


def test_the_relevance_side_adds_records_above_its_cut_and_the_mask_narrows(lexical):
    rule = SetRule(all_up_to=3, fused_threshold=0.5, few=0)
    semantic = [Scored("g", 0.9), Scored("c", 0.6), Scored("b", 0.4)]  # b is under the cut
    assert matched(lexical, "asthma children", "hybrid", rule, semantic) == {"a", "g", "c"}
    allowed = np.array([d != "g" for d in lexical.doc_ids])
    assert matched(lexical, "asthma children", "hybrid", rule, semantic, allowed) == {"a", "c"}
    assert matched(lexical, "asthma children", "bm25", replace_bm25(rule), semantic) == {"a"}


def test_a_long_question_trusts_the_relevance_model_further_than_a_keyword_query(lexical):
    rule = SetRule(all_up_to=2, share=0.5, fused_threshold=0.5, question_fused_threshold=0.1, few=0)
    semantic = [Scored("g", 0.9), Scored("e", 0.3), Scored("f", 0.05)]  # none shares a word
    assert rule.threshold("hybrid", 2) == 0.5 and rule.threshold("rerank", 3) == 0.1
    assert rule.threshold("dense", 3) == rule.dense_threshold  # the cosine cut is one for every query
    keyword = matched(lexical, "asthma children", "hybrid", rule, semantic)
    question = matched(lexical, "asthma in children treated with corticosteroids", "hybrid", rule, semantic)
    assert keyword == {"a", "g"}  # e's 0.3 is under the keyword cut
    assert question == {"a", "c", "g", "e"}  # and above the question's (2 of its 4 words: a, c)
    same = replace(rule, question_fused_threshold=None)
    assert same.threshold("hybrid", 3) == 0.5


def test_a_keyword_query_with_fewer_matches_than_a_page_takes_the_questions_cut(lexical):
    semantic = [Scored("g", 0.9), Scored("e", 0.3), Scored("f", 0.05)]  # none shares a word
    rule = SetRule(all_up_to=2, fused_threshold=0.5, question_fused_threshold=0.1, few=3)
    # "asthma children": a alone holds both words; g is above the keyword cut: 2 records < 3
    assert matched(lexical, "asthma children", "hybrid", rule, semantic) == {"a", "g", "e"}
    assert matched(lexical, "asthma children", "rerank", rule, semantic) == {"a", "g", "e"}
    # "asthma": a and b hold it, g above the cut: 3 records, a page here: the keyword cut stays
    assert matched(lexical, "asthma", "hybrid", rule, semantic) == {"a", "b", "g"}
    # the size is the set's before the filter: a filter narrows and never loosens the cut
    allowed = np.array([d not in {"b", "g"} for d in lexical.doc_ids])
    assert matched(lexical, "asthma", "hybrid", rule, semantic, allowed) == {"a"}
    # dense mode loosens its cosine cut the same way; bm25 mode takes a keyword query literally
    cosine = replace(rule, dense_threshold=0.5, few_dense_threshold=0.2)
    assert matched(lexical, "asthma", "dense", cosine, [Scored("g", 0.9), Scored("e", 0.3), Scored("f", 0.1)]) \
        == {"g", "e"}  # 1 record over 0.5 < 3: the cut goes to 0.2
    assert matched(lexical, "asthma", "dense", replace(cosine, few_dense_threshold=None),
                   [Scored("g", 0.9), Scored("e", 0.3)]) == {"g"}
    assert rule.few_cut("bm25", 1) is None
    assert matched(lexical, "asthma children", "hybrid", replace(rule, few=0), semantic) == {"a", "g"}
    assert rule.few_cut("hybrid", 3) is None  # a question has the loose cut already


def replace_bm25(rule):
    from dataclasses import replace

    return replace(rule, bm25_threshold=None)


def test_words_no_record_holds_match_nothing_not_even_by_meaning(lexical):
    rows_of = {d: i for i, d in enumerate(lexical.doc_ids)}
    found = concepts("xyzzyqq plugh", Tokenizer())
    r = match(lexical, rows_of, found, None, [Scored("a", 0.99)], "hybrid", SetRule(fused_threshold=0.0))
    assert r.size == 0 and r.unknown == ("xyzzyqq", "plugh")
    partly = match(lexical, rows_of, concepts("asthma xyzzyqq", Tokenizer()), None, [], "bm25", STRICT_AND)
    assert partly.unknown == ("xyzzyqq",) and partly.size == 0  # both words needed, one unknown


def test_a_query_asks_for_notices_by_their_publication_type_not_under_a_not():
    assert asks_for_notices(parse("asthma AND retraction of publication[pt]").restriction)
    assert asks_for_notices(parse("cancer AND published erratum[pt]").restriction)
    assert not asks_for_notices(parse("asthma NOT retraction of publication[pt]").restriction)
    assert not asks_for_notices(parse("asthma AND review[pt]").restriction)


def test_best_possible_is_the_sum_of_each_tokens_best_contribution(lexical):
    tok = Tokenizer()
    tokens = tok("asthma children")
    by_hand = sum(max(float(lexical.scores_from_tokens([t])[i]) for i in range(len(DOCS))) for t in tokens)
    assert lexical.best_possible(tokens) == pytest.approx(by_hand)
    assert max(lexical.scores_from_tokens(tokens)) <= lexical.best_possible(tokens) + 1e-6
