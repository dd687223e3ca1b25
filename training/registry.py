"""Write a trained model into the store's registry (``CaptureStore.put_model``).

Files: ``weights.pt`` (state_dict), ``config.yaml`` (resolved), ``metrics.json``,
``manifest.json`` (capture ids + annotation versions / "truth" + split), ``split.json``,
``metrics.jsonl``, plus the evaluator's report files. ``info`` is :class:`ModelInfo` plus
``metrics_headline`` and ``manifest_summary``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from training.data import manifest_summary
from training.engine import METRICS_LOG
from training.run import TrainResult, json_safe
from wound.networks import weights_to_bytes
from wound.store.base import CaptureStore
from wound.store.records import ModelRecord


def make_model_id(task: str, weights: bytes, now: datetime | None = None) -> str:
    """``<task>-<UTC timestamp>-<first 8 hex of the weights' SHA-256>``."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{task}-{when:%Y%m%dT%H%M%SZ}-{hashlib.sha256(weights).hexdigest()[:8]}"


def model_files(result: TrainResult, weights: bytes | None = None) -> dict[str, bytes]:
    """The training files of a registered model (without the evaluation report)."""
    log_path = result.run_dir / METRICS_LOG
    history = (
        log_path.read_bytes()
        if log_path.exists()
        else "".join(json.dumps(r) + "\n" for r in result.history).encode()
    )
    return {
        "weights.pt": weights if weights is not None else weights_to_bytes(result.model),
        "config.yaml": result.config.to_yaml().encode(),
        "metrics.json": json.dumps(result.metrics_json(), indent=2, allow_nan=False).encode(),
        "manifest.json": json.dumps(result.manifest, indent=2).encode(),
        "split.json": json.dumps(result.split, indent=2).encode(),
        METRICS_LOG: history,
    }


def register_model(
    store: CaptureStore,
    result: TrainResult,
    extra_files: dict[str, bytes] | None = None,
    *,
    model_id: str | None = None,
    headline: dict[str, Any] | None = None,
) -> ModelRecord:
    """Put the model of ``result`` into ``store``; ``extra_files`` (e.g. report.md) ride along.

    ``headline`` (e.g. the evaluator's headline metrics) defaults to the best validation metrics.
    """
    weights = weights_to_bytes(result.model)
    files = model_files(result, weights)
    for name, data in (extra_files or {}).items():
        if name in files:
            raise ValueError(f"extra file {name!r} would replace a training file")
        files[name] = data
    model_id = model_id or make_model_id(result.config.task, weights)
    info = result.model_info.model_dump(mode="json")
    info["metrics"] = json_safe(info["metrics"])
    info["metrics_headline"] = json_safe(headline if headline is not None else result.best_metrics)
    info["manifest_summary"] = manifest_summary(result.manifest)
    info["best_epoch"] = result.best_epoch
    info["epochs_run"] = result.epochs_run
    return store.put_model(model_id, files, task=result.config.task, info=info)


def register_ensemble(
    store: CaptureStore, model_ids: Sequence[str], *, note: str = ""
) -> ModelRecord:
    """Register the ensemble of the registered models ``model_ids`` as one model
    (:mod:`wound.ensemble`): ``weights.pt`` holds every member, ``ensemble.json`` names them."""
    from wound.ensemble import EnsembleError, build_ensemble
    from wound.predict import load_model

    if len(set(model_ids)) != len(model_ids):
        raise EnsembleError(f"a model is named twice: {', '.join(model_ids)}")
    members = [load_model(store, mid)[1:] for mid in model_ids]
    info, network = build_ensemble(members, model_ids)
    weights = weights_to_bytes(network)
    about: dict[str, Any] = {"members": list(model_ids), "combine": "mean probability"}
    if note:
        about["note"] = note
    record_info = info.model_dump(mode="json")
    record_info["ensemble_of"] = list(model_ids)
    return store.put_model(
        make_model_id(info.task, weights),
        {"weights.pt": weights, "ensemble.json": json.dumps(about, indent=2).encode()},
        task=info.task,
        info=record_info,
    )
