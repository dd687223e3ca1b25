"""The predictor: a registered model run with MONAI's sliding-window inferer over captures.

Cubes are band-normalised (``(x - band_mean) / band_std`` from :class:`ModelInfo`), stacked
across captures of the same shape, and run through :class:`monai.inferers.SlidingWindowInferer`
with Gaussian blending (windows of several captures share one ``sw_batch_size`` batch). Optional
flip test-time augmentation averages the probabilities of the identity, vertical, horizontal and
double flips. ``torch.inference_mode``; on CUDA, autocast (AMP, float16) and channels-last.
The window, overlap and TTA default to the model's own saved settings (``ModelInfo.inference``),
so evaluation, validation during training and deployment run the same path. Output channels
are activated per the task's heads (:mod:`wound.tasks`: softmax for the class head, sigmoid for
the healing head).

Calibration (:class:`wound.calibration.Calibration`, saved with the model): the class logits
are divided by ``class_temperature`` before the softmax and the healing logit by
``healing_temperature`` before the sigmoid (temperature scaling).

Uncertainty (per pixel, in [0, 1]) is documented here and used by :mod:`wound.scoring`: the
model's own probability that one of the pixel's two readings the score counts is wrong
(docs/calibration.md): ``1 - p_wound_right * p_heal_right``, where ``p_wound_right`` is the
(calibrated) probability that its wound / not-wound call is right (the wound classes' summed
probability ``p_w`` where it is called wound, else ``1 - p_w``) and ``p_heal_right`` that its
healing verdict at the model's operating point ``t`` is right (``p_heal`` where
``p_heal >= t``, else ``1 - p_heal``; 1 outside skin and for tasks without a healing head). With
TTA the probabilities are averaged over the flips first, so disagreement between flips raises it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.inferers import SlidingWindowInferer
from torch import nn
from torch.nn import functional as F

from wound.bands import check_wavelengths
from wound.calibration import UNCALIBRATED, Calibration
from wound.capture import Capture
from wound.engines import Engine, beside_engine, build_engine, rows_beside, store_engine
from wound.errors import BandMismatchError, StoreError
from wound.networks import ModelInfo, RoiMode, load_network, size_divisor
from wound.outcome import HealingOutcome
from wound.postprocess import clean_mask, resize_images, scaled_size
from wound.store.base import CaptureStore
from wound.store.records import ModelRecord
from wound.tasks import TaskSpec, get_task

__all__ = ["Prediction", "Predictor", "RoiMode", "load_model", "size_divisor"]
#: Default pixels per forward batch on the CPU (4 captures of 256 x 256): on a 2-core CPU the
#: small UNet runs ~1.4x faster per capture at batch 4 than at batch 16 (cache locality).
CPU_BATCH_PIXELS = 1 << 18
FLIPS: tuple[tuple[int, ...], ...] = ((), (-2,), (-1,), (-2, -1))


@dataclass(frozen=True)
class Prediction:
    """Per-pixel outputs of one capture.

    ``probabilities``: K x H x W class probabilities (the task's classes, :mod:`wound.tasks`);
    ``labels``: argmax (uint8); ``healing_prob``: sigmoid of the healing channel, 0 outside skin
    (tasks with a healing head only); ``uncertainty``: float32 in [0, 1]; ``healing_threshold``
    and ``uncertainty_threshold``: the model's saved operating point and indeterminate threshold
    (:class:`wound.calibration.Calibration`), which the score applies.
    """

    task: str
    probabilities: np.ndarray
    labels: np.ndarray
    uncertainty: np.ndarray
    healing_prob: np.ndarray | None = None
    model_id: str = ""
    model_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    healing_threshold: float = UNCALIBRATED.healing_threshold
    uncertainty_threshold: float = UNCALIBRATED.uncertainty_threshold
    outcome: HealingOutcome | None = None  # the model's capture-level read-out (wound.outcome)

    @property
    def spec(self) -> TaskSpec:
        return get_task(self.task)

    @property
    def depth_probs(self) -> np.ndarray:
        if self.spec.class_map != "depth":
            raise ValueError(f"a {self.task} model has no depth probabilities")
        return self.probabilities

    @property
    def depth_map(self) -> np.ndarray:
        if self.spec.class_map != "depth":
            raise ValueError(f"a {self.task} model has no depth map")
        return self.labels

    @property
    def wound_prob(self) -> np.ndarray:
        """Probability of wound: the task's wound classes summed (burn classes 2-5, or wound)."""
        wound = list(self.spec.wound_classes)
        if len(wound) == 1:
            return self.probabilities[wound[0]]
        return self.probabilities[wound].sum(axis=0)

    @property
    def wound_mask(self) -> np.ndarray:
        lut = np.zeros(256, dtype=bool)  # a lookup is faster than np.isin on large maps
        lut[list(self.spec.wound_classes)] = True
        return lut[self.labels]

    def arrays(self) -> dict[str, np.ndarray]:
        """Compact maps for the store (the task's ``map_names``): the class map uint8,
        probabilities and uncertainty float16."""
        spec = self.spec
        out: dict[str, np.ndarray] = {}
        for name in spec.map_names:
            if name == spec.class_map:
                out[name] = self.labels.astype(np.uint8)
            elif name == "uncertainty":
                out[name] = _float16(self.uncertainty)
            elif name == "healing_prob":
                assert self.healing_prob is not None
                out[name] = _float16(self.healing_prob)
            elif name == "wound_prob":
                out[name] = _float16(self.wound_prob)
            else:
                raise ValueError(f"task {self.task}: no map called {name!r}")
        return out


class Predictor:
    """Runs one registered model on captures (see the module docstring for the method)."""

    def __init__(
        self,
        network: nn.Module,
        info: ModelInfo,
        *,
        model_id: str = "",
        model_version: str = "",
        device: str | torch.device | None = None,
        roi: RoiMode | tuple[int, int] | None = None,
        overlap: float | None = None,
        sw_batch_size: int | None = None,
        tta: bool | None = None,
        amp: bool = True,
        channels_last: bool | None = None,
        max_batch_pixels: int | None = None,
        max_window_pixels: int = 1 << 22,
        engine: str | Engine = "torch",
    ) -> None:
        self.info = info
        self.spec = get_task(info.task)
        self.model_id = model_id
        self.model_version = model_version
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cuda = self.device.type == "cuda"
        self.amp = amp and cuda
        self.channels_last = cuda if channels_last is None else channels_last
        self.network = network.to(self.device).eval()
        if self.channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # The forward pass (wound.engines): everything else here is the same for every engine.
        self.engine: Engine = (
            build_engine(engine, self.network, info, self.amp, self.channels_last)
            if isinstance(engine, str)
            else engine
        )
        saved = info.inference  # the model's own settings, unless overridden
        self.roi: RoiMode | tuple[int, int] = saved.roi if roi is None else roi
        self.overlap = saved.overlap if overlap is None else overlap
        self.sw_batch_size = saved.sw_batch_size if sw_batch_size is None else sw_batch_size
        self.tta = saved.tta if tta is None else tta
        self.input_size, self.scales = saved.input_size, tuple(saved.scales)
        self.min_component, self.fill_holes = saved.min_component, saved.fill_holes
        if max_batch_pixels is None:  # CPU: small batches keep activations in cache
            max_batch_pixels = 1 << 20 if cuda else CPU_BATCH_PIXELS
        self.max_batch_pixels = max_batch_pixels
        self.max_window_pixels = max_window_pixels
        self._mean = torch.tensor(info.band_mean, dtype=torch.float32, device=self.device)
        self._std = torch.tensor(info.band_std, dtype=torch.float32, device=self.device)
        self._divisor = size_divisor(info.network)
        self.calibration = info.calibration
        self._inferers: dict[tuple[int, int], SlidingWindowInferer] = {}
        self._forward_s = 0.0

    @classmethod
    def from_store(
        cls,
        store: CaptureStore,
        model_id: str | None = None,
        *,
        task: str | None = None,
        device: str | torch.device | None = None,
        engine: str | None = None,
        **options: object,
    ) -> Predictor:
        """Load a registered model (``model_id``, else the latest of ``task``, else the latest).
        ``engine``: None = the ``engine`` setting (``WOUND_ENGINE``, default ``auto``); the ONNX
        graph of the onnxruntime engine is cached in the registry (:mod:`wound.engines`)."""
        record, info, network = load_model(store, model_id, task=task)
        version = str(record.info.get("version") or record.created_at.isoformat())
        return cls(
            network,
            info,
            model_id=record.model_id,
            model_version=version,
            device=device,
            engine=store_engine(store, record.model_id, network, info, engine, device=device),
            **options,  # type: ignore[arg-type]  # the keyword options of __init__
        )

    @property
    def task(self) -> str:
        return self.info.task

    # --- public API -------------------------------------------------------------------------
    def predict(self, capture: Capture | np.ndarray) -> Prediction:
        return self.predict_many([capture])[0]

    def predict_many(self, captures: Sequence[Capture | np.ndarray]) -> list[Prediction]:
        """Predict several captures, batching same-shape cubes together (order kept)."""
        cubes = [c.cube if isinstance(c, Capture) else c for c in captures]
        for capture in captures:
            self._check_bands(capture)
        results: list[Prediction | None] = [None] * len(cubes)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, cube in enumerate(cubes):
            groups.setdefault(tuple(cube.shape), []).append(i)
        for shape, idx in groups.items():
            per_batch = max(1, self.max_batch_pixels // (shape[1] * shape[2]))
            for start in range(0, len(idx), per_batch):
                chunk = idx[start : start + per_batch]
                for i, pred in zip(
                    chunk, self._predict_batch([cubes[i] for i in chunk]), strict=True
                ):
                    results[i] = pred
        return [r for r in results if r is not None]

    def forward_logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits of a normalised N x C x H x W batch through the sliding-window inferer."""
        h, w = batch.shape[-2:]
        roi = self.roi_size((h, w))
        if roi[0] >= h and roi[1] >= w:  # one window: MONAI's blend of it is the identity
            return whole_window(self._network_call, batch, roi).float()
        inferer = self._inferers.get(roi)
        if inferer is None:  # one per window size: the Gaussian weight map is cached in it
            inferer = SlidingWindowInferer(
                roi_size=roi,
                sw_batch_size=self.sw_batch_size,
                overlap=self.overlap,
                mode="gaussian",
                cache_roi_weight_map=True,
                progress=False,
            )
            self._inferers[roi] = inferer
        out = inferer(batch, self._network_call)
        assert isinstance(out, torch.Tensor)
        return out.float()

    def roi_size(self, image: tuple[int, int]) -> tuple[int, int]:
        """The window: ``patch`` = the model's patch size; ``whole`` = the image (rounded up to
        what the network accepts); ``auto`` = whole when it has at most ``max_window_pixels``,
        else a square window of that many pixels (a multiple of the patch size); or as given.

        One whole-image window is the fastest path on CPU and GPU for a fully convolutional net
        (no overlap recomputed); the Gaussian blend then weighs a single window.
        """
        d = self._divisor
        whole = (math.ceil(image[0] / d) * d, math.ceil(image[1] / d) * d)
        patch = (int(self.info.patch_size[0]), int(self.info.patch_size[1]))
        if self.roi == "patch":
            return patch
        if self.roi == "whole":
            return whole
        if self.roi == "auto":
            if whole[0] * whole[1] <= self.max_window_pixels:
                return whole
            side = max(patch[0], math.isqrt(self.max_window_pixels) // patch[0] * patch[0])
            return (min(side, whole[0]), min(side, whole[1]))
        return (int(self.roi[0]), int(self.roi[1]))

    def normalise(self, cubes: Sequence[np.ndarray]) -> torch.Tensor:
        """``(x - band_mean) / band_std`` as an N x C x H x W float32 tensor on the device."""
        if len(cubes) == 1:
            cube = np.asarray(cubes[0], dtype=np.float32)
            if not cube.flags.writeable:  # e.g. a memory-mapped TIFF: torch wants a writable buffer
                cube = cube.copy()
            batch = torch.from_numpy(cube)[None]
        else:
            batch = torch.from_numpy(np.stack([np.asarray(c, dtype=np.float32) for c in cubes]))
        batch = batch.to(self.device, non_blocking=True)
        return batch.sub(self._mean[:, None, None]).div_(self._std[:, None, None])

    # --- internals --------------------------------------------------------------------------
    def _network_call(self, x: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        out = self.engine(x)
        self._forward_s += time.perf_counter() - t0  # the "forward" stage of time to result
        return out

    def _check_bands(self, capture: Capture | np.ndarray) -> None:
        """A capture's wavelengths must match the model's (:func:`check_wavelengths`); a bare
        cube is checked for its band count only."""
        cube = capture.cube if isinstance(capture, Capture) else capture
        if cube.ndim != 3 or cube.shape[0] != self.info.network.in_channels:
            raise BandMismatchError(
                _source(capture),
                f"cube {tuple(cube.shape)} does not match the model's "
                f"{self.info.network.in_channels} bands",
            )
        if isinstance(capture, Capture):
            try:  # the source is named only on failure: the capture's id hashes its whole cube
                check_wavelengths(capture.wavelengths, self.info.wavelengths_nm)
            except BandMismatchError as exc:
                raise BandMismatchError(_source(capture), exc.problem) from None

    @torch.inference_mode()
    def predict_with_logits(self, capture: Capture | np.ndarray) -> tuple[Prediction, torch.Tensor]:
        """The prediction of one capture and the raw logits of its un-flipped pass
        (``1 x out_channels x H x W``, float32, on the device): validation scores the first and
        computes the loss from the second without a second forward pass."""
        self._check_bands(capture)
        cube = capture.cube if isinstance(capture, Capture) else capture
        keep: list[torch.Tensor] = []
        (pred,) = self._predict_batch([cube], keep_logits=keep)
        return pred, keep[0]

    @beside_engine  # torch's threads around an onnxruntime forward (wound.engines)
    @torch.inference_mode()
    def _predict_batch(
        self, cubes: Sequence[np.ndarray], keep_logits: list[torch.Tensor] | None = None
    ) -> list[Prediction]:
        t0, self._forward_s = time.perf_counter(), 0.0
        probs, heal = self._probabilities(self.normalise(cubes), keep_logits)
        labels, uncertainty = rows_beside(self.engine, _labels_uncertainty)(
            probs,
            heal,
            self.calibration.healing_threshold,
            self.spec.wound_classes,
            self.calibration.wound_threshold,
            skin_classes=self.spec.skin_classes,
        )
        # zero-copy views on the CPU; one transfer each on an accelerator
        probs_np = probs.float().cpu().numpy()
        labels_np = labels.cpu().numpy()
        if len(self.spec.classes) == 2 and (self.min_component > 0 or self.fill_holes):
            labels_np = np.stack(
                [
                    clean_mask(m, min_fraction=self.min_component, fill_holes=self.fill_holes)
                    for m in labels_np
                ]
            )
        unc_np = uncertainty.float().cpu().numpy()
        heal_np = None if heal is None else heal.float().cpu().numpy()
        elapsed = (time.perf_counter() - t0) * 1000 / len(cubes)
        # stages of time to result that add up: the engine's forward passes, and the rest of
        # the predictor (normalise, window, flips, activation, labels, uncertainty)
        forward = self._forward_s * 1000 / len(cubes)
        return [
            Prediction(
                task=self.task,
                probabilities=probs_np[i],
                labels=labels_np[i],
                uncertainty=unc_np[i],
                healing_prob=None if heal_np is None else heal_np[i],
                model_id=self.model_id,
                model_version=self.model_version,
                timings_ms={"forward": forward, "predict": elapsed - forward},
                healing_threshold=self.calibration.healing_threshold,
                uncertainty_threshold=self.calibration.uncertainty_threshold,
                outcome=self.info.outcome,
            )
            for i in range(len(cubes))
        ]

    def _probabilities(
        self, batch: torch.Tensor, keep_logits: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Class probabilities (softmax) and, with a healing head, the healing sigmoid
        (N x H x W); averaged over the flips with TTA and over the model's ``scales`` (each run
        at :func:`wound.postprocess.scaled_size`, logits resized back to the input size)."""
        flips = FLIPS if self.tta else ((),)
        full = (int(batch.shape[-2]), int(batch.shape[-1]))
        probs: torch.Tensor | None = None
        heal: torch.Tensor | None = None
        for scale in self.scales:
            scaled = resize_images(batch, scaled_size(full, self.input_size, scale))
            for dims in flips:
                x = torch.flip(scaled, dims) if dims else scaled
                logits = self.forward_logits(x)
                if dims:
                    logits = torch.flip(logits, dims)
                logits = resize_images(logits, full)
                if not dims and keep_logits is not None and not keep_logits:
                    keep_logits.append(logits.clone())
                # per pixel: row blocks in parallel beside onnxruntime (wound.engines)
                p, h = rows_beside(self.engine, _activate)(logits, self.spec, self.calibration)
                probs = p if probs is None else probs.add_(p)
                if h is not None:
                    heal = h if heal is None else heal.add_(h)
        assert probs is not None
        runs = len(flips) * len(self.scales)
        if runs > 1:
            probs.div_(runs)
            if heal is not None:
                heal.div_(runs)
        return probs, heal


def _activate(
    logits: torch.Tensor, spec: TaskSpec, calibration: Calibration = UNCALIBRATED
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Class probabilities (softmax over the class head) and the healing probability (sigmoid
    of the healing head, N x H x W) or None, each logit divided by its saved temperature."""
    head = spec.class_head
    cls = logits if head.width == logits.shape[1] else logits[:, head.channels]
    if calibration.class_temperature != 1.0:
        cls = cls / calibration.class_temperature
    probs = torch.softmax(cls, dim=1)
    healing = spec.head("healing")
    if healing is None:
        return probs, None
    heal = logits[:, healing.start]
    if calibration.healing_temperature != 1.0:
        heal = heal / calibration.healing_temperature
    return probs, torch.sigmoid(heal)


def whole_window(
    network: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, roi: tuple[int, int]
) -> torch.Tensor:
    """What ``SlidingWindowInferer`` returns when one window covers the image: zero-padded to
    ``roi`` as MONAI pads (``diff // 2`` before), one forward pass, cropped back. Skips the
    Gaussian weight, accumulation and count-map buffers (~25% of a 1024 x 1280 forward on 2
    CPU cores); equal to MONAI's result to float32 rounding
    (``tests/wound/test_predict_fastpaths.py``)."""
    h, w = batch.shape[-2:]
    dh, dw = roi[0] - h, roi[1] - w
    if dh or dw:
        batch = F.pad(batch, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
    out = network(batch)
    return out[..., dh // 2 : dh // 2 + h, dw // 2 : dw // 2 + w] if dh or dw else out


def _source(capture: Capture | np.ndarray) -> str | None:
    if isinstance(capture, Capture):
        return capture.identity()  # the platform's id: a device id may name a patient
    return None


def load_model(
    store: CaptureStore,
    model_id: str | None = None,
    *,
    task: str | None = None,
    device: str | torch.device = "cpu",
) -> tuple[ModelRecord, ModelInfo, nn.Module]:
    """The one model loader: a registered model's record, info and network (eval mode).

    ``model_id``, else the latest model of ``task``, else the latest model. StoreError when the
    record's info is not a :class:`ModelInfo`.
    """
    record = store.get_model(model_id, task=task)
    info = model_info(record.info, record.model_id)
    weights = store.get_model_file(record.model_id, "weights.pt")
    return record, info, load_network(info, weights, device)


def model_info(info: dict[str, Any], model_id: str) -> ModelInfo:
    """``info`` of a model record as a :class:`ModelInfo` (StoreError naming the model)."""
    try:
        return ModelInfo.model_validate(info)
    except ValueError as exc:
        raise StoreError(f"model {model_id}: info is not a ModelInfo ({exc})") from None


def _labels_uncertainty(
    probs: torch.Tensor,
    heal: torch.Tensor | None,
    threshold: float = 0.5,
    wound_classes: Sequence[int] = (2, 3, 4, 5),
    wound_threshold: float | None = None,
    *,
    skin_classes: Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth map (uint8, the first most probable class like ``argmax``) and uncertainty (module
    docstring: ``1 - p_wound_right * p_heal_right`` at operating point ``threshold``); zeroes
    ``heal`` outside skin (labels not in ``skin_classes``; None: class 0 is not skin).

    One pass per class over N x H x W planes, in torch (all intra-op threads, any device):
    several times faster on the CPU than ``argmax`` over the K x H x W stack (torch's ``argmax``
    over a non-last dimension is especially slow there; with a calibrated wound call, 28 vs
    273 ms of CPU for a 1024 x 1280 capture, :func:`_first_max`).
    """
    k = probs.shape[1]
    best = probs[:, 0].clone()
    labels = torch.zeros(best.shape, dtype=torch.uint8, device=probs.device)
    p_wound = torch.zeros_like(best)
    called_wound = torch.zeros(best.shape, dtype=torch.bool, device=probs.device)
    for i in range(k):
        p = probs[:, i]
        if i in wound_classes:
            p_wound.add_(p)
        if i and wound_threshold is None:  # (a calibrated call picks its labels below)
            higher = torch.gt(p, best)  # strictly: ties keep the first class, as argmax does
            labels.masked_fill_(higher, i)  # 6x faster on the CPU than mul_(~higher).add_(higher)
            called_wound.masked_fill_(higher, i in wound_classes)
            torch.maximum(best, p, out=best)
    if wound_threshold is not None:  # calibrated wound call, then the best class of its side
        called_wound = p_wound > wound_threshold
        inside = [i for i in range(k) if i in wound_classes]
        outside = [i for i in range(k) if i not in wound_classes]
        labels = torch.where(called_wound, _first_max(probs, inside), _first_max(probs, outside))
    # probability that the wound / not-wound call is right
    right = torch.where(called_wound, p_wound, p_wound.neg().add_(1.0))
    if heal is not None:
        not_skin = _outside_skin(labels, k, skin_classes)
        if not_skin is not None:
            heal.masked_fill_(not_skin, 0.0)  # 0 outside skin
        # the healing verdict at the operating point is right with probability h or 1 - h
        heal_right = torch.where(heal >= threshold, heal, 1.0 - heal)
        if not_skin is not None:
            heal_right.masked_fill_(not_skin, 1.0)  # no verdict outside skin
        right = right.mul_(heal_right)
    uncertainty = right.neg_().add_(1.0).clamp_(0, 1)
    return labels, uncertainty


def _first_max(probs: torch.Tensor, ids: Sequence[int]) -> torch.Tensor:
    """Per pixel, the first most probable class among ``ids`` (uint8): ``ids[argmax]`` over
    those channels, one pass per class as in :func:`_labels_uncertainty`."""
    best = probs[:, ids[0]].clone()
    labels = torch.full(best.shape, ids[0], dtype=torch.uint8, device=probs.device)
    for i in ids[1:]:
        p = probs[:, i]
        labels.masked_fill_(torch.gt(p, best), i)  # strictly: ties keep the first, as argmax
        torch.maximum(best, p, out=best)
    return labels


def _outside_skin(
    labels: torch.Tensor, k: int, skin_classes: Sequence[int] | None
) -> torch.Tensor | None:
    """Pixels whose class is not skin (None when every class is: ``ulcer-healing``)."""
    if skin_classes is None or set(skin_classes) == set(range(1, k)):
        return labels == 0  # burn depth: background only
    outside = [i for i in range(k) if i not in skin_classes]
    if not outside:
        return None
    return torch.isin(labels, torch.tensor(outside, dtype=labels.dtype, device=labels.device))


def _float16(array: np.ndarray) -> np.ndarray:
    """``array.astype(float16)``, same bits, through torch (vectorised: ~4x faster on CPU)."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not array.flags.writeable:  # torch.from_numpy wants a writable buffer
        return array.astype(np.float16)
    return torch.from_numpy(array).half().numpy()
