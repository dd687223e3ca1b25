"""Evaluate a trained model on validation captures, beside a per-pixel spectral baseline.

``evaluate_model`` runs the model through the deployed predictor (:class:`wound.predict.Predictor`
with the model's own inference settings, ``ModelInfo.inference``: band normalisation with the
stored mean/std, MONAI sliding-window inference with Gaussian blending, TTA when set), so the
registered metrics describe what users get; it fits the spectral baseline of
:mod:`training.baseline` on the TRAIN captures, scores both with :mod:`training.metrics` on the same
validation captures and renders the report (:mod:`training.report`). Healing is scored on the
predictor's healing map (0 where the model predicts background), on truth skin pixels, at the
model's saved operating point (:class:`wound.calibration.Calibration`) unless a threshold is
given; a calibrated model's ECE is reported before (temperature 1) and after calibration. The
score a user reads is compared with the truth per capture (:mod:`training.score_eval`: areas,
Bland–Altman, the indeterminate region's error rates). Captures whose metadata holds a
Fitzpatrick skin type (the phantom's) get every metric again per pigmentation tertile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from training.baseline import SpectralBaseline, fit_spectral_baseline
from training.metrics import (
    binary_metrics,
    calibration,
    fitzpatrick_tertile,
    mask_metrics,
    roc_auc,
    roc_points,
    segmentation_metrics,
)
from training.score_eval import agreement_with_breakdown, capture_agreement
from wound.bands import check_wavelengths
from wound.calibration import Calibration
from wound.capture import Capture, GroundTruth
from wound.errors import MetadataError
from wound.networks import ModelInfo
from wound.predict import Predictor
from wound.tasks import TASKS, TaskSpec, get_task

TruthLike = GroundTruth | Mapping[str, np.ndarray]
LabelSource = (
    Literal["truth"] | Callable[[Capture], TruthLike | None] | Mapping[str, TruthLike | None]
)


@dataclass
class EvaluationReport:
    """``metrics`` (JSON-ready), ``files`` (report.json, report.md, *.png) and ``headline``."""

    metrics: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    """One capture's predictions and truth (all H x W)."""

    capture_id: str
    tertile: str | None
    classes_pred: np.ndarray
    classes_true: np.ndarray
    healing_prob: np.ndarray | None = None
    healing_true: np.ndarray | None = None
    wound_pred: np.ndarray | None = None
    wound_true: np.ndarray | None = None
    agreement: dict[str, Any] | None = None  # training.score_eval.capture_agreement


# --- inference --------------------------------------------------------------------------------


def check_bands(capture: Capture, info: ModelInfo) -> None:
    """The capture must have the bands the model was trained on (:func:`check_wavelengths`)."""
    source = capture.metadata.capture_id or capture.identity()
    check_wavelengths(capture.wavelengths, info.wavelengths_nm, source=source)


# --- labels -----------------------------------------------------------------------------------


def resolve_truth(capture: Capture, labels: LabelSource) -> GroundTruth | None:
    """Ground truth of ``capture`` from ``labels``: "truth" (the capture's own), a callable of the
    capture, or a mapping capture id (the platform's, or the device's) -> GroundTruth / dict of
    masks (depth, healing, wound_mask)."""
    if isinstance(labels, str):
        if labels != "truth":
            raise ValueError(f"labels must be 'truth', a callable or a mapping, got {labels!r}")
        value: TruthLike | None = capture.truth
    elif callable(labels):
        value = labels(capture)
    else:
        value = labels.get(capture.identity())
        if value is None and capture.metadata.capture_id:  # keyed by the device's capture id
            value = labels.get(capture.metadata.capture_id)
    if value is None or isinstance(value, GroundTruth):
        return value
    return GroundTruth(**dict(value))


def _class_truth(spec: TaskSpec, truth: GroundTruth) -> np.ndarray | None:
    """The truth of the task's class plane (class ids; a binary plane as 0/1)."""
    plane = spec.label_planes[0]
    value = getattr(truth, plane.field)
    if value is None:
        return None
    value = np.asarray(value)
    return (value > 0).astype(np.int64) if plane.binary else value.astype(np.int64)


