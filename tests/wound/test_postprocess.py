"""Resizing to the input size and mask clean-up (small regions, holes); the predictor's scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wound.networks import InferenceSettings, ModelInfo, NetworkSpec, build_network
from wound.postprocess import clean_mask, resize_images, scaled_size
from wound.predict import Predictor


def test_scaled_size_keeps_the_aspect() -> None:
    assert scaled_size((512, 512), 256) == (256, 256)
    assert scaled_size((300, 600), 256) == (128, 256)
    assert scaled_size((300, 600), 256, 0.5) == (64, 128)
    assert scaled_size((40, 60), None, 0.5) == (20, 30)


def test_resize_labels_stay_labels() -> None:
    labels = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    labels[..., 2:6, 2:6] = 1
    up = resize_images(labels, (16, 16), labels=True)
    assert up.dtype == torch.uint8 and set(up.unique().tolist()) == {0, 1}
    assert int(up.sum()) == 4 * int(labels.sum())


def test_clean_mask_drops_small_regions_and_fills_holes() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[10:50, 10:50] = 1
    mask[20:30, 20:30] = 0  # a hole
    mask[80, 80] = 1  # a speck: 1 px < 0.1 % of 10,000
    out = clean_mask(mask, min_fraction=0.001, fill_holes=True)
    assert out[80, 80] == 0 and out[25, 25] == 1
    assert int(out.sum()) == 40 * 40
    np.testing.assert_array_equal(clean_mask(mask), mask)  # nothing asked: unchanged


@pytest.mark.parametrize("scales", [(1.0,), (1.0, 0.5)])
def test_predictor_runs_at_the_input_size_and_returns_full_size(scales: tuple[float, ...]) -> None:
    spec = NetworkSpec(in_channels=3, out_channels=2, channels=(4, 8), strides=(2,))
    torch.manual_seed(0)
    info = ModelInfo(
        task="wound-mask",
        network=spec,
        wavelengths_nm=(450.0, 550.0, 610.0),
        band_mean=(0.5, 0.5, 0.5),
        band_std=(0.2, 0.2, 0.2),
        patch_size=(32, 32),
        inference=InferenceSettings(input_size=32, scales=scales, fill_holes=True),
    )
    predictor = Predictor(build_network(spec), info, device="cpu")
    cube = np.random.default_rng(0).random((3, 48, 80), dtype=np.float32)
    pred, logits = predictor.predict_with_logits(cube)
    assert pred.labels.shape == (48, 80) and tuple(logits.shape) == (1, 2, 48, 80)
    np.testing.assert_allclose(pred.probabilities.sum(axis=0), 1.0, atol=1e-5)
