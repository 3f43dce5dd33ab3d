"""Deep queries (issue 23, row 3): nesting is a syntax error with a position, never a
RecursionError, and whatever parses can be explained, written as PubMed syntax and parsed
back. A fuzz generates deep nesting of parentheses, NOT and mixed operators."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.query.caps import MAX_K, MAX_QUERY_CHARS, MAX_QUERY_TERMS, check_query
from search.query.syntax import MAX_DEPTH, MAX_NESTING, QuerySyntaxError, explain, parse


def test_the_caps_are_the_engines():
    from search.engine import EngineConfig

    config = EngineConfig()
    assert (config.max_query_chars, config.max_query_terms, config.max_k) == (2000, 64, 1000)
    assert (MAX_QUERY_CHARS, MAX_QUERY_TERMS, MAX_K) == (2000, 64, 1000)


def test_500_nested_parentheses_are_a_syntax_error_at_the_first_too_deep_one():
    query = "(" * 500 + "asthma" + ")" * 500  # 1,006 characters, under the length cap
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert f"nested more than {MAX_NESTING} deep" in caught.value.reason
    assert caught.value.position == 64


def test_parentheses_at_the_cap_parse():
    assert parse("(" * 64 + "asthma" + ")" * 64).root.text == "asthma"


def test_mixed_operators_without_parentheses_past_the_depth_cap_are_refused():
    query = " ".join(f"w{i} {'OR' if i % 2 else 'AND'}" for i in range(300)) + " end"  # 1,700 characters
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_DEPTH} levels deep"):
        parse(query)


words = st.sampled_from(["asthma", "heart failure", '"lung cancer"', "randomiz*", "smith j[au]", "2019[dp]",
                         "metformin[tiab]", "humans[mh]"])


def _deep(draw_depth: int, ops: list[str], kinds: list[int], leaves: list[str]) -> str:
    """A query ``draw_depth`` levels deep: each level wraps the inner one in parentheses, a NOT
    clause, or an operator chain, as ``kinds`` says."""
    inner = leaves[0]
    for level in range(draw_depth):
        kind, op, leaf = kinds[level % len(kinds)], ops[level % len(ops)], leaves[level % len(leaves)]
        if kind == 0:
            inner = f"({inner})"
        elif kind == 1:
            inner = f"{leaf} NOT ({inner})"
        else:
            inner = f"{inner} {op} {leaf}"
    return inner


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 700), ops=st.lists(st.sampled_from(["AND", "OR", "NOT"]), min_size=1, max_size=4),
       kinds=st.lists(st.integers(0, 2), min_size=1, max_size=5), leaves=st.lists(words, min_size=1, max_size=4))
def test_any_deep_query_parses_or_is_a_syntax_error_never_a_crash(depth, ops, kinds, leaves):
    query = _deep(depth, ops, kinds, leaves)[:MAX_QUERY_CHARS]
    try:
        parsed = check_query(query)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(query)
        return
    except Exception as exc:  # the caps' own errors (too many terms) are fine; a crash is not
        assert type(exc).__name__ == "ConfigError", repr(exc)
        return
    if parsed.root is None:
        return
    assert explain(parsed)
    assert parse(parsed.to_pubmed()).root == parsed.root


@settings(max_examples=60, deadline=None)
@given(st.recursive(words, lambda inner: st.one_of(
    st.builds(lambda a: f"({a})", inner),
    st.builds(lambda a, b, op: f"{a} {op} {b}", inner, inner, st.sampled_from(["AND", "OR", "NOT"])),
), max_leaves=400))
def test_random_trees_parse_or_are_a_syntax_error(query):
    query = query[:MAX_QUERY_CHARS]
    try:
        parsed = parse(query)
    except QuerySyntaxError:
        return
    if parsed.root is not None:
        assert parse(parsed.to_pubmed()).root == parsed.root
