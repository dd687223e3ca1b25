"""Helpers shared by the CLI command modules."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from wound.settings import Settings
from wound.store.base import CaptureStore


def make_console(*, stderr: bool = False) -> Console:
    """A console; when output is not a terminal (logs, CI), wide enough for the tables."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=200)


console = make_console()
err_console = make_console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    err_console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def open_configured_store(settings: Settings, *, init: bool = True) -> CaptureStore:
    """The store the settings describe; the embedded default is created on first use."""
    from wound.store import open_store

    store = open_store(settings)
    if init and settings.backend == "local":
        store.init()
    return store
