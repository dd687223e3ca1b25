"""Tiny phantom run configs for the training tests (seeded, 32-64 px, a few seconds each)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from training.config import RunConfig

TINY: dict[str, Any] = {
    "task": "burn-depth",
    "network": {"name": "unet", "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1},
    "data": {
        "source": "phantom",
        "phantom": {
            "subjects": 4,
            "captures_per_subject": 2,
            "seed": 3,
            "config": {"height": 48, "width": 48},
        },
    },
    "split": {"val_fraction": 0.25, "seed": 0},
    "patch_size": [32, 32],
    "crops_per_capture": 2,
    "batch_size": 4,
    "epochs": 2,
    "lr": 0.003,
    "warmup_epochs": 0.5,
    "progress": False,
    "threads": 1,
}


def tiny_config_dict(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    data = {**TINY, "output_dir": str(tmp_path / "run"), **overrides}
    return data


@pytest.fixture
def tiny_config(tmp_path: Path) -> Callable[..., RunConfig]:
    """``tiny_config(**overrides)`` -> a RunConfig writing into ``tmp_path/run``."""

    def make(**overrides: Any) -> RunConfig:
        return RunConfig.model_validate(tiny_config_dict(tmp_path, **overrides))

    return make
