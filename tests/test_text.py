"""The shared tokeniser: biomedical terms stay findable under their usual spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import ConfigError
from search.retrieval.tokenizer import (
    TOKENIZER_VERSION,
    Tokenizer,
    TokenizerConfig,
    normalize,
    surface_tokens,
    tokenize,
)

# document spelling -> query spellings whose every token the document also has (Greek glyph
# tokens of the query aside: a query "β-blocker" also emits "β", harmless when a document
# spells it "beta"). tests/test_lexical.py checks that BM25 ranks such documents first.
VARIANTS = {
    "COVID-19 outcomes": ["covid-19", "COVID19", "covid 19", "Covid-19", "ＣＯＶＩＤ－１９"],
    "serum IL-6 levels": ["IL6", "il-6", "IL 6", "Il-6"],
    "5-FU chemotherapy": ["5FU", "5-fu", "5 FU"],
    "type 2 diabetes": ["Type 2 Diabetes", "diabetes type 2", "TYPE 2 DIABETES"],
    "β-blocker therapy": [
        "beta-blocker",
        "beta blockers",
        "betablockers",
        "β blocker",
        "Β-blockers",
        "β-blocker",
    ],
    "beta-blocker therapy": ["β-blocker", "β-blockers", "beta blocker"],
    "HbA1c was lower": ["hba1c", "HBA1C", "HbA1c"],
    "TNF-α and IL-1β": ["TNF-alpha", "TNFα", "tnf alpha", "IL-1 beta", "il1β", "IL-1", "IL1"],
    "dose of 5 µg": ["5 μg", "5 µg"],  # micro sign and Greek mu
    "Sjögren's syndrome": ["sjogren syndrome", "Sjögren syndrome", "SJOGREN'S SYNDROME"],
}


@pytest.mark.parametrize(("doc", "query"), [(d, q) for d, qs in VARIANTS.items() for q in qs])
def test_each_variant_is_findable(doc: str, query: str) -> None:
    doc_tokens, query_tokens = set(tokenize(doc)), tokenize(query)
    spelled = {t for t in query_tokens if not any("\u0370" <= c <= "\u03ff" for c in t)}
    assert spelled, query
    assert spelled <= doc_tokens, (query_tokens, sorted(doc_tokens))


def test_compounds_give_parts_and_joined_form() -> None:
    assert surface_tokens("COVID-19") == ["covid", "19", "covid19"]
    assert surface_tokens("IL-6") == ["il", "6", "il6"]
    assert surface_tokens("5-FU") == ["5", "fu", "5fu"]
    assert surface_tokens("HbA1c") == ["hba1c"]


def test_greek_letters_are_kept_and_spelled_out() -> None:
    assert surface_tokens("β-blocker") == ["β", "beta", "blocker", "βblocker", "betablocker"]
    assert surface_tokens("TNFα") == ["tnf", "α", "alpha", "tnfα", "tnfalpha"]
    assert surface_tokens("IL-1β") == ["il", "1", "β", "beta", "il1β", "il1beta", "il1"]
    assert "mu" in surface_tokens("µg")  # the micro sign becomes Greek mu under NFKC


def test_digits_and_decimals_are_kept() -> None:
    assert tokenize("type 2 diabetes") == ["type", "2", "diabet"]
    assert surface_tokens("p < 0.05") == ["p", "0.05"]


def test_normalize() -> None:
    assert normalize("ＡＢＣ Ménière’s") == "abc meniere"
    assert normalize("ﬁbrosis") == "fibrosis"  # ligature, NFKC


def test_defaults_stem_and_drop_lucene_stop_words() -> None:
    assert tokenize("The studies of the diabetes") == ["studi", "diabet"]
    plain = Tokenizer(TokenizerConfig(stemmer=None, stopwords=None))
    assert plain("The studies") == ["the", "studies"]
    assert Tokenizer(TokenizerConfig(stemmer="porter"))("studies") == ["studi"]


def test_config_round_trip_and_version() -> None:
    config = TokenizerConfig(stemmer="porter", stopwords=None)
    data = config.to_dict()
    assert data == {"stemmer": "porter", "stopwords": None, "version": TOKENIZER_VERSION}
    assert TokenizerConfig.from_dict(data) == config


def test_unknown_settings_raise_config_errors_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="Unknown stemmer 'klingon'") as info:
        Tokenizer(TokenizerConfig(stemmer="klingon"))
    assert "english" in str(info.value)
    with pytest.raises(ConfigError, match="Unknown stop-word list"):
        Tokenizer(TokenizerConfig(stopwords="nope"))


@given(st.text(max_size=200))
def test_any_text_gives_clean_deterministic_tokens(text: str) -> None:
    tokens = tokenize(text)
    assert tokens == tokenize(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert all(t == t.casefold() for t in surface_tokens(text))
