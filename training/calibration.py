"""Fit a model's calibration on held-out calibration captures (docs/calibration.md).

Reusable by any task with a binary head read at an operating point (burn healing today, ulcer
healing later) and by every class head:

1. :func:`fit_temperature`: temperature scaling (Guo et al., ICML 2017): one scalar ``T`` that
   minimises the negative log-likelihood of ``logit / T`` on the calibration pixels (binary
   sigmoid or multi-class softmax). Ranking, hence AUC, is unchanged.
2. :func:`choose_operating_point`: the threshold on the calibrated probability, by a stated rule
   (:class:`OperatingRule`).
3. :func:`choose_uncertainty_threshold`: the indeterminate threshold, chosen where the model's
   error-probability map actually separates wrong from right pixels (:class:`IndeterminateRule`).

:func:`calibrate` runs all three through the deployed predictor and returns the
:class:`wound.calibration.Calibration` saved with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from training.metrics import calibration as reliability
from training.metrics import roc_auc
from wound.calibration import Calibration
from wound.capture import Capture
from wound.networks import ModelInfo
from wound.tasks import TaskSpec, get_task

#: Pixels per fit (a seeded subsample beyond this keeps LBFGS fast; the optimum barely moves).
MAX_FIT_PIXELS = 400_000


class OperatingRule(BaseModel):
    """``non_healing_sensitivity``: the threshold at which at least ``target`` of the calibration
    pixels that will not heal are flagged "unlikely to heal", with the best specificity (the
    largest share of healing pixels not flagged) among those; ``balanced``: the threshold that
    maximises the smaller of sensitivity and specificity; ``area``: the threshold at which the
    area the scores flag on the calibration captures (predicted wound pixels below it) equals the
    area that does not heal (truth wound pixels), so false flags balance misses and the area
    unlikely to heal is unbiased."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["non_healing_sensitivity", "balanced", "area"] = "non_healing_sensitivity"
    target: float = Field(0.90, gt=0, lt=1)

    def describe(self) -> str:
        if self.rule == "area":
            return (
                "area: flagged wound area equals the non-healing wound area on the calibration "
                "captures"
            )
        if self.rule == "balanced":
            return "balanced: maximise min(sensitivity, specificity) on the calibration pixels"
        return (
            f"non-healing sensitivity >= {self.target:.2f} on the calibration pixels, "
            "then the best specificity"
        )


class IndeterminateRule(BaseModel):
    """The lowest uncertainty threshold (largest flagged region) whose flagged calibration pixels
    are wrong at least ``min_error_rate`` of the time while at most ``max_share`` of the wound is
    flagged; when none qualifies, the threshold with the highest error rate inside vs outside
    among those flagging at most ``max_share``."""

    model_config = ConfigDict(extra="forbid")

    min_error_rate: float = Field(0.5, gt=0, le=1)
    max_share: float = Field(0.15, gt=0, le=1)

    def describe(self) -> str:
        return (
            f"lowest threshold whose flagged calibration wound pixels are wrong >= "
            f"{self.min_error_rate:.0%} of the time, flagging <= {self.max_share:.0%} of the wound"
        )


class CalibrationConfig(BaseModel):
    """``fraction`` of the TRAINING subjects held out for calibration (0, the default: none, the
    model is saved uncalibrated; at least one subject, and two stay for training);
    ``class_temperature``: also scale the class head."""

    model_config = ConfigDict(extra="forbid")

    fraction: float = Field(0.0, ge=0, lt=1)
    class_temperature: bool = True
    wound_area: bool = Field(
        False,
        description="Call wound above the summed wound-class probability at which the "
        "called wound area equals the true wound area on the calibration captures.",
    )
    operating_point: OperatingRule = Field(default_factory=OperatingRule)
    indeterminate: IndeterminateRule = Field(default_factory=IndeterminateRule)


# --- the three fits (pure functions) ----------------------------------------------------------


