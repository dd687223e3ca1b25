"""Scores for people: the one place a :data:`~wound.scoring.Score` becomes text.

Used by ``wound score`` (:func:`render_text`, :func:`render_json`), ``wound summary`` (a table:
:data:`SUMMARY_COLUMNS`, :func:`summary_cells`), the predict pipeline's one line per capture
(:func:`one_line`) and the dashboard. Every function takes a typed score or a stored dict (old
or new shape, read with :func:`~wound.scoring.parse_score`). Units come from the score's
:class:`~wound.scoring.AreaUnit`, never spelled here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wound.scoring import DISCLAIMER, Refusal, Score, WoundScore, parse_score
from wound.taxonomy import WOUND_CLASSES

#: Short titles of the wound classes for table columns (full names in wound.taxonomy).
SHORT_CLASS_NAMES = {2: "superficial", 3: "sup. partial", 4: "deep partial", 5: "full thickness"}
#: Columns of :func:`summary_cells`, after the capture id.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "quality",
    "wound area",
    *(SHORT_CLASS_NAMES[c] for c in WOUND_CLASSES),
    "unlikely to heal",
    "indeterminate",
)

ScoreLike = Score | Mapping[str, Any]


def area_text(value: float, score: WoundScore) -> str:
    """``0.75 cm²`` or ``300 px``: a number in the score's unit."""
    return f"{number(value)} {score.unit.label}"


def number(x: float) -> str:
    """Two decimals, or a whole number for large integral values (pixel counts)."""
    return f"{x:.2f}" if abs(x - round(x)) > 1e-9 or x < 100 else f"{x:.0f}"


def render_json(score: ScoreLike) -> str:
    """The score as indented JSON (the stored shape, with its ``kind``)."""
    return json.dumps(parse_score(score).model_dump(mode="json"), indent=2, sort_keys=False)


def render_text(score: ScoreLike) -> str:
    """A short report for people (a refusal lists its reasons)."""
    s = parse_score(score)
    head = f"Capture {s.capture_id} — model {s.model_id}"
    if s.model_version:
        head += f" ({s.model_version})"
    if isinstance(s, Refusal):
        lines = [head, "REFUSED: no score (input-quality gate)."]
        lines += [f"  - {r}" for r in s.reasons]
        lines.append(s.note)
        return "\n".join(lines)
    unit = s.unit.label
    lines = [head, f"Wound area: {number(s.wound_area)} {s.unit.description}"]
    for c in s.classes:
        lines.append(f"  {c.name:<31} {number(c.area):>9} {unit}  {c.share:6.1%}")
    if s.non_healing_area is not None and s.non_healing_share is not None:
        lines.append(
            f"Unlikely to heal within 21 days (healing probability < {s.healing_threshold:.2f}): "
            f"{area_text(s.non_healing_area, s)} "
            f"({s.non_healing_share:.1%} of the wound; {len(s.non_healing_contours)} contour(s))"
        )
    lines.append(
        f"Indeterminate (probability the reading is wrong > {s.uncertainty_threshold:.2f}): "
        f"{area_text(s.indeterminate_area, s)} ({s.indeterminate_share:.1%} of the wound)"
    )
    if s.quality_flags:
        lines.append("Quality flags: " + "; ".join(s.quality_flags))
    if s.timings_ms:
        lines.append("Timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in s.timings_ms.items()))
    lines.append(s.note or DISCLAIMER)
    return "\n".join(lines)


def one_line(score: ScoreLike) -> str:
    """``wound 0.75 cm², unlikely to heal 33%, indeterminate 8%``, or a refusal's reasons."""
    s = parse_score(score)
    if isinstance(s, Refusal):
        return "; ".join(s.reasons)
    parts = [f"wound {s.wound_area:.2f} {s.unit.label}"]
    if s.non_healing_share is not None:
        parts.append(f"unlikely to heal {s.non_healing_share:.0%}")
    parts.append(f"indeterminate {s.indeterminate_share:.0%}")
    return ", ".join(parts)


def summary_cells(score: ScoreLike) -> tuple[str, ...]:
    """One table row in :data:`SUMMARY_COLUMNS` order (a refusal: its reasons, blanks after).

    Class areas are in the unit of the wound area; shares are of the wound area.
    """
    s = parse_score(score)
    if isinstance(s, Refusal):
        return ("refused: " + "; ".join(s.reasons), *[""] * (len(SUMMARY_COLUMNS) - 1))
    areas = {c.class_id: c.area for c in s.classes}
    return (
        "ok",
        f"{s.wound_area:.2f} {s.unit.label}",
        *(f"{areas.get(cls, 0.0):.2f}" for cls in WOUND_CLASSES),
        "-" if s.non_healing_share is None else f"{s.non_healing_share:.0%}",
        f"{s.indeterminate_share:.0%}",
    )


__all__ = [
    "SHORT_CLASS_NAMES",
    "SUMMARY_COLUMNS",
    "area_text",
    "number",
    "one_line",
    "render_json",
    "render_text",
    "summary_cells",
]
