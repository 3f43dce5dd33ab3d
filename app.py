"""medsearch in the browser: `streamlit run app.py` (or `make run`, or `medsearch app`).

A clinician's search screen over the engine, the summaries and the library; its parts are
in the `webapp` package, and the settings are the CLI's (MEDSEARCH_HOME, MEDSEARCH_DB, ...;
see README). The page itself is webapp/page.py, which an installed wheel starts too;
Streamlit runs this file on every interaction, and this file runs that page.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "webapp" / "page.py"), run_name="__main__")
