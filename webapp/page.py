"""The Streamlit script of the app, inside the package so an installed wheel can start it
(`medsearch app`); `app.py` at the top of a checkout runs the same page. Streamlit executes this
file on every interaction, so it only configures the runtimes and draws the page."""

from search import runtime_env

runtime_env.configure()  # first: onnxruntime's telemetry off, OpenMP's passive wait, before any runtime loads

from webapp.main import main  # noqa: E402

main()