def _subsample(n: int, limit: int, seed: int) -> np.ndarray | slice:
    if n <= limit:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, *, max_pixels: int = MAX_FIT_PIXELS, seed: int = 0
) -> float:
    """The temperature ``T > 0`` minimising the NLL of ``logits / T``.

    ``logits`` of shape (N,) with 0/1 ``labels`` (sigmoid), or (N, K) with class ``labels``
    (softmax). Optimised over ``log T`` with LBFGS; ValueError on empty or mismatched input.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.shape[0] == 0 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"need as many labels as logits, got {logits.shape} and {labels.shape}")
    keep = _subsample(logits.shape[0], max_pixels, seed)
    z = torch.from_numpy(np.ascontiguousarray(logits[keep]))
    y = torch.from_numpy(np.ascontiguousarray(labels[keep]))
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    if z.ndim == 1:
        target = y.to(torch.float64)

        def nll() -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(z / log_t.exp(), target)
    else:
        classes = y.to(torch.int64)

        def nll() -> torch.Tensor:
            return nn.functional.cross_entropy(z / log_t.exp(), classes)

    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nll()
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return float(np.clip(t, 0.05, 20.0))


def choose_operating_point(
    heals: np.ndarray, prob: np.ndarray, rule: OperatingRule
) -> tuple[float, dict[str, float]]:
    """(threshold, its sensitivity/specificity on these pixels) for ``rule``.

    A pixel is flagged "unlikely to heal" when ``prob < threshold``; sensitivity and
    specificity are reported with positive = heals (as in the evaluation report): sensitivity
    = share of healing pixels not flagged, specificity = share of non-healing pixels flagged.
    ValueError when both classes are not present.
    """
    y = np.asarray(heals).astype(bool).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if y.all() or not y.any():
        raise ValueError("the operating point needs healing and non-healing pixels")
    # candidate thresholds: between consecutive distinct probabilities
    values = np.unique(p)
    cands = np.concatenate(
        [[values[0]], (values[:-1] + values[1:]) / 2, [np.nextafter(values[-1], 2)]]
    )
    order = np.argsort(p)
    ps, ys = p[order], y[order]
    below = np.searchsorted(ps, cands, side="left")  # pixels with p < threshold
    cum_heal = np.concatenate([[0], np.cumsum(ys)])
    heal_below = cum_heal[below]
    nonheal_below = below - heal_below
    n_heal, n_non = int(y.sum()), int((~y).sum())
    spec = nonheal_below / n_non  # non-healing flagged
    sens = 1.0 - heal_below / n_heal  # healing not flagged
    if rule.rule == "balanced":
        k = int(np.argmax(np.minimum(sens, spec)))
    else:
        ok = np.flatnonzero(spec >= rule.target)
        k = int(ok[np.argmax(sens[ok])]) if ok.size else int(np.argmax(spec))
    t = float(np.clip(cands[k], 1e-6, 1 - 1e-6))
    return t, {"sensitivity": float(sens[k]), "specificity": float(spec[k])}


def area_matching_threshold(prob: np.ndarray, non_healing_pixels: int) -> float:
    """The threshold below which exactly ``non_healing_pixels`` of ``prob`` (the healing
    probabilities of the predicted wound pixels) lie: midway between neighbours."""
    p = np.sort(np.asarray(prob, dtype=np.float64).ravel())
    if p.size == 0:
        raise ValueError("no predicted wound pixels to match the non-healing area on")
    k = int(np.clip(non_healing_pixels, 0, p.size))
    if k == 0:
        return float(np.clip(p[0] / 2, 1e-6, 1 - 1e-6))
    if k == p.size:
        return float(np.clip((p[-1] + 1) / 2, 1e-6, 1 - 1e-6))
    return float(np.clip((p[k - 1] + p[k]) / 2, 1e-6, 1 - 1e-6))


def choose_uncertainty_threshold(
    uncertainty: np.ndarray, wrong: np.ndarray, rule: IndeterminateRule, *, grid: int = 400
) -> tuple[float, dict[str, float]]:
    """(threshold, flagged share and error rates inside/outside) on these wound pixels.

    ``uncertainty``: the per-pixel error probability of :mod:`wound.predict`; ``wrong``: whether
    the pixel's reading is wrong. A pixel is indeterminate when ``uncertainty > threshold``.
    """
    u = np.asarray(uncertainty, dtype=np.float64).ravel()
    e = np.asarray(wrong).astype(bool).ravel()
    if u.size == 0:
        raise ValueError("no wound pixels to choose the indeterminate threshold on")
    qs = np.unique(np.quantile(u, np.linspace(0.5, 1.0, grid)))
    order = np.argsort(u)
    us, es = u[order], e[order]
    cum_err = np.concatenate([[0], np.cumsum(es)])
    at_or_below = np.searchsorted(us, qs, side="right")
    n_in = u.size - at_or_below
    err_in = cum_err[-1] - cum_err[at_or_below]
    with np.errstate(all="ignore"):
        rate_in = np.where(n_in > 0, err_in / np.maximum(n_in, 1), 0.0)
        rate_out = cum_err[at_or_below] / np.maximum(at_or_below, 1)
        ratio = np.where(rate_out > 0, rate_in / rate_out, np.inf)
    share = n_in / u.size
    allowed = (share <= rule.max_share) & (n_in > 0)
    ok = np.flatnonzero(allowed & (rate_in >= rule.min_error_rate))
    if ok.size:
        k = int(ok[np.argmax(share[ok])])
    elif allowed.any():
        cand = np.flatnonzero(allowed)
        k = int(cand[np.argmax(ratio[cand])])
    else:
        k = len(qs) - 1
    t = float(np.clip(qs[k], 1e-6, 1.0))
    return t, {
        "share": float(share[k]),
        "error_rate_inside": float(rate_in[k]),
        "error_rate_outside": float(rate_out[k]),
    }


def expected_calibration_error(heals: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-width bins (:func:`training.metrics.calibration`)."""
    return float(
        reliability(np.asarray(heals).astype(np.uint8), np.asarray(prob), n_bins=n_bins)["ece"]
    )


