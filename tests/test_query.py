"""The query grammar: trees, the free-text split, errors with positions, explain, to_pubmed."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from search.query.syntax import And, DateRange, Not, Or, QuerySyntaxError, Term, parse, to_pubmed


def T(text, field=None, quoted=False, noexp=False):  # noqa: N802 - reads like the tree
    return Term(text, field, quoted, noexp)


def test_example_from_the_brief_parses_to_the_expected_tree():
    q = parse("metformin[tiab] AND (randomized controlled trial[pt] OR meta-analysis[pt]) AND 2015:2024[dp]")
    assert q.root == And((
        T("metformin", "tiab"),
        Or((T("randomized controlled trial", "pt"), T("meta-analysis", "pt"))),
        DateRange(date(2015, 1, 1), date(2024, 12, 31)),
    ))
    assert q.free_text == "" and q.boolean_only


def test_operators_bind_left_to_right_like_pubmed():
    assert parse("a[ti] OR b[ti] AND c[ti]").root == And((Or((T("a", "ti"), T("b", "ti"))), T("c", "ti")))
    assert parse("a[ti] AND b[ti] OR c[ti]").root == Or((And((T("a", "ti"), T("b", "ti"))), T("c", "ti")))
    assert parse("a[ti] NOT b[ti] OR c[ti]").root == Or((And((T("a", "ti"), Not(T("b", "ti")))), T("c", "ti")))


def test_terms_side_by_side_are_anded_and_a_tag_takes_the_whole_run_of_words():
    assert parse("heart failure[tiab]").root == T("heart failure", "tiab")
    assert parse('"heart failure"[tiab] metformin[ti]').root == And(
        (T("heart failure", "tiab", quoted=True), T("metformin", "ti")))


def test_lower_case_and_or_are_words_of_free_text():
    q = parse("metformin and insulin or diet")
    assert q.root == T("metformin and insulin or diet")
    assert q.restriction is None and q.free_text == "metformin and insulin or diet"


def test_untagged_top_level_clauses_rank_and_the_rest_restricts():
    q = parse("metformin cancer AND 2019:2020[dp] NOT review[pt]")
    assert q.free_text == "metformin cancer"
    assert q.restriction == And((DateRange(date(2019, 1, 1), date(2020, 12, 31)), Not(T("review", "pt"))))
    assert not q.boolean_only


def test_untagged_words_inside_or_restrict_and_also_rank_when_nothing_else_does():
    q = parse("metformin OR insulin")
    assert q.restriction == Or((T("metformin"), T("insulin")))
    assert q.free_text == "metformin insulin"
    assert parse("(metformin OR insulin) NOT mouse").free_text == "metformin insulin"


def test_plain_query_has_no_restriction():
    q = parse("breast cancer screening")
    assert q.restriction is None and q.free_text == "breast cancer screening"


@pytest.mark.parametrize(("query", "start", "end"), [
    ("2019[dp]", date(2019, 1, 1), date(2019, 12, 31)),
    ("2019/02[dp]", date(2019, 2, 1), date(2019, 2, 28)),
    ("2020/02[dp]", date(2020, 2, 1), date(2020, 2, 29)),
    ("2019/01/01:2020/06[dp]", date(2019, 1, 1), date(2020, 6, 30)),
    ("2015 : 2020[Date - Publication]", date(2015, 1, 1), date(2020, 12, 31)),
    ('"2019/01/01"[Date - Publication] : "3000"[Date - Publication]', date(2019, 1, 1), date(3000, 12, 31)),
    ("2018/12:2019[pdat]", date(2018, 12, 1), date(2019, 12, 31)),
])
def test_dates_and_ranges_cover_whole_periods(query, start, end):
    assert parse(query).root == DateRange(start, end)


@pytest.mark.parametrize(("tag", "code"), [
    ("Title/Abstract", "tiab"), ("MeSH Terms", "mh"), ("Publication Type", "pt"), ("MeSH Subheading", "sh"),
    ("MeSH Major Topic", "majr"), ("Text Word", "tw"), ("Author", "au"), ("Journal", "ta"), ("Language", "la"),
    ("uid", "pmid"), ("ptyp", "pt"), ("TIAB", "tiab"), ("1au", "1au"), ("All Fields", "all"),
])
def test_long_and_short_tags_name_the_same_field(tag, code):
    assert parse(f"x[{tag}]").root == T("x", code)


def test_noexp_is_kept_on_mesh_tags():
    assert parse("diagnosis[MeSH:noexp]").root == T("diagnosis", "mh", noexp=True)
    assert parse("diagnosis[Subheading:noexp]").root == T("diagnosis", "sh", noexp=True)


@pytest.mark.parametrize(("query", "position", "reason"), [
    ("(metformin[ti] OR insulin[ti]", 0, "'(' is never closed"),
    ("metformin[ti])", 13, "')' without a matching '('"),
    ("metformin[foo]", 9, "unknown field tag [foo]"),
    ("metformin AND ()", 14, "empty parentheses"),
    ('metformin AND ""[ti]', 14, "empty phrase"),
    ("AND metformin", 0, "AND needs a clause before it"),
    ("metformin AND", 10, "AND needs a clause after it"),
    ("metformin AND OR insulin", 14, "AND needs a clause after it"),
    ("metformin AND (insulin OR)", 25, "OR needs a clause after it"),
    ("2020:2015[dp]", 0, "date range runs backwards: '2020:2015'"),
    ("2015/13[dp]", 0, "no such date: '2015/13'"),
    ("last year[dp]", 0, "not a date: 'last year'"),
    ("2015:[dp]", 0, "bad date range '2015:'"),
    ("x[tiab:noexp]", 1, "[tiab:noexp]: ':noexp' applies only to MeSH tags"),
    ('"heart failure', 0, "unterminated quote"),
    ("ra*nd[ti]", 0, "'*' inside 'ra*nd'"),
    ("[ti]", 0, "field tag without a term before it"),
    ("metformin[ti", 9, "unterminated field tag"),
    ("nonsense[sb]", 0, "unknown subset 'nonsense'"),
    ("a[ti] : b[ti]", 6, "':' ranges are for dates"),
])
def test_syntax_errors_say_what_and_where(query, position, reason):
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    err = info.value
    assert isinstance(err, ConfigError)
    assert (err.reason, err.position) == (reason, position)
    assert err.caret_line == " " * position + "^"
    assert f"\n  {query}\n  {err.caret_line}" in str(err)
    assert err.hint


def test_unknown_tag_error_lists_the_known_tags():
    with pytest.raises(QuerySyntaxError) as info:
        parse("x[foo]")
    assert "[tiab]" in info.value.hint and "[mh]" in info.value.hint


def test_explain_says_what_ranks_and_what_restricts():
    text = parse("metformin AND (randomized controlled trial[pt] OR risk*[mh]) NOT 2020[dp]").explain()
    assert "Ranked by the free text 'metformin'" in text
    assert "ANY of:" in text and "NOT:" in text
    assert "publication type is 'randomized controlled trial'" in text
    assert "MeSH descriptor starts with 'risk' (this descriptor itself" in text
    assert "from 2020-01-01 to 2020-12-31" in text
    assert parse("humans[mh]").explain().startswith("No free text: the matching records are listed newest first.")


@pytest.mark.parametrize("query", [
    "metformin[tiab] AND (randomized controlled trial[pt] OR meta-analysis[pt]) AND 2015:2024[dp]",
    "a[ti] OR b[ti] AND c[ti]",
    '"heart failure"[tiab] NOT (animals[mh] NOT humans[mh])',
    "diagnostic * [MeSH:noexp] OR diagnosis,differential[MeSH:noexp] OR grouped [Text Word]",
    "metformin cancer AND 2019/01/01:2020/06[dp]",
    "(a OR b) NOT (c AND d[ti]) e",
])
def test_to_pubmed_round_trips(query):
    root = parse(query).root
    assert parse(to_pubmed(root)).root == root


def test_to_pubmed_writes_everything_except_as_all_sb():
    assert to_pubmed(Not(T("animals", "mh"))) == "all[sb] NOT animals[mh]"
    assert parse(to_pubmed(Not(T("animals", "mh")))).root == And((T("all", "sb"), Not(T("animals", "mh"))))


_FRAGMENTS = st.sampled_from([
    "metformin", "heart", "failure", "random*", "*", "AND", "OR", "NOT", "and", "(", ")", '"', '"x y"',
    "[tiab]", "[mh]", "[pt]", "[dp]", "[foo]", "[MeSH:noexp]", "[", "]", ":", "2015", "2020/06",
    "2015:2020", "systematic", "[sb]", "meta-analysis", "β-blocker", "a*b", "  ",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map(" ".join))
def test_random_query_syntax_parses_or_raises_a_syntax_error_and_round_trips(query):
    try:
        parsed = parse(query)
    except QuerySyntaxError as err:
        assert 0 <= err.position <= len(query)
        return
    if parsed.root is not None:
        assert parse(parsed.to_pubmed()).root == parsed.root


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_arbitrary_text_never_raises_anything_but_a_syntax_error(query):
    try:
        parsed = parse(query)
    except QuerySyntaxError:
        return
    if parsed.root is not None:
        assert parse(parsed.to_pubmed()).root == parsed.root
