"""Highlights: spans of the query's terms in the stored text, after the BM25 tokenising and stemming,
and of the restriction's words; offsets index the original text (accents, Greek, compounds)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.query.restrict import tokens as restrict_tokens
from search.query.syntax import parse
from search.results.highlight import _WORD, Highlighter, WordTokens, exact_token, query_terms
from search.retrieval.tokenizer import Tokenizer, TokenizerConfig


def marked(query: str, title: str, abstract: str = "") -> list[tuple[str, str]]:
    """(field, marked text) for ``query`` over a title and an abstract."""
    tok = Tokenizer()
    parsed = parse(query)
    words = WordTokens(TokenizerConfig()).of
    spans = Highlighter(query_terms(tok(parsed.free_text), parsed.restriction), words).spans(title, abstract)
    return [(s.field, (title if s.field == "title" else abstract)[s.start : s.end]) for s in spans]


def test_a_stemmed_query_word_marks_the_other_forms_of_the_word():
    got = marked("diabetic", "Diabetes in the diabetic patient", "Diabetics and diabetes mellitus.")
    assert got == [("title", "Diabetes"), ("title", "diabetic"), ("abstract", "Diabetics"), ("abstract", "diabetes")]


def test_stop_words_of_the_query_mark_nothing():
    assert marked("the risk of cancer", "The risk of the cancer") == [("title", "risk"), ("title", "cancer")]


def test_offsets_index_the_stored_text_with_accents_and_greek_letters():
    title = "Sjögren's syndrome and β-blocker use"
    got = marked("sjogren beta-blocker", title)
    assert got == [("title", "Sjögren"), ("title", "β-blocker")]


def test_compounds_are_marked_whole():
    assert marked("IL-6", "Serum IL-6 and IL6 levels, not 6 others") == [
        ("title", "IL-6"), ("title", "IL6"), ("title", "6")]  # BM25 matches the part "6" too


def test_restriction_words_mark_their_fields_only_and_negated_clauses_mark_nothing():
    title, abstract = "Metformin and cancer", "Metformin lowered cancer risk in mice."
    assert marked("metformin[ti]", title, abstract) == [("title", "Metformin")]
    assert marked("cancer[ab]", title, abstract) == [("abstract", "cancer")]
    assert marked("risk[tiab] NOT mice[tiab]", title, abstract) == [("abstract", "risk")]


def test_a_phrase_marks_only_where_its_words_stand_together():
    title = "Heart failure and failure of the heart"
    assert marked('"heart failure"[tiab]', title) == [("title", "Heart failure")]


def test_truncation_marks_every_word_with_the_prefix():
    assert marked("random*[tiab]", "Randomised, randomly and at random; not a rand") == [
        ("title", "Randomised"), ("title", "randomly"), ("title", "random")]


def test_overlapping_marks_merge_into_one_span():
    tok = Tokenizer()
    parsed = parse('breast cancer AND "breast cancer"[ti]')
    marker = Highlighter(query_terms(tok(parsed.free_text), parsed.restriction), WordTokens(tok.config).of)
    spans = marker.spans("Breast cancer care", "")
    assert [(s.start, s.end) for s in spans] == [(0, 13)]


WORDS = ["cancer", "Cancers", "risk", "RISKS", "diabetic", "diabetes", "β-cell", "IL-6", "Sjögren's", "naïve",
         "of", "the", "COVID-19", "0.05", "x", "—", "(", "),", "\n", "ﬁbrosis"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30), st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))
def test_spans_are_ordered_disjoint_and_each_holds_a_query_token(text_words, query_words):
    tok = Tokenizer()
    text = " ".join(text_words)
    query = " ".join(w for w in query_words if w not in ("(", "),"))
    wanted = set(tok(query))
    spans = Highlighter(query_terms(sorted(wanted), None), WordTokens(tok.config).of).spans(text, "")
    ends = [0]
    for s in spans:
        assert ends[-1] <= s.start < s.end <= len(text)
        assert wanted & set(tok(text[s.start : s.end]))
        ends.append(s.end)
    # every word that holds a query token is marked
    marked_text = {text[s.start : s.end] for s in spans}
    for w in set(text_words):
        if w.strip() and wanted & set(tok(w)) and w in text:
            assert any(w in m or m in w for m in marked_text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_the_cached_exact_word_is_the_restrictions_own_reading(text):
    for m in _WORD.finditer(text):
        assert exact_token(m.group()) == (restrict_tokens(m.group())[:1] or [""])[0]


# -- through the engine, on real records -----------------------------------------------------------


def test_hits_mark_the_query_in_their_own_title_and_abstract(engine):
    r = engine.search("diabetic retinopathy OR insulin[tiab]", k=10, mode="bm25")
    assert r.hits
    tok = Tokenizer()
    for h in r.hits:
        for s in h.highlights:
            text = h.title if s.field == "title" else h.abstract
            piece = text[s.start : s.end]
            assert set(tok(piece)) & {"diabet", "retinopathi", "insulin"} or piece.lower().startswith("insulin")
    texts = [h.abstract[s.start : s.end].lower() for h in r.hits for s in h.highlights if s.field == "abstract"]
    assert "diabetes" in texts  # the query said "diabetic"
