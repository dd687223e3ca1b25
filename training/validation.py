"""Validation on whole captures during training: the deployed predictor, then the task's metrics.

Each validation capture runs through :class:`wound.predict.Predictor` with the model's inference
settings (``RunConfig.inference``: the same window, overlap and TTA evaluation and deployment
use), so the number early stopping selects on is measured on the deployed path. Metrics come
from :func:`training.metrics.validation_scores` (``TaskSpec.metrics``: burn-depth
``healing_auc``, ``depth_dice``, ``depth_accuracy``; wound-mask ``dice``), plus ``val_loss``
(the training loss on the un-flipped logits) when a loss is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from training.data import CaptureItem
from training.metrics import validation_scores
from wound.networks import ModelInfo
from wound.predict import Predictor
from wound.tasks import get_task


def validate(
    model: nn.Module,
    items: Sequence[CaptureItem],
    *,
    info: ModelInfo,
    loss_fn: nn.Module | None = None,
    device: torch.device | str = "cpu",
    sw_batch: int | None = None,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Metrics of ``model`` (described by ``info``) over ``items`` (whole captures)."""
    spec = get_task(info.task)
    fields = [p.field for p in spec.label_planes]
    heal_plane = fields.index("healing") if "healing" in fields else None
    was_training = model.training
    predictor = Predictor(
        model,
        info,
        device=device,
        sw_batch_size=sw_batch,
        amp=amp,
        channels_last=channels_last,
    )
    losses: list[float] = []
    preds: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    heal_p: list[np.ndarray] = []
    heal_t: list[np.ndarray] = []
    try:
        for item in items:
            label = np.asarray(item.load_label(), dtype=np.int64)
            pred, logits = predictor.predict_with_logits(item.load_image())
            if loss_fn is not None:
                target = torch.from_numpy(label)[None].to(logits.device)
                with torch.no_grad():
                    losses.append(float(loss_fn(logits, target)))
            preds.append(pred.labels.astype(np.int64))
            truths.append(label[0])
            if pred.healing_prob is not None and heal_plane is not None:
                heal_p.append(pred.healing_prob)
                heal_t.append(label[heal_plane])
    finally:
        if was_training:
            model.train()
    metrics: dict[str, float] = {}
    if losses:
        metrics["val_loss"] = float(np.mean(losses))
    metrics.update(validation_scores(spec, preds, truths, heal_p or None, heal_t or None))
    return metrics
