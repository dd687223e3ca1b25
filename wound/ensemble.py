"""Ensembles: several models of one task run as one network (e.g. the fold models of a
cross-validation, docs/benchmark-segmentation.md).

Members share the task, the network (architecture and width), the wavelengths, the patch size
and the inference settings, and are uncalibrated (a temperature or an operating point belongs to
one model's outputs; an ensemble would need its own). Each member sees the input in its own band
normalisation: the ensemble normalises with the members' mean statistics and a per-member affine
map inside the network converts (``member input = x * scale + shift``). The output is a logit map
whose activation (softmax per softmax head, sigmoid per sigmoid head: :mod:`wound.tasks`) is the
mean of the members' probabilities, so the predictor, its TTA and post-processing, both engines
and the registry run an ensemble like any model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from wound.calibration import UNCALIBRATED
from wound.errors import WoundError
from wound.networks import ModelInfo, build_network
from wound.tasks import get_task


class EnsembleError(WoundError):
    """Models that cannot be ensembled (names the model and what differs)."""


class EnsembleNet(nn.Module):
    """``k`` networks; the logits of the mean of their probabilities (module docstring)."""

    scale: torch.Tensor  # k x C: member i's input is x * scale[i] + shift[i]
    shift: torch.Tensor

    def __init__(
        self,
        members: Sequence[nn.Module],
        heads: Sequence[tuple[int, int, bool]],
        scale: torch.Tensor,
        shift: torch.Tensor,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.heads = [(int(a), int(b), bool(s)) for a, b, s in heads]  # start, stop, softmax?
        self.register_buffer("scale", scale.float())
        self.register_buffer("shift", shift.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale[:, :, None, None], self.shift[:, :, None, None]
        z = torch.stack([m(x * scale[i] + shift[i]) for i, m in enumerate(self.members)])
        parts = []
        for start, stop, softmax in self.heads:
            head = z[:, :, start:stop]
            if softmax:  # log of the mean probability: its softmax is that mean
                parts.append(torch.logsumexp(F.log_softmax(head, dim=2), dim=0) - math.log(len(z)))
            else:  # log-odds of the mean probability
                parts.append(
                    torch.logsumexp(F.logsigmoid(head), dim=0)
                    - torch.logsumexp(F.logsigmoid(-head), dim=0)
                )
        return torch.cat(parts, dim=1)


def _heads(task: str) -> list[tuple[int, int, bool]]:
    return [(h.start, h.stop, h.activation == "softmax") for h in get_task(task).heads]


def empty_ensemble(info: ModelInfo) -> EnsembleNet:
    """The network of an ensemble's ``info`` before its state_dict is loaded."""
    k, c = info.network.ensemble, info.network.in_channels
    members = [build_network(info.network.model_copy(update={"ensemble": 1})) for _ in range(k)]
    return EnsembleNet(members, _heads(info.task), torch.ones(k, c), torch.zeros(k, c))


def ensemble_info(infos: Sequence[ModelInfo], names: Sequence[str]) -> ModelInfo:
    """The :class:`ModelInfo` of an ensemble of models ``names`` (EnsembleError when they differ
    in anything but their weights and band statistics, or are calibrated)."""
    if len(infos) < 2:
        raise EnsembleError("an ensemble needs at least 2 models")
    first = infos[0]
    for name, info in zip(names, infos, strict=True):
        if info.network.ensemble != 1:
            raise EnsembleError(f"model {name} is itself an ensemble: give its members")
        if info.calibration != UNCALIBRATED or info.outcome is not None:
            raise EnsembleError(
                f"model {name} is calibrated: an ensemble of calibrated models would need its "
                "own calibration, which is not supported"
            )
        for field in ("task", "network", "wavelengths_nm", "patch_size", "inference"):
            if getattr(info, field) != getattr(first, field):
                raise EnsembleError(
                    f"model {name}: its {field} differs from model {names[0]}'s "
                    f"({getattr(info, field)} vs {getattr(first, field)})"
                )
    k = len(infos)
    mean = torch.tensor([i.band_mean for i in infos], dtype=torch.float64).mean(0)
    std = torch.tensor([i.band_std for i in infos], dtype=torch.float64).mean(0)
    return ModelInfo(
        task=first.task,
        network=first.network.model_copy(update={"ensemble": k}),
        wavelengths_nm=first.wavelengths_nm,
        band_mean=tuple(mean.tolist()),
        band_std=tuple(std.tolist()),
        patch_size=first.patch_size,
        inference=first.inference,
    )


def build_ensemble(
    members: Sequence[tuple[ModelInfo, nn.Module]], names: Sequence[str]
) -> tuple[ModelInfo, EnsembleNet]:
    """The ensemble's info and network from members' (info, network), in eval mode."""
    info = ensemble_info([i for i, _ in members], names)
    mean, std = torch.tensor(info.band_mean), torch.tensor(info.band_std)
    m_i = torch.tensor([i.band_mean for i, _ in members])
    s_i = torch.tensor([i.band_std for i, _ in members])
    # member i wants (x - m_i) / s_i; it gets x_n = (x - mean) / std: x = x_n * std + mean
    scale, shift = std / s_i, (mean - m_i) / s_i
    net = EnsembleNet([n for _, n in members], _heads(info.task), scale, shift)
    return info, net.eval()