# --- through the deployed predictor -----------------------------------------------------------


def _truth_planes(capture: Capture, spec: TaskSpec) -> tuple[np.ndarray, np.ndarray | None]:
    truth = capture.truth
    if truth is None:
        raise ValueError(f"calibration capture {capture.identity()} has no labels")
    plane = spec.label_planes[0]
    classes = np.asarray(getattr(truth, plane.field))
    classes = (classes > 0).astype(np.int64) if plane.binary else classes.astype(np.int64)
    heal = None
    if spec.has_healing and truth.healing is not None:
        heal = np.asarray(truth.healing) > 0
    return classes, heal


def pixel_errors(
    labels: np.ndarray,
    heal_prob: np.ndarray | None,
    classes_true: np.ndarray,
    heal_true: np.ndarray | None,
    threshold: float,
    spec: TaskSpec,
) -> np.ndarray:
    """Whether one of the pixel's two readings the score counts is wrong: its wound / not-wound
    call, or (truth skin) its healing verdict at ``threshold``."""
    wound = list(spec.wound_classes)
    wrong = np.isin(labels, wound) != np.isin(classes_true, wound)
    if heal_prob is not None and heal_true is not None:
        skin = np.isin(classes_true, spec.skin_classes)
        wrong |= skin & ((heal_prob >= threshold) != heal_true)
    return wrong


