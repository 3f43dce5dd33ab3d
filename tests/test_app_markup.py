"""The app's pure parts: the HTML of cards and summaries (record text can never write markup,
highlights land where the engine's offsets say) and the search as URL parameters."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.types import AGE_GROUPS, Evidence, Filters, Hit, Link, Section, Span, StageScore
from webapp.markup import card_html, cited, doi_url, marked, md_text, pmc_url, pubmed_url
from webapp.urlstate import AppState, describe, read, write

#: Text that tries every trick: tags, entities, attributes, Markdown, directives, math, controls.
NASTY = st.text(alphabet=st.sampled_from(list("<>&\"'`*_[]()!:$#\\/ =abc\x00\x1b\u202e\U0001f600")), max_size=60)
_OURS = re.compile(r"</?mark>")


def _plain(fragment: str) -> str:
    """The text a browser shows for ``fragment`` made of escaped text and <mark> tags."""
    assert "<" not in _OURS.sub("", fragment), "a tag other than <mark>"
    return html.unescape(_OURS.sub("", fragment))


@st.composite
def text_and_spans(draw):
    text = draw(NASTY)
    spans = draw(st.lists(st.tuples(st.integers(-3, len(text) + 3), st.integers(-3, len(text) + 3)), max_size=6))
    return text, [Span("abstract", lo, hi, "t") for lo, hi in spans]


@settings(max_examples=300, deadline=None)
@given(text_and_spans())
def test_highlighting_shows_the_text_itself_and_writes_no_tag_but_mark(case):
    text, spans = case
    out = marked(text, spans)
    shown = _plain(out)
    # control characters and bidirectional overrides dropped (issue 23, row 11: U+202E reversed titles)
    assert shown == re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", "", text)


def test_highlights_wrap_exactly_the_spans_and_merge_overlaps():
    text = "Metformin lowers <risk> & metformin-like drugs"
    spans = [Span("abstract", 0, 9, "metformin"), Span("abstract", 26, 35, "metformin"),
             Span("abstract", 30, 40, "x")]
    assert marked(text, spans) == ("<mark>Metformin</mark> lowers &lt;risk&gt; &amp; "
                                   "<mark>metformin-like</mark> drugs")
    assert marked(text, spans, 10, 30) == "lowers &lt;risk&gt; &amp; <mark>metf</mark>"


@settings(max_examples=200, deadline=None)
@given(NASTY, NASTY, NASTY, NASTY)
def test_a_card_escapes_every_field_of_the_record(title, abstract, author, journal):
    hit = Hit(doc_id="1", rank=1, score=1.0, title=title, abstract=abstract, authors=(author,) * 5,
              journal=journal, pmid="12345", doi=title, pmcid="PMC1", publication_types=(journal,),
              sections=(Section(author, None, 0, len(abstract)),),
              links=(Link("RetractionIn", "7", title), Link("ErratumIn", None, abstract)), is_retracted=True,
              evidence=Evidence(2, journal), bm25=StageScore(1.0, 1),
              highlights=(Span("title", 0, 3, "x"), Span("abstract", 1, 4, "y")))
    out = card_html(hit)
    tags = set(re.findall(r"</?([a-zA-Z]+)", out))
    assert tags <= {"div", "a", "span", "b", "i", "details", "summary", "p", "mark", "table", "tr", "td", "th"}
    assert not re.search(r"<(script|img|iframe|style)", out, re.IGNORECASE)
    for attr in re.findall(r'(\w+)="', out):
        assert attr in {"class", "id", "href", "target", "rel", "title", "data", "role", "pmid"}


def test_links_are_built_from_checked_identifiers_only():
    assert pubmed_url("31452104") == "https://pubmed.ncbi.nlm.nih.gov/31452104/"
    assert pubmed_url("12a") is None and pubmed_url(None) is None
    assert pmc_url("PMC6790123") == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC6790123/"
    assert pmc_url('PMC1" onclick="x') is None
    assert doi_url('10.1000/a"b<c>#d') == "https://doi.org/10.1000/a%22b%3Cc%3E%23d"


def test_summary_citations_link_to_cards_on_the_page_or_to_pubmed():
    out = cited("Lower risk [PMID 111, 222] <b>x</b> [PMID 333].", ["111"])
    assert '<a href="#pmid-111">PMID 111</a>' in out
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/222/"' in out and "&lt;b&gt;x&lt;/b&gt;" in out


@pytest.mark.parametrize("trick", ["**bold**", "[x](http://e.org)", "![p](http://e.org/p.png)",
                                   ":red[x]", "$x^2$", "`code`", "<b>x</b>", "# heading"])
def test_markdown_text_escapes_every_markdown_character(trick):
    out = md_text(trick)
    assert re.sub(r"\\(.)", r"\1", out) == trick  # reads back to the characters
    assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c in "*[]()!:$`<>#" and i)


# -- the URL -----------------------------------------------------------------------------------------

WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).map(str.strip)
VALUES = st.lists(WORDS.filter(bool), max_size=3, unique=True).map(tuple)


@st.composite
def states(draw):
    y0 = draw(st.none() | st.integers(1900, 2100))
    y1 = draw(st.none() | st.integers(y0 or 1900, 2100))
    filters = Filters(
        year_from=y0, year_to=y1, publication_types=draw(VALUES), journals=draw(VALUES), languages=draw(VALUES),
        mesh_terms=draw(VALUES), has_abstract=draw(st.sampled_from([None, True])),
        clinical=draw(st.sampled_from([None, "therapy/narrow", "prediction/broad"])),
        systematic_review=draw(st.booleans()), humans_only=draw(st.booleans()),
        ages=tuple(draw(st.lists(st.sampled_from(AGE_GROUPS), max_size=3, unique=True))),
        free_full_text=draw(st.booleans()),
    )
    return AppState(
        view=draw(st.sampled_from(["search", "saved", "lists"])),
        query=" ".join(draw(WORDS).split()), filters=filters,
        sort=draw(st.sampled_from(["relevance", "date", "author", "evidence"])),
        page=draw(st.integers(1, 100)), similar=draw(st.none() | st.integers(1, 10**8).map(str)),
        list_name=draw(st.none() | WORDS.filter(bool)),
    )


def _as_query_params(params: dict) -> dict[str, list[str]]:
    return {k: list(v) if isinstance(v, list) else [v] for k, v in params.items()}


@settings(max_examples=200, deadline=None)
@given(states())
def test_a_state_survives_the_url(state):
    reading = read(_as_query_params(write(state)))
    assert reading.problems == ()
    assert reading.state == state


def test_defaults_leave_the_url_empty_and_a_link_reads_as_pubmed_users_write_it():
    assert write(AppState()) == {}
    reading = read({"q": ["metformin"], "from": ["2015"], "type": ["Meta-Analysis", "Review"],
                    "clinical": ["Therapy"], "humans": ["1"], "page": ["3"]})
    assert reading.state == AppState(query="metformin", page=3, filters=Filters(
        year_from=2015, publication_types=("Meta-Analysis", "Review"), clinical="therapy/broad", humans_only=True))
    assert describe(reading.state.filters) == ("2015-...", "Meta-Analysis or Review",
                                               "Clinical Queries: Therapy, broad", "humans")


@pytest.mark.parametrize(("params", "kept", "named"), [
    ({"from": ["2020"], "to": ["2010"]}, Filters(), "empty"),
    ({"from": ["soon"], "humans": ["1"]}, Filters(humans_only=True), "soon"),
    ({"clinical": ["astrology"], "from": ["2001"]}, Filters(year_from=2001), "astrology"),
    ({"age": ["child", "toddler"]}, Filters(ages=("child",)), "toddler"),
    ({"page": ["-2"], "sort": ["random"], "view": ["admin"], "similar": ["1 OR 1"]}, Filters(), "random"),
])
def test_a_bad_link_keeps_what_it_can_and_names_the_rest(params, kept, named):
    reading = read(params)
    assert reading.state.filters == kept
    assert reading.state.page == 1 and reading.state.view == "search" and reading.state.similar is None
    assert named in " ".join(reading.problems)
