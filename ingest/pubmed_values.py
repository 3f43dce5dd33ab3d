"""Values that both PubMed record readers (XML and MEDLINE text) read the same way.

Month names and numbers, ORCID identifiers and bracketed translated titles appear in
both formats; :mod:`ingest.pubmed_xml` and :mod:`ingest.medline_text` read them here,
so that one record read from either file gives the same values.
"""

from __future__ import annotations

import re

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
