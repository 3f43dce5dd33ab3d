"""Filter helpers of the engine that need no index."""

from __future__ import annotations


def test_publication_type_aliases_expand():
    from search.engine import expand_types

    assert expand_types(["guideline"]) == ("Guideline", "Practice Guideline")
    assert expand_types(["RCT", "Randomized Controlled Trial"]) == ("Randomized Controlled Trial",)
    assert expand_types(["Letter"]) == ("Letter",)
