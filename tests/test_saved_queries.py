"""Saved queries that can never run are refused when saved or restored (issue 23, row 4);
``run-all`` isolates each query and records a run only once its digest is delivered (row 3);
and a round trip saves, backs up, restores and runs every query it saved (the class test)."""

from __future__ import annotations

import errno
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError, LibraryError, MedsearchError
from search.library import Library, open_searcher, run_all
from search.library.backup import backup, restore
from search.types import Filters, Hit, SearchResults
from tests.test_library import METAPUB, corpus_settings, dump, ingest_and_index

NEVER_RUN = {
    "unterminated quote": ('"asthma', None, 50, "unterminated quote"),
    "over 2,000 characters": ("asthma " * 300, None, 50, "the limit is 2,000"),
    "over 64 terms": (" ".join(f"word{i}" for i in range(65)), None, 50, "the limit is 64"),
    "500 nested parentheses": ("(" * 500 + "asthma" + ")" * 500, None, 50, "nested more than 64 deep"),
    "unknown mode": ("asthma", "telepathy", 50, "Unknown search mode"),
    "k of 0": ("asthma", None, 0, "k must be between 1 and 1000, got 0"),
    "k of 10**12": ("asthma", None, 10**12, "k must be between 1 and 1000, got 1000000000000"),
}


@pytest.fixture
def lib(tmp_path) -> Library:
    return Library(tmp_path / "lib.duckdb")


@pytest.mark.parametrize("case", NEVER_RUN)
def test_saved_add_refuses_a_query_a_search_would_refuse(lib, case):
    query, mode, k, why = NEVER_RUN[case]
    with pytest.raises((LibraryError, ConfigError), match=why):
        lib.saved.add("bad", query, mode=mode, k=k)
    assert lib.saved.all() == []


def _backup_line(query: str, mode, k) -> str:
    header = {"format": "medsearch-library", "version": 1, "created_at": "2026-01-01T00:00:00",
              "saved_queries": 1, "lists": 0}
    item = {"kind": "saved_query", "name": "bad", "query": query, "filters": {}, "mode": mode, "k": k,
            "created_at": "2026-01-01T00:00:00", "last_pull_at": None, "runs": []}
    return json.dumps(header) + "\n" + json.dumps(item) + "\n"


@pytest.mark.parametrize("case", NEVER_RUN)
def test_restore_refuses_a_saved_query_that_can_never_run(lib, tmp_path, case):
    query, mode, k, why = NEVER_RUN[case]
    path = tmp_path / "b.jsonl"
    path.write_text(_backup_line(query, mode, k))
    lib.lists.add("mine", ["1"], create=True)
    before = dump(lib)
    with pytest.raises(LibraryError, match="damaged at line 2") as caught:
        restore(lib.data, path)
    assert why in caught.value.message and dump(lib) == before


class FakeSearcher:
    """Answers every query with the same PMIDs, but raises for the queries named in ``broken``."""

    def __init__(self, doc_ids, broken=()) -> None:
        self.doc_ids, self.broken = list(doc_ids), set(broken)

    def search(self, query, *, k=10, filters=None, mode=None):
        filters = filters or Filters()
        if query in self.broken:
            raise RecursionError("maximum recursion depth exceeded")
        hits = tuple(Hit(doc_id=d, rank=i, score=1.0 / i) for i, d in enumerate(self.doc_ids[:k], 1))
        return SearchResults(query, "bm25", filters, hits, len(hits), {}, snapshot="v000001")

    def matching_ids(self, query, *, filters=None, mode=None):
        if query in self.broken:
            raise RecursionError("maximum recursion depth exceeded")
        return frozenset(self.doc_ids)

    def cards_of(self, doc_ids):
        return tuple(Hit(doc_id=d, rank=0, score=0.0) for d in doc_ids)

    def articles(self, doc_ids):
        return {}


def _sneak_in(lib: Library, name: str, query: str) -> None:
    """A saved query stored by an older medsearch, which did not check it."""
    with lib.data.transaction() as con:
        con.execute("INSERT INTO saved_queries (name, name_key, query, filters, mode, k, created_at) "
                    "VALUES (?, ?, ?, '{}', NULL, 50, now())", [name, name.casefold(), query])


def test_run_all_reports_a_failing_query_and_runs_the_others(lib):
    lib.saved.add("a", "asthma")
    _sneak_in(lib, "deep", "((((deep))))")
    lib.saved.add("z", "zoster")
    run_all(lib.saved, lib.lists, FakeSearcher(["1", "2"], broken={"((((deep))))"}))  # the baseline
    digest = run_all(lib.saved, lib.lists, FakeSearcher(["1", "2", "3"], broken={"((((deep))))"}))
    assert sorted(o.saved.name for o in digest.outcomes) == ["a", "z"]
    assert [(f.name, "RecursionError" in f.message) for f in digest.failures] == [("deep", True)]
    assert [o.run.n_new for o in digest.outcomes] == [1, 1]
    assert lib.saved.get("a").runs == 2 and lib.saved.get("deep").runs == 0


