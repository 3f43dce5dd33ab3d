"""Record values: equality that respects the kind of a part, and the canonical record hash.

The hash is pinned: a hand-built record's canonical text is written out here by hand, and
its SHA-256 is a literal. A Python, pickle or library upgrade must not move either.
"""

from __future__ import annotations

import hashlib
from datetime import date

from hypothesis import given, settings

from ingest.records import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Keyword,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    PublicationType,
)
from ingest.rows import canonical_text, prepare_batch, record_hash
from tests.test_store import articles

GOLDEN = Article(
    doc_id="31000001",
    pmid="31000001",
    pmid_version=2,
    status="MEDLINE",
    title="Metformin in breast cancer: a randomised trial.",
    abstract=(AbstractSection("Does metformin help?", "BACKGROUND", "BACKGROUND"),
              AbstractSection("It did not, at 5 years.", "RESULTS", "RESULTS")),
    other_abstracts=(OtherAbstract((AbstractSection("¿Ayuda la metformina?"),), "Publisher", "spa"),),
    authors=(Author("Müller", "Anna", "A", orcid="0000-0002-1825-0097", affiliations=("Univ. of Bern",)),
             Author(collective_name="MA.32 Trial Group")),
    journal_title="JAMA",
    journal_iso="JAMA",
    issn="1538-3598",
    volume="327",
    issue="20",
    pages="1963-1973",
    pub_year=2022,
    pub_month=5,
    pub_date_text="2022 May",
    article_date=date(2022, 5, 24),
    date_revised=date(2023, 1, 9),
    doi="10.1001/jama.2022.6147",
    other_ids=(("pubmed", "31000001"), ("doi", "10.1001/jama.2022.6147")),
    languages=("eng",),
    publication_types=(PublicationType("Randomized Controlled Trial", "D016449"),),
    mesh_headings=(MeshHeading("Metformin", "D008687", False,
                               (MeshQualifier("therapeutic use", "Q000627", True),)),),
    keywords=(Keyword("metformin", False, "NOTNLM"),),
    chemicals=(Chemical("Metformin", "D008687", "9100L32L2N"),),
    comments_corrections=(CommentCorrection("CommentIn", "JAMA. 2022;327(20):1957-1958", "35608599"),),
    extra=(("medline_ta", "JAMA"),),
)

# Written by hand from the rules in rows.canonical_text: fields at their default left out,
# keys sorted, parts as [kind, values...], dates ISO, non-ASCII escaped.
GOLDEN_TEXT = (
    '{"@":"Article",'
    '"abstract":[["AbstractSection","Does metformin help?","BACKGROUND","BACKGROUND"],'
    '["AbstractSection","It did not, at 5 years.","RESULTS","RESULTS"]],'
    '"article_date":"2022-05-24",'
    '"authors":[["Author","M\\u00fcller","Anna","A",null,null,"0000-0002-1825-0097",["Univ. of Bern"],false],'
    '["Author",null,null,null,null,"MA.32 Trial Group",null,[],false]],'
    '"chemicals":[["Chemical","Metformin","D008687","9100L32L2N"]],'
    '"comments_corrections":[["CommentCorrection","CommentIn","JAMA. 2022;327(20):1957-1958","35608599"]],'
    '"date_revised":"2023-01-09",'
    '"doc_id":"31000001",'
    '"doi":"10.1001/jama.2022.6147",'
    '"extra":[["medline_ta","JAMA"]],'
    '"issn":"1538-3598",'
    '"issue":"20",'
    '"journal_iso":"JAMA",'
    '"journal_title":"JAMA",'
    '"keywords":[["Keyword","metformin",false,"NOTNLM"]],'
    '"languages":["eng"],'
    '"mesh_headings":[["MeshHeading","Metformin","D008687",false,[["MeshQualifier","therapeutic use","Q000627",true]]]],'
    '"other_abstracts":[["OtherAbstract",[["AbstractSection","\\u00bfAyuda la metformina?",null,null]],"Publisher","spa"]],'
    '"other_ids":[["pubmed","31000001"],["doi","10.1001/jama.2022.6147"]],'
    '"pages":"1963-1973",'
    '"pmid":"31000001",'
    '"pmid_version":2,'
    '"pub_date_text":"2022 May",'
    '"pub_month":5,'
    '"pub_year":2022,'
    '"publication_types":[["PublicationType","Randomized Controlled Trial","D016449"]],'
    '"status":"MEDLINE",'
    '"title":"Metformin in breast cancer: a randomised trial.",'
    '"volume":"327"}'
)
# SHA-256 of GOLDEN_TEXT, computed once with hashlib (and checked below).
GOLDEN_SHA256 = "0d70f63c6a17473a59f6338a50ee8b08c011546d693b5b58ffa6863d22901730"


