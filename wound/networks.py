"""Network factory (MONAI networks) and the model bundle format shared by training and inference.

Output channels by task:
- ``burn-depth``: 7 channels = 6 depth-class logits (ids of :mod:`wound.taxonomy`) + 1 healing
  logit ("heals within 21 days"), in that order.
- ``wound-mask``: 2 channels = background / wound logits.

A registered model (``CaptureStore.put_model``) holds ``weights.pt`` (state_dict), ``config.yaml``
(resolved run config), ``metrics.json``, ``report.md`` and plots; its ``info`` carries
:class:`ModelInfo` (``ModelInfo.model_dump(mode="json")``) so inference needs nothing from
``training/``.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

Task = Literal["burn-depth", "wound-mask"]
NetworkName = Literal["unet", "segresnet", "flexunet", "swinunetr"]

TASK_OUT_CHANNELS: dict[str, int] = {"burn-depth": 7, "wound-mask": 2}
DEPTH_CHANNELS = slice(0, 6)
HEALING_CHANNEL = 6


class NetworkSpec(BaseModel):
    """Which MONAI network, how wide; ``in_channels`` = number of bands."""

    model_config = ConfigDict(extra="forbid")

    name: NetworkName = "unet"
    in_channels: int = Field(8, ge=1)
    out_channels: int = Field(7, ge=1)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    dropout: float = 0.0
    backbone: str = "efficientnet-b0"  # flexunet only
    feature_size: int = 24  # swinunetr only


class ModelInfo(BaseModel):
    """What inference needs to run a registered model."""

    model_config = ConfigDict(extra="allow")

    task: Task
    network: NetworkSpec
    wavelengths_nm: tuple[float, ...]
    band_mean: tuple[float, ...]  # per-band normalisation: (x - mean) / std
    band_std: tuple[float, ...]
    patch_size: tuple[int, int] = (128, 128)
    metrics: dict[str, Any] = {}


def build_network(spec: NetworkSpec) -> nn.Module:
    """A 2-D MONAI segmentation network (``pretrained=False`` always)."""
    from monai.networks import nets

    if spec.name == "unet":
        return nets.UNet(
            spatial_dims=2,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            channels=spec.channels,
            strides=spec.strides,
            num_res_units=spec.num_res_units,
            dropout=spec.dropout,
        )
    if spec.name == "segresnet":
        return nets.SegResNet(
            spatial_dims=2,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            init_filters=spec.channels[0],
            dropout_prob=spec.dropout or None,
        )
    if spec.name == "flexunet":
        return nets.FlexibleUNet(
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            backbone=spec.backbone,
            pretrained=False,
            spatial_dims=2,
        )
    if spec.name == "swinunetr":
        return nets.SwinUNETR(
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            spatial_dims=2,
            feature_size=spec.feature_size,
        )
    raise ValueError(f"unknown network {spec.name!r}")


def weights_to_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, buf)
    return buf.getvalue()


def load_network(info: ModelInfo, weights: bytes, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the network of ``info`` and load ``weights`` (a state_dict saved by torch.save)."""
    model = build_network(info.network)
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()
