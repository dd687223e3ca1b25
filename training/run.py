"""``train(config, store=...)``: data -> split -> statistics -> datasets -> engine -> TrainResult.

Works the same in one process and under ``torchrun --nproc_per_node=N`` (DDP); only rank 0
writes the run folder::

    <output_dir>/config.yaml      resolved run config (beside the checkpoint)
    <output_dir>/checkpoint.pt    latest epoch (``resume=True`` continues from it)
    <output_dir>/metrics.jsonl    one line per epoch
    <output_dir>/split.json       train/val (and calibration) subjects and capture ids
    <output_dir>/manifest.json    exact training manifest (captures, labels, split)
    <output_dir>/metrics.json     best metrics, best epoch, epochs run
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from monai.data import CacheDataset, Dataset
from monai.data.meta_obj import get_track_meta, set_track_meta
from monai.transforms import Compose
from monai.utils import set_determinism
from torch import nn

from training.calibration import calibrate
from training.config import RunConfig, RunConfigError
from training.data import (
    CaptureItem,
    Split,
    band_statistics,
    build_manifest,
    load_items,
    split_by_subject,
)
from training.distributed import DistContext, barrier, setup, teardown
from training.engine import CHECKPOINT, METRICS_LOG, EpochHook, Trainer, model_info
from training.transforms import deterministic_transforms, random_transforms
from wound.capture import Capture
from wound.networks import ModelInfo, build_network
from wound.store.base import CaptureStore

log = logging.getLogger(__name__)

#: Fields that must match between a checkpoint's config and the config resuming it.
RESUME_FIELDS = ("task", "network", "data", "split", "patch_size", "batch_size", "seed")


@dataclass
class TrainResult:
    """A finished run: the best model (eval mode) and everything the evaluator and registry need."""

    model: nn.Module
    model_info: ModelInfo
    config: RunConfig  # resolved
    run_dir: Path
    split: dict[str, list[str]]  # train/val subjects and capture ids
    best_metrics: dict[str, float]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]]
    manifest: dict[str, Any]
    train_items: list[CaptureItem]
    val_items: list[CaptureItem]
    rank: int = 0
    world_size: int = 1
    calibration_items: list[CaptureItem] = field(default_factory=list)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def val_captures(self) -> list[Capture]:
        """Validation captures with their training labels as ``truth``."""
        return [i.to_capture() for i in self.val_items]

    def train_captures(self) -> list[Capture]:
        return [i.to_capture() for i in self.train_items]

    def metrics_json(self) -> dict[str, Any]:
        return json_safe(
            {
                "task": self.config.task,
                "stop_metric": self.config.stop_metric,
                "best": self.best_metrics,
                "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run,
                "stopped_early": self.stopped_early,
                "history": self.history,
            }
        )


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def make_dataset(
    items: list[CaptureItem], config: RunConfig, mean: tuple[float, ...], std: tuple[float, ...]
) -> Dataset:
    """Training dataset: CacheDataset over load + normalise, random crops/augmentation after.

    The random transforms never write into their input, so the cache is shared without the
    per-item deep copy (``copy_cache=False``).
    """
    det = deterministic_transforms(mean, std, input_size=config.inference.input_size)
    rand = random_transforms(config, mean, std, items[0].wavelengths if items else None)
    data = [i.as_dict() for i in items]
    if not config.cache.enabled:
        return Dataset(data, transform=Compose([*det.transforms, *rand.transforms]))
    return CacheDataset(
        data,
        transform=Compose([*det.transforms, *rand.transforms]),
        cache_rate=config.cache.rate,
        num_workers=config.cache.workers,
        progress=False,
        copy_cache=False,
    )


def calibration_split(split: Split, config: RunConfig) -> tuple[Split, list[CaptureItem]]:
    """Hold ``config.calibration.fraction`` of the TRAINING subjects out for calibration
    (:mod:`training.calibration`); the validation subjects are untouched. ([] when the fraction
    is 0 or fewer than 3 training subjects.)"""
    fraction = config.calibration.fraction
    if fraction <= 0 or len({i.subject for i in split.train}) < 3:
        if fraction > 0:
            log.warning("calibration skipped: fewer than 3 training subjects")
        return split, []
    inner = split_by_subject(split.train, fraction, config.split.seed + 1)
    return Split(train=inner.train, val=split.val), inner.val


def _calibration_json(calib: list[CaptureItem]) -> dict[str, Any]:
    if not calib:
        return {}
    return {
        "calibration_subjects": sorted({i.subject for i in calib}),
        "calibration_capture_ids": [i.capture_id for i in calib],
    }


def _with_outcome(
    model: nn.Module,
    info: ModelInfo,
    train_items: list[CaptureItem],
    calib: list[CaptureItem],
    device: torch.device,
) -> ModelInfo:
    """``info`` with the capture-level read-out (:mod:`training.ulcer_outcome`) when it fits."""
    from training.ulcer_outcome import fit_outcome

    try:
        outcome = fit_outcome(
            model,
            info,
            [i.to_capture() for i in train_items],
            [i.to_capture() for i in calib],
            device=device,
        )
    except ValueError as exc:
        log.warning("no capture-level outcome: %s", exc)
        return info
    return info.model_copy(update={"outcome": outcome})


def _prepare_run_dir(
    config: RunConfig, ctx: DistContext, split: Split, manifest: dict[str, Any], resume: bool
) -> Path:
    run_dir = config.output_dir
    ckpt = run_dir / CHECKPOINT
    if resume and not ckpt.exists():
        raise RunConfigError(ckpt, "--resume: no checkpoint to resume from")
    if resume:
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)["config"]
        now = config.model_dump(mode="json")
        changed = [k for k in RESUME_FIELDS if saved.get(k) != now.get(k)]
        if changed:
            raise RunConfigError(
                ckpt, f"--resume with a different config: {', '.join(changed)} changed"
            )
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            for name in (CHECKPOINT, METRICS_LOG, "metrics.json"):
                (run_dir / name).unlink(missing_ok=True)
        config.save(run_dir / "config.yaml")
        (run_dir / "split.json").write_text(json.dumps(split.to_json(), indent=2))
        (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    barrier(ctx)
    return run_dir


def train(
    config: RunConfig,
    *,
    store: CaptureStore | None = None,
    resume: bool = False,
    on_epoch_end: EpochHook | None = None,
) -> TrainResult:
    """Train ``config``; resume from ``<output_dir>/checkpoint.pt`` when ``resume``.

    ``on_epoch_end(epoch, row)`` is called on every rank after each epoch's checkpoint.
    """
    ctx = setup(config.device)
    track_meta, threads = get_track_meta(), torch.get_num_threads()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        set_determinism(seed=config.seed)
        items, skipped = load_items(config, store)
        split = split_by_subject(items, config.split.val_fraction, config.split.seed)
        split, calib = calibration_split(split, config)
        mean, std = band_statistics(split.train)
        resolved = config.resolved(
            in_channels=len(items[0].wavelengths), cuda=ctx.device.type == "cuda"
        )
        manifest = build_manifest(resolved, split, skipped)
        if calib:
            manifest["captures"] += [
                {"capture_id": i.capture_id, "subject": i.subject, "split": "calibration",
                 "labels": i.annotation}
                for i in calib
            ]  # fmt: skip
            manifest["split"].update(_calibration_json(calib))
        run_dir = _prepare_run_dir(resolved, ctx, split, manifest, resume)
        set_track_meta(False)
        dataset = make_dataset(split.train, resolved, mean, std)
        set_determinism(seed=config.seed)  # same model init on every rank and every resume
        model = build_network(resolved.network)
        trainer = Trainer(
            resolved,
            ctx,
            model,
            dataset,
            split.val,
            mean=mean,
            std=std,
            run_dir=run_dir,
            wavelengths=items[0].wavelengths,
        )
        if resume:
            trainer.load_checkpoint(run_dir / CHECKPOINT)
        state = trainer.fit(on_epoch_end)
        assert state.best_state is not None
        best = build_network(resolved.network)
        best.load_state_dict(state.best_state)
        best = best.to(ctx.device).eval()
        info = model_info(resolved, items[0].wavelengths, mean, std, state.best_metrics)
        if calib:  # every rank computes the same (deterministic, small)
            fitted = calibrate(
                best,
                info,
                [i.to_capture() for i in calib],
                resolved.calibration,
                device=ctx.device,
                seed=config.seed,
            )
            info = info.model_copy(update={"calibration": fitted})
        if resolved.spec.capture_outcome:  # ulcer-healing: the capture-level read-out
            info = _with_outcome(best, info, split.train, calib, ctx.device)
        result = TrainResult(
            model=best,
            model_info=info,
            config=resolved,
            run_dir=run_dir,
            split={**split.to_json(), **_calibration_json(calib)},
            best_metrics=state.best_metrics,
            best_epoch=state.best_epoch,
            epochs_run=state.epoch,
            stopped_early=state.stopped_early,
            history=state.history,
            manifest=manifest,
            train_items=split.train,
            val_items=split.val,
            rank=ctx.rank,
            world_size=ctx.world_size,
            calibration_items=calib,
        )
        if ctx.is_main:
            (run_dir / "metrics.json").write_text(json.dumps(result.metrics_json(), indent=2))
        return result
    finally:
        set_track_meta(track_meta)
        torch.set_num_threads(threads)
        teardown(ctx)
