"""``wound summary``: one table of wound scores per capture plus the model's evaluation headline."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from wound.cli.common import console, open_configured_store
from wound.errors import RecordNotFoundError
from wound.score_format import SUMMARY_COLUMNS, summary_cells
from wound.scoring import DISCLAIMER, Refusal, Score, parse_score
from wound.settings import get_settings
from wound.store.base import CaptureStore
from wound.tasks import DEFAULT_TASK

HEADLINE_KEYS = ("healing_auc", "sensitivity", "specificity", "accuracy", "mean_dice", "ece")
#: The targets on held-out subjects (issues 11 and 14): headline key, label, test, as text.
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("healing_auc", "healing AUC", ">= 0.95"),
    ("sensitivity", "sensitivity at op. point", ">= 0.85"),
    ("specificity", "specificity at op. point", ">= 0.85"),
    ("ece", "ECE, calibrated", "<= 0.03"),
    ("healing_auc_gap_light_dark", "AUC gap light - dark", "reported"),
    ("wound_area_median_abs_error_pct", "wound area median |error| %", "<= 5"),
    ("unlikely_to_heal_total_error_pct", "unlikely to heal, total error %", "within ±10"),
    ("indeterminate_median_share", "indeterminate median share", "<= 0.15"),
    ("indeterminate_error_ratio", "error rate in / out indeterminate", ">= 3"),
)


def summary_command(
    model: Annotated[
        str | None, typer.Option(help="Model id (default: the latest burn-depth model).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most captures shown.")] = 500,
) -> None:
    """Summarise the wound scores of every capture and the model's evaluation headline.

    Per capture: wound area, area by depth class, share unlikely to heal within 21 days,
    indeterminate share; then healing AUC, Dice and the spectral baseline's numbers.
    Example: wound summary
    """
    store = open_configured_store(get_settings())
    record = store.get_model(model, task=None if model else DEFAULT_TASK)
    rows = _score_rows(store, record.model_id, limit)
    table = Table(
        title=f"Wound scores by {record.model_id} ({len(rows)} captures)",
        caption="Class areas in the unit of the wound area; shares are of the wound area.",
    )
    table.add_column("capture")
    table.add_column(SUMMARY_COLUMNS[0], max_width=40)  # quality
    table.add_column(SUMMARY_COLUMNS[1])  # wound area, with its unit
    for title in SUMMARY_COLUMNS[2:]:
        table.add_column(title, justify="right")
    for capture_id, score in rows:
        cells = [escape(cell) for cell in summary_cells(score)]
        if isinstance(score, Refusal):
            cells[0] = "[red]refused[/]: " + escape("; ".join(score.reasons))
        table.add_row(capture_id, *cells)
    console.print(table)
    console.print(_headline_table(record.info))
    console.print(_targets_table(record.info))
    console.print(f"[italic]{DISCLAIMER}[/]")


def _score_rows(store: CaptureStore, model_id: str, limit: int) -> list[tuple[str, Score]]:
    rows: list[tuple[str, Score]] = []
    for capture in store.iter_captures():
        try:
            prediction, _ = store.get_prediction(capture.capture_id, model_id, with_arrays=False)
        except RecordNotFoundError:
            continue
        where = f"prediction of capture {capture.capture_id} by {model_id}"
        rows.append((capture.capture_id, parse_score(prediction.score, where=where)))
        if len(rows) >= limit:
            break
    return rows


def _headline_table(info: dict[str, Any]) -> Table:
    head = info.get("metrics_headline") or {}
    table = Table(title="Evaluation on held-out subjects (CNN vs per-pixel spectral baseline)")
    for column in ("metric", "CNN", "spectral baseline (LDA)"):
        table.add_column(column)
    for key in HEADLINE_KEYS:
        if key in head:
            table.add_row(key, _fmt(head.get(key)), _fmt(head.get(f"baseline_{key}")))
    return table


def target_met(value: Any, target: str) -> bool | None:
    """Whether ``value`` meets ``target`` (None when the target is only reported or no value)."""
    if not isinstance(value, int | float) or target == "reported":
        return None
    if target.startswith("within ±"):
        return abs(value) <= float(target.removeprefix("within ±"))
    op, bound = target.split()
    return value >= float(bound) if op == ">=" else value <= float(bound)


def _targets_table(info: dict[str, Any]) -> Table:
    head = info.get("metrics_headline") or {}
    table = Table(title="Targets on held-out subjects (calibrated model, saved operating point)")
    for column in ("target", "value", "goal", "met"):
        table.add_column(column)
    for key, label, goal in TARGETS:
        value = head.get(key)
        met = target_met(value, goal)
        mark = "-" if met is None else "[green]yes[/]" if met else "[red]no[/]"
        if key == "ece" and head.get("ece_before_calibration") is not None:
            label += f" (before: {head['ece_before_calibration']:.3f})"
        table.add_row(label, _fmt(value), goal, mark)
    return table


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-" if value is None else str(value)


def register(app: typer.Typer) -> None:
    app.command("summary")(summary_command)
