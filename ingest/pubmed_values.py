"""Values that both PubMed record readers (XML and MEDLINE text) read the same way.

Month names and numbers, ORCID identifiers and bracketed translated titles appear in
both formats; :mod:`ingest.pubmed_xml` and :mod:`ingest.medline_text` read them here,
so that one record read from either file gives the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from ingest.records import Article, Item, Problem

_Record = TypeVar("_Record", bound=Item)

#: Month names as PubMed writes them ("Jan", "January" by their first three letters,
#: lower-cased), and month numbers ("1", "01", "12"), to the month's number.
MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}
MONTHS.update({str(i): i for i in range(1, 13)})
MONTHS.update({f"{i:02d}": i for i in range(1, 10)})

#: An ORCID at the end of a value: bare, with or without hyphens, or ending a URL.
_ORCID = re.compile(r"(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])\s*$")


def month_number(value: str | None) -> int | None:
    """1-12 for "Jan", "january", "JAN", "1", "01"...; None for anything else."""
    if not value:
        return None
    v = value.strip()
    return MONTHS.get(v) or MONTHS.get(v[:3].lower())


def orcid(value: str | None) -> str | None:
    """ORCID in its bare ``0000-0002-1825-0097`` form, from any URL or spacing PubMed uses.

    The identifier must end the value ("https://orcid.org/0000-...", "ORCID: 0000-...").
    """
    if not value:
        return None
    found = _ORCID.search(value.strip().rstrip("/").upper())
    return "-".join(found.groups()) if found else None


def is_translated_title(title: str) -> bool:
    """True for "[Title translated into English]." : one bracket pair around the whole title."""
    body = title[:-1] if title.endswith(".") else title
    if not (body.startswith("[") and body.endswith("]")):
        return False
    depth = 0
    for i, char in enumerate(body):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i == len(body) - 1
    return False


#: A PMC identifier: "PMC" and digits (PubMed Central's own form).
_PMCID = re.compile(r"PMC\d{1,12}")
#: A DOI: "10.", a registrant code, "/", a suffix of visible characters (Crossref's own check is
#: stricter; older DOIs hold <, >, # and the like, but never a space, a control character or a brace).
_DOI = re.compile(r"10\.\d{4,9}(?:\.\d+)*/[^\s{}\\\x00-\x1f\x7f-\x9f]{1,300}")
#: The ``extra`` key under which a record keeps an identifier it carried in a form not its own.
INVALID_ID = "invalid_id"


def checked_pmcid(value: str | None) -> tuple[str | None, str | None]:
    """(the PMCID as "PMC123", None) for a valid value (bare digits get their "PMC"); (None, why)
    for any other."""
    if not value:
        return None, None
    v = value.strip()
    if v.isdigit():
        v = f"PMC{v}"
    if _PMCID.fullmatch(v.upper()):
        return v.upper(), None
    return None, f"PMCID {value!r} is not PMC and digits"


def checked_doi(value: str | None) -> tuple[str | None, str | None]:
    """(the DOI, None) when ``value`` has DOI syntax; (None, why) otherwise."""
    if not value:
        return None, None
    v = value.strip()
    if _DOI.fullmatch(v):
        return v, None
    return None, f"DOI {value!r} does not have DOI syntax (10.NNNN/suffix, no spaces or braces)"


def with_id_problems(items: list[_Record], where: Callable[[], str]) -> list[_Record | Problem]:
    """``items`` and, after each record that carried an identifier in a form not its own (kept
    out of the record's fields, see :func:`~ingest.pubmed_values.checked_pmcid`), a
    :class:`Problem` saying so; the record itself is stored."""
    out: list[_Record | Problem] = []
    for item in items:
        out.append(item)
        if isinstance(item, Article):
            out += [Problem(where(), f"PMID {item.pmid}: {why}; stored without it", skipped=False)
                    for key, why in item.extra if key == INVALID_ID]
    return out