def test_no_run_is_recorded_when_the_digest_is_not_delivered(lib):
    lib.saved.add("a", "asthma")
    lib.saved.add("b", "bronchitis")
    run_all(lib.saved, lib.lists, FakeSearcher(["1", "2", "3", "4"]))  # the baseline: nothing new
    searcher = FakeSearcher([str(n) for n in range(1, 9)])

    def full_disk(digest) -> None:
        assert sum(o.run.n_new for o in digest.outcomes) == 8  # what the user would have read
        raise MedsearchError("Cannot write to stdout: No space left on device.")

    with pytest.raises(MedsearchError):
        run_all(lib.saved, lib.lists, searcher, deliver=full_disk)
    assert [q.runs for q in lib.saved.all()] == [1, 1]
    delivered = []
    digest = run_all(lib.saved, lib.lists, searcher, deliver=delivered.append)
    assert [o.run.n_new for o in delivered[0].outcomes] == [4, 4]  # still new: never shown before
    assert [o.run.n_new for o in digest.outcomes] == [4, 4] and [q.runs for q in lib.saved.all()] == [2, 2]


def test_the_cli_run_all_records_nothing_when_stdout_is_full(lib, monkeypatch, tmp_path):
    import io
    import sys

    from search.cli import main

    class FullStdout(io.StringIO):
        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    lib.saved.add("a", "asthma")
    monkeypatch.setattr("search.library.open_searcher", _fake_open_searcher)
    monkeypatch.setenv("MEDSEARCH_LIBRARY_DB", str(lib.data.path))
    monkeypatch.setenv("MEDSEARCH_DB", str(tmp_path / "m.duckdb"))
    monkeypatch.setattr(sys, "stdout", FullStdout())
    assert main(["saved", "run-all"]) == 2
    assert lib.saved.get("a").runs == 0


class _fake_open_searcher:  # noqa: N801 - stands in for a function
    def __init__(self, settings) -> None:
        pass

    def __enter__(self):
        return FakeSearcher(["1", "2"])

    def __exit__(self, *exc) -> None:
        pass


# -- the round trip: every query saved runs ------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    s = corpus_settings(tmp_path_factory.mktemp("saved-corpus"))
    ingest_and_index(s, [METAPUB])
    return s


@pytest.fixture(scope="module")
def engine(corpus):
    with open_searcher(corpus) as e:
        yield e


pieces = st.sampled_from(['"', "(", ")", " AND ", " OR ", " NOT ", "asthma", "cancer*", "randomiz*", "[tiab]",
                          "[mh]", "[xx]", "2019[dp]", "2019:2015[dp]", "*", " ", "smith j[au]", "humans[mh]"])
queries = st.one_of(st.lists(pieces, min_size=1, max_size=30).map("".join),
                    st.integers(0, 600).map(lambda n: "(" * n + "asthma" + ")" * n),
                    st.integers(0, 600).map(lambda n: " ".join(f"w{i} {'OR' if i % 2 else 'AND'}" for i in range(n))
                                            + " end"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(queries, min_size=1, max_size=6),
       modes=st.lists(st.sampled_from([None, "bm25"]), min_size=6, max_size=6),
       ks=st.lists(st.integers(-5, 1500), min_size=6, max_size=6))
def test_every_saved_query_survives_backup_and_restore_and_runs(engine, tmp_path_factory, batch, modes, ks):
    folder = tmp_path_factory.mktemp("trip")
    lib = Library(folder / "lib.duckdb")
    for n, (query, mode, k) in enumerate(zip(batch, modes, ks, strict=False)):
        try:
            lib.saved.add(f"q{n}", query, mode=mode, k=k)
        except (LibraryError, ConfigError):
            continue  # refused at save: fine, as long as what is saved runs
    backup(lib.data, folder / "b.jsonl")
    other = Library(folder / "other.duckdb")
    restore(other.data, folder / "b.jsonl")
    saved = [q.name for q in other.saved.all()]
    assert saved == [q.name for q in lib.saved.all()]
    delivered = []
    digest = run_all(other.saved, other.lists, engine, deliver=delivered.append)
    assert digest.failures == () and sorted(o.saved.name for o in digest.outcomes) == sorted(saved)
    assert [q.runs for q in other.saved.all()] == [1] * len(saved)
