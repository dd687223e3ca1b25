"""Evaluate a registered model on its stored split (the read side of the model registry).

A registered model holds ``weights.pt``, ``config.yaml`` (resolved run config) and ``split.json``
(``train_capture_ids`` / ``val_capture_ids``; plain ``train`` / ``val`` lists are accepted too).
The captures come back the way training read them (:func:`training.data.load_items`): the phantom
cohort is regenerated from the config, store captures are fetched by id with ``truth`` or the
``latest`` annotations.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from training.evaluate import EvaluationReport, evaluate_model
from wound.capture import Capture
from wound.errors import MetadataError, RecordNotFoundError
from wound.networks import ModelInfo
from wound.predict import load_model
from wound.store.base import CaptureStore
from wound.store.records import ModelRecord


@dataclass
class RegisteredModel:
    """A model of the registry, loaded: record, info and the network (eval mode)."""

    record: ModelRecord
    info: ModelInfo
    model: nn.Module


def load_registered(
    store: CaptureStore,
    model_id: str | None = None,
    *,
    task: str | None = None,
    device: str | torch.device = "cpu",
) -> RegisteredModel:
    """The model ``model_id`` (latest of ``task`` when None) with its weights loaded, by the one
    model loader (:func:`wound.predict.load_model`, which ``Predictor.from_store`` uses too)."""
    return RegisteredModel(*load_model(store, model_id, task=task, device=device))


def model_json(store: CaptureStore, model_id: str, name: str) -> Any:
    """A JSON file stored with a model (RecordNotFoundError when it has none)."""
    record = store.get_model(model_id)
    if name not in record.files:
        raise RecordNotFoundError(f"model {model_id} has no {name}")
    return json.loads(store.get_model_file(model_id, name))


def stored_split(store: CaptureStore, model_id: str) -> tuple[list[str], list[str]]:
    """(train capture ids, validation capture ids) of a registered model."""
    record = store.get_model(model_id)
    for name in ("split.json", "manifest.json"):
        if name in record.files:
            data = model_json(store, model_id, name)
            data = data.get("split", data) if name == "manifest.json" else data
            train = data.get("train_capture_ids", data.get("train"))
            val = data.get("val_capture_ids", data.get("val"))
            if isinstance(train, list) and isinstance(val, list):
                return [str(c) for c in train], [str(c) for c in val]
    raise RecordNotFoundError(f"model {model_id} has no split.json with train/val capture ids")


def stored_seed(store: CaptureStore, model_id: str) -> int:
    """The run seed in the model's config.yaml (the spectral baseline's seed at registration)."""
    record = store.get_model(model_id)
    if "config.yaml" not in record.files:
        return 0
    raw = yaml.safe_load(store.get_model_file(model_id, "config.yaml")) or {}
    return int(raw.get("seed", 0)) if isinstance(raw, dict) else 0


def split_captures(
    store: CaptureStore, model_id: str, *, label: str = "truth"
) -> tuple[list[Capture], list[Capture]]:
    """(train, validation) captures of a registered model, labelled by ``label``."""
    from training.config import parse_config
    from training.data import load_items

    record = store.get_model(model_id)
    if "config.yaml" not in record.files:
        raise RecordNotFoundError(f"model {model_id} has no config.yaml")
    raw = yaml.safe_load(store.get_model_file(model_id, "config.yaml"))
    train_ids, val_ids = stored_split(store, model_id)
    data = dict(raw.get("data") or {})
    if data.get("source") == "phantom" and label != "truth":
        raise MetadataError(model_id, "trained on phantom ground truth: use --label truth")
    data["label"] = label
    data["filter"] = {"capture_ids": train_ids + val_ids}
    with tempfile.TemporaryDirectory(prefix="wound-eval-") as tmp:
        data["cache_dir"] = str(Path(tmp) / "cache")
        config = parse_config({**raw, "data": data}, f"model {model_id} config.yaml")
        items, _ = load_items(config, store)
        by_id = {i.capture_id: i.to_capture() for i in items}
    train = [by_id[c] for c in train_ids if c in by_id]
    val = [by_id[c] for c in val_ids if c in by_id]
    if not val:
        raise MetadataError(model_id, f"none of the {len(val_ids)} validation captures is labelled")
    return train, val


def evaluate_registered(
    store: CaptureStore,
    model_id: str | None = None,
    *,
    task: str | None = None,
    label: str = "truth",
    threshold: float | None = None,
    device: str | torch.device = "cpu",
) -> tuple[RegisteredModel, EvaluationReport]:
    """Evaluate a registered model on its stored validation split (baseline on its TRAIN split,
    with the run's seed): with the same labels and threshold (default: the model's saved operating
    point) this reproduces the metrics recorded at registration."""
    reg = load_registered(store, model_id, task=task, device=device)
    train, val = split_captures(store, reg.record.model_id, label=label)
    report = evaluate_model(
        reg.model,
        reg.info,
        val,
        train,
        device=device,
        threshold=threshold,
        seed=stored_seed(store, reg.record.model_id),
        model_id=reg.record.model_id,
        label_name=label,
    )
    return reg, report
