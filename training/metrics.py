"""Metric arithmetic for evaluation reports: pure functions of predictions and truth.

Segmentation (burn depth): per-class Dice and IoU with MONAI's ``DiceMetric`` / ``MeanIoU`` on
one-hot maps (per image, then averaged over the images whose truth holds the class), the same
pooled over all pixels (from the confusion matrix), pixel accuracy and the confusion matrix.

Binary probability maps (healing head): ROC AUC (:func:`roc_auc`, the one AUC of the project,
also used during training), sensitivity / specificity at an operating point, the Youden-optimal
threshold, expected calibration error with a reliability table.

Validation during training (:func:`validation_scores`): the task's metrics (:mod:`wound.tasks`)
from the same functions.

Binary masks (wound): Dice, IoU, precision, both pooled over all pixels ("pooled") and computed per
image then averaged ("per_image_mean").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import compute_dice, compute_iou
from monai.networks.utils import one_hot
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from wound.tasks import TaskSpec

#: Skin-pigmentation tertiles of the Fitzpatrick scale (I-II light, III-IV medium, V-VI dark).
FITZPATRICK_TERTILES: dict[str, tuple[int, ...]] = {
    "I-II": (1, 2),
    "III-IV": (3, 4),
    "V-VI": (5, 6),
}


def fitzpatrick_tertile(skin_type: int | None) -> str | None:
    """``"I-II"``, ``"III-IV"`` or ``"V-VI"`` for a Fitzpatrick skin type 1-6 (None if unknown)."""
    if skin_type is None:
        return None
    for name, types in FITZPATRICK_TERTILES.items():
        if int(skin_type) in types:
            return name
    raise ValueError(f"Fitzpatrick skin type must be 1-6, got {skin_type}")


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _safe_ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


# --- multi-class segmentation -----------------------------------------------------------------


def per_image_class_scores(
    preds: Sequence[np.ndarray], truths: Sequence[np.ndarray], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """MONAI Dice and IoU per image and class (``N x C``; NaN where the truth lacks the class).

    MONAI's functional ``compute_dice`` / ``compute_iou`` rather than the cumulative
    ``DiceMetric`` / ``MeanIoU``: those all-gather across ranks whenever a process group exists,
    and validation during DDP training runs on rank 0 alone.
    """
    dice: list[np.ndarray] = []
    iou: list[np.ndarray] = []
    for pred, truth in zip(preds, truths, strict=True):
        p = one_hot(torch.as_tensor(pred, dtype=torch.long)[None, None], num_classes)
        t = one_hot(torch.as_tensor(truth, dtype=torch.long)[None, None], num_classes)
        dice.append(compute_dice(p, t, include_background=True, ignore_empty=True)[0].numpy())
        iou.append(compute_iou(p, t, include_background=True, ignore_empty=True)[0].numpy())
    if not dice:
        empty = np.zeros((0, num_classes))
        return empty, empty.copy()
    return np.stack(dice).astype(float), np.stack(iou).astype(float)


def segmentation_metrics(
    preds: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    class_names: dict[int, str],
    *,
    masks: Sequence[np.ndarray | None] | None = None,
) -> dict[str, Any]:
    """Per-class Dice/IoU (per image mean and pooled), pixel accuracy, confusion matrix.

    ``masks`` (optional, per image) restricts the pooled numbers to the selected pixels.
    Rows of the confusion matrix are the truth, columns the prediction.
    """
    n = len(class_names)
    labels = list(range(n))
    dice_img, iou_img = per_image_class_scores(preds, truths, n)
    flat_p, flat_t = [], []
    for k, (p, t) in enumerate(zip(preds, truths, strict=True)):
        sel = None if masks is None else masks[k]
        flat_p.append(p[sel] if sel is not None else p.ravel())
        flat_t.append(t[sel] if sel is not None else t.ravel())
    yp = np.concatenate(flat_p) if flat_p else np.zeros(0, int)
    yt = np.concatenate(flat_t) if flat_t else np.zeros(0, int)
    cm = confusion_matrix(yt, yp, labels=labels)
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    per_class: dict[str, Any] = {}
    for c in labels:
        with np.errstate(all="ignore"):
            dice_mean = np.nanmean(dice_img[:, c]) if np.isfinite(dice_img[:, c]).any() else np.nan
            iou_mean = np.nanmean(iou_img[:, c]) if np.isfinite(iou_img[:, c]).any() else np.nan
        per_class[class_names[c]] = {
            "id": c,
            "support_pixels": int(cm[c].sum()),
            "dice_pooled": _nan_to_none(_safe_ratio(2 * tp[c], 2 * tp[c] + fp[c] + fn[c])),
            "iou_pooled": _nan_to_none(_safe_ratio(tp[c], tp[c] + fp[c] + fn[c])),
            "dice_per_image_mean": _nan_to_none(float(dice_mean)),
            "iou_per_image_mean": _nan_to_none(float(iou_mean)),
        }
    present = [v for v in per_class.values() if v["support_pixels"] > 0]
    mean_dice = [v["dice_pooled"] for v in present if v["dice_pooled"] is not None]
    return {
        "pixel_accuracy": _nan_to_none(_safe_ratio(tp.sum(), cm.sum())),
        "mean_dice_pooled": _nan_to_none(float(np.mean(mean_dice)) if mean_dice else np.nan),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_labels": [class_names[c] for c in labels],
        "pixels": int(cm.sum()),
    }


# --- binary probabilities ---------------------------------------------------------------------


def roc_auc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """ROC AUC of probabilities ``y_prob`` against 0/1 ``y_true`` (every pixel, sklearn's
    ``roc_auc_score``); NaN when ``y_true`` holds one class only."""
    y_true = np.asarray(y_true).astype(np.uint8).ravel()
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, np.asarray(y_prob, dtype=np.float64).ravel()))


def youden_threshold(y_true: np.ndarray, y_prob: np.ndarray) -> float | None:
    """Threshold maximising sensitivity + specificity - 1 (None when one class is absent)."""
    if len(np.unique(y_true)) < 2:
        return None
    fpr, tpr, thr = roc_curve(y_true, y_prob)
    k = int(np.argmax(tpr - fpr))
    return float(min(max(thr[k], 0.0), 1.0))


def calibration(y_true: np.ndarray, y_prob: np.ndarray, *, n_bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over ``n_bins`` equal-width bins and the reliability table."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(y_prob, edges[1:-1], right=False), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(float)
    conf = np.bincount(idx, weights=y_prob, minlength=n_bins)
    acc = np.bincount(idx, weights=y_true.astype(float), minlength=n_bins)
    total = max(count.sum(), 1.0)
    with np.errstate(all="ignore"):
        mean_conf = np.where(count > 0, conf / count, np.nan)
        frac_pos = np.where(count > 0, acc / count, np.nan)
    gaps = np.where(count > 0, np.abs(frac_pos - mean_conf), 0.0)
    ece = float((count / total * gaps).sum())
    return {
        "ece": ece,
        "n_bins": n_bins,
        "bin_edges": edges.tolist(),
        "bin_count": count.astype(int).tolist(),
        "bin_mean_probability": [_nan_to_none(v) for v in mean_conf],
        "bin_fraction_positive": [_nan_to_none(v) for v in frac_pos],
    }


def binary_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> dict[str, Any]:
    """AUC, sensitivity/specificity at ``threshold``, Youden threshold, ECE (pixels pooled)."""
    y_true = np.asarray(y_true).astype(np.uint8).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    pred = y_prob >= threshold
    tp = int((pred & (y_true == 1)).sum())
    fn = int((~pred & (y_true == 1)).sum())
    tn = int((~pred & (y_true == 0)).sum())
    fp = int((pred & (y_true == 0)).sum())
    auc = roc_auc(y_true, y_prob)
    youden = youden_threshold(y_true, y_prob)
    out: dict[str, Any] = {
        "pixels": int(y_true.size),
        "positives": int(y_true.sum()),
        "auc": _nan_to_none(auc),
        "threshold": float(threshold),
        "sensitivity": _nan_to_none(_safe_ratio(tp, tp + fn)),
        "specificity": _nan_to_none(_safe_ratio(tn, tn + fp)),
        "accuracy": _nan_to_none(_safe_ratio(tp + tn, y_true.size)),
        "counts": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "youden_threshold": youden,
        "calibration": calibration(y_true, y_prob, n_bins=n_bins) if y_true.size else None,
    }
    if youden is not None:
        yp = y_prob >= youden
        out["youden_sensitivity"] = _safe_ratio((yp & (y_true == 1)).sum(), (y_true == 1).sum())
        out["youden_specificity"] = _safe_ratio((~yp & (y_true == 0)).sum(), (y_true == 0).sum())
    return out


def roc_points(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(false-positive rate, true-positive rate) of the ROC curve, None if one class only."""
    y_true = np.asarray(y_true).ravel()
    if len(np.unique(y_true)) < 2:
        return None
    fpr, tpr, _ = roc_curve(y_true, np.asarray(y_prob).ravel())
    return fpr, tpr


