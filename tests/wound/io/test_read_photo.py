"""read_capture on RGB photographs (PNG/JPEG) with optional mask files."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wound.errors import MetadataError
from wound.io import PHOTO_WAVELENGTHS, read_capture
from wound.pseudonym import pseudonymise

KEY = b"test-key"


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (24, 40, 3), dtype=np.uint8)


def test_png_with_mask(rgb: np.ndarray, tmp_path: Path) -> None:
    photo, mask_path = tmp_path / "p.png", tmp_path / "m.png"
    Image.fromarray(rgb).save(photo)
    mask = np.zeros((24, 40), np.uint8)
    mask[5:10, 7:20] = 255
    Image.fromarray(mask).save(mask_path)
    capture = read_capture(
        photo,
        pseudonym_key=KEY,
        metadata={"subject": "patient-7", "wound_type": "dfu"},
        mask_path=mask_path,
    )
    assert capture.wavelengths == PHOTO_WAVELENGTHS == (450.0, 550.0, 610.0)
    assert capture.spacing_mm is None
    assert capture.metadata.subject == pseudonymise("patient-7", KEY)
    assert capture.metadata.source == "photo"
    np.testing.assert_allclose(capture.cube[::-1].transpose(1, 2, 0), rgb / 255, atol=1e-6)
    assert capture.truth is not None and capture.truth.wound_mask is not None
    np.testing.assert_array_equal(capture.truth.wound_mask, (mask > 0).astype(np.uint8))


def test_png_time_falls_back_to_mtime(rgb: np.ndarray, tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    Image.fromarray(rgb).save(photo)
    stamp = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    os.utime(photo, (stamp, stamp))
    capture = read_capture(photo, pseudonym_key=KEY, metadata={"subject": "s"})
    assert capture.metadata.captured_at == datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    given = datetime(2025, 1, 1, tzinfo=UTC)
    override = read_capture(
        photo, pseudonym_key=KEY, metadata={"subject": "s", "captured_at": given.isoformat()}
    )
    assert override.metadata.captured_at == given


def test_jpeg_exif_datetime(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    yy, xx = np.mgrid[0:32, 0:48]
    rgb = np.stack([xx * 5, yy * 4, 255 - xx * 5], axis=-1).astype(np.uint8)  # smooth
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2023:07:08 09:10:11"  # DateTimeOriginal
    exif.get_ifd(0x8769)[36881] = "+02:00"  # OffsetTimeOriginal
    Image.fromarray(rgb).save(photo, quality=95, exif=exif)
    capture = read_capture(photo, pseudonym_key=KEY, metadata={"subject": "s"})
    tz = timezone(timedelta(hours=2))
    assert capture.metadata.captured_at == datetime(2023, 7, 8, 9, 10, 11, tzinfo=tz)
    np.testing.assert_allclose(capture.cube[2], rgb[..., 0] / 255, atol=0.05)  # red, lossy
    np.testing.assert_allclose(capture.cube[0], rgb[..., 2] / 255, atol=0.05)  # blue


def test_mask_size_mismatch(rgb: np.ndarray, tmp_path: Path) -> None:
    photo, mask_path = tmp_path / "p.png", tmp_path / "small-mask.png"
    Image.fromarray(rgb).save(photo)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(mask_path)
    with pytest.raises(MetadataError, match=r"small-mask\.png"):
        read_capture(photo, pseudonym_key=KEY, metadata={"subject": "s"}, mask_path=mask_path)


@pytest.mark.data
def test_real_fuseg_photo(shared_data: Callable[[str], Path]) -> None:
    """A FUSeg 2021 training photograph and its mask (the shared data folder, tests/conftest.py)."""
    fuseg = shared_data("fuseg2021-train")
    capture = read_capture(
        fuseg / "images" / "0014.jpg",
        pseudonym_key=KEY,
        metadata={"subject": "fuseg-0014", "wound_type": "dfu"},
        mask_path=fuseg / "labels" / "0014.png",
    )
    assert capture.shape == (3, 512, 512)
    mask = capture.truth.wound_mask if capture.truth else None
    assert mask is not None and set(np.unique(mask)) <= {0, 1}
    assert 0 < mask.mean() < 0.5  # an ulcer, not the whole picture
    with Image.open(fuseg / "labels" / "0014.png") as im:
        assert int(mask.sum()) == int((np.asarray(im.convert("L")) > 0).sum())
    # wounds are redder than their surroundings in the photo
    red_minus_green = capture.cube[2] - capture.cube[1]
    assert red_minus_green[mask == 1].mean() > red_minus_green[mask == 0].mean()