def calibrate(
    model: nn.Module,
    info: ModelInfo,
    captures: Sequence[Capture],
    config: CalibrationConfig,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> Calibration:
    """Fit temperatures, the operating point and the indeterminate threshold on ``captures``
    (labelled, subjects held out from training) through the deployed predictor."""
    from wound.predict import Predictor, _labels_uncertainty

    spec = get_task(info.task)
    if not captures:
        raise ValueError("no calibration captures")
    raw = info.model_copy(update={"calibration": Calibration()})
    predictor = Predictor(model, raw, device=device)
    class_head = spec.class_head
    heal_head = spec.head("healing")
    cls_logits, cls_true, h_logits, h_true, h_before = [], [], [], [], []
    truths = []
    for cap in captures:
        classes, heal = _truth_planes(cap, spec)
        truths.append((classes, heal))
        pred, logits = predictor.predict_with_logits(cap)
        z = logits[0].float().cpu().numpy()
        cls_logits.append(z[class_head.channels].reshape(class_head.width, -1).T)
        cls_true.append(classes.ravel())
        if heal_head is not None and heal is not None:
            skin = np.isin(classes, spec.skin_classes)
            h_logits.append(z[heal_head.start][skin])
            h_true.append(heal[skin])
            assert pred.healing_prob is not None
            h_before.append(pred.healing_prob[skin])
    fitted: dict[str, Any] = {
        "captures": len(captures),
        "subjects": len({c.metadata.subject for c in captures}),
    }
    t_class = 1.0
    if config.class_temperature:
        t_class = fit_temperature(np.concatenate(cls_logits), np.concatenate(cls_true), seed=seed)
    t_heal = 1.0
    if h_logits:
        zh, yh = np.concatenate(h_logits), np.concatenate(h_true)
        t_heal = fit_temperature(zh, yh, seed=seed)
        fitted["healing_pixels"] = int(zh.size)
    cal = Calibration(healing_temperature=t_heal, class_temperature=t_class)
    if config.wound_area:
        scaled = Predictor(model, info.model_copy(update={"calibration": cal}), device=device)
        p_wound = np.concatenate([scaled.predict(cap).wound_prob.ravel() for cap in captures])
        n_true = sum(int(np.isin(c, spec.wound_classes).sum()) for c, _ in truths)
        t_wound = area_matching_threshold(p_wound, p_wound.size - n_true)
        cal = cal.model_copy(update={"wound_threshold": t_wound})
        fitted["wound_threshold_rule"] = "called wound area = true wound area (calibration)"
    # operating point on the calibrated map the score reads (0 where predicted background)
    preds = Predictor(model, info.model_copy(update={"calibration": cal}), device=device)
    outputs = [preds.predict(cap) for cap in captures]
    threshold, rule_text = 0.5, "none: no healing head"
    if h_logits:
        y = np.concatenate([h[np.isin(c, spec.skin_classes)] for c, h in truths if h is not None])
        p = np.concatenate(
            [
                o.healing_prob[np.isin(c, spec.skin_classes)]
                for o, (c, h) in zip(outputs, truths, strict=True)
                if h is not None and o.healing_prob is not None
            ]
        )
        threshold, at = choose_operating_point(y, p, config.operating_point)
        if config.operating_point.rule == "area":
            in_wound = np.concatenate(
                [o.healing_prob[o.wound_mask] for o in outputs if o.healing_prob is not None]
            )
            true_nh = sum(
                int((np.isin(c, spec.wound_classes) & ~h).sum()) for c, h in truths if h is not None
            )
            threshold = area_matching_threshold(in_wound, true_nh)
            flagged = p < threshold
            at = {
                "sensitivity": float((~flagged[y.astype(bool)]).mean()),
                "specificity": float(flagged[~y.astype(bool)].mean()),
            }
        rule_text = config.operating_point.describe()
        before = np.concatenate(h_before)  # the uncalibrated map, same pixels
        fitted.update(
            {
                "operating_point": at,
                "ece_before": expected_calibration_error(yh, before),
                "ece_after": expected_calibration_error(y, p),
                "auc": roc_auc(y, p),
            }
        )
    # indeterminate threshold on the wound pixels the score counts, at that operating point
    u_all, e_all = [], []
    for o, (classes, heal) in zip(outputs, truths, strict=True):
        probs = torch.from_numpy(o.probabilities[None].copy())
        hp = None if o.healing_prob is None else torch.from_numpy(o.healing_prob[None].copy())
        _, unc = _labels_uncertainty(probs, hp, threshold, spec.wound_classes, cal.wound_threshold)
        wrong = pixel_errors(o.labels, o.healing_prob, classes, heal, threshold, spec)
        wound = o.wound_mask
        u_all.append(unc[0].numpy()[wound])
        e_all.append(wrong[wound])
    u_threshold, stats = choose_uncertainty_threshold(
        np.concatenate(u_all), np.concatenate(e_all), config.indeterminate
    )
    fitted["indeterminate"] = stats
    return cal.model_copy(
        update={
            "healing_threshold": threshold,
            "uncertainty_threshold": u_threshold,
            "rule": rule_text,
            "uncertainty_rule": config.indeterminate.describe(),
            "fitted_on": fitted,
        }
    )
