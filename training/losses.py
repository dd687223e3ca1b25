"""Losses by the task's heads (:mod:`wound.tasks`): DiceCE on the class head, plus a BCE on skin
pixels for a healing head (burn-depth: depth + healing; wound-mask: DiceCE only)."""

from __future__ import annotations

import torch
from monai.losses import DiceCELoss
from torch import nn
from torch.nn import functional as F

from wound.tasks import BURN_DEPTH, Head, get_task


class BurnDepthLoss(nn.Module):
    """``DiceCE(depth logits, depth) + healing_weight * BCE(healing logit, healing | skin)``.

    ``label`` is ``B x 2 x H x W``: class ids and healing 0/1. The healing term only counts
    skin pixels (class in the task's ``skin_classes``: depth > 0 for burns, every pixel for
    ``ulcer-healing``); a batch without skin contributes zero.
    """

    def __init__(
        self,
        healing_weight: float = 1.0,
        *,
        task: str = BURN_DEPTH.name,
        batch_dice: bool = False,
    ) -> None:
        super().__init__()
        spec = get_task(task)
        healing = spec.head("healing")
        if healing is None:
            raise ValueError(f"task {task} has no healing head")
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, batch=batch_dice)
        self.healing_weight = healing_weight
        self.classes: Head = spec.class_head
        self.healing: Head = healing
        self.skin_classes: tuple[int, ...] = spec.skin_classes

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        depth = label[:, 0:1].long()
        healing = label[:, 1:2].float()
        loss = self.dice_ce(logits[:, self.classes.channels], depth)
        skin = torch.isin(depth, torch.tensor(self.skin_classes, device=depth.device)).float()
        bce = F.binary_cross_entropy_with_logits(
            logits[:, self.healing.channels], healing, reduction="none"
        )
        heal = (bce * skin).sum() / skin.sum().clamp_min(1.0)
        return loss + self.healing_weight * heal


class WoundMaskLoss(nn.Module):
    """DiceCE on the 2 wound-mask classes; ``label`` is ``B x 1 x H x W`` 0/1."""

    def __init__(self, *, batch_dice: bool = False) -> None:
        super().__init__()
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, batch=batch_dice)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.dice_ce(logits.float(), label[:, 0:1].long())


def build_loss(task: str, *, healing_weight: float = 1.0, batch_dice: bool = False) -> nn.Module:
    """The loss of ``task``: with a healing head, class DiceCE + healing BCE; else DiceCE.

    ``batch_dice``: the Dice term pooled over every pixel of the batch (as the data-based
    ranking metric) instead of averaged per image, where tiny or absent wounds weigh as much
    as large ones.
    """
    if get_task(task).has_healing:  # ValueError for an unknown task
        return BurnDepthLoss(healing_weight, task=task, batch_dice=batch_dice)
    return WoundMaskLoss(batch_dice=batch_dice)
