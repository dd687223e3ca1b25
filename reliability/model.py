"""Untrained registered models, so ``wound predict`` and the score paths run in the suite and
the benchmarks without training one."""

from __future__ import annotations

from reliability.common import WAVELENGTHS
from wound.networks import ModelInfo, NetworkSpec, build_network, weights_to_bytes
from wound.store import CaptureStore

MODEL_ID = "rel-tiny"


def register_untrained(
    store: CaptureStore, model_id: str, info: ModelInfo, *, seed: int = 0
) -> str:
    """``info``'s network with seeded random weights, registered as ``model_id``."""
    import torch

    torch.manual_seed(seed)
    weights = weights_to_bytes(build_network(info.network))
    store.put_model(
        model_id, {"weights.pt": weights}, task=info.task, info=info.model_dump(mode="json")
    )
    return model_id


def register_tiny_model(store: CaptureStore, model_id: str = MODEL_ID) -> str:
    """An untrained 2-level UNet over the phantom bands (seeded), registered as ``model_id``."""
    spec = NetworkSpec(in_channels=len(WAVELENGTHS), channels=(4, 8), strides=(2,), num_res_units=0)
    info = ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=WAVELENGTHS,
        band_mean=(0.3,) * len(WAVELENGTHS),
        band_std=(0.15,) * len(WAVELENGTHS),
        patch_size=(32, 32),
    )
    return register_untrained(store, model_id, info)
