"""``medsearch app [--host H] [--port P]``: start the Streamlit app (the `app` extra) on the
current index; what `make app` does in a checkout, for an installed wheel too."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.util import find_spec
from pathlib import Path

from ingest.errors import ConfigError
from search.config import Settings


def register(commands: argparse._SubParsersAction) -> None:
    app = commands.add_parser(
        "app",
        help="start the app in the browser (needs the app extra)",
        description="Start the Streamlit app on this machine, over the store and index the settings "
        "name (MEDSEARCH_HOME, MEDSEARCH_DB ...). With no records yet it opens on its first-run screen.",
    )
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    app.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    app.set_defaults(handler=cmd_app)


def streamlit_command(host: str, port: int) -> list[str]:
    """The command line that serves the packaged page (webapp/page.py)."""
    page = Path(__file__).resolve().parents[2] / "webapp" / "page.py"
    return [sys.executable, "-m", "streamlit", "run", str(page), "--server.address", host,
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def cmd_app(args: argparse.Namespace, settings: Settings) -> int:
    if find_spec("streamlit") is None:
        raise ConfigError("The app needs the app extra (Streamlit), which is not installed.",
                          hint="pip install 'medsearch[app]' (in a checkout: make run).")
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port} is not a port number.", hint="Give 1-65535, e.g. 8501.")
    print(f"medsearch app: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    command = streamlit_command(args.host, args.port)
    os.execv(command[0], command)
    return 0  # not reached
