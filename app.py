"""medsearch in the browser: `streamlit run app.py` (or `make run`).

A clinician's search screen over the engine, the summaries and the library; its parts are
in the `webapp` package, and the settings are the CLI's (MEDSEARCH_DB, ...; see README).
"""

import search.llm.local  # noqa: F401, I001 - first: sets OpenMP's passive wait before any library loads it
from webapp.main import main

main()
