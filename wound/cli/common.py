"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from wound.settings import Settings
from wound.store.base import CaptureStore


def make_console(*, stderr: bool = False) -> Console:
    """A console; when output is not a terminal (logs, CI), wide enough for the tables."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=200)


console = make_console()
err_console = make_console(stderr=True)


def literal(text: object, style: str = "") -> Text:
    """User text (file names, ids, messages holding them) shown exactly as it is: never read as
    console markup, and control characters, line breaks and undecodable bytes (lone
    surrogates) shown as escapes, so one item is always one line."""
    raw = str(text)
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in raw)
    return Text(shown, style=style)


def error_line(message: object) -> Text:
    """``error: <message>``, the message shown literally."""
    return Text.assemble(("error:", "red"), " ", literal(message))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    err_console.print(error_line(message), soft_wrap=True)
    raise typer.Exit(code)


def parse_wavelengths(text: str | None) -> list[float] | None:
    """``--wavelengths 460,550,640`` -> floats; anything else is a usage error (exit 2)."""
    if text is None or not text.strip():
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            "give band centres in nm separated by commas, e.g. 460,550,640",
            param_hint="--wavelengths",
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise typer.BadParameter("wavelengths must be finite numbers", param_hint="--wavelengths")
    return values


# --- the options ``wound ingest`` and ``wound predict FILE`` share (one way into the store) ---
SubjectOption = Annotated[
    str | None, typer.Option(help="Subject id for files without one (pseudonymised).")
]
WoundIdOption = Annotated[
    str | None, typer.Option(help="Wound of the subject (w1, left-heel; pseudonymised).")
]
WoundTypeOption = Annotated[
    str | None, typer.Option(help="burn, dfu or other, for files without one.")
]
WavelengthsOption = Annotated[
    str | None, typer.Option(help="Comma-separated band wavelengths (nm) if not in files.")
]
MasksOption = Annotated[
    Path | None, typer.Option(help="Folder of wound masks (same stem, .png) for photos.")
]


def ingest_metadata(
    subject: str | None, wound_id: str | None, wound_type: str | None
) -> dict[str, Any] | None:
    """The metadata the shared options give (None when none is given)."""
    given = {"subject": subject, "wound_id": wound_id, "wound_type": wound_type}
    metadata = {k: v for k, v in given.items() if v}
    return metadata or None


def open_configured_store(settings: Settings, *, init: bool = True) -> CaptureStore:
    """The store the settings describe; the embedded default is created on first use."""
    from wound.store import open_store

    store = open_store(settings)
    if init and settings.backend == "local":
        store.init()
    return store
