"""Fit the ``ulcer-healing`` model's capture-level read-out after training (docs/longitudinal.md).

The network has learnt, per pixel, where the ulcer bed is and whether the tissue looks viable.
:func:`fit_outcome` pools that (calibrated) map over the periwound ring of each TRAINING
subject's first visit (:func:`wound.outcome.periwound_features`) and fits a logistic regression of
"percent area reduction at 4 weeks >= 50 %" on those numbers. On the first visits of the
calibration split (training subjects held out from fitting, and from the network's training) it
then fits a temperature for the logistic's logit (the network's map is sharper on the captures
it was trained on, so a logistic fitted there is overconfident on new subjects; temperature
scaling as in :mod:`training.calibration`) and chooses the operating point (the rule in
:data:`OPERATING_RULE`). The result, a :class:`wound.outcome.HealingOutcome`, is saved with
the model. Why a logistic on pooled features rather than a pooled network head: the outcome is
one label per subject (tens of them), the pixel map has tens of thousands of labelled pixels per
capture; a three-feature logistic cannot overfit a few dozen subjects the way a head trained
end to end would, it fits in milliseconds, and its output is a probability by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from training.calibration import OperatingRule, choose_operating_point, fit_temperature
from training.metrics import calibration as reliability
from training.metrics import roc_auc
from wound.capture import Capture
from wound.networks import ModelInfo
from wound.outcome import HealingOutcome, periwound_features, responder
from wound.predict import Predictor

log = logging.getLogger(__name__)

#: The capture-level operating point: few subjects per split, so the balanced rule (maximise the
#: smaller of sensitivity and specificity) rather than a sensitivity target that a handful of
#: subjects cannot pin down.
OPERATING_RULE = OperatingRule(rule="balanced")
#: Bins of the capture-level ECE (tens of subjects: 10 bins would hold one or two each).
OUTCOME_BINS = 5


def first_visits(captures: Sequence[Capture]) -> list[Capture]:
    """The first visit of each wound whose 4-week outcome is known (visit 1, one per wound)."""
    seen: set[tuple[str, str | None]] = set()
    out: list[Capture] = []
    for cap in captures:
        meta = cap.metadata
        if meta.visit != 1 or cap.reference.percent_area_reduction_4w is None:
            continue
        key = (meta.subject, meta.wound_id)
        if key not in seen:
            seen.add(key)
            out.append(cap)
    return out


def outcome_label(capture: Capture) -> int:
    """1 when the capture's wound reached >= 50 % area reduction at 4 weeks, else 0."""
    value = responder(capture.reference.percent_area_reduction_4w)
    if value is None:
        raise ValueError(f"capture {capture.identity()} has no 4-week area reduction")
    return int(value)


def model_features(predictor: Predictor, captures: Sequence[Capture]) -> np.ndarray:
    """``N x 2`` periwound features of the model's (calibrated) viability map and bed."""
    rows = []
    for cap, pred in zip(captures, predictor.predict_many(list(captures)), strict=True):
        if pred.healing_prob is None:
            raise ValueError(f"task {pred.task} has no viability map")
        rows.append(periwound_features(pred.healing_prob, pred.wound_mask, cap.spacing_mm))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    """Standardise ``x`` (mean, scale) and fit an L2 logistic regression (C = 1)."""
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    return mean, scale, model


def _summary(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    return {
        "captures": int(y.size),
        "responders": int(y.sum()),
        "auc": roc_auc(y, p),
        "ece": float(reliability(y.astype(np.uint8), p, n_bins=OUTCOME_BINS)["ece"]),
    }


def fit_outcome(
    model: nn.Module,
    info: ModelInfo,
    train: Sequence[Capture],
    calibration: Sequence[Capture] = (),
    *,
    device: str | torch.device = "cpu",
) -> HealingOutcome:
    """The capture-level read-out of ``model`` (see the module docstring). ValueError when the
    training first visits do not hold responders and non-responders both."""
    predictor = Predictor(model, info, device=device)
    fit_caps = first_visits(train)
    y = np.array([outcome_label(c) for c in fit_caps], dtype=np.int64)
    if y.size < 4 or y.all() or not y.any():
        raise ValueError(
            f"capture-level outcome: {y.size} training first visits, {int(y.sum())} responders; "
            "need responders and non-responders"
        )
    x = model_features(predictor, fit_caps)
    mean, scale, lr = fit_logistic(x, y)
    raw = HealingOutcome(
        feature_mean=tuple(float(v) for v in mean),
        feature_scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in lr.coef_[0]),
        intercept=float(lr.intercept_[0]),
    )

    def logits(outcome: HealingOutcome, feats: np.ndarray) -> np.ndarray:
        return np.array([outcome.logit(f) for f in feats], dtype=np.float64)

    def prob(outcome: HealingOutcome, feats: np.ndarray) -> np.ndarray:
        return np.array([outcome.probability(f) for f in feats], dtype=np.float64)

    fitted: dict[str, Any] = {
        "train_subjects": len({c.metadata.subject for c in fit_caps}),
        "train": _summary(y, prob(raw, x)),
    }
    cal_caps = first_visits(calibration)
    y_cal = np.array([outcome_label(c) for c in cal_caps], dtype=np.int64)
    calibrated = raw
    if y_cal.size and y_cal.any() and not y_cal.all():
        x_cal = model_features(predictor, cal_caps)
        temperature = fit_temperature(logits(raw, x_cal), y_cal)
        calibrated = raw.model_copy(update={"temperature": temperature})
        p_cal = prob(calibrated, x_cal)
        threshold, at = choose_operating_point(y_cal, p_cal, OPERATING_RULE)
        where = "calibration split"
        before = _summary(y_cal, prob(raw, x_cal))
        fitted["calibration"] = {
            **_summary(y_cal, p_cal),
            **at,
            "temperature": temperature,
            "ece_before": before["ece"],
        }
    else:
        log.warning("capture-level operating point chosen on the training first visits")
        threshold, at = choose_operating_point(y, prob(raw, x), OPERATING_RULE)
        where = "training first visits (no calibration split with both outcomes)"
        fitted["operating_point_on_train"] = at
    return calibrated.model_copy(
        update={
            "threshold": threshold,
            "rule": "balanced: maximise min(sensitivity, specificity) on the first visits of "
            f"the {where}",
            "fitted_on": fitted,
        }
    )
