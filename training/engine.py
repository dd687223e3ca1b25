"""The training loop: AdamW, linear warm-up + cosine, clipping, AMP, checkpoints, early stopping.

Exact resume: every epoch's data order and augmentation are seeded from ``(seed, epoch, rank)``
(fresh DataLoader generator per epoch), and the checkpoint written after each epoch holds model,
optimiser, scheduler, GradScaler, global RNG states, best metric/weights, early-stopping counter
and the metrics history, so ``--resume`` continues bit for bit.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import DataLoader, Dataset
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from training.config import RunConfig
from training.data import CaptureItem
from training.distributed import DistContext, all_reduce_mean, broadcast_object
from training.losses import build_loss
from training.validation import validate
from wound.networks import ModelInfo

CHECKPOINT = "checkpoint.pt"
METRICS_LOG = "metrics.jsonl"
EpochHook = Callable[[int, dict[str, Any]], None]


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR factor: linear warm-up to 1 over ``warmup_steps``, then cosine down to 0."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@dataclass
class FitState:
    """What survives between epochs (and in the checkpoint)."""

    epoch: int = 0  # next epoch to run
    best_metric: float | None = None
    best_epoch: int = -1
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """One run of ``config`` (resolved) on ``train_ds`` with validation on ``val_items``."""

    def __init__(
        self,
        config: RunConfig,
        ctx: DistContext,
        model: nn.Module,
        train_ds: Dataset,
        val_items: list[CaptureItem],
        *,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        run_dir: Path,
        wavelengths: tuple[float, ...] | None = None,
    ) -> None:
        self.config, self.ctx, self.run_dir = config, ctx, run_dir
        self.train_ds, self.val_items = train_ds, val_items
        self.mean, self.std = mean, std
        bands = wavelengths or (val_items[0].wavelengths if val_items else ())
        self.info = model_info(config, bands, mean, std)
        self.device = ctx.device
        self.amp = bool(config.amp) and self.device.type == "cuda"
        self.channels_last = bool(config.channels_last)
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model = model
        self.net: nn.Module = (
            DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            if ctx.distributed
            else model
        )
        self.loss_fn = build_loss(
            config.task, healing_weight=config.healing_weight, batch_dice=config.batch_dice
        )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.loader_batch = config.batch_size // config.crops_per_capture
        per_rank = math.ceil(len(train_ds) / ctx.world_size)
        self.steps_per_epoch = max(1, math.ceil(per_rank / self.loader_batch))
        total = self.steps_per_epoch * config.epochs
        warm = min(total - 1, round(config.warmup_epochs * self.steps_per_epoch))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(total, max(0, warm))
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.state = FitState()

    # --- data -----------------------------------------------------------------------------------
    def loader(self, epoch: int) -> DataLoader:
        """This epoch's loader: order and augmentation seeded by (seed, epoch, rank)."""
        cfg, ctx = self.config, self.ctx
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ctx.rank)
        sampler: DistributedSampler | RandomSampler
        if ctx.distributed:
            sampler = DistributedSampler(
                self.train_ds,
                num_replicas=ctx.world_size,
                rank=ctx.rank,
                shuffle=True,
                seed=cfg.seed,
            )
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(self.train_ds, generator=gen)
        return DataLoader(
            self.train_ds,
            batch_size=self.loader_batch,
            sampler=sampler,
            num_workers=cfg.workers,
            generator=gen,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    # --- one epoch ------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float:
        self.net.train()
        cfg = self.config
        total, steps = 0.0, 0
        bar = tqdm(
            self.loader(epoch),
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            # None: tqdm turns itself off when stderr is not a terminal (logs, CI)
            disable=None if cfg.progress and self.ctx.is_main else True,
            leave=False,
            dynamic_ncols=True,
        )
        for batch in bar:
            loss = self.step(batch["image"], batch["label"])
            total += loss
            steps += 1
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
        bar.close()
        return all_reduce_mean(self.ctx, total / max(1, steps))

    def step(self, image: torch.Tensor, label: torch.Tensor) -> float:
        """One optimiser step on a batch of patches; returns the loss."""
        x = image.to(self.device, non_blocking=True)
        y = label.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            logits = self.net(x)
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return float(loss.detach())

    def validate(self) -> dict[str, float]:
        """Rank 0 validates on whole captures; every rank gets the same numbers."""
        metrics: dict[str, float] = {}
        if self.ctx.is_main:
            metrics = validate(
                self.model,
                self.val_items,
                info=self.info,
                loss_fn=self.loss_fn,
                device=self.device,
                sw_batch=self.config.val_sw_batch,
                amp=self.amp,
                channels_last=self.channels_last,
            )
        result: dict[str, float] = broadcast_object(self.ctx, metrics)
        return result

    # --- loop -----------------------------------------------------------------------------------
    def fit(self, on_epoch_end: EpochHook | None = None) -> FitState:
        cfg, st = self.config, self.state
        metric = cfg.early_stopping.metric
        sign = -1.0 if metric == "val_loss" else 1.0
        while st.epoch < cfg.epochs and not st.stopped_early:
            epoch = st.epoch
            start = time.perf_counter()
            lr = self.scheduler.get_last_lr()[0]
            train_loss = self.train_epoch(epoch)
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "lr": lr}
            if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
                val = self.validate()
                row.update(val)
                value = val.get(metric, float("nan"))
                if cfg.early_stopping.keep == "last":
                    st.best_metrics = dict(val)  # the last validation describes the kept weights
                elif not math.isnan(value) and (
                    st.best_metric is None
                    or sign * value > sign * st.best_metric + cfg.early_stopping.min_delta
                ):
                    st.best_metric, st.best_epoch, st.bad_epochs = value, epoch + 1, 0
                    st.best_metrics = dict(val)
                    st.best_state = {
                        k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
                    }
                    row["best"] = True
                else:
                    st.bad_epochs += 1
                    patience = cfg.early_stopping.patience
                    st.stopped_early = (
                        patience is not None
                        and st.bad_epochs >= patience
                        and epoch + 1 < cfg.epochs
                    )
            row["seconds"] = round(time.perf_counter() - start, 3)
            st.history.append(row)
            st.epoch = epoch + 1
            if self.ctx.is_main:
                self.save_checkpoint()
                with (self.run_dir / METRICS_LOG).open("a") as f:
                    f.write(json.dumps(row) + "\n")
                if cfg.progress:
                    tqdm.write(epoch_line(row, cfg.epochs))
            if on_epoch_end is not None:
                on_epoch_end(epoch, row)
        if st.best_state is None:  # keep: last, or never validated with a finite metric
            st.best_metric = st.best_metrics.get(metric)
            st.best_state = {
                k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
            }
            st.best_epoch = st.epoch
        return st

    # --- checkpoints ----------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        st = self.state
        return {
            "epoch": st.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "best_metric": st.best_metric,
            "best_epoch": st.best_epoch,
            "best_metrics": st.best_metrics,
            "best_state": st.best_state,
            "bad_epochs": st.bad_epochs,
            "stopped_early": st.stopped_early,
            "history": st.history,
            "config": self.config.model_dump(mode="json"),
        }

    def save_checkpoint(self) -> Path:
        path = self.run_dir / CHECKPOINT
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.checkpoint(), tmp)
        tmp.replace(path)
        return path

    def load_checkpoint(self, path: Path) -> None:
        """Restore everything :meth:`checkpoint` saved; the metrics log is rewritten to match."""
        ck = torch.load(path, map_location="cpu", weights_only=False)
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        self.scaler.load_state_dict(ck["scaler"])
        _set_rng_state(ck["rng"])
        self.state = FitState(
            epoch=ck["epoch"],
            best_metric=ck["best_metric"],
            best_epoch=ck["best_epoch"],
            best_metrics=ck["best_metrics"],
            best_state=ck["best_state"],
            bad_epochs=ck["bad_epochs"],
            stopped_early=ck["stopped_early"],
            history=copy.deepcopy(ck["history"]),
        )
        if self.ctx.is_main:
            lines = "".join(json.dumps(row) + "\n" for row in self.state.history)
            (self.run_dir / METRICS_LOG).write_text(lines)


def model_info(
    config: RunConfig,
    wavelengths: tuple[float, ...],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    metrics: dict[str, float] | None = None,
) -> ModelInfo:
    """What inference needs to run the model of ``config`` (resolved), saved in the registry."""
    return ModelInfo(
        task=config.task,
        network=config.network,
        wavelengths_nm=wavelengths,
        band_mean=mean,
        band_std=std,
        patch_size=config.patch_size,
        inference=config.inference,
        metrics=metrics or {},
    )


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """One readable line per epoch (the JSONL log keeps every number)."""
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for key, value in row.items():
        if key in ("epoch", "best") or not isinstance(value, float):
            continue
        parts.append(f"{key} {value:.4g}")
    return "  ".join(parts) + ("  (best)" if row.get("best") else "")
