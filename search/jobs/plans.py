"""The jobs the app offers, as ``medsearch`` command lines, checked before anything starts.

Each function returns the steps of one job, or raises :class:`ConfigError` /
:class:`SourceError` with a message that says what to fix (an empty query, a missing or
malformed e-mail, a path that does not exist, a folder with no record files), so that
nothing starts, and nothing is written, on input the commands would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError
from ingest.sources import require_record_files
from search.config import expanded
from search.jobs.job import Step

FIRST_RUN = "first-run"
UPDATE = "update"
INDEX = "index"

#: The most records a first load from PubMed may ask for: what esearch lists in one order
#: (more take `medsearch ingest pubmed` with --sort recent). At 3 requests/s and 200 records per
#: efetch, 9,999 records are about 17 s of requests; the index takes longer.
MAX_PUBMED_RECORDS = 9_999
SORTS = ("recent", "relevance", "pub_date")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

INDEX_STEP = Step("Building the search index", ("index",))


@dataclass(frozen=True, slots=True)
class Plan:
    """A job to start: its kind, its title for the screen, its commands."""

    kind: str
    title: str
    steps: tuple[Step, ...]


def checked_email(email: str | None) -> str:
    """``email`` stripped; a missing or malformed one is a ConfigError that says why NCBI wants it."""
    email = (email or "").strip()
    if not email:
        raise ConfigError("An e-mail address is needed to load records from PubMed.",
                          hint="NCBI asks every program that uses E-utilities for a contact address, "
                          "and writes to it before blocking one. It is sent to NCBI only.")
    if not _EMAIL.fullmatch(email):
        raise ConfigError(f"{email!r} is not an e-mail address.", hint="Give an address such as you@example.org.")
    return email


def from_pubmed(query: str, max_records: int, sort: str, email: str | None) -> Plan:
    """Load the first ``max_records`` of a PubMed query in ``sort`` order, then index."""
    query = (query or "").strip()
    if not query:
        raise ConfigError("The PubMed query is empty.",
                          hint='Type a query as you would in PubMed, e.g. "asthma AND children[mh]".')
    if not 1 <= max_records <= MAX_PUBMED_RECORDS:
        raise ConfigError(f"Ask for between 1 and {MAX_PUBMED_RECORDS:,} records (not {max_records:,}).",
                          hint="Start small; `Update from PubMed` and `medsearch ingest pubmed` add more later.")
    if sort not in SORTS:
        raise ConfigError(f"Unknown sort {sort!r}.", hint=f"Use one of {', '.join(SORTS)}.")
    args = ("ingest", "pubmed", query, "--max", str(max_records), "--sort", sort, "--email", checked_email(email))
    return Plan(FIRST_RUN, "Loading records from PubMed, then building the search index",
                (Step("Loading records from PubMed", args), INDEX_STEP))


def from_files(paths: Sequence[str | Path]) -> Plan:
    """Load PubMed XML / MEDLINE / BEIR files or folders on this machine, then index."""
    wanted = [expanded(str(p).strip()) for p in paths if str(p).strip()]
    if not wanted:
        raise ConfigError("No file or folder given.",
                          hint="Give the path of a folder (or file) of PubMed XML, MEDLINE (.nbib, .txt) "
                          "or BEIR corpus.jsonl files on this machine.")
    require_record_files(wanted)
    return Plan(FIRST_RUN, "Loading records from files, then building the search index",
                (Step("Loading records from files", ("ingest", "files", *(str(p.absolute()) for p in wanted))),
                 INDEX_STEP))


def from_demo(folder: Path) -> Plan:
    """Load the demo folder (``MEDSEARCH_DEMO_DATA``), then index."""
    require_record_files([folder])
    return Plan(FIRST_RUN, "Loading the demo records, then building the search index",
                (Step("Loading the demo records", ("ingest", "demo")), INDEX_STEP))


def index_only() -> Plan:
    """Build the index of a store that has records but no index."""
    return Plan(FIRST_RUN, "Building the search index", (INDEX_STEP,))


def update_from_pubmed(email: str | None) -> Plan:
    """``medsearch update`` (new and revised records of every stored query), then index."""
    args = ("update", "--email", checked_email(email))
    return Plan(UPDATE, "Updating from PubMed, then the search index",
                (Step("Fetching what PubMed added or revised", args), INDEX_STEP))
