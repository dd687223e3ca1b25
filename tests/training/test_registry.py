"""Registry write: put_model then get_model + load_network gives the same outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
import yaml

from training.config import RunConfig
from training.registry import make_model_id, register_model
from training.run import train
from wound.networks import ModelInfo, load_network
from wound.store import LocalStore


def test_model_id_format() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert re.fullmatch(
        r"burn-depth-20260304T050607Z-[0-9a-f]{8}", make_model_id("burn-depth", b"w", when)
    )


def test_registry_round_trip(tiny_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    result = train(tiny_config(epochs=1))
    store = LocalStore(tmp_path / "home")
    store.init()
    record = register_model(store, result, {"report.md": b"# report"})
    assert record.task == "burn-depth" and record.model_id.startswith("burn-depth-")
    assert {
        "weights.pt",
        "config.yaml",
        "metrics.json",
        "manifest.json",
        "split.json",
        "metrics.jsonl",
        "report.md",
    } <= set(record.files)

    got = store.get_model(task="burn-depth")
    assert got.model_id == record.model_id
    info = ModelInfo.model_validate(got.info)
    assert info.wavelengths_nm == result.model_info.wavelengths_nm
    assert info.band_mean == result.model_info.band_mean
    assert got.info["manifest_summary"]["val_subjects"] == 1
    assert "healing_auc" in got.info["metrics_headline"]

    model = load_network(info, store.get_model_file(got.model_id, "weights.pt"))
    x = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), result.model.cpu()(x))

    manifest = json.loads(store.get_model_file(got.model_id, "manifest.json"))
    assert len(manifest["captures"]) == 8
    assert {c["labels"]["burn-depth"] for c in manifest["captures"]} == {"truth"}
    config = yaml.safe_load(store.get_model_file(got.model_id, "config.yaml"))
    assert config["network"]["in_channels"] == 8

    with pytest.raises(ValueError, match="replace a training file"):
        register_model(store, result, {"weights.pt": b"x"})
