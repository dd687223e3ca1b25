"""Score-level evaluation: the wound score a user reads, against the truth, per held-out capture.

Per capture (:func:`capture_agreement`): the deployed score (:func:`wound.scoring.score_prediction`
on the predictor's output, with the model's saved operating point and indeterminate threshold)
beside the same quantities measured on the truth: wound area, each wound class's area, the area
unlikely to heal (truth wound pixels that do not heal), in cm² when the capture's pixel spacing
is known, else pixels; and the indeterminate region: its share of the predicted wound and the
error rate of the pixel readings inside and outside it (a reading is wrong when its class is, or,
on truth skin, its healing verdict at the operating point).

Over captures (:func:`agreement`): per quantity the totals, the median absolute error in % of the
truth, and Bland–Altman agreement (bias and 95% limits of agreement, bias ± 1.96 SD of the
differences, Bland & Altman 1986), in the area unit and in % of the truth; broken down by
skin-tone tertile by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.calibration import pixel_errors
from wound.capture import Capture
from wound.predict import Prediction
from wound.scoring import AreaUnit, score_prediction
from wound.tasks import get_task

#: Quantities of the agreement table (classes are added per task).
WOUND, NON_HEALING = "wound area", "unlikely to heal"


def capture_agreement(
    capture: Capture,
    prediction: Prediction,
    classes_true: np.ndarray,
    heal_true: np.ndarray | None,
    tertile: str | None,
) -> dict[str, Any]:
    """Predicted vs true areas and the indeterminate region's error rates of one capture."""
    spec = get_task(prediction.task)
    cid = capture.identity()
    score = score_prediction(prediction, capture_id=cid, spacing_mm=capture.spacing_mm)
    px = score.pixel_area
    wound_true = np.isin(classes_true, spec.wound_classes)
    areas: dict[str, tuple[float, float]] = {
        WOUND: (score.wound_area, float(wound_true.sum()) * px)
    }
    if len(spec.wound_classes) > 1:
        for c in score.classes:
            areas[c.name] = (c.area, float((classes_true == c.class_id).sum()) * px)
    if score.non_healing_area is not None and heal_true is not None:
        areas[NON_HEALING] = (score.non_healing_area, float((wound_true & ~heal_true).sum()) * px)
    wrong = pixel_errors(
        prediction.labels, prediction.healing_prob, classes_true, heal_true,
        prediction.healing_threshold, spec,
    )  # fmt: skip
    wound = prediction.wound_mask
    flagged = wound & (prediction.uncertainty > prediction.uncertainty_threshold)
    inside, outside = flagged, wound & ~flagged
    return {
        "capture_id": cid,
        "tertile": tertile,
        "unit": score.unit.value,
        "pixel_area": px,
        "areas": {k: {"predicted": p, "truth": t} for k, (p, t) in areas.items()},
        "indeterminate": {
            "share": score.indeterminate_share,
            "pixels_inside": int(inside.sum()),
            "wrong_inside": int((wrong & inside).sum()),
            "pixels_outside": int(outside.sum()),
            "wrong_outside": int((wrong & outside).sum()),
        },
    }


def _bland_altman(pred: np.ndarray, true: np.ndarray) -> dict[str, float | None]:
    d = pred - true
    if d.size == 0:
        return {"bias": None, "sd": None, "loa_low": None, "loa_high": None}
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    bias = float(d.mean())
    return {"bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd}


def _quantity(rows: Sequence[dict[str, Any]], name: str, unit_key: str) -> dict[str, Any] | None:
    pairs = [
        (r["areas"][name]["predicted"], r["areas"][name]["truth"], r["pixel_area"])
        for r in rows
        if name in r["areas"]
    ]
    if not pairs:
        return None
    arr = np.asarray(pairs, dtype=np.float64)
    if unit_key == "px":  # mixed or unknown spacing: everything in pixels
        arr[:, 0] /= arr[:, 2]
        arr[:, 1] /= arr[:, 2]
    pred, true = arr[:, 0], arr[:, 1]
    has = true > 0
    pct = np.full(true.shape, np.nan)
    pct[has] = (pred[has] - true[has]) / true[has] * 100
    total_t = float(true.sum())
    return {
        "captures": len(pred),
        "predicted_total": float(pred.sum()),
        "truth_total": total_t,
        "total_error_pct": (float(pred.sum()) - total_t) / total_t * 100 if total_t else None,
        "median_abs_error_pct": float(np.median(np.abs(pct[has]))) if has.any() else None,
        "median_error_pct": float(np.median(pct[has])) if has.any() else None,
        "bland_altman": _bland_altman(pred, true),
        "bland_altman_pct": _bland_altman(pct[has], np.zeros(int(has.sum()))),
        "points": {"predicted": pred.tolist(), "truth": true.tolist()},
    }


def agreement(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals, median absolute % error and Bland–Altman per quantity; indeterminate summary."""
    units = {r["unit"] for r in rows}
    unit = AreaUnit.CM2.value if units == {AreaUnit.CM2.value} else AreaUnit.PX.value
    names: list[str] = []
    for r in rows:
        names += [n for n in r["areas"] if n not in names]
    quantities = {n: q for n in names if (q := _quantity(rows, n, unit)) is not None}
    shares = [r["indeterminate"]["share"] for r in rows]
    n_in = sum(r["indeterminate"]["pixels_inside"] for r in rows)
    w_in = sum(r["indeterminate"]["wrong_inside"] for r in rows)
    n_out = sum(r["indeterminate"]["pixels_outside"] for r in rows)
    w_out = sum(r["indeterminate"]["wrong_outside"] for r in rows)
    rate_in = w_in / n_in if n_in else None
    rate_out = w_out / n_out if n_out else None
    ratio = rate_in / rate_out if rate_in is not None and rate_out else None
    return {
        "captures": len(rows),
        "unit": unit,
        "quantities": quantities,
        "indeterminate": {
            "median_share": float(np.median(shares)) if shares else None,
            "mean_share": float(np.mean(shares)) if shares else None,
            "error_rate_inside": rate_in,
            "error_rate_outside": rate_out,
            "error_ratio": ratio,
        },
    }


def agreement_with_breakdown(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`agreement` overall, per capture and per skin-tone tertile."""
    out = agreement(rows)
    out["per_capture"] = [{k: v for k, v in r.items() if k != "pixel_area"} for r in rows]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["tertile"] is not None:
            groups.setdefault(r["tertile"], []).append(r)
    if groups:
        out["by_fitzpatrick"] = {
            g: _strip(agreement(groups[g])) for g in ("I-II", "III-IV", "V-VI") if g in groups
        }
    return out


def _strip(summary: dict[str, Any]) -> dict[str, Any]:
    for q in summary["quantities"].values():
        q.pop("points", None)
    return summary
