"""Network factory (MONAI networks), the model bundle format shared by training and inference,
and the two input contracts of a model: the sizes its network accepts (:func:`size_divisor`) and
the wavelengths it was trained on (:func:`wound.bands.check_wavelengths`).

Output channels by task: :mod:`wound.tasks` (``TaskSpec.heads``; e.g. burn-depth = 6 depth-class
logits + 1 healing logit, wound-mask = background / wound logits).

A registered model (``CaptureStore.put_model``) holds ``weights.pt`` (state_dict), ``config.yaml``
(resolved run config), ``metrics.json``, ``report.md`` and plots; its ``info`` carries
:class:`ModelInfo` (``ModelInfo.model_dump(mode="json")``) so inference needs nothing from
``training/``. ``ModelInfo.inference`` holds the inference settings (window, overlap, TTA) the
model was evaluated with and is deployed with; records written before it existed get the defaults.
"""

from __future__ import annotations

import io
import math
from typing import Annotated, Any, Literal

import torch
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from torch import nn

from wound.calibration import Calibration
from wound.outcome import HealingOutcome
from wound.tasks import TASKS, get_task


def _known_task(name: str) -> str:
    get_task(name)  # ValueError naming the known tasks
    return name


#: A task name of :data:`wound.tasks.TASKS`.
Task = Annotated[str, AfterValidator(_known_task)]
NetworkName = Literal["unet", "segresnet", "flexunet", "swinunetr"]
RoiMode = Literal["auto", "patch", "whole"]

TASK_OUT_CHANNELS: dict[str, int] = {name: spec.out_channels for name, spec in TASKS.items()}


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
    norm: Literal["instance", "batch"] = "instance"  # unet only: MONAI UNet's normalisation layer
    backbone: str = "efficientnet-b0"  # flexunet only
    feature_size: int = 24  # swinunetr only
    ensemble: int = Field(1, ge=1)  # > 1: that many networks of this spec (wound.ensemble)


class InferenceSettings(BaseModel):
    """How the model is run on a capture (the predictor's settings, saved with the model).

    ``roi``: ``auto`` (the whole image as one window up to 4 Mpx), ``patch`` (the training patch
    size), ``whole``, or a window size; ``overlap`` of sliding windows; ``tta``: average over
    flips; ``sw_batch_size``: windows per forward pass.

    Photographs (docs/benchmark-segmentation.md): ``input_size`` resizes each image so its longer
    side has that many pixels before the network (the training resolution; None: native), and
    ``scales`` runs it at these factors of that size too, probabilities averaged at full size
    (multi-scale inference). Post-processing of a two-class map: ``min_component`` drops
    predicted regions smaller than this fraction of the image, ``fill_holes`` fills enclosed
    background (:mod:`wound.postprocess`).
    """

    model_config = ConfigDict(extra="forbid")

    roi: RoiMode | tuple[int, int] = "auto"
    overlap: float = Field(0.25, ge=0, lt=1)
    tta: bool = False
    sw_batch_size: int = Field(8, ge=1)
    input_size: int | None = Field(None, ge=16)
    scales: tuple[float, ...] = Field((1.0,), min_length=1)
    min_component: float = Field(0.0, ge=0, lt=1)
    fill_holes: bool = False


class ModelInfo(BaseModel):
    """What inference needs to run a registered model."""

    model_config = ConfigDict(extra="allow")

    task: Task
    network: NetworkSpec
    wavelengths_nm: tuple[float, ...]
    band_mean: tuple[float, ...]  # per-band normalisation: (x - mean) / std
    band_std: tuple[float, ...]
    patch_size: tuple[int, int] = (128, 128)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    calibration: Calibration = Field(default_factory=Calibration)  # wound.calibration
    outcome: HealingOutcome | None = None  # capture-level read-out (wound.outcome)
    metrics: dict[str, Any] = {}


def build_network(spec: NetworkSpec) -> nn.Module:
    """A 2-D MONAI segmentation network (``pretrained=False`` always)."""
    from monai.networks import nets

    if spec.ensemble > 1:
        raise ValueError("an ensemble is made of trained models (wound.ensemble), not built here")

    if spec.name == "unet":
        return nets.UNet(
            spatial_dims=2,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            channels=spec.channels,
            strides=spec.strides,
            num_res_units=spec.num_res_units,
            dropout=spec.dropout,
            norm=spec.norm,
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
    if info.network.ensemble > 1:
        from wound.ensemble import empty_ensemble  # imports this module

        model: nn.Module = empty_ensemble(info)
    else:
        model = build_network(info.network)
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


def size_divisor(spec: NetworkSpec) -> int:
    """Input sizes the network accepts are multiples of this.

    MONAI's UNet downsamples by each stride in turn (a stride-s convolution, padding 1) and
    upsamples back with a stride-s transposed convolution, so every level needs a size divisible
    by its stride: the product of the strides (``2**len(strides)`` only when all are 2).
    SegResNet (default ``blocks_down``) halves 3 times; FlexibleUNet and SwinUNETR 5 times.
    """
    if spec.name == "unet":
        return math.prod(spec.strides) if spec.strides else 1
    if spec.name == "segresnet":
        return 8
    return 32
