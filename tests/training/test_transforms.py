"""Transforms: TIFF loading, normalisation, physical gain jitter, patch shapes and label values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from training.config import RunConfig
from training.transforms import (
    LoadArrayd,
    RandReflectanceGaind,
    normalise_bands,
    read_array,
    train_transforms,
)
from wound.errors import UnreadableFileError


def test_load_reads_tiff_memory_mapped_and_passes_arrays(tmp_path: Path) -> None:
    cube = np.random.default_rng(0).random((3, 8, 6), dtype=np.float32)
    tifffile.imwrite(tmp_path / "cube.tif", cube, photometric="minisblack")
    out = LoadArrayd(keys=["image", "label"])({"image": tmp_path / "cube.tif", "label": cube})
    np.testing.assert_array_equal(out["image"], cube)
    assert out["label"] is cube
    compressed = tmp_path / "z.tif"
    tifffile.imwrite(compressed, cube, photometric="minisblack", compression="zlib")
    np.testing.assert_array_equal(read_array(compressed), cube)


def test_corrupt_tiff_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    with pytest.raises(UnreadableFileError, match=r"bad\.tif"):
        read_array(bad)


def test_gain_on_normalised_data_equals_gain_on_reflectance() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((4, 5, 5), dtype=np.float32) + 0.1
    mean, std = x.reshape(4, -1).mean(1), x.reshape(4, -1).std(1)
    t = RandReflectanceGaind("image", mean, std, prob=1.0, global_gain=0.2, band_gain=0.1)
    t.set_random_state(seed=3)
    out = t({"image": torch.from_numpy(normalise_bands(x, mean, std))})["image"]
    gain = t._gain[:, None, None]
    assert not np.allclose(gain, 1.0)
    expected = normalise_bands(x * gain, mean, std)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_train_transforms_shapes_and_labels(tiny_config: Callable[..., RunConfig]) -> None:
    config = tiny_config(crops_per_capture=3, batch_size=6)
    rng = np.random.default_rng(2)
    cube = rng.random((8, 48, 40), dtype=np.float32)
    depth = rng.integers(0, 6, (48, 40)).astype(np.uint8)
    label = np.stack([depth, (depth < 4).astype(np.uint8)])
    chain = train_transforms(config, [0.5] * 8, [0.3] * 8)
    chain.set_random_state(seed=0)
    patches = chain({"image": cube, "label": label, "capture_id": "c"})
    assert isinstance(patches, list) and len(patches) == 3
    for p in patches:
        assert p["image"].shape == (8, 32, 32) and p["image"].dtype == torch.float32
        assert p["label"].shape == (2, 32, 32) and p["label"].dtype == torch.uint8
        assert type(p["image"]) is torch.Tensor  # no MetaTensor overhead
        lab = p["label"].numpy()
        assert set(np.unique(lab[0])) <= set(range(6))
        np.testing.assert_array_equal(lab[1], (lab[0] < 4).astype(np.uint8))  # crops aligned


def test_melanin_jitter_follows_melanin_absorption() -> None:
    waves = [420.0, 525.0, 660.0, 855.0]
    t = RandReflectanceGaind(
        "image",
        [0.3] * 4,
        [0.1] * 4,
        prob=1.0,
        global_gain=0.0,
        band_gain=0.0,
        melanin=0.5,
        wavelengths=waves,
    )
    t.set_random_state(seed=5)
    t.randomize()
    shape = (np.asarray(waves) / 500.0) ** -3.33
    k = -np.log(t._gain) / shape
    assert abs(k[0]) > 0.01
    np.testing.assert_allclose(k, k[0], rtol=1e-4)  # one melanin change for every band
    with pytest.raises(ValueError, match="one wavelength per band"):
        RandReflectanceGaind("image", [0.3] * 4, [0.1] * 4, melanin=0.5)
