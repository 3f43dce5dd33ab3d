"""Caps on what the library takes in (issue 23, rows 8 and 10): list length, note length,
import size and entries, a backup's numbers and nesting, all refused before any write; and
marking the terms of a page of hits does work per word of text, not per word times clause."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import LibraryError, MedsearchError
from search.citations.importers import read_citations
from search.library import Library
from search.library.backup import restore
from search.library.limits import MAX_IMPORT_BYTES, MAX_JSON_DEPTH, MAX_LIST_ENTRIES, MAX_NOTE_CHARS
from search.query.syntax import parse
from search.results import highlight
from search.results.highlight import Highlighter, query_terms
from tests.test_library import dump


@pytest.fixture
def lib(tmp_path) -> Library:
    return Library(tmp_path / "lib.duckdb")


def test_the_caps_are_the_documented_ones():
    assert (MAX_LIST_ENTRIES, MAX_NOTE_CHARS, MAX_IMPORT_BYTES, MAX_JSON_DEPTH) == (100_000, 10_000, 64 * 2**20, 32)
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "library.md").read_text()
    for stated in ("100,000 papers", "10,000 characters", "64 MB", "32 levels"):
        assert stated in doc, stated


def test_a_note_over_the_cap_is_refused_and_changes_nothing(lib):
    lib.lists.add("L", ["1"], create=True, note="ok")
    before = dump(lib)
    with pytest.raises(LibraryError, match="at most 10,000"):
        lib.lists.add("L", ["2"], note="x" * (MAX_NOTE_CHARS + 1))
    assert dump(lib) == before
    lib.lists.add("L", ["3"], note="x" * MAX_NOTE_CHARS)  # the cap itself is fine


def test_a_list_never_grows_past_the_cap(lib, monkeypatch):
    monkeypatch.setattr("search.library.limits.MAX_LIST_ENTRIES", 5)
    lib.lists.add("L", ["1", "2", "3"], create=True)
    with pytest.raises(LibraryError, match="would hold 6 papers; a list holds at most 5"):
        lib.lists.add("L", ["4", "5", "6"])
    assert [e.pmid for e in lib.lists.entries("L")[1]] == ["1", "2", "3"]
    lib.lists.add("L", ["4", "5", "1"])  # 5 in all, one already there


def import_file(lists, name, path):
    """What `medsearch lists import` does: read the file whole, then add its PMIDs."""
    return lists.add(name, read_citations(path).pmids, create=True)


def test_an_import_larger_than_the_cap_is_refused_before_reading(lib, tmp_path, monkeypatch):
    monkeypatch.setattr("search.citations.importers.MAX_IMPORT_BYTES", 1000)
    big = tmp_path / "big.txt"
    big.write_text("\n".join(str(n) for n in range(1, 400)))
    with pytest.raises(MedsearchError, match="at most 0 MB are read|MB; at most"):
        import_file(lib.lists, "BIG", big)
    assert lib.lists.all() == []


def test_a_pmid_list_with_more_entries_than_a_list_holds_is_refused(lib, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("\n".join(str(n) for n in range(1, MAX_LIST_ENTRIES + 2)))
    with pytest.raises(MedsearchError, match="more than 100,000 entries"):
        import_file(lib.lists, "BIG", big)
    assert lib.lists.all() == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_in_an_import_is_refused_without_recursion(depth):
    with pytest.raises(MedsearchError, match="nests JSON"):
        read_citations("[" * depth + "]" * depth)


def _backup(tmp_path, *items) -> str:
    header = {"format": "medsearch-library", "version": 1, "created_at": "2026-01-01T00:00:00",
              "saved_queries": 0, "lists": 0}
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join([json.dumps(header), *items]) + "\n")
    return str(path)


def _list_line(entries) -> str:
    return json.dumps({"kind": "list", "name": "L", "created_at": "2026-01-01T00:00:00", "entries": entries})


def _query_line(**changes) -> str:
    run = {"run_no": 1, "ran_at": "2026-01-01T00:00:00", "mode": "bm25", "candidates": 5, "n_results": 1,
           "n_new": 1, "pulled": None, "snapshot": "v000001", "results": [["1", 1.0, True]]}
    run.update(changes.pop("run", {}))
    item = {"kind": "saved_query", "name": "q", "query": "asthma", "filters": {}, "mode": None, "k": 10,
            "created_at": "2026-01-01T00:00:00", "last_pull_at": None, "runs": [run], **changes}
    return json.dumps(item)


ENTRY = {"pmid": "1", "note": None, "added_at": "2026-01-01T00:00:00", "retraction_noticed_at": None}
BAD_BACKUPS = {
    "k of 10**12": (_query_line(k=10**12), "k must be between 1 and 1000"),
    "a run count of 10**12": (_query_line(run={"candidates": 10**12}), "candidates must be between 0 and"),
    "a run number as text": (_query_line(run={"run_no": "1"}), "run_no must be a whole number"),
    "a score of NaN": (_query_line(run={"results": [["1", float("nan"), True]]}), "finite number"),
    "a 100 MB note": (_list_line([{**ENTRY, "note": "x" * (MAX_NOTE_CHARS + 1)}]), "at most 10,000"),
    "a 100,000-deep array": ("[" * 100_000 + "]" * 100_000, "JSON nested 100000 levels deep"),
    "33 levels of JSON": (_list_line([{**ENTRY, "note": None, "x": json.loads("[" * 30 + "]" * 30)}]),
                          "JSON nested 33 levels deep"),
}


@pytest.mark.parametrize("case", BAD_BACKUPS)
def test_restore_checks_ranges_and_nesting_before_any_write(lib, tmp_path, case):
    line, why = BAD_BACKUPS[case]
    lib.lists.add("mine", ["7"], create=True)
    before = dump(lib)
    with pytest.raises(LibraryError, match="damaged at line 2") as caught:
        restore(lib.data, _backup(tmp_path, line))
    assert why in caught.value.message and dump(lib) == before


def test_restore_refuses_a_list_longer_than_the_cap(lib, tmp_path, monkeypatch):
    monkeypatch.setattr("search.library.limits.MAX_LIST_ENTRIES", 2)
    entries = [{**ENTRY, "pmid": str(n)} for n in (1, 2, 3)]
    with pytest.raises(LibraryError, match="a list holds at most 2"):
        restore(lib.data, _backup(tmp_path, _list_line(entries)))
    assert lib.lists.all() == []


# -- marking terms: one pass over the words of a text, whatever the number of clauses ------------

def _word_tokens(word: str) -> tuple[str, ...]:
    return (word.lower(),)


def test_marking_130_truncations_checks_no_phrase_word_by_word(monkeypatch):
    query = " ".join(f"w{n}x*[tiab]" for n in range(130))
    marker = Highlighter(query_terms([], parse(query).restriction), _word_tokens)
    calls = []
    real = highlight._matches
    monkeypatch.setattr(highlight, "_matches", lambda *a: calls.append(a) or real(*a))
    abstract = " ".join(f"word{n}" for n in range(300)) + " w7xyz"
    spans = marker.spans("a title", abstract)
    assert [abstract[s.start:s.end] for s in spans] == ["w7xyz"]
    assert calls == []  # one-word clauses are found by their first word alone


def _brute_force(text: str, clauses: list[tuple[str, ...]]) -> set[tuple[int, int]]:
    """Every (start, end) where a clause's words (a trailing * a prefix) stand in a row."""
    words = [(m.start(), m.end(), m.group().lower()) for m in re.finditer(r"[A-Za-z0-9]+", text)]
    found = set()
    for clause in clauses:
        for i in range(len(words) - len(clause) + 1):
            if all(words[i + j][2].startswith(w[:-1]) if w.endswith("*") else words[i + j][2] == w
                   for j, w in enumerate(clause)):
                found.add((words[i][0], words[i + len(clause) - 1][1]))
    return found


vocabulary = ["heart", "failure", "fail", "random", "randomized", "trial", "trials", "cancer"]


@settings(max_examples=80, deadline=None)
@given(text=st.lists(st.sampled_from(vocabulary), min_size=1, max_size=40).map(" ".join),
       clauses=st.lists(st.lists(st.sampled_from(vocabulary + ["fail*", "random*", "trial*"]), min_size=1,
                                 max_size=3).map(tuple), min_size=1, max_size=6))
def test_marks_are_where_the_clauses_stand(text, clauses):
    query = " OR ".join(f'"{" ".join(c)}"[tiab]' for c in clauses)
    marker = Highlighter(query_terms([], parse(query).restriction), _word_tokens)
    spans = marker.spans("", text)
    marked = {(s.start, s.end) for s in spans}
    expected = _brute_force(text, clauses)
    # overlapping matches merge into one span: every match lies inside a mark, every mark starts at one
    assert all(any(a <= s and e <= b for a, b in marked) for s, e in expected)
    assert {a for a, _ in marked} <= {s for s, _ in expected}
