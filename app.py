"""medsearch in the browser: `streamlit run app.py` (or `make run`).

A clinician's search screen over the engine, the summaries and the library; its parts are
in the `webapp` package, and the settings are the CLI's (MEDSEARCH_DB, ...; see README).
"""

from search import runtime_env

runtime_env.configure()  # first: onnxruntime's telemetry off, OpenMP's passive wait, before any runtime loads

from webapp.main import main  # noqa: E402

main()