# --- binary masks -----------------------------------------------------------------------------


def _mask_scores(tp: float, fp: float, fn: float) -> dict[str, float]:
    return {
        "dice": _safe_ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _safe_ratio(tp, tp + fp + fn),
        "precision": _safe_ratio(tp, tp + fp),
    }


def mask_metrics(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> dict[str, Any]:
    """Wound-mask Dice, IoU and precision: ``pooled`` over all pixels of all images, and
    ``per_image_mean`` (computed per image, averaged over images where the score is defined)."""
    totals = np.zeros(3)
    per_image: list[dict[str, float]] = []
    for p, t in zip(preds, truths, strict=True):
        pb, tb = np.asarray(p).astype(bool), np.asarray(t).astype(bool)
        counts = np.array([(pb & tb).sum(), (pb & ~tb).sum(), (~pb & tb).sum()], dtype=float)
        totals += counts
        per_image.append(_mask_scores(*counts))
    pooled = _mask_scores(*totals)
    mean: dict[str, float | None] = {}
    for key in ("dice", "iou", "precision"):
        vals = [s[key] for s in per_image if not math.isnan(s[key])]
        mean[key] = float(np.mean(vals)) if vals else None
    return {
        "images": len(per_image),
        "pooled": {k: _nan_to_none(v) for k, v in pooled.items()},
        "per_image_mean": mean,
    }


# --- validation during training ---------------------------------------------------------------


def validation_scores(
    spec: TaskSpec,
    preds: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    healing_probs: Sequence[np.ndarray] | None = None,
    healing_truths: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """The task's validation metrics (``spec.metrics``) over whole captures.

    ``dice`` / ``depth_dice``: MONAI Dice per image and class (classes absent from an image's
    truth skipped), averaged over images, then over the non-background classes present;
    ``depth_accuracy``: pixel accuracy on skin pixels (truth in ``spec.skin_classes``);
    ``healing_auc``: :func:`roc_auc` of the healing probabilities on skin pixels, pooled.
    """
    dice_img, _ = per_image_class_scores(preds, truths, spec.n_classes)

    def class_dice() -> float:
        with np.errstate(all="ignore"):
            per_class = [
                float(np.nanmean(dice_img[:, c]))
                for c in range(1, spec.n_classes)
                if np.isfinite(dice_img[:, c]).any()
            ]
        return float(np.mean(per_class)) if per_class else float("nan")

    def skin(truth: np.ndarray) -> np.ndarray:
        return np.isin(truth, spec.skin_classes)

    def accuracy() -> float:
        right = sum(
            int((p[skin(t)] == t[skin(t)]).sum()) for p, t in zip(preds, truths, strict=True)
        )
        total = sum(int(skin(t).sum()) for t in truths)
        return right / total if total else float("nan")

    def healing_auc() -> float:
        if not healing_probs or healing_truths is None:
            return float("nan")
        masks = [skin(t) for t in truths]
        y = np.concatenate([h[m] for h, m in zip(healing_truths, masks, strict=True)])
        p = np.concatenate([h[m] for h, m in zip(healing_probs, masks, strict=True)])
        return roc_auc(y, p)

    compute = {
        "dice": class_dice,
        "depth_dice": class_dice,
        "depth_accuracy": accuracy,
        "healing_auc": healing_auc,
    }
    return {name: compute[name]() for name in spec.metrics}
