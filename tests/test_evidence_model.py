"""The three errors of issue 22 with the packaged model (slow: it loads 1.1 GB and writes on the
CPU), on the default runtime. Whatever the model writes about the two real abstracts, what it
gets wrong in the ways the issue found is flagged, judged by rules read here, independently of
:mod:`search.summarize.evidence`: a 5.7 % or 14.2 % given to plain "albuminuria" (the abstract
gives them to macro- and microalbuminuria); caregivers said to have more mental stress than
adolescents (the abstract makes no such comparison); a clause none of whose words the abstract
uses. And every quote is a verbatim sentence of the cited abstract, and the check line names
every kind of flag shown."""

from __future__ import annotations

import re

import pytest

from search.config import Settings
from search.llm import ModelUnavailable, open_model
from search.summarize import Summarizer
from search.summarize.types import Sentence, Summary
from tests.test_evidence import ALBUMINURIA, CAREGIVERS, real

pytestmark = pytest.mark.slow

_WORD = re.compile(r"[a-z]{4,}")
_COMMON = frozenset("that this with were have from which their there these those than more most such been also "
                    "into they them when what about after before while only other some will would could "
                    "might may".split())
_REPORT_WORDS = {"unsupported": "not supported by the cited abstract", "wrong_measure": "another measure",
                 "unsupported_comparison": "no quoted sentence makes", "ungrounded_number": "not in the cited abstract",
                 "uncited": "without a citation"}


@pytest.fixture(scope="module")
def model():
    try:
        return open_model(Settings.from_env({"MEDSEARCH_LLM_RUNTIME": "openvino"}))
    except ModelUnavailable as exc:
        pytest.fail(f"the packaged model is not usable: {exc}")


def _sentences(summary: Summary) -> list[Sentence]:
    return [*summary.sentences, *(s for f in summary.findings for s in f.sentences)]


def _kinds(s: Sentence) -> set[str]:
    return {f.kind for f in s.flags}


def _holds_for_every_summary(summary: Summary, abstract: str) -> None:
    flat = " ".join(abstract.split())
    for s in _sentences(summary):
        assert all(q.text in flat for q in s.quotes), s.quotes
        assert s.quotes or not s.cited or "unsupported" in _kinds(s) or not _WORD.findall(s.text.lower())
        for kind in _kinds(s) & _REPORT_WORDS.keys():
            assert _REPORT_WORDS[kind] in summary.check_report, (kind, summary.check_report)
    if not any(s.flags for s in _sentences(summary)):
        assert "Nothing flagged" in summary.check_report


def _no_word_in(clause: str, abstract: str) -> bool:
    words = {w for w in _WORD.findall(clause.lower()) if w not in _COMMON}
    return len(words) >= 2 and not words & set(_WORD.findall(abstract.lower()))


def _inferences_are_flagged(summary: Summary, abstract: str) -> None:
    for s in _sentences(summary):
        for clause in re.split(r",\s*(?=which|suggesting|indicating)|;", s.text):
            if _no_word_in(re.sub(r"\[PMID[^\]]*\]", "", clause), abstract):
                assert "unsupported" in _kinds(s), (s.text, clause)


def test_real_model_albuminuria_numbers_keep_their_measure(model):
    paper = real(ALBUMINURIA)
    summary = Summarizer(model).tldr("What is the prevalence of albuminuria in diabetic patients?", paper)
    assert summary.findings[0].source == "model"
    abstract = f"{paper.title}\n{paper.abstract}"
    for s in _sentences(summary):
        for value in ("5.7", "14.2"):
            for m in re.finditer(re.escape(value), s.text):
                named = re.findall(r"\b(\w*)albuminuria", s.text[:m.start()])
                if named and named[-1] == "":  # the nearest measure before it is plain "albuminuria"
                    assert "wrong_measure" in _kinds(s), s.text
    _holds_for_every_summary(summary, abstract)
    _inferences_are_flagged(summary, abstract)


def test_real_model_caregivers_are_not_said_to_be_more_stressed_than_adolescents(model):
    paper = real(CAREGIVERS)
    question = "Do caregivers experience more mental stress than adolescents during COVID-19 vaccination?"
    summary = Summarizer(model).overview(question, [paper])
    assert summary.findings[0].source == "model" and summary.sentences
    made_up = re.compile(r"caregiver.{0,80}\b(higher|more|greater|heightened)\b.{0,60}\b(than|compared)\b"
                         r".{0,40}adolescent", re.IGNORECASE)
    abstract = f"{paper.title}\n{paper.abstract}"
    for s in _sentences(summary):
        if made_up.search(s.text) and "stress" in s.text.lower():
            assert "unsupported_comparison" in _kinds(s), s.text
    _holds_for_every_summary(summary, abstract)
    _inferences_are_flagged(summary, abstract)