def _wound_truth(spec: TaskSpec, truth: GroundTruth) -> np.ndarray | None:
    if truth.wound_mask is not None:
        return np.asarray(truth.wound_mask) > 0
    classes = _class_truth(spec, truth)
    return None if classes is None else np.isin(classes, spec.wound_classes)


def _make_item(
    capture: Capture,
    spec: TaskSpec,
    truth: GroundTruth,
    classes: np.ndarray,
    healing_prob: np.ndarray | None,
) -> _Item | None:
    cid = capture.identity()
    h, w = capture.cube.shape[1:]
    for name, arr in truth.arrays().items():
        if arr.shape != (h, w):
            raise MetadataError(cid, f"{name} labels {arr.shape} do not match the cube {h}x{w}")
    tertile = fitzpatrick_tertile(capture.metadata.fitzpatrick)
    wound_true = _wound_truth(spec, truth)
    classes_true = _class_truth(spec, truth)
    if classes_true is None:
        return None
    heal_true = None
    if spec.has_healing and truth.healing is not None:
        heal_true = np.asarray(truth.healing) > 0
    return _Item(
        cid, tertile, classes, classes_true,
        healing_prob if spec.has_healing else None, heal_true,
        np.isin(classes, spec.wound_classes), wound_true,
    )  # fmt: skip


# --- scoring ----------------------------------------------------------------------------------


def score_items(
    items: Sequence[_Item], task: str, *, threshold: float = 0.5, n_bins: int = 10
) -> dict[str, Any]:
    """Every metric of ``items``: classes (depth or wound/background), healing, wound."""
    spec = get_task(task)
    out: dict[str, Any] = {"captures": len(items)}
    out[spec.report_key] = segmentation_metrics(
        [i.classes_pred for i in items], [i.classes_true for i in items], spec.class_names
    )
    pairs = _healing_pixels(items, spec)
    if pairs is not None:
        y_true, y_prob = pairs
        out["healing"] = binary_metrics(y_true, y_prob, threshold=threshold, n_bins=n_bins)
        ids = ", ".join(str(c) for c in spec.skin_classes)
        out["healing"]["scope"] = f"skin pixels (truth class {ids}), pooled over captures"
    wound_pred: list[np.ndarray] = []
    wound_true: list[np.ndarray] = []
    for i in items:
        if i.wound_pred is not None and i.wound_true is not None:
            wound_pred.append(i.wound_pred)
            wound_true.append(i.wound_true)
    if wound_pred:
        out["wound"] = mask_metrics(wound_pred, wound_true)
    return out


