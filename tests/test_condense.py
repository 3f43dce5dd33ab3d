"""What a finding prompt keeps of a long abstract: the conclusion, the first result and who
was studied first, in the abstract's own order and labels, within the budget; and the budget
setting's effect on the prompt and the cache."""

from __future__ import annotations

from search.summarize import Summarizer, prompts
from search.summarize.cache import SummaryCache
from search.summarize.condense import condense
from search.summarize.grounding import split_sentences
from tests.scripted_model import ScriptedModel
from tests.test_summarize import MET, PROPOFOL, real

FINDING = "Tamsulosin did not help."
BUDGET = 1200  # the faster setting measured in docs/quality.md


def _sentences(text: str) -> list[str]:
    """Sentences of an abstract, section labels taken off (the oracle's own split)."""
    return [sentence for body in _bodies(text) for sentence in split_sentences(body)]


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    rest = iter(long)
    return all(any(s == t for t in rest) for s in short)


def _made_of(out: str, abstract: str) -> bool:
    """Whether ``out`` is whole sentences of ``abstract`` in their order (labels aside)."""
    rest = " ".join(_bodies(out))
    for sentence in _sentences(abstract):
        if rest.startswith(sentence):
            rest = rest[len(sentence):].lstrip()
    return not rest


def _bodies(text: str) -> list[str]:
    """The lines of ``text`` without their section labels."""
    return [body if sep and head.isupper() else line
            for line in text.splitlines() for head, sep, body in [line.partition(": ")]]


def test_an_abstract_within_the_budget_is_left_whole():
    abstract = prompts.essential(real(PROPOFOL).abstract)
    assert condense(abstract, len(abstract)) == abstract
    assert condense(abstract, 10 * len(abstract)) == abstract


def test_a_long_structured_abstract_keeps_conclusion_first_result_and_design_in_order():
    abstract = prompts.essential(real(MET).abstract)
    lines = dict(line.split(": ", 1) for line in abstract.splitlines())
    out = condense(abstract, 1000)
    assert len(out) <= 1000 < len(abstract)
    kept = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(kept) == ["METHODS", "FINDINGS", "INTERPRETATION"]  # labels kept, in order
    assert kept["INTERPRETATION"] == lines["INTERPRETATION"]  # the whole conclusion
    assert kept["FINDINGS"].startswith(split_sentences(lines["FINDINGS"])[0])
    assert kept["METHODS"].startswith(split_sentences(lines["METHODS"])[0])
    assert _made_of(out, abstract)  # nothing rewritten or moved
    assert len(_sentences(out)) < len(_sentences(abstract))


def test_an_unlabelled_abstract_keeps_its_last_sentences_and_its_first():
    sentences = [f"Sentence number {i} says something about the trial of drug X in adults." for i in range(12)]
    out = condense(" ".join(sentences), 300)
    kept = split_sentences(out)
    assert len(out) <= 300
    assert kept[0] == sentences[0] and kept[-2:] == sentences[-2:]
    assert _is_subsequence(kept, sentences)


def test_a_conclusion_longer_than_the_budget_is_still_kept():
    conclusion = "CONCLUSIONS: " + "Drug X lowered the blood pressure of adults with hypertension " * 5 + "."
    abstract = f"METHODS: We studied 120 adults.\nRESULTS: Pressure fell by 12 mmHg.\n{conclusion}"
    assert condense(abstract, 40) == conclusion


def test_the_abstract_budget_condenses_the_finding_prompt_and_is_part_of_its_cache_key(tmp_path):
    paper = real(MET)
    whole = prompts.essential(paper.abstract)
    assert len(whole) > BUDGET
    cache = SummaryCache(tmp_path / "library.duckdb")
    default, short = ScriptedModel([FINDING]), ScriptedModel([FINDING])
    Summarizer(default, cache).tldr("tamsulosin", paper)
    Summarizer(short, cache, abstract_chars=BUDGET).tldr("tamsulosin", paper)
    assert len(short.requests) == 1  # the finding cached for the whole abstract was not served
    whole_prompt, short_prompt = default.requests[0][-1].content, short.requests[0][-1].content
    assert all(line in whole_prompt for line in whole.splitlines())
    assert condense(whole, BUDGET) in short_prompt and len(short_prompt) < len(whole_prompt) - 500
    again = ScriptedModel([FINDING])
    assert Summarizer(again, cache, abstract_chars=BUDGET).tldr("tamsulosin", paper).cached
    assert Summarizer(again, cache).tldr("tamsulosin", paper).cached and again.requests == []


def test_real_abstracts_fit_the_budget_with_their_own_sentences_in_order():
    from tests.test_summarize import _articles

    abstracts = [prompts.essential(a.abstract_text) for a in _articles().values() if a.abstract_text][:300]
    condensed = 0
    for abstract in abstracts:
        out = condense(abstract, BUDGET)
        assert len(out) <= BUDGET or len(_sentences(out)) == 1, out
        assert _made_of(out, abstract), out
        condensed += out != abstract
    assert condensed > 50  # the budget bites on real abstracts


def test_who_was_studied_comes_from_the_participants_before_methods_and_objective():
    objective = "OBJECTIVE: To learn whether drug X, long used for many other conditions, lowers pressure."
    methods = "METHODS: A randomised, double-blind trial at eleven centres in three countries."
    participants = "PARTICIPANTS: 120 adults with resistant hypertension."
    results = "RESULTS: Pressure fell by 12 mmHg with X and by 2 mmHg with placebo. Few stopped."
    conclusions = "CONCLUSIONS: X lowers blood pressure."
    abstract = "\n".join([objective, methods, participants, results, conclusions])
    budget = len(participants) + len(conclusions) + len("RESULTS: Pressure fell by 12 mmHg with X and by 2 mmHg "
                                                           "with placebo.") + 2
    assert condense(abstract, budget).splitlines() == [
        participants, "RESULTS: Pressure fell by 12 mmHg with X and by 2 mmHg with placebo.", conclusions]
    without = abstract.replace(participants + "\n", "")
    assert condense(without, budget - len(participants) + len(methods)).splitlines()[0] == methods
