"""The minor breaks of issue 23, row 11: raw ESC/BEL from ``--explain-query``, bidirectional
overrides in titles, a BibTeX entry dropped unsaid, a huge app link ignored unsaid, and a hint
that runs ``--help`` for a list named so. (A full stdout: ``test_output_paths.py``.)"""

from __future__ import annotations

import json
import shlex

import pytest

from search.citations.importers import read_citations
from search.cli import main
from search.cli.common import dumps, safe, safe_line
from webapp.markup import esc, md_text
from webapp.urlstate import MAX_LINK_VALUES, read

RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"


def test_explain_query_writes_no_escape_or_bell_to_the_terminal(capsys):
    assert main(["search", "asthma \x1bc\x07 \x1bP cough", "--explain-query"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "asthma" in out and "cough" in out


@pytest.mark.parametrize("show", [safe, safe_line, esc, md_text])
def test_bidirectional_overrides_are_dropped_with_the_other_controls(show):
    title = f"Aspirin {RLO}and warfarin{PDF} {LRI}x{PDI} \x1b[31m"
    shown = show(title)
    assert not any(c in shown for c in (RLO, PDF, LRI, PDI, "\x1b"))
    assert "warfarin" in shown and "Aspirin" in shown


def test_json_for_stdout_escapes_bidirectional_overrides_and_keeps_them():
    text = dumps({"title": f"a{RLO}b"})
    assert RLO not in text and json.loads(text)["title"] == f"a{RLO}b"


def test_a_bibtex_entry_with_an_unbalanced_brace_is_reported_and_the_rest_imported():
    text = ("@article{a, title={One}, pmid={123}}\n"
            "@article{b, title={Two {unbalanced}, pmid={456}}\n"
            "@article{c, title={Three}, pmid={789}}\n")
    result = read_citations(text)
    assert result.pmids == ("123", "789")
    assert len(result.unreadable) == 1 and "line 2" in result.unreadable[0]


def test_lists_import_names_the_unreadable_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDSEARCH_LIBRARY_DB", str(tmp_path / "lib.duckdb"))
    monkeypatch.setenv("MEDSEARCH_DB", str(tmp_path / "m.duckdb"))
    path = tmp_path / "refs.bib"
    path.write_text("@article{a, pmid={123}}\n@article{b, title={x {y}, pmid={456}}\n")
    assert main(["lists", "import", "L", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Added 1 papers" in captured.out
    assert "1 entries of the file could not be read" in captured.err and "line 2" in captured.err


def test_a_link_with_5000_values_uses_the_first_ones_and_says_so():
    reading = read({"q": ["asthma"], "type": [f"Type {n}" for n in range(5000)]})
    assert reading.state.query == "asthma"
    assert len(reading.state.filters.publication_types) == MAX_LINK_VALUES
    assert any("5,000 values of 'type'" in p for p in reading.problems)


def test_a_link_with_5000_unknown_parameters_says_they_were_ignored():
    reading = read({"q": ["asthma"], **{f"x{n}": ["1"] for n in range(5000)}})
    assert reading.state.query == "asthma"
    assert any("does not know" in p and "4,997 more" in p for p in reading.problems)


def test_the_hint_for_a_list_named_dash_dash_help_adds_papers_not_help(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDSEARCH_LIBRARY_DB", str(tmp_path / "lib.duckdb"))
    monkeypatch.setenv("MEDSEARCH_DB", str(tmp_path / "m.duckdb"))
    assert main(["lists", "new", "--", "--help"]) == 0
    hint = capsys.readouterr().out.split("Add papers with: ", 1)[1].strip()
    assert hint == "medsearch lists add -- --help PMID..."
    argv = shlex.split(hint.replace("PMID...", "31452104"))[1:]
    assert main(argv) == 0
    assert "Added 1 papers to '--help'" in capsys.readouterr().out
