"""The default model of the benchmarks: the network of ``configs/burn-depth.yaml`` (8 bands)."""

from __future__ import annotations

from pathlib import Path

import yaml

from reliability.model import register_untrained
from wound.networks import TASK_OUT_CHANNELS, ModelInfo, NetworkSpec
from wound.store.base import CaptureStore

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "burn-depth.yaml"
#: The id the benchmarks register their default model under.
MODEL_ID = "bench-default"


def default_spec(in_channels: int = 8) -> NetworkSpec:
    """What ``make demo`` trains, so the timings are of the model operators get."""
    network = yaml.safe_load(CONFIG.read_text())["network"]
    return NetworkSpec(
        in_channels=in_channels, out_channels=TASK_OUT_CHANNELS["burn-depth"], **network
    )


def register_default(store: CaptureStore, wavelengths: tuple[float, ...]) -> str:
    """The default network, untrained (seeded), registered as :data:`MODEL_ID`."""
    info = ModelInfo(
        task="burn-depth",
        network=default_spec(len(wavelengths)),
        wavelengths_nm=wavelengths,
        band_mean=(0.3,) * len(wavelengths),
        band_std=(0.15,) * len(wavelengths),
        patch_size=(128, 128),
    )
    return register_untrained(store, MODEL_ID, info)
