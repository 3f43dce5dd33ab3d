"""Status, in the sidebar: how many records the index holds, when the store last changed,
whether the index is behind the store (with the command that brings it up to date),
whether an ingest is running, where the records came from and how to update them from
PubMed, and which models are in use.
"""

from __future__ import annotations

import streamlit as st

from webapp import jobs_view
from webapp.corpus_info import UPDATE_HOW, corpus_info
from webapp.errors import shown
from webapp.markup import md_text
from webapp.services import Services


def status(services: Services) -> None:
    """The index and the store, and the models."""
    with shown("reading the index status"):
        info = services.engine.status()
        bar = st.sidebar
        if not info.fresh:
            bar.warning("The index is behind the store: new or changed records are not searched yet. "
                        "Run `medsearch index`.", icon=":material/update:")
        if info.writer:
            bar.info(md_text(f"An ingest or index run is at work: {info.writer}. Searches keep using "
                             "the last complete index."))
        with bar.expander("Index, store and models", expanded=not info.fresh):
            st.markdown(md_text(f"Records searched: {info.records or 0:,} (index built {info.built_at or '?'}; "
                                f"snapshot {services.engine.snapshot.name})."))
            if info.store_records is not None:
                st.markdown(md_text(f"Store: {info.store_records:,} records, last changed "
                                    f"{info.store_changed_at or '?'}."))
            st.markdown(md_text("Index up to date with the store." if info.fresh else info.message))
            corpus = corpus_info(services.engine.snapshot.manifest)
            st.markdown(md_text(f"Sources: {corpus.from_text}; {corpus.pubmed_text}."))
            st.caption(f"To update: {UPDATE_HOW}")
            for role, what in services.models:
                st.markdown(md_text(f"{role}: {what}"))
            st.caption(md_text(f"Library: {services.settings.library_path}"))
        with bar:
            jobs_view.status_section(services.settings)  # the background job, "Update from PubMed"
