"""The page's frame: its icon (a local file: nothing is fetched from another server), the
layout rules for phone-width screens, and the keyboard: the search box has focus when the
page opens, ``/`` focuses it, and a new page of results starts at the top.

The one script of the app is here, fixed text with no record or user text in it (only a
number that changes with the results shown, so that it runs again for a new page).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import streamlit as st

ICON = Path(__file__).with_name("assets") / "icon.png"
SEARCH_LABEL = "Search PubMed records"

#: Below 640 px Streamlit stacks columns; the summary's column then comes before the cards.
LAYOUT_STYLE = """<style>
@media (max-width: 640px) {
  [data-testid="stColumn"]:has(.st-key-ms-summary) { order: -1; }
}
</style>"""

_SCRIPT = """<script>
(() => {
  const box = () => document.querySelector('input[aria-label="%(label)s"]');
  if (!window.__msKeys) {
    window.__msKeys = true;
    document.addEventListener('keydown', (e) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      const b = box();
      if (b) { e.preventDefault(); b.focus(); b.select(); }
    });
    const started = Date.now();
    const focus = () => {
      const b = box();
      if (b) { if (!document.activeElement || document.activeElement === document.body) b.focus(); }
      else if (Date.now() - started < 10000) setTimeout(focus, 50);
    };
    focus();
  }
  const view = %(view)d;
  if (window.__msView !== undefined && window.__msView !== view) {
    const main = document.querySelector('[data-testid="stMain"]');
    if (main) main.scrollTo({top: 0});
    window.scrollTo({top: 0});
  }
  window.__msView = view;
})();
</script>"""


def configure() -> None:
    """The first command of every run: title, icon (served by this server), wide layout."""
    st.set_page_config(page_title="medsearch", page_icon=str(ICON), layout="wide")


def keyboard(view: object) -> None:
    """Focus and ``/`` for the search box; a change of ``view`` (what is shown: query, filters,
    order, page) scrolls to the top."""
    number = zlib.crc32(repr(view).encode())
    st.html(_SCRIPT % {"label": SEARCH_LABEL, "view": number}, unsafe_allow_javascript=True)
