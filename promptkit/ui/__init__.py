"""``promptkit ui``: a local Streamlit playground, a thin shell over the library.

Pages: *Perguntar ao curso* (the chain ``promptkit ask`` uses, streamed, with its numbered sources),
*Laboratório de prompts* (versions or models side by side), *Avaliações* (results files, charts with CIs,
paired comparisons, one question up close), *Registro* (versions, labels, diffs; a label moves only after the
regression check has run) and *Moderação*.

The server listens on 127.0.0.1 only, sends no usage statistics and needs no account or network. Importing
this package is cheap: Streamlit loads only when the app runs (``pip install "promptkit[ui]"``).
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("app.py")
HOST = "127.0.0.1"
DEFAULT_PORT = 8501

#: Streamlit settings the playground always runs with: local only, no telemetry, no tracebacks in the page
SETTINGS = {
    "server.address": HOST,
    "browser.serverAddress": HOST,
    "browser.gatherUsageStats": "false",
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "global.developmentMode": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
}


def command(port: int = DEFAULT_PORT, *, open_browser: bool = False) -> list[str]:
    """The ``streamlit run`` command line of the playground."""
    settings = dict(
        SETTINGS, **{"server.port": str(port), "server.headless": "false" if open_browser else "true"}
    )
    return [sys.executable, "-m", "streamlit", "run", str(APP), *(f"--{k}={v}" for k, v in settings.items())]
