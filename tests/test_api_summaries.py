"""Summaries over HTTP, served for real, written by the scripted model (tests/scripted_model.py):
the stream of server-sent events (a finding arrives while the overview is still unwritten), the
JSON answer, the cached summary read back without running the model, TL;DRs, one summary at a
time per key, and a client that never reads its stream: the summary is written (and cached) all
the same, and other clients are served meanwhile.
"""

from __future__ import annotations

import json
import re
import threading

import pytest

httpx = pytest.importorskip("httpx")

from tests.api_server import auth, make_services, serve  # noqa: E402
from tests.scripted_model import ScriptedModel  # noqa: E402

QUERY = "sepsis mortality"
SSE = {"Accept": "text/event-stream"}


class Script:
    """Findings at once; the overview (its system message starts "You answer") waits for
    :attr:`release` and cites the first finding's paper."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.overview_written = threading.Event()

    def __call__(self, messages) -> str:
        if messages[0].content.startswith("You answer"):
            assert self.release.wait(120), "the test never released the overview"
            pmid = re.search(r"\[PMID (\d+)\]", messages[-1].content).group(1)
            self.overview_written.set()
            return f"Sepsis carries a high mortality in these studies [PMID {pmid}]."
        return "Patients with sepsis were studied and mortality was reported."


@pytest.fixture
def scripted(real, tmp_path):
    script = Script()
    model = ScriptedModel(script, name="scripted-llm")
    with serve(make_services(real.db, tmp_path / "library.duckdb", model=model)) as base:
        with httpx.Client(base_url=base, timeout=120) as client:
            yield client, script, model


def test_the_stream_sends_each_finding_before_the_overview_is_written(scripted):
    client, script, _ = scripted
    seen: list[tuple[str, dict]] = []
    with client.stream("POST", "/summaries", json={"query": QUERY, "n": 2}, headers={**SSE, **auth()}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                if not seen:  # the first event: the overview cannot have been written yet
                    assert name == "finding" and not script.overview_written.is_set()
                    script.release.set()
                seen.append((name, json.loads(line[len("data: "):])))
    kinds = [n for n, _ in seen]
    assert kinds[0] == "finding" and kinds[-1] == "summary" and "sentence" in kinds
    assert kinds.index("sentence") > max(i for i, k in enumerate(kinds) if k == "finding")
    summary = seen[-1][1]["summary"]
    findings = [d["finding"] for n, d in seen if n == "finding"]
    assert [f["pmid"] for f in findings] == [f["pmid"] for f in summary["findings"]]
    assert set(summary["cited_pmids"]) <= set(summary["given_pmids"])
    assert summary["model"] == "scripted-llm" and "Machine-written" in summary["label"]
    sentence = next(d["sentence"] for n, d in seen if n == "sentence")
    assert sentence["cited"] and sentence["text"].startswith("Sepsis carries")
    assert sentence["quotes"] and all(q["pmid"] in sentence["cited"] for q in sentence["quotes"])  # the supporting quotes come through


def test_a_json_summary_is_cached_and_read_back_without_the_model(scripted):
    from search.api.schemas import SummaryOut

    client, script, model = scripted
    script.release.set()
    body = {"query": QUERY, "n": 2}
    missing = client.get("/summaries", params={"q": QUERY, "n": 2})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert model.requests == []  # looking in the cache runs no model
    written = SummaryOut.model_validate(client.post("/summaries", json=body, headers=auth()).json())
    assert written.cached is False and written.model == "scripted-llm"
    calls = len(model.requests)
    cached = client.get("/summaries", params={"q": QUERY, "n": 2})
    assert cached.status_code == 200
    assert cached.json()["cached"] is True and cached.json()["text"] == written.text
    assert len(model.requests) == calls


def test_one_pmid_gets_its_tldr_and_several_need_the_question(scripted, real):
    client, script, _ = scripted
    script.release.set()
    pmid = next(a.pmid for a in real.articles.values() if a.pmid and a.abstract and not a.is_retracted)
    tldr = client.post("/summaries", json={"pmids": [pmid]}, headers=auth()).json()
    assert tldr["kind"] == "tldr" and tldr["given_pmids"] == [pmid]
    r = client.post("/summaries", json={"pmids": [pmid, pmid + "0"]}, headers=auth())
    assert r.status_code in (404, 422) and r.headers["content-type"].startswith("application/problem+json")
    assert client.post("/summaries", json={"query": QUERY}).status_code == 401  # a model may run: key needed


def test_a_client_that_never_reads_holds_no_model_and_a_key_writes_one_summary_at_a_time(scripted):
    client, script, model = scripted
    with client.stream("POST", "/summaries", json={"query": QUERY, "n": 2}, headers={**SSE, **auth("alice")}) as r:
        assert r.status_code == 200  # and alice reads nothing more
        busy = client.post("/summaries", json={"query": "sepsis"}, headers=auth("alice"))
        assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
        script.release.set()
        other = client.post("/summaries", json={"query": "sepsis treatment", "n": 1}, headers=auth("bob"))
        assert other.status_code == 200 and other.json()["model"] == "scripted-llm"
        for _ in range(600):  # alice's summary is finished and cached though she never read it
            if client.get("/summaries", params={"q": QUERY, "n": 2}).status_code == 200:
                break
            threading.Event().wait(0.1)
        else:
            pytest.fail("the unread summary was never finished")
    again = client.post("/summaries", json={"query": QUERY, "n": 2}, headers=auth("alice"))
    assert again.status_code == 200 and again.json()["cached"] is True
