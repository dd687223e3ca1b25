"""The predictor on CUDA (AMP float16 autocast, channels-last) against the CPU float32 result.

The CUDA test is marked ``gpu``: deselected by ``make test``, run by ``make test-gpu`` on a CUDA
machine (where a missing GPU is a failure, not a skip). The same comparison runs here on the CPU
with float16 autocast forced on, so the tolerances are checked on every machine.

Tolerance (stated): float16 keeps ~3 significant digits per operation, so on this small UNet
(logits sharpened x4) class and healing probabilities stay within 2e-2 (absolute) of float32 and
the uncertainty within 4e-2; the class map agrees wherever float32's two most probable classes
differ by more than 0.05 (a near-tie may flip under rounding). Measured with CPU float16
autocast: at most 0.008 (probabilities), 0.005 (healing), 0.010 (uncertainty), no flip.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wound.capture import Capture
from wound.engines import TorchEngine
from wound.networks import ModelInfo, NetworkSpec, build_network
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Prediction, Predictor

PROB_ATOL = 2e-2
UNCERTAINTY_ATOL = 4e-2
TIE_MARGIN = 0.05
LOGIT_SCALE = 4.0


def _model() -> tuple[torch.nn.Module, ModelInfo]:
    config = PhantomConfig(height=96, width=128)
    torch.manual_seed(0)
    spec = NetworkSpec(
        in_channels=len(config.wavelengths_nm), out_channels=7, channels=(8, 16, 32), strides=(2, 2)
    )
    info = ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=config.wavelengths_nm,
        band_mean=(0.3,) * len(config.wavelengths_nm),
        band_std=(0.15,) * len(config.wavelengths_nm),
        patch_size=(32, 32),
    )
    network = build_network(spec).eval()
    with torch.no_grad():  # sharper logits than random init: most pixels get a clear class
        last = [
            m
            for m in network.modules()
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
        ][-1]
        last.weight.mul_(LOGIT_SCALE)
        if last.bias is not None:
            last.bias.mul_(LOGIT_SCALE)
    return network, info


def _captures() -> list[Capture]:
    config = PhantomConfig(height=96, width=128)
    return [synth_capture(seed=4, subject_index=i, capture_index=0, config=config) for i in (0, 1)]


def _assert_close(got: list[Prediction], want: list[Prediction]) -> None:
    for g, w in zip(got, want, strict=True):
        assert np.abs(g.probabilities - w.probabilities).max() <= PROB_ATOL
        top2 = np.sort(w.probabilities, axis=0)[-2:]
        decided = (top2[1] - top2[0]) > TIE_MARGIN
        assert decided.mean() > 0.5  # the comparisons below cover most pixels
        assert (g.labels[decided] == w.labels[decided]).all()
        # healing is 0 outside predicted skin, so compare where the class map is decided
        assert g.healing_prob is not None and w.healing_prob is not None
        assert np.abs(g.healing_prob - w.healing_prob)[decided].max() <= PROB_ATOL
        assert np.abs(g.uncertainty - w.uncertainty)[decided].max() <= UNCERTAINTY_ATOL


def _first_conv_dtypes(
    predictor: Predictor, captures: list[Capture]
) -> tuple[list[Prediction], set[torch.dtype]]:
    dtypes: set[torch.dtype] = set()
    first = next(m for m in predictor.network.modules() if isinstance(m, torch.nn.Conv2d))
    hook = first.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    try:
        return predictor.predict_many(captures), dtypes
    finally:
        hook.remove()


@pytest.mark.parametrize("tta", [False, True])
def test_float16_autocast_within_tolerance_on_cpu(tta: bool) -> None:
    """The tolerances of the CUDA test, checked here: CPU float16 autocast vs float32."""
    captures = _captures()
    want = Predictor(*_model(), device="cpu", tta=tta).predict_many(captures)
    half = Predictor(*_model(), device="cpu", tta=tta)
    assert not half.amp  # AMP is a CUDA default only
    half.amp = True  # force the autocast path on the CPU for this check (the torch engine's)
    half.engine = TorchEngine(half.network, amp=True, channels_last=half.channels_last)
    got, dtypes = _first_conv_dtypes(half, captures)
    assert dtypes == {torch.float16}
    _assert_close(got, want)


@pytest.mark.gpu
@pytest.mark.parametrize("tta", [False, True])
def test_cuda_amp_channels_last_matches_cpu(tta: bool) -> None:
    assert torch.cuda.is_available(), "gpu tests need a CUDA device (make test-gpu)"
    captures = _captures()
    want = Predictor(*_model(), device="cpu", tta=tta).predict_many(captures)
    gpu = Predictor(*_model(), device="cuda", tta=tta)  # same seed: same weights
    assert gpu.amp and gpu.channels_last  # the defaults on CUDA
    conv = next(p for p in gpu.network.parameters() if p.dim() == 4)
    assert conv.is_cuda and conv.is_contiguous(memory_format=torch.channels_last)
    got, dtypes = _first_conv_dtypes(gpu, captures)
    assert dtypes == {torch.float16}  # autocast really ran
    _assert_close(got, want)
