"""The printable one-page report of a score, for the chart (PNG or PDF, A4 portrait).

Matplotlib's object API (no pyplot: no global state, safe in Streamlit's threads). The report
holds the picture the operator saw, its legend, the areas in the score's unit, the model and the
aid-only wording; a refusal holds its reasons and no map.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from dashboard.render import CONTOUR_COLOUR
from wound.score_format import area_text
from wound.scoring import DISCLAIMER, Refusal, WoundScore
from wound.tasks import get_task

A4_INCHES = (8.27, 11.69)


def report_figure(
    score: WoundScore | Refusal,
    picture: Image.Image | None,
    *,
    captured_at: datetime | None = None,
    wound_type: str | None = None,
) -> Figure:
    """The report page as a matplotlib figure."""
    fig = Figure(figsize=A4_INCHES)
    fig.text(0.06, 0.955, "Wound score", fontsize=20, weight="bold")
    fig.text(0.06, 0.935, "An aid to the clinician, not a diagnosis.", fontsize=10, style="italic")
    when = captured_at.strftime("%Y-%m-%d %H:%M UTC") if captured_at else "unknown"
    head = [
        f"Capture: {score.capture_id}",
        f"Captured: {when}" + (f"   Wound type: {wound_type}" if wound_type else ""),
        f"Model: {score.model_id}"
        + (f"  (version {score.model_version})" if score.model_version else ""),
        f"Report made: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
    ]
    for i, line in enumerate(head):
        fig.text(0.06, 0.905 - i * 0.018, line, fontsize=9, family="monospace")
    if isinstance(score, Refusal):
        _refusal(fig, score)
    else:
        _score(fig, score, picture)
    fig.text(0.06, 0.03, DISCLAIMER, fontsize=9, style="italic", wrap=True)
    return fig


def _refusal(fig: Figure, score: Refusal) -> None:
    fig.text(
        0.06,
        0.8,
        "REFUSED by the input-quality gate: no score, no map.",
        fontsize=13,
        color="#b00020",
        weight="bold",
    )
    y = 0.77
    for reason in score.reasons:
        fig.text(0.08, y, f"- {reason}", fontsize=10, wrap=True)
        y -= 0.025
    fig.text(0.06, y - 0.01, score.note, fontsize=10)


def _score(fig: Figure, score: WoundScore, picture: Image.Image | None) -> None:
    spec = get_task(score.task)
    if picture is not None:
        ax = fig.add_axes((0.06, 0.4, 0.88, 0.42))
        ax.imshow(np.asarray(picture))
        ax.set_axis_off()
        handles = [
            Patch(facecolor=spec.class_colours[c], edgecolor="#444", label=spec.class_names[c])
            for c in spec.wound_classes
        ]
        if spec.has_healing:
            handles.append(
                Patch(
                    facecolor="none",
                    edgecolor=CONTOUR_COLOUR,
                    linewidth=2,
                    label="unlikely to heal within 21 days (contour)",
                )
            )
        handles.append(
            Patch(
                facecolor="#bbbbbb", hatch="///", edgecolor="#444", label="indeterminate (hatched)"
            )
        )
        fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.345),
            ncol=3,
            fontsize=8,
            frameon=False,
        )
    rows = [("Wound area", area_text(score.wound_area, score), "100%")]
    rows += [(c.name, area_text(c.area, score), f"{c.share:.1%}") for c in score.classes]
    if score.non_healing_area is not None and score.non_healing_share is not None:
        rows.append(
            (
                "Unlikely to heal within 21 days",
                area_text(score.non_healing_area, score),
                f"{score.non_healing_share:.1%}",
            )
        )
    rows.append(
        (
            f"Indeterminate (uncertainty > {score.uncertainty_threshold:g})",
            area_text(score.indeterminate_area, score),
            f"{score.indeterminate_share:.1%}",
        )
    )
    table_ax = fig.add_axes((0.06, 0.1, 0.88, 0.22))
    table_ax.set_axis_off()
    table = table_ax.table(
        cellText=[list(r) for r in rows],
        colLabels=["", f"Area ({score.unit.label})", "Share of wound"],
        colWidths=[0.56, 0.22, 0.22],
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    for (row, _col), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(weight="bold")
    notes = []
    if score.unit.value == "px":
        notes.append("Pixel spacing unknown: areas are in pixels.")
    if score.quality_flags:
        notes.append("Quality flags: " + "; ".join(score.quality_flags))
    for i, note in enumerate(notes):
        fig.text(0.06, 0.075 - i * 0.016, note, fontsize=8, wrap=True)


def report_bytes(fig: Figure, fmt: Literal["png", "pdf"]) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None)
    return buffer.getvalue()
