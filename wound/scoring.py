"""The wound score: areas by depth class, area unlikely to heal, indeterminate area; reports.

Definitions (pixel counts; areas are ``pixels * spacing_mm**2 / 100`` in cm² when the pixel
spacing is known, else pixels, and ``unit`` says which):

- wound: pixels whose depth class is a burn class (2-5, :data:`wound.taxonomy.WOUND_CLASSES`);
  for a wound-mask model, pixels labelled wound.
- per depth class: area and share of the wound area (shares of classes 2-5 sum to 1).
- unlikely to heal within 21 days ("non-healing"): wound pixels whose healing probability is
  below :data:`HEALING_THRESHOLD` (0.5); its outline as polygons (:mod:`wound.contour`).
- indeterminate: wound pixels whose uncertainty (:mod:`wound.predict`) is above
  :data:`INDETERMINATE_THRESHOLD` (0.5: e.g. a healing probability between 0.25 and 0.75).

An aid to the clinician; the non-healing contour is not an excision margin.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from wound.contour import Contour, mask_contours
from wound.predict import Prediction
from wound.quality import QualityVerdict
from wound.taxonomy import DEPTH_NAMES, WOUND_CLASSES

HEALING_THRESHOLD = 0.5
INDETERMINATE_THRESHOLD = 0.5
DISCLAIMER = "An aid to the clinician; the non-healing contour is not an excision margin."


class ClassArea(BaseModel):
    model_config = ConfigDict(frozen=True)

    class_id: int
    name: str
    pixels: int
    area: float
    share: float  # of the wound area


class WoundScore(BaseModel):
    """What the clinician sees; stored as the prediction record's ``score``."""

    model_config = ConfigDict(frozen=True)

    refused: Literal[False] = False
    capture_id: str
    task: str
    model_id: str
    model_version: str
    unit: Literal["cm2", "px"]
    spacing_mm: float | None
    pixel_area: float
    shape: tuple[int, int]
    wound_pixels: int
    wound_area: float
    classes: list[ClassArea]
    non_healing_pixels: int | None
    non_healing_area: float | None
    non_healing_share: float | None
    non_healing_contours: list[Contour]
    indeterminate_pixels: int
    indeterminate_area: float
    indeterminate_share: float
    healing_threshold: float = HEALING_THRESHOLD
    uncertainty_threshold: float = INDETERMINATE_THRESHOLD
    quality_flags: list[str] = []
    quality_metrics: dict[str, Any] = {}
    timings_ms: dict[str, float] = {}
    provenance: dict[str, Any] = {}
    note: str = DISCLAIMER


