"""``wound dashboard``: the Streamlit app (``dashboard/``) on this machine, bound to 127.0.0.1.

The app reads the store the settings describe (the embedded store by default, AWS by settings
alone). Streamlit runs headless with error details hidden (the pages show clear messages) and
without usage statistics. To reach it from elsewhere, put it behind an authenticating reverse
proxy or Streamlit's OIDC login (docs/dashboard.md) rather than binding another address.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import wound
from wound.cli.common import console, fail


def app_path() -> Path:
    """``dashboard/app.py``: the dashboard package sits beside ``wound`` (same distribution);
    found by path, so nothing of it is imported here (and a ``dashboard.py`` script elsewhere
    on ``sys.path`` cannot shadow it)."""
    path = Path(wound.__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not path.is_file():
        fail(f"the dashboard is not installed beside wound ({path} missing)")
    return path


def streamlit_command(port: int, *, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line ``wound dashboard`` runs (the browser tests too)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]


def dashboard_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8501,
) -> None:
    """Start the dashboard (score captures, browse the store, patients over time, models).

    Bound to 127.0.0.1; stop it with Ctrl-C. Example: wound dashboard --port 8501
    """
    console.print(f"Dashboard on http://127.0.0.1:{port} (Ctrl-C stops it)")
    command = streamlit_command(port)
    # Streamlit replaces this process: Ctrl-C and SIGTERM reach it directly, no orphan is left.
    os.execv(command[0], command)


def register(app: typer.Typer) -> None:
    """Add ``wound dashboard`` to ``app``."""
    app.command("dashboard")(dashboard_command)
