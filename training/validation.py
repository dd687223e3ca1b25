"""Validation on whole captures: MONAI sliding-window inference, then MONAI metrics.

``burn-depth``: ``healing_auc`` (ROC AUC on skin pixels), ``depth_dice`` (Dice, mean of classes
1-5 present), ``depth_accuracy`` (skin pixels), ``val_loss``.
``wound-mask``: ``dice`` (wound class), ``val_loss``.

MONAI's functional metrics (``compute_dice``, ``compute_roc_auc``) rather than the cumulative
``DiceMetric``/``ROCAUCMetric`` classes: those all-gather across ranks whenever a process group
exists, and validation runs on rank 0 alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.metrics import compute_dice, compute_roc_auc
from monai.networks.utils import one_hot
from torch import nn

from training.data import CaptureItem
from training.transforms import normalise_bands
from wound.networks import DEPTH_CHANNELS, HEALING_CHANNEL

#: MONAI's ROC AUC loops in Python over samples: at most this many skin pixels (even subsample).
MAX_AUC_PIXELS = 200_000


def infer_logits(
    model: nn.Module,
    image: torch.Tensor,
    *,
    patch_size: Sequence[int],
    sw_batch: int = 8,
    amp: bool = False,
    channels_last: bool = False,
) -> torch.Tensor:
    """Logits ``1 x K x H x W`` (float32) of a normalised ``1 x C x H x W`` image."""
    autocast = (
        torch.autocast(device_type=image.device.type, dtype=torch.float16) if amp else nullcontext()
    )

    def predictor(x: torch.Tensor) -> torch.Tensor:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return model(x)

    with torch.no_grad(), autocast:
        out = sliding_window_inference(
            image,
            roi_size=tuple(patch_size),
            sw_batch_size=sw_batch,
            predictor=predictor,
            overlap=0.25,
            mode="gaussian",
        )
    assert isinstance(out, torch.Tensor)
    return out.float()


def validate(
    model: nn.Module,
    items: Sequence[CaptureItem],
    *,
    task: str,
    mean: Sequence[float],
    std: Sequence[float],
    patch_size: Sequence[int],
    loss_fn: nn.Module | None = None,
    device: torch.device | str = "cpu",
    sw_batch: int = 8,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Metrics of ``model`` over ``items`` (whole captures)."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    n_classes = 6 if task == "burn-depth" else 2
    dices: list[torch.Tensor] = []
    losses: list[float] = []
    probs: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    correct = total = 0
    mean_a, std_a = np.asarray(mean), np.asarray(std)
    for item in items:
        x = torch.from_numpy(normalise_bands(item.load_image(), mean_a, std_a))[None].to(device)
        label = torch.from_numpy(np.asarray(item.load_label(), dtype=np.int64))[None].to(device)
        logits = infer_logits(
            model, x, patch_size=patch_size, sw_batch=sw_batch, amp=amp, channels_last=channels_last
        )
        if loss_fn is not None:
            with torch.no_grad():
                losses.append(float(loss_fn(logits, label)))
        cls_logits = logits[:, DEPTH_CHANNELS] if task == "burn-depth" else logits
        pred = cls_logits.argmax(dim=1, keepdim=True)
        target = label[:, 0:1]
        dices.append(
            compute_dice(
                one_hot(pred, n_classes), one_hot(target, n_classes), include_background=False
            )[0].cpu()
        )
        if task == "burn-depth":
            skin = target[0, 0] > 0
            correct += int((pred[0, 0][skin] == target[0, 0][skin]).sum())
            total += int(skin.sum())
            heal_p = torch.sigmoid(logits[0, HEALING_CHANNEL])[skin]
            probs.append(heal_p.cpu().numpy())
            truths.append(label[0, 1][skin].cpu().numpy())
    per_class = torch.nanmean(torch.stack(dices), dim=0)  # classes absent from an image: NaN
    metrics: dict[str, float] = {}
    if losses:
        metrics["val_loss"] = float(np.mean(losses))
    if task == "burn-depth":
        values = [v for v in per_class.tolist() if not math.isnan(v)]
        metrics["depth_dice"] = float(np.mean(values)) if values else float("nan")
        metrics["depth_accuracy"] = correct / total if total else float("nan")
        metrics["healing_auc"] = healing_auc(probs, truths)
    else:
        metrics["dice"] = float(per_class[0])
    if was_training:
        model.train()
    return metrics


def healing_auc(probs: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """ROC AUC (MONAI compute_roc_auc) of healing probabilities on skin pixels; NaN if one class."""
    if not probs:
        return float("nan")
    p = np.concatenate(probs)
    y = np.concatenate(truths).astype(np.float32)
    if p.size > MAX_AUC_PIXELS:
        idx = np.linspace(0, p.size - 1, MAX_AUC_PIXELS).astype(np.int64)
        p, y = p[idx], y[idx]
    if len(np.unique(y)) < 2:
        return float("nan")
    auc = compute_roc_auc(torch.from_numpy(p), torch.from_numpy(y))
    return float(auc) if isinstance(auc, float) else float(np.asarray(auc))
