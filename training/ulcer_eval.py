"""Ulcer healing from the first visit: the model against two clinic baselines, same subjects.

On the held-out subjects' ulcers (those with a first visit and a visit at 2 weeks), the outcome
is ">= 50 % area reduction at 4 weeks" (``ReferenceData.percent_area_reduction_4w``). Three
scores, each with AUC, sensitivity and specificity at an operating point chosen before the
held-out subjects are seen (positive = responder), ECE where the score is a probability, and
the AUC per skin-tone tertile:

1. the ``ulcer-healing`` model: its capture-level probability at the first visit
   (:mod:`wound.outcome`), at the operating point saved with it (calibration split);
2. a spectral oximetry index: logistic regression on the log band ratios (each band over the
   longest-wavelength band) of the mean periwound spectrum at the first visit, periwound = the
   ring within 10 mm of the true ulcer edge (what a clinic reading an oximeter around a traced
   ulcer has), fitted on the training subjects, balanced operating point there;
3. the area trend at visit 3: percent area reduction from the first visit to the visit 2 weeks
   later (true areas), balanced operating point on the training subjects; not a probability,
   so no ECE.

docs/longitudinal.md explains the design; ``wound train`` prints the table (:func:`markdown`) and
registers it with the model (``ulcer-healing.md``, ``report.json`` key ``outcome``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from training.calibration import choose_operating_point
from training.metrics import calibration as reliability
from training.metrics import fitzpatrick_tertile, roc_auc
from training.ulcer_outcome import (
    OPERATING_RULE,
    OUTCOME_BINS,
    first_visits,
    fit_logistic,
    outcome_label,
)
from wound.capture import Capture
from wound.networks import ModelInfo
from wound.outcome import periwound_ring
from wound.predict import Prediction, Predictor

MODEL, OXIMETRY, AREA = (
    "ulcer-healing model (visit 1)",
    "spectral oximetry index (visit 1)",
    ("area trend at visit 3 (2 weeks)"),
)
#: The visit the area trend reads: 14 days after the first (± 2 days of scheduling).
TREND_DAY, TREND_SLACK = 14.0, 2.0


def true_area_cm2(capture: Capture) -> float:
    """Area of the true wound mask (cm²; pixels when the spacing is unknown)."""
    truth = capture.truth
    if truth is None or truth.wound_mask is None:
        raise ValueError(f"capture {capture.identity()} has no wound mask")
    pixels = float(np.count_nonzero(truth.wound_mask))
    return pixels * (capture.spacing_mm**2 / 100.0 if capture.spacing_mm else 1.0)


def _key(capture: Capture) -> tuple[str, str | None]:
    return (capture.metadata.subject, capture.metadata.wound_id)


def week2_visits(captures: Sequence[Capture]) -> dict[tuple[str, str | None], Capture]:
    """Per wound, its capture nearest :data:`TREND_DAY` days after the first (within the slack)."""
    best: dict[tuple[str, str | None], Capture] = {}
    for cap in captures:
        day = cap.metadata.days_since_first_visit
        if day is None or abs(day - TREND_DAY) > TREND_SLACK:
            continue
        old = best.get(_key(cap))
        old_day = None if old is None else old.metadata.days_since_first_visit
        if old_day is None or abs(day - TREND_DAY) < abs(old_day - TREND_DAY):
            best[_key(cap)] = cap
    return best


def area_trend(
    first: Sequence[Capture], week2: dict[tuple[str, str | None], Capture]
) -> np.ndarray:
    """Percent area reduction from each first visit to its week-2 visit (true areas)."""
    out = []
    for cap in first:
        a0 = true_area_cm2(cap)
        a2 = true_area_cm2(week2[_key(cap)])
        out.append(100.0 * (1.0 - a2 / a0) if a0 > 0 else 0.0)
    return np.asarray(out, dtype=np.float64)


def oximetry_features(captures: Sequence[Capture]) -> np.ndarray:
    """``N x (C-1)`` log ratios of the mean periwound spectrum over its longest band."""
    rows = []
    for cap in captures:
        truth = cap.truth
        if truth is None or truth.wound_mask is None:
            raise ValueError(f"capture {cap.identity()} has no wound mask")
        ring = periwound_ring(np.asarray(truth.wound_mask) > 0, cap.spacing_mm)
        spectrum = np.clip(np.asarray(cap.cube, dtype=np.float64)[:, ring].mean(axis=1), 1e-4, None)
        rows.append(np.log(spectrum[:-1] / spectrum[-1]))
    return np.asarray(rows, dtype=np.float64)


def periwound_map_auc(captures: Sequence[Capture], preds: Sequence[Prediction]) -> dict[str, Any]:
    """Per-pixel AUC of the viability map against the truth on the true periwound rings."""
    ys, ps = [], []
    for cap, pred in zip(captures, preds, strict=True):
        truth = cap.truth
        if truth is None or truth.healing is None or truth.wound_mask is None:
            continue
        ring = periwound_ring(np.asarray(truth.wound_mask) > 0, cap.spacing_mm)
        ys.append(np.asarray(truth.healing)[ring] > 0)
        ps.append(np.asarray(pred.healing_prob)[ring])
    if not ys:
        return {"pixels": 0, "auc": None, "non_viable_share": None}
    y, p = np.concatenate(ys), np.concatenate(ps)
    return {
        "pixels": int(y.size),
        "auc": _finite(roc_auc(y, p)),
        "non_viable_share": float(1.0 - y.mean()),
    }


def balanced_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold on any score (not only a probability: percent area reduction may be
    negative or above 1) maximising min(sensitivity, specificity), score >= it = responder;
    candidates midway between consecutive distinct scores."""
    values = np.unique(np.asarray(score, dtype=np.float64))
    cands = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    pos, neg = y == 1, y == 0
    sens = np.array([(score[pos] >= t).mean() for t in cands])
    spec = np.array([(score[neg] < t).mean() for t in cands])
    return float(cands[int(np.argmax(np.minimum(sens, spec)))])


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _row(
    name: str,
    y: np.ndarray,
    score: np.ndarray,
    threshold: float,
    tertiles: Sequence[str | None],
    *,
    probability: bool,
    rule: str,
) -> dict[str, Any]:
    """AUC, sensitivity/specificity at ``threshold`` (score >= it: responder), ECE, tertiles."""
    called = score >= threshold
    pos, neg = y == 1, y == 0
    groups: dict[str, Any] = {}
    for g in ("I-II", "III-IV", "V-VI"):
        sel = np.array([t == g for t in tertiles], dtype=bool)
        if sel.any():
            groups[g] = {"subjects": int(sel.sum()), "auc": _finite(roc_auc(y[sel], score[sel]))}
    return {
        "method": name,
        "subjects": int(y.size),
        "auc": _finite(roc_auc(y, score)),
        "sensitivity": _finite(float(called[pos].mean())) if pos.any() else None,
        "specificity": _finite(float((~called[neg]).mean())) if neg.any() else None,
        "threshold": float(threshold),
        "operating_point": rule,
        "ece": (
            float(reliability(y.astype(np.uint8), score, n_bins=OUTCOME_BINS)["ece"])
            if probability
            else None
        ),
        "by_fitzpatrick": groups,
    }


