"""Evaluate a trained model on validation captures, beside a per-pixel spectral baseline.

``evaluate_model`` runs the network (band normalisation with the model's stored mean/std, MONAI
sliding-window inference with Gaussian blending), fits the spectral baseline of
:mod:`training.baseline` on the TRAIN captures, scores both with :mod:`training.metrics` on the same
validation captures and renders the report (:mod:`training.report`). Captures whose metadata holds a
Fitzpatrick skin type (the phantom's) get every metric again per pigmentation tertile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from training.baseline import SpectralBaseline, fit_spectral_baseline
from training.metrics import (
    binary_metrics,
    fitzpatrick_tertile,
    mask_metrics,
    roc_points,
    segmentation_metrics,
)
from wound.capture import Capture, GroundTruth
from wound.errors import BandMismatchError, MetadataError
from wound.networks import DEPTH_CHANNELS, HEALING_CHANNEL, ModelInfo
from wound.taxonomy import DEPTH_NAMES, SKIN_CLASSES, WOUND_CLASSES, WOUND_MASK_NAMES

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


# --- inference --------------------------------------------------------------------------------


def check_bands(capture: Capture, info: ModelInfo) -> None:
    """The capture must have the bands (wavelengths, within 1 nm) the model was trained on."""
    source = capture.metadata.capture_id or "capture"
    want = np.asarray(info.wavelengths_nm, dtype=float)
    have = np.asarray(capture.wavelengths, dtype=float)
    if have.shape != want.shape or not np.allclose(have, want, atol=1.0):
        raise BandMismatchError(
            source, f"bands {list(capture.wavelengths)} nm; the model expects {list(want)} nm"
        )


def predict_logits(
    model: nn.Module,
    info: ModelInfo,
    cube: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    sw_batch_size: int = 4,
    overlap: float = 0.25,
) -> torch.Tensor:
    """Network logits (``out_channels x H x W``, CPU float32) of one ``C x H x W`` cube."""
    mean = torch.as_tensor(info.band_mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.as_tensor(info.band_std, dtype=torch.float32).view(-1, 1, 1)
    x = (torch.from_numpy(np.array(cube, dtype=np.float32)) - mean) / std  # copy: may be read-only
    model.eval()
    with torch.inference_mode():
        out = sliding_window_inference(
            x[None].to(device),
            roi_size=tuple(info.patch_size),
            sw_batch_size=sw_batch_size,
            predictor=model,
            overlap=overlap,
            mode="gaussian",
        )
    assert isinstance(out, torch.Tensor)
    return out[0].float().cpu()


# --- labels -----------------------------------------------------------------------------------


def resolve_truth(capture: Capture, labels: LabelSource) -> GroundTruth | None:
    """Ground truth of ``capture`` from ``labels``: "truth" (the capture's own), a callable of the
    capture, or a mapping capture id -> GroundTruth / dict of masks (depth, healing, wound_mask)."""
    if isinstance(labels, str):
        if labels != "truth":
            raise ValueError(f"labels must be 'truth', a callable or a mapping, got {labels!r}")
        value: TruthLike | None = capture.truth
    elif callable(labels):
        value = labels(capture)
    else:
        value = labels.get(capture.metadata.capture_id or capture.identity())
    if value is None or isinstance(value, GroundTruth):
        return value
    return GroundTruth(**dict(value))


def _wound_truth(task: str, truth: GroundTruth) -> np.ndarray | None:
    if truth.wound_mask is not None:
        return np.asarray(truth.wound_mask) > 0
    if task == "burn-depth" and truth.depth is not None:
        return np.isin(truth.depth, WOUND_CLASSES)
    return None


def _make_item(
    capture: Capture,
    task: str,
    truth: GroundTruth,
    classes: np.ndarray,
    healing_prob: np.ndarray | None,
) -> _Item | None:
    cid = capture.metadata.capture_id or capture.identity()
    h, w = capture.cube.shape[1:]
    for name, arr in truth.arrays().items():
        if arr.shape != (h, w):
            raise MetadataError(cid, f"{name} labels {arr.shape} do not match the cube {h}x{w}")
    tertile = fitzpatrick_tertile(capture.metadata.fitzpatrick)
    wound_true = _wound_truth(task, truth)
    if task == "burn-depth":
        if truth.depth is None:
            return None
        heal_true = None if truth.healing is None else (np.asarray(truth.healing) > 0)
        return _Item(
            cid, tertile, classes, np.asarray(truth.depth).astype(np.int64),
            healing_prob, heal_true, np.isin(classes, WOUND_CLASSES), wound_true,
        )  # fmt: skip
    if wound_true is None:
        return None
    return _Item(cid, tertile, classes, wound_true.astype(np.int64),
                 wound_pred=classes > 0, wound_true=wound_true)  # fmt: skip


# --- scoring ----------------------------------------------------------------------------------


def score_items(
    items: Sequence[_Item], task: str, *, threshold: float = 0.5, n_bins: int = 10
) -> dict[str, Any]:
    """Every metric of ``items``: classes (depth or wound/background), healing, wound."""
    names = DEPTH_NAMES if task == "burn-depth" else WOUND_MASK_NAMES
    out: dict[str, Any] = {"captures": len(items)}
    key = "depth" if task == "burn-depth" else "segmentation"
    out[key] = segmentation_metrics(
        [i.classes_pred for i in items], [i.classes_true for i in items], names
    )
    heal = [i for i in items if i.healing_prob is not None and i.healing_true is not None]
    if heal:
        skin = [np.isin(i.classes_true, SKIN_CLASSES) for i in heal]
        y_true = np.concatenate([i.healing_true[m] for i, m in zip(heal, skin, strict=True)])  # type: ignore[index]
        y_prob = np.concatenate([i.healing_prob[m] for i, m in zip(heal, skin, strict=True)])  # type: ignore[index]
        out["healing"] = binary_metrics(y_true, y_prob, threshold=threshold, n_bins=n_bins)
        out["healing"]["scope"] = "skin pixels (truth depth class 1-5), pooled over captures"
    wound = [i for i in items if i.wound_pred is not None and i.wound_true is not None]
    if wound:
        out["wound"] = mask_metrics([i.wound_pred for i in wound], [i.wound_true for i in wound])  # type: ignore[misc]
    return out


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


def _headline(model: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    def pick(m: dict[str, Any]) -> dict[str, Any]:
        seg = m.get("depth") or m.get("segmentation") or {}
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
    items: list[_Item] = []
    used: list[Capture] = []
    truths: list[GroundTruth] = []
    for cap in captures:
        truth = resolve_truth(cap, labels)
        if truth is None:
            continue
        check_bands(cap, info)
        logits = predict_logits(model, info, cap.cube, device=device)
        if info.task == "burn-depth":
            classes = logits[DEPTH_CHANNELS].argmax(0).numpy().astype(np.int64)
            prob = torch.sigmoid(logits[HEALING_CHANNEL]).numpy().astype(np.float64)
        else:
            classes, prob = logits.argmax(0).numpy().astype(np.int64), None
        item = _make_item(cap, info.task, truth, classes, prob)
        if item is not None:
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
    cubes, labs, heal = [], [], []
    for cap in train:
        truth = resolve_truth(cap, labels)
        if truth is None:
            continue
        lab = truth.depth if info.task == "burn-depth" else _wound_truth(info.task, truth)
        if lab is None:
            continue
        cubes.append(cap.cube)
        labs.append(np.asarray(lab).astype(np.int64))
        heal.append(truth.healing if info.task == "burn-depth" else None)
    if not cubes:
        return None, [], "no labelled TRAIN captures"
    n = 6 if info.task == "burn-depth" else 2
    try:
        fitted = fit_spectral_baseline(cubes, labs, healing=heal, num_classes=n, seed=seed)
    except ValueError as exc:
        return None, [], str(exc)
    items = []
    for cap, truth in zip(val, val_truths, strict=True):
        classes, prob = fitted.predict(cap.cube)
        item = _make_item(cap, info.task, truth, classes, prob)
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
    threshold: float = 0.5,
    labels: LabelSource = "truth",
    n_bins: int = 10,
    seed: int = 0,
    model_id: str | None = None,
    label_name: str | None = None,
) -> EvaluationReport:
    """Score ``model`` on ``val_captures`` and a spectral baseline fitted on ``train_captures``.

    Validation captures without labels are skipped; a ValueError is raised when none is left.
    ``label_name`` describes the labels in the report (default: "truth" or "provided").
    """
    from training.report import render_report

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
    }
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
    curves = _roc_curves(items, base_items)
    files = render_report(metrics, curves)
    return EvaluationReport(metrics=metrics, files=files, headline=metrics["headline"])


def _roc_curves(
    items: Sequence[_Item], base_items: Sequence[_Item]
) -> dict[str, tuple[np.ndarray, np.ndarray, float | None]]:
    curves: dict[str, tuple[np.ndarray, np.ndarray, float | None]] = {}
    for name, group in (("model", items), ("spectral baseline", base_items)):
        heal = [i for i in group if i.healing_prob is not None and i.healing_true is not None]
        if not heal:
            continue
        masks = [np.isin(i.classes_true, SKIN_CLASSES) for i in heal]
        y = np.concatenate([i.healing_true[m] for i, m in zip(heal, masks, strict=True)])  # type: ignore[index]
        p = np.concatenate([i.healing_prob[m] for i, m in zip(heal, masks, strict=True)])  # type: ignore[index]
        pts = roc_points(y, p)
        if pts is not None:
            auc = float(np.trapezoid(pts[1], pts[0]))
            curves[name] = (pts[0], pts[1], auc)
    return curves
