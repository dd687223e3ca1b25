"""``wound timeline``: a subject's wounds visit by visit (area, change, 4-week verdict)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wound.cli.common import console, fail, open_configured_store
from wound.errors import RecordNotFoundError
from wound.settings import get_settings
from wound.timeline import Timeline, WoundTimeline, wound_timeline


def timeline_command(
    subject: Annotated[
        str,
        typer.Argument(help="Subject id as given at ingest (pseudonymised here) or its pseudonym."),
    ],
    wound: Annotated[
        str | None, typer.Option(help="Only this wound (label as given at ingest, or pseudonym).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
) -> None:
    """Show every visit of a subject's wounds: area (cm²), percent reduction from the first
    visit, predicted healing probability, and the 53 %-at-4-weeks verdict once week 4 is reached.

    Example: wound timeline phantom-dfu003 --wound w1
    """
    settings = get_settings()
    store = open_configured_store(settings)
    try:
        timeline = wound_timeline(
            store, subject, wound, pseudonym_key=settings.pseudonym_key_bytes()
        )
    except ValueError as exc:
        fail(f"not a subject or wound id: {exc}")
    except RecordNotFoundError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(timeline.model_dump_json(indent=2))
        return
    render(timeline)


def render(timeline: Timeline) -> None:
    """The timeline as one table per wound, its verdict and the note."""
    console.print(f"Subject {timeline.subject}")
    for wound in timeline.wounds:
        console.print(_table(wound))
        if wound.verdict is not None:
            colour = "green" if wound.verdict.on_track else "yellow"
            console.print(f"[{colour}]4-week verdict:[/] {wound.verdict.text}")
        elif wound.wound_type != "burn":
            console.print("4-week verdict: not yet (no visit 4 weeks after the first)")
    console.print(f"[italic]{timeline.note}[/]")


def _table(wound: WoundTimeline) -> Table:
    table = Table(title=f"Wound {wound.wound_id} ({wound.wound_type}), {len(wound.visits)} visits")
    for column in ("visit", "date (UTC)", "day", "area (cm²)", "from", "change", "P(heal)"):
        table.add_column(column, justify="left" if column in ("date (UTC)", "from") else "right")
    for v in wound.visits:
        table.add_row(
            str(v.visit),
            v.captured_at.strftime("%Y-%m-%d"),
            f"{v.days_since_first_visit:g}",
            "-" if v.area_cm2 is None else f"{v.area_cm2:.2f}",
            v.area_source + (" (refused)" if v.prediction_status == "refused" else ""),
            "-" if v.percent_reduction is None else f"{(-v.percent_reduction) or 0.0:+.0f} %",
            "-" if v.healing_probability is None else f"{v.healing_probability:.2f}",
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("timeline")(timeline_command)
