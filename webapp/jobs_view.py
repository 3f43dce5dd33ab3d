"""A background job on the page: its progress while it runs (redrawn every second), its result
after; and "Update from PubMed" for the status panel.

The job itself runs in its own process (``search/jobs``); this module only reads its files, so
a page reload, a second tab or another app process shows the same job. When a job that this
session saw running ends, the whole page is drawn again: the first-run screen gives way to the
search screen, the status panel shows the new index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from webapp.errors import show_error, shown
from webapp.markup import md_text

if TYPE_CHECKING:
    from search.config import Settings
    from search.jobs import Job

#: Seconds between two redraws of a running job's progress.
REFRESH_S = 1.0
_SEEN_RUNNING = "_job_seen_running"


def latest(settings: Settings) -> Job | None:
    from search.jobs import current

    return current(settings.db)


def start(settings: Settings, plan) -> bool:
    """Start ``plan`` (``search.jobs.plans.Plan``); False after showing why it could not start."""
    from ingest.errors import MedsearchError
    from search.jobs import start as start_job

    try:
        job = start_job(settings.db, plan.kind, plan.title, plan.steps)
    except MedsearchError as exc:
        show_error(exc)
        return False
    st.session_state[_SEEN_RUNNING] = job.id
    return True


def show(settings: Settings, job: Job, *, compact: bool = False) -> None:
    """``job``: live while it runs, its result when it has ended."""
    if job.running:
        st.session_state[_SEEN_RUNNING] = job.id
        live(settings, compact)
    else:
        result(job, compact=compact)


@st.fragment(run_every=REFRESH_S)
def live(settings: Settings, compact: bool = False) -> None:
    """The running job's progress, redrawn every second; the whole page once it has ended."""
    job = latest(settings)
    if job is None or not job.running:
        if st.session_state.pop(_SEEN_RUNNING, None) is not None:
            st.rerun()  # the job ended: draw the page for what it left (the search screen...)
        return
    progress(job, compact=compact)
    if st.button("Stop", key=f"stop-{job.id}", help="Stops the command at work as Ctrl-C would: what it has "
                 "stored so far is kept, and running it again goes on from there."):
        _stop(job)


def progress(job: Job, *, compact: bool = False) -> None:
    """The job's bar: its share of the whole job, the step at work, the step's own count."""
    step = job.current
    label = f"Step {job.step + 1} of {len(job.steps)}: {step.label}"
    st.progress(job.fraction, text=md_text(label))
    said = job.progress.text if job.progress is not None else job.last_line
    if said:
        st.caption(md_text(said))
    if not compact:
        st.caption(md_text(f"{job.title}: started {job.started_at}. It runs in the background: you can "
                           "reload this page or close it, and come back."))


def result(job: Job, *, compact: bool = False) -> None:
    """How the job ended: done, or the failed command's error and what to do."""
    from search.jobs import DONE, STOPPED

    if job.status == DONE:
        st.success(md_text(f"{job.title}: done ({job.finished_at})."), icon=":material/check_circle:")
    elif job.status == STOPPED:
        st.warning(md_text(f"{job.title}: stopped ({job.finished_at}). What it stored is kept; starting it "
                           "again goes on from there."))
    else:
        st.error(md_text(f"{job.title}: failed at step {job.step + 1} ({job.current.label}): "
                         f"{job.error or 'no message'}"))
        if job.hint:
            st.caption(md_text(f"What to do: {job.hint}"))
    if not compact and job.folder is not None:
        with st.expander("What the commands printed"):
            st.code(_log_tail(job), language=None)


def _log_tail(job: Job, limit: int = 6000) -> str:
    from search.jobs.files import LOG_FILE

    assert job.folder is not None
    try:
        text = (job.folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [x for x in text.replace("\r", "\n").splitlines() if x.strip()]
    return "\n".join(lines)[-limit:]


def _stop(job: Job) -> None:
    from search.jobs import stop

    with shown("stopping the job"):
        if stop(job):
            st.toast("Stopping: the command at work finishes its batch first.")


def status_section(settings: Settings) -> None:
    """For the status panel: the last job, and "Update from PubMed" (``update`` then ``index``)."""
    with shown("reading the background jobs"):
        job = latest(settings)
        if job is not None and (job.running or job.kind != "first-run"):
            st.markdown("**Background job**")
            show(settings, job, compact=True)
        if job is None or not job.running:
            _update_form(settings, job)


def _update_form(settings: Settings, job: Job | None) -> None:
    from ingest.errors import MedsearchError
    from search.jobs import plans

    with st.expander("Update from PubMed"):
        st.caption("Fetches the new records of every query loaded from PubMed, and the records PubMed has "
                   "revised since (retractions, corrections), then rebuilds the index: `medsearch update`, "
                   "then `medsearch index`. Searches go on meanwhile.")
        with st.form("update-from-pubmed", border=False):
            email = st.text_input("Your e-mail (sent to NCBI)", value=default_email(settings, job))
            go = st.form_submit_button("Update from PubMed")
        if go:
            try:
                plan = plans.update_from_pubmed(email)
            except MedsearchError as exc:
                show_error(exc)
                return
            if start(settings, plan):
                st.rerun()


def default_email(settings: Settings, job: Job | None) -> str:
    """NCBI_EMAIL, else the e-mail the last job sent to NCBI."""
    return settings.ncbi_email or (job.email if job is not None else None) or ""
