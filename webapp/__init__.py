"""The parts of the Streamlit app (``app.py``): screens drawn from the library APIs.

The app holds no retrieval logic and no SQL: searches, facets and similar articles come
from :class:`search.engine.Engine`, summaries from :mod:`search.summarize`, saved queries
and citation lists from :mod:`search.library`, exports from :mod:`search.citations.export`.

- ``services``: the engine, summariser and library, loaded once per process;
- ``queries``: the engine's answers, cached per index snapshot;
- ``urlstate``: the search as URL query parameters, and back;
- ``markup``: the HTML of result cards and summaries, every piece of record text escaped;
- ``widgets``: the search box, the sidebar's filters and the view switch, kept in step
  with the URL;
- ``search_view``, ``cards``, ``summary_panel``, ``saved_view``, ``lists_view``,
  ``status_panel``: the screens;
- ``errors``: errors shown as a short message and what to do, never a traceback;
- ``main``: the page.
"""