def test_the_canonical_text_of_a_hand_built_record_is_the_one_written_by_hand():
    assert canonical_text(GOLDEN) == GOLDEN_TEXT


def test_the_record_hash_of_a_hand_built_record_is_pinned():
    assert hashlib.sha256(GOLDEN_TEXT.encode("ascii")).hexdigest() == GOLDEN_SHA256
    assert record_hash(GOLDEN) == GOLDEN_SHA256[:32]
    assert prepare_batch([GOLDEN]).keys[0][3] == GOLDEN_SHA256[:32]  # what the store is given


def test_fields_at_their_default_are_left_out_of_the_canonical_text():
    assert canonical_text(Article("7")) == '{"@":"Article","doc_id":"7"}'
    assert canonical_text(Article("7", source="beir", title_translated=True)) == (
        '{"@":"Article","doc_id":"7","source":"beir","title_translated":true}'
    )


def test_the_same_values_of_a_part_in_another_kind_give_another_hash():
    as_comment = GOLDEN._replace(comments_corrections=(CommentCorrection("Metformin", "D008687", "9100L32L2N"),))
    as_chemical = GOLDEN._replace(comments_corrections=(Chemical("Metformin", "D008687", "9100L32L2N"),))
    assert '["Chemical","Metformin"' in canonical_text(as_chemical)
    assert record_hash(as_comment) != record_hash(as_chemical)


@given(article=articles)
@settings(max_examples=60, deadline=None)
def test_the_record_hash_depends_on_the_values_only(article):
    """Equal records hash alike however their values are shared in memory; a change shows."""

    def copy(value):  # the same values, every string a distinct object
        if isinstance(value, str):
            return "".join(list(value)) if value else ""
        if isinstance(value, tuple):
            return type(value)(*map(copy, value)) if hasattr(value, "_fields") else tuple(map(copy, value))
        return value

    twin = copy(article)
    assert twin == article
    assert record_hash(twin) == record_hash(article)
    assert record_hash(article._replace(title=article.title + "x")) != record_hash(article)


def test_parts_of_different_kinds_with_equal_values_are_not_equal():
    assert Chemical("a") != CommentCorrection("a")
    assert not Chemical("a") == CommentCorrection("a")  # noqa: SIM201 - the == operator itself
    assert len({Chemical("a"), CommentCorrection("a")}) == 2
    assert Article("1", chemicals=(Chemical("a"),)) != Article("1", chemicals=(CommentCorrection("a"),))


def test_a_part_never_equals_a_plain_tuple_of_its_values():
    assert Chemical("a") != ("a", None, None)
    assert ("a", None, None) != Chemical("a")
    assert Chemical("a") not in [("a", None, None)]


def test_parts_of_one_kind_with_equal_values_are_equal_and_hash_alike():
    one = MeshHeading("Metformin", "D008687", False, (MeshQualifier("therapeutic use"),))
    two = MeshHeading("Metformin", "D008687", False, (MeshQualifier("therapeutic use"),))
    assert one == two and not one != two  # noqa: SIM202 - the != operator itself
    assert hash(one) == hash(two) and len({one, two}) == 1
    assert one != one._replace(major_topic=True)
