"""The default model of the benchmarks: the network of ``configs/burn-depth.yaml`` (8 bands)."""

from __future__ import annotations

from pathlib import Path

import yaml

from wound.networks import TASK_OUT_CHANNELS, NetworkSpec

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "burn-depth.yaml"


def default_spec(in_channels: int = 8) -> NetworkSpec:
    """What ``make demo`` trains, so the timings are of the model operators get."""
    network = yaml.safe_load(CONFIG.read_text())["network"]
    return NetworkSpec(
        in_channels=in_channels, out_channels=TASK_OUT_CHANNELS["burn-depth"], **network
    )
