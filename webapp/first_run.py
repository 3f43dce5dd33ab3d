"""The first-run screen: shown instead of the search screen while there is nothing to search.

It offers to load records from PubMed by query (an e-mail for NCBI, how many, in which order),
from files or a folder on this machine, or from the demo folder when one is configured; the
load and then the index run as a background job (``search/jobs``: ``medsearch ingest ...``
then ``medsearch index``), whose progress shows here and survives a reload. When the job has
built an index with records, the search screen opens. A store with records but no index is
offered the index alone. Offline (PubMed unreachable), it says so, and what can still be done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from webapp import jobs_view
from webapp.errors import show_error, shown
from webapp.markup import md_text

if TYPE_CHECKING:
    from search.config import Settings
    from search.first_run import CorpusState
    from search.jobs import Job

#: How long a reachability check of PubMed is trusted (s).
PROBE_TTL = 60


def shown_instead() -> bool:
    """Draw the first-run screen when the store has nothing to search (or a first-run job is at
    work); True when it was drawn, and the search screen must not be."""
    from ingest.errors import MedsearchError
    from search.config import Settings
    from search.first_run import corpus_state

    try:
        settings = Settings.from_env()
    except MedsearchError:
        return False  # the services say what is wrong with the settings
    with shown("checking the store"):
        job = jobs_view.latest(settings)
        first_job = job is not None and job.kind == "first-run"
        state = corpus_state(settings)
        if state.searchable and not (first_job and job is not None and job.running):
            return False
        render(settings, state, job if first_job else None)
        return True
    return True  # an error was shown in place of the screen


def render(settings: Settings, state: CorpusState, job: Job | None) -> None:
    st.header("Welcome to medsearch")
    if job is not None and job.running:
        st.markdown("At work in the background. The search screen opens when the index is built.")
        jobs_view.show(settings, job)
        return
    if job is not None:
        jobs_view.result(job)
    if state.needs_index_only:
        _index_only(settings, state)
        return
    st.markdown("There are no records to search yet. Load some: from PubMed by a query, or from "
                "PubMed files on this machine. They are stored on this machine, then indexed for search.")
    demo = _demo_folder(settings)
    unreachable = _pubmed_unreachable(settings.eutils_url)
    if unreachable is not None:
        _offline(unreachable, demo is not None)
    names = ["From PubMed", "From files on this machine"] + (["Demo records"] if demo is not None else [])
    tabs = st.tabs(names)
    with tabs[0]:
        _pubmed_form(settings, job, unreachable)
    with tabs[1]:
        _files_form(settings)
    if demo is not None:
        with tabs[2]:
            _demo_form(settings, demo)


def _offline(reason: str, has_demo: bool) -> None:
    """PubMed unreachable: said plainly, with the ways to go on."""
    ways = ["load PubMed XML or MEDLINE files already on this machine (the \u201cFrom files on this machine\u201d tab)",
            "connect this machine to the internet, or set NCBI_EUTILS_URL to an E-utilities mirror or proxy it "
            "can reach, and reload this page"]
    if has_demo:
        ways.insert(0, "load the demo records (the \u201cDemo records\u201d tab)")
    st.warning(md_text("PubMed cannot be reached from this machine, so no records can be loaded from it now. "
                       "To go on: " + "; or ".join(ways) + "."), icon=":material/cloud_off:")
    st.caption(md_text(f"What failed: {reason}"))


def _index_only(settings: Settings, state: CorpusState) -> None:
    from search.jobs import plans

    st.markdown(md_text(f"The store holds {state.store_records:,} records, but there is no search index "
                        "yet. Build it to start searching (`medsearch index`)."))
    if st.button("Build the search index", type="primary") and jobs_view.start(settings, plans.index_only()):
        st.rerun()


def _pubmed_form(settings: Settings, job: Job | None, unreachable: str | None) -> None:
    from search.jobs import plans

    if unreachable is not None:
        st.caption("PubMed cannot be reached now (see above).")
    with st.form("first-run-pubmed"):
        query = st.text_input("PubMed query", key="fr_query", placeholder="asthma AND children[mh]",
                              help="PubMed's own syntax; the records it finds are loaded, newest first by default.")
        email = st.text_input("Your e-mail", key="fr_email", value=jobs_view.default_email(settings, job),
                              help="NCBI asks for a contact address with every request; it is sent to NCBI only.")
        left, right = st.columns(2)
        max_records = left.number_input("How many records", key="fr_max", min_value=1, max_value=plans.MAX_PUBMED_RECORDS,
                                        value=500, step=100)
        sort = right.selectbox("Which first", list(plans.SORTS), key="fr_sort", format_func=_sort_name)
        go = st.form_submit_button("Load from PubMed", type="primary", disabled=unreachable is not None)
    if go:
        _start(settings, lambda: plans.from_pubmed(query, int(max_records), str(sort), email))


_SORT_NAMES = {"recent": "Newest in PubMed", "relevance": "Best match", "pub_date": "Newest publication date"}


def _sort_name(sort: str) -> str:
    return _SORT_NAMES.get(sort, sort)


def _files_form(settings: Settings) -> None:
    from search.jobs import plans

    with st.form("first-run-files"):
        paths = st.text_area("Files or folders on this machine, one per line", key="fr_paths",
                             placeholder="/data/pubmed/baseline\n/home/me/export.nbib",
                             help="PubMed XML (.xml, .xml.gz), MEDLINE (.nbib, .txt) or a BEIR corpus.jsonl; "
                             "folders are read with everything under them.")
        go = st.form_submit_button("Load the files", type="primary")
    if go:
        _start(settings, lambda: plans.from_files(paths.splitlines()))


def _demo_form(settings: Settings, folder) -> None:
    from search.jobs import plans

    st.markdown(md_text(f"The demo records: real PubMed records in {folder} (MEDSEARCH_DEMO_DATA)."))
    if st.button("Load the demo records", type="primary"):
        _start(settings, lambda: plans.from_demo(folder))


def _start(settings: Settings, make_plan) -> None:
    """Check the input (a clear message where it is wrong; nothing starts), then start the job."""
    from ingest.errors import MedsearchError

    try:
        plan = make_plan()
    except MedsearchError as exc:
        show_error(exc)
        return
    if jobs_view.start(settings, plan):
        st.rerun()


def _demo_folder(settings: Settings):
    folder = settings.demo_data
    try:
        return folder if folder.is_dir() else None
    except OSError:
        return None


@st.cache_data(ttl=PROBE_TTL, show_spinner="Checking whether PubMed can be reached...")
def _pubmed_unreachable(eutils_url: str) -> str | None:
    """Why E-utilities at ``eutils_url`` cannot be reached (None: it answered); checked once a minute."""
    from search.config import Settings
    from search.first_run import pubmed_unreachable

    return pubmed_unreachable(Settings.from_env())