def score_prediction(
    prediction: Prediction,
    *,
    capture_id: str,
    spacing_mm: float | None,
    quality: QualityVerdict | None = None,
    timings_ms: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> WoundScore:
    """Turn per-pixel maps into the wound score (definitions in the module docstring)."""
    pixel_area = spacing_mm**2 / 100.0 if spacing_mm else 1.0
    unit: Literal["cm2", "px"] = "cm2" if spacing_mm else "px"
    wound = prediction.wound_mask
    n_wound = int(wound.sum())

    def share(n: int) -> float:
        return n / n_wound if n_wound else 0.0

    classes: list[ClassArea] = []
    if prediction.task == "burn-depth":
        counts = np.bincount(prediction.labels.ravel(), minlength=256)
        for cid in WOUND_CLASSES:
            n = int(counts[cid])
            classes.append(
                ClassArea(
                    class_id=cid,
                    name=DEPTH_NAMES[cid],
                    pixels=n,
                    area=n * pixel_area,
                    share=share(n),
                )
            )
    nh_px: int | None = None
    contours: list[Contour] = []
    if prediction.healing_prob is not None:
        non_healing = wound & (prediction.healing_prob < HEALING_THRESHOLD)
        nh_px = int(non_healing.sum())
        contours = mask_contours(non_healing, spacing_mm=spacing_mm)
    ind_px = int((wound & (prediction.uncertainty > INDETERMINATE_THRESHOLD)).sum())
    h, w = prediction.labels.shape
    return WoundScore(
        capture_id=capture_id,
        task=prediction.task,
        model_id=prediction.model_id,
        model_version=prediction.model_version,
        unit=unit,
        spacing_mm=spacing_mm,
        pixel_area=pixel_area,
        shape=(h, w),
        wound_pixels=n_wound,
        wound_area=n_wound * pixel_area,
        classes=classes,
        non_healing_pixels=nh_px,
        non_healing_area=None if nh_px is None else nh_px * pixel_area,
        non_healing_share=None if nh_px is None else share(nh_px),
        non_healing_contours=contours,
        indeterminate_pixels=ind_px,
        indeterminate_area=ind_px * pixel_area,
        indeterminate_share=share(ind_px),
        quality_flags=[f.message for f in quality.flags] if quality else [],
        quality_metrics=dict(quality.metrics) if quality else {},
        timings_ms={k: round(v, 2) for k, v in (timings_ms or prediction.timings_ms).items()},
        provenance=provenance or {},
    )


def refusal_score(
    capture_id: str,
    verdict: QualityVerdict,
    *,
    model_id: str,
    model_version: str = "",
    timings_ms: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The score stored for a refused capture: ``{"refused": true, "reasons": [...]}`` and more."""
    return {
        "refused": True,
        "capture_id": capture_id,
        "model_id": model_id,
        "model_version": model_version,
        "reasons": verdict.reason_messages,
        "codes": [r.code for r in verdict.reasons],
        "quality_metrics": dict(verdict.metrics),
        "timings_ms": {k: round(v, 2) for k, v in (timings_ms or {}).items()},
        "provenance": provenance or {},
        "note": "No score: the capture failed the input-quality gate. Retake the image.",
    }


def render_json(score: WoundScore | dict[str, Any]) -> str:
    data = score.model_dump(mode="json") if isinstance(score, WoundScore) else score
    return json.dumps(data, indent=2, sort_keys=False)


def render_text(score: WoundScore | dict[str, Any]) -> str:
    """A short report for people (a refusal lists its reasons)."""
    data = score.model_dump(mode="json") if isinstance(score, WoundScore) else score
    head = f"Capture {data['capture_id']} — model {data['model_id']}"
    if data.get("model_version"):
        head += f" ({data['model_version']})"
    if data.get("refused"):
        lines = [head, "REFUSED: no score (input-quality gate)."]
        lines += [f"  - {r}" for r in data.get("reasons", [])]
        lines.append(data.get("note", ""))
        return "\n".join(lines)
    unit = "cm²" if data["unit"] == "cm2" else "px (pixel spacing unknown)"
    lines = [head, f"Wound area: {_num(data['wound_area'])} {unit}"]
    for c in data.get("classes", []):
        lines.append(f"  {c['name']:<31} {_num(c['area']):>9} {unit.split()[0]}  {c['share']:6.1%}")
    if data.get("non_healing_area") is not None:
        n = len(data.get("non_healing_contours", []))
        lines.append(
            f"Unlikely to heal within 21 days (healing probability < {data['healing_threshold']}): "
            f"{_num(data['non_healing_area'])} {unit.split()[0]} "
            f"({data['non_healing_share']:.1%} of the wound; {n} contour(s))"
        )
    lines.append(
        f"Indeterminate (uncertainty > {data['uncertainty_threshold']}): "
        f"{_num(data['indeterminate_area'])} {unit.split()[0]} "
        f"({data['indeterminate_share']:.1%} of the wound)"
    )
    if data.get("quality_flags"):
        lines.append("Quality flags: " + "; ".join(data["quality_flags"]))
    if data.get("timings_ms"):
        t = data["timings_ms"]
        lines.append("Timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in t.items()))
    lines.append(data.get("note") or DISCLAIMER)
    return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:.2f}" if abs(x - round(x)) > 1e-9 or x < 100 else f"{x:.0f}"


__all__ = [
    "DISCLAIMER",
    "HEALING_THRESHOLD",
    "INDETERMINATE_THRESHOLD",
    "ClassArea",
    "WoundScore",
    "refusal_score",
    "render_json",
    "render_text",
    "score_prediction",
]
