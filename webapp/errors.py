"""Errors reach the user as a short message and what to do next, never as a traceback.

The project's errors (``ingest.errors.MedsearchError``) carry both: the message is shown
as an error box, the hint under it (Markdown-escaped: a message may quote what a user
typed or a shared link held). Anything else is a bug: the user reads one sentence
saying so, and the traceback goes to the server's log. Streamlit's own control flow
(``st.rerun``, ``st.stop``) derives from ``BaseException`` and passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ingest.diskfull import disk_full
from ingest.errors import MedsearchError
from search.query.syntax import QuerySyntaxError
from webapp.markup import md_text

log = logging.getLogger("medsearch.app")


def show_error(exc: MedsearchError) -> None:
    """One error box: the message (for a malformed query, the spot where it is wrong) and the hint."""
    if isinstance(exc, QuerySyntaxError):
        st.error(md_text(f"{exc.reason} (at character {exc.position + 1} of the query)"))
        st.code(f"{exc.query}\n{exc.caret_line}", language=None)
    else:
        st.error(md_text(exc.message))
    if exc.hint:
        st.caption(md_text(f"What to do: {exc.hint}"))


@contextmanager
def shown(doing: str) -> Iterator[None]:
    """Show what goes wrong inside the block (``doing``: e.g. "searching") instead of raising."""
    try:
        yield
    except MedsearchError as exc:
        show_error(exc)
    except Exception as exc:
        if (full := disk_full(exc)) is not None:
            show_error(full)
            return
        log.exception("unexpected error while %s", doing)
        st.error(f"Something went wrong while {doing}. It is not your fault: the details are in "
                 "the server's log. Try again, or reload the page.")


_NOTICES = "_notices"


def notify(text: str, *, error: MedsearchError | None = None) -> None:
    """A message for the next run of the page (callbacks cannot draw): what a button did, or
    the error it met."""
    st.session_state.setdefault(_NOTICES, []).append((text, error))


def reporting(callback):
    """``callback`` with its errors kept for the next run instead of raised (a callback's
    exception would reach the page as a traceback)."""
    from functools import wraps

    @wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except MedsearchError as exc:
            notify("", error=exc)
        except Exception as exc:
            if (full := disk_full(exc)) is not None:
                notify("", error=full)
                return None
            log.exception("unexpected error in %s", getattr(callback, "__name__", "a callback"))
            notify("Something went wrong: the details are in the server's log. Try again.")

    return run


def show_notices() -> None:
    """The messages left by callbacks since the last run."""
    for text, error in st.session_state.pop(_NOTICES, []):
        if error is not None:
            show_error(error)
        elif text.startswith("Something went wrong"):
            st.error(md_text(text))
        else:
            st.success(md_text(text))