def _healing_pixels(items: Sequence[_Item], spec: TaskSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """(truth, probability) of healing on the truth's skin pixels, pooled (None: no healing)."""
    truth: list[np.ndarray] = []
    prob: list[np.ndarray] = []
    for i in items:
        if i.healing_prob is not None and i.healing_true is not None:
            skin = np.isin(i.classes_true, spec.skin_classes)
            truth.append(i.healing_true[skin])
            prob.append(i.healing_prob[skin])
    if not truth:
        return None
    return np.concatenate(truth), np.concatenate(prob)


def _with_breakdown(
    items: Sequence[_Item], task: str, threshold: float, n_bins: int
) -> dict[str, Any]:
    res = score_items(items, task, threshold=threshold, n_bins=n_bins)
    groups: dict[str, list[_Item]] = {}
    for it in items:
        if it.tertile is not None:
            groups.setdefault(it.tertile, []).append(it)
    if groups:
        res["by_fitzpatrick"] = {
            g: score_items(groups[g], task, threshold=threshold, n_bins=n_bins)
            for g in ("I-II", "III-IV", "V-VI")
            if g in groups
        }
    return res


def _score_headline(agree: dict[str, Any] | None) -> dict[str, Any]:
    """The score-level targets (issue 14) for the headline."""
    if not agree:
        return {}
    from training.score_eval import NON_HEALING, WOUND

    q = agree["quantities"]
    ind = agree["indeterminate"]
    out = {
        "wound_area_median_abs_error_pct": (q.get(WOUND) or {}).get("median_abs_error_pct"),
        "indeterminate_median_share": ind["median_share"],
        "indeterminate_error_ratio": ind["error_ratio"],
    }
    if NON_HEALING in q:
        out["unlikely_to_heal_total_error_pct"] = q[NON_HEALING]["total_error_pct"]
    return out


def _headline(model: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    def pick(m: dict[str, Any]) -> dict[str, Any]:
        seg: dict[str, Any] = next(
            (m[t.report_key] for t in TASKS.values() if t.report_key in m), {}
        )
        heal = m.get("healing") or {}
        wound = m.get("wound") or {}
        return {
            "accuracy": seg.get("pixel_accuracy"),
            "mean_dice": seg.get("mean_dice_pooled"),
            "healing_auc": heal.get("auc"),
            "sensitivity": heal.get("sensitivity"),
            "specificity": heal.get("specificity"),
            "ece": (heal.get("calibration") or {}).get("ece"),
            "wound_dice_mean": (wound.get("per_image_mean") or {}).get("dice"),
            "wound_dice_pooled": (wound.get("pooled") or {}).get("dice"),
        }

    head = pick(model)
    head["captures"] = model.get("captures")
    if "healing" in model:
        head["threshold"] = model["healing"]["threshold"]
        head["youden_threshold"] = model["healing"]["youden_threshold"]
        before = model["healing"].get("calibration_before")
        if before:
            head["ece_before_calibration"] = before["ece"]
        tertiles = model.get("by_fitzpatrick") or {}
        light = ((tertiles.get("I-II") or {}).get("healing") or {}).get("auc")
        dark = ((tertiles.get("V-VI") or {}).get("healing") or {}).get("auc")
        if light is not None and dark is not None:
            head["healing_auc_gap_light_dark"] = light - dark
    head.update(_score_headline(model.get("score_agreement")))
    if baseline is not None:
        head.update({f"baseline_{k}": v for k, v in pick(baseline).items()})
    return head


# --- entry point ------------------------------------------------------------------------------


def _predict_items(
    model: nn.Module,
    info: ModelInfo,
    captures: Sequence[Capture],
    labels: LabelSource,
    device: str | torch.device,
) -> tuple[list[_Item], list[Capture], list[GroundTruth]]:
    spec = get_task(info.task)
    predictor = Predictor(model, info, device=device)
    items: list[_Item] = []
    used: list[Capture] = []
    truths: list[GroundTruth] = []
    for cap in captures:
        truth = resolve_truth(cap, labels)
        if truth is None:
            continue
        check_bands(cap, info)
        pred = predictor.predict(cap)
        classes = pred.labels.astype(np.int64)
        prob = None if pred.healing_prob is None else pred.healing_prob.astype(np.float64)
        item = _make_item(cap, spec, truth, classes, prob)
        if item is not None:
            item.agreement = capture_agreement(
                cap, pred, item.classes_true, item.healing_true, item.tertile
            )
            items.append(item)
            used.append(cap)
            truths.append(truth)
    return items, used, truths


def _baseline(
    info: ModelInfo,
    train: Sequence[Capture],
    val: Sequence[Capture],
    val_truths: Sequence[GroundTruth],
    labels: LabelSource,
    seed: int,
) -> tuple[SpectralBaseline | None, list[_Item], str | None]:
    spec = get_task(info.task)
    cubes, labs, heal = [], [], []
    for cap in train:
        truth = resolve_truth(cap, labels)
        if truth is None:
            continue
        lab = _class_truth(spec, truth)
        if lab is None:
            continue
        cubes.append(cap.cube)
        labs.append(lab)
        heal.append(truth.healing if spec.has_healing else None)
    if not cubes:
        return None, [], "no labelled TRAIN captures"
    try:
        fitted = fit_spectral_baseline(
            cubes, labs, healing=heal, num_classes=spec.n_classes, seed=seed
        )
    except ValueError as exc:
        return None, [], str(exc)
    items = []
    for cap, truth in zip(val, val_truths, strict=True):
        classes, prob = fitted.predict(cap.cube)
        item = _make_item(cap, spec, truth, classes, prob)
        if item is not None:
            items.append(item)
    return fitted, items, None


def evaluate_model(
    model: nn.Module,
    info: ModelInfo,
    val_captures: Sequence[Capture],
    train_captures: Sequence[Capture],
    *,
    device: str | torch.device = "cpu",
    threshold: float | None = None,
    labels: LabelSource = "truth",
    n_bins: int = 10,
    seed: int = 0,
    model_id: str | None = None,
    label_name: str | None = None,
) -> EvaluationReport:
    """Score ``model`` on ``val_captures`` and a spectral baseline fitted on ``train_captures``.

    ``threshold``: the healing operating point (default: the model's saved one). Validation
    captures without labels are skipped; a ValueError is raised when none is left.
    ``label_name`` describes the labels in the report (default: "truth" or "provided").
    """
    from training.report import render_report

    if threshold is None:
        threshold = info.calibration.healing_threshold
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    model = model.to(device)
    items, used, truths = _predict_items(model, info, val_captures, labels, device)
    if not items:
        raise ValueError(f"none of the {len(val_captures)} validation captures has labels")
    metrics: dict[str, Any] = {
        "model_id": model_id,
        "task": info.task,
        "network": info.network.model_dump(mode="json"),
        "wavelengths_nm": list(info.wavelengths_nm),
        "labels": label_name or (labels if isinstance(labels, str) else "provided"),
        "validation_captures": [i.capture_id for i in items],
        "model": _with_breakdown(items, info.task, threshold, n_bins),
        "calibration": info.calibration.model_dump(mode="json"),
    }
    model_metrics = metrics["model"]
    if "healing" in model_metrics and info.calibration.is_fitted:
        model_metrics["healing"]["calibration_before"] = _uncalibrated_reliability(
            model, info, used, items, device, n_bins
        )
    model_metrics["score_agreement"] = agreement_with_breakdown(
        [i.agreement for i in items if i.agreement is not None]
    )
    _, base_items, reason = _baseline(info, train_captures, used, truths, labels, seed)
    base = _with_breakdown(base_items, info.task, threshold, n_bins) if base_items else None
    metrics["baseline"] = base
    metrics["baseline_method"] = (
        "per-pixel LDA on band values (depth / wound classes) + logistic regression (healing), "
        "fitted on pixels subsampled from the TRAIN captures"
    )
    if reason:
        metrics["baseline_skipped"] = reason
    metrics["headline"] = _headline(metrics["model"], base)
    if info.outcome is not None:  # ulcer-healing: the capture-level outcome and its baselines
        from training.ulcer_eval import evaluate_outcomes, headline

        metrics["outcome"] = evaluate_outcomes(
            model, info, val_captures, train_captures, device=device
        )
        metrics["headline"].update(headline(metrics["outcome"]))
    curves = _roc_curves(items, base_items, get_task(info.task))
    files = render_report(metrics, curves)
    if "outcome" in metrics:
        from training.ulcer_eval import markdown

        files["ulcer-healing.md"] = markdown(metrics["outcome"]).encode()
    return EvaluationReport(metrics=metrics, files=files, headline=metrics["headline"])


def _uncalibrated_reliability(
    model: nn.Module,
    info: ModelInfo,
    captures: Sequence[Capture],
    items: Sequence[_Item],
    device: str | torch.device,
    n_bins: int,
) -> dict[str, Any]:
    """Reliability of the same model at temperature 1 on the same pixels (ECE before)."""
    raw = info.model_copy(update={"calibration": Calibration()})
    predictor = Predictor(model, raw, device=device)
    before: list[_Item] = []
    for cap, item in zip(captures, items, strict=True):
        pred = predictor.predict(cap)
        assert pred.healing_prob is not None
        before.append(
            _Item(
                item.capture_id, item.tertile, item.classes_pred, item.classes_true,
                pred.healing_prob.astype(np.float64), item.healing_true,
            )
        )  # fmt: skip
    pairs = _healing_pixels(before, get_task(info.task))
    assert pairs is not None
    return calibration(pairs[0].astype(np.uint8), pairs[1], n_bins=n_bins)


def _roc_curves(
    items: Sequence[_Item], base_items: Sequence[_Item], spec: TaskSpec
) -> dict[str, tuple[np.ndarray, np.ndarray, float | None]]:
    curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]] = {}
    for name, group in (("model", items), ("spectral baseline", base_items)):
        pairs = _healing_pixels(group, spec)
        if pairs is None:
            continue
        y, p = pairs
        pts = roc_points(y, p)
        if pts is not None:
            curves[name] = (pts[0], pts[1], roc_auc(y, p))
    return curves