def evaluate_outcomes(
    model: nn.Module,
    info: ModelInfo,
    val: Sequence[Capture],
    train: Sequence[Capture],
    *,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """The three-way comparison (module docstring) as a JSON-ready dict.

    ValueError when the model has no capture-level read-out or the held-out first visits do not
    hold responders and non-responders both.
    """
    if info.outcome is None:
        raise ValueError(f"model of task {info.task} has no capture-level outcome")
    val_week2, train_week2 = week2_visits(val), week2_visits(train)
    held = first_visits(val)
    with_trend = [c for c in held if _key(c) in val_week2]
    trend = bool(with_trend)
    held = with_trend or held  # the same subjects for all three when visit 3 exists
    y = np.array([outcome_label(c) for c in held], dtype=np.int64)
    if y.all() or not y.any():
        raise ValueError(f"held-out first visits: {y.size}, responders {int(y.sum())}: need both")
    tertiles = [fitzpatrick_tertile(c.metadata.fitzpatrick) for c in held]
    rows = []
    # 1. the model, at its saved operating point
    predictor = Predictor(model, info, device=device)
    outcome = info.outcome
    preds = predictor.predict_many(list(held))
    p_model = np.array(
        [
            outcome.predict(np.asarray(p.healing_prob), p.wound_mask, c.spacing_mm)
            for p, c in zip(preds, held, strict=True)
        ]
    )
    rows.append(
        _row(MODEL, y, p_model, outcome.threshold, tertiles, probability=True, rule=outcome.rule)
    )
    # 2. spectral oximetry index, fitted and operated on the training subjects
    fit = first_visits(train)
    y_fit = np.array([outcome_label(c) for c in fit], dtype=np.int64)
    train_rule = "balanced: maximise min(sensitivity, specificity) on the training subjects"
    if y_fit.size >= 4 and y_fit.any() and not y_fit.all():
        mean, scale, lr = fit_logistic(oximetry_features(fit), y_fit)

        def oxi(caps: Sequence[Capture]) -> np.ndarray:
            z = (oximetry_features(caps) - mean) / scale
            return np.asarray(lr.predict_proba(z)[:, 1], dtype=np.float64)

        t_oxi, _ = choose_operating_point(y_fit, oxi(fit), OPERATING_RULE)
        rows.append(
            _row(OXIMETRY, y, oxi(held), t_oxi, tertiles, probability=True, rule=train_rule)
        )
        # 3. area trend at 2 weeks, threshold on the training subjects
        fit_trend = [c for c in fit if _key(c) in train_week2]
        y_trend = np.array([outcome_label(c) for c in fit_trend], dtype=np.int64)
        if trend and y_trend.any() and not y_trend.all():
            t_area = balanced_threshold(y_trend, area_trend(fit_trend, train_week2))
            rows.append(
                _row(
                    AREA,
                    y,
                    area_trend(held, val_week2),
                    t_area,
                    tertiles,
                    probability=False,
                    rule=train_rule + " (threshold in % area reduction)",
                )
            )
    return {
        "outcome": outcome.outcome,
        "periwound_map": periwound_map_auc(held, preds),
        "subjects": int(y.size),
        "responders": int(y.sum()),
        "training_subjects": int(y_fit.size),
        "ece_bins": OUTCOME_BINS,
        "rows": rows,
    }


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(outcome: dict[str, Any]) -> str:
    """The three-way table as Markdown (what ``wound train`` prints and registers)."""
    lines = [
        f"Ulcer healing from the first visit: {outcome['outcome']} "
        f"({outcome['subjects']} held-out subjects, {outcome['responders']} responders; "
        f"operating points chosen before the held-out subjects; ECE over "
        f"{outcome['ece_bins']} bins)",
        "",
        "| method | AUC | sensitivity | specificity | threshold | ECE | AUC I-II / III-IV / V-VI |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in outcome["rows"]:
        tert = row["by_fitzpatrick"]
        cells = [tert.get(g) or {} for g in ("I-II", "III-IV", "V-VI")]
        by = " / ".join(f"{_fmt(c.get('auc'), 2)} (n={c.get('subjects', 0)})" for c in cells)
        lines.append(
            f"| {row['method']} | {_fmt(row['auc'])} | {_fmt(row['sensitivity'])} | "
            f"{_fmt(row['specificity'])} | {_fmt(row['threshold'], 2)} | {_fmt(row['ece'])} | "
            f"{by} |"
        )
    peri = outcome.get("periwound_map") or {}
    lines += [
        "",
        f"Per-pixel viability map on the true periwound rings at visit 1: AUC "
        f"{_fmt(peri.get('auc'))} over {peri.get('pixels', 0)} pixels "
        f"({_fmt(peri.get('non_viable_share'))} non-viable).",
        "",
        "An aid to the clinician: a predicted probability, not a diagnosis.",
    ]
    return "\n".join(lines) + "\n"


def headline(outcome: dict[str, Any]) -> dict[str, Any]:
    """The model's and baselines' AUC (and the model's operating point) for the headline."""
    out: dict[str, Any] = {}
    for row in outcome["rows"]:
        prefix = {MODEL: "outcome", OXIMETRY: "oximetry", AREA: "area_trend"}[row["method"]]
        out[f"{prefix}_auc"] = row["auc"]
        if prefix == "outcome":
            out.update(
                {
                    "outcome_sensitivity": row["sensitivity"],
                    "outcome_specificity": row["specificity"],
                    "outcome_ece": row["ece"],
                }
            )
    return out
