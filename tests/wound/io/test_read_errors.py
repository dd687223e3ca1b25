"""Bad input: each CaptureError subclass, with a message naming the file."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from wound.capture import Capture
from wound.errors import (
    BandMismatchError,
    CaptureError,
    DimensionLimitError,
    MetadataError,
    NonFiniteValuesError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from wound.io import ReadLimits, read_capture, write_capture

MakeCapture = Callable[..., Capture]
KEY = b"test-key"
WL = (460.0, 550.0, 640.0)


def read(path: Path, **kwargs: Any) -> Capture:
    kwargs.setdefault("metadata", {"subject": "s-1"})
    return read_capture(path, pseudonym_key=KEY, **kwargs)


def expect(exc: type[CaptureError], path: Path, **kwargs: Any) -> CaptureError:
    with pytest.raises(exc) as info:
        read(path, **kwargs)
    assert path.name in str(info.value)
    assert info.value.source == str(path)
    return info.value


@pytest.fixture
def cube_tif(tmp_path: Path) -> Path:
    path = tmp_path / "cube.tif"
    cube = np.random.default_rng(2).random((3, 32, 32), dtype=np.float32)
    tifffile.imwrite(path, cube, photometric="minisblack", compression="zlib", rowsperstrip=8)
    return path


def test_truncated_canonical(make_capture: MakeCapture, tmp_path: Path) -> None:
    full = write_capture(make_capture(), tmp_path / "full.tif").read_bytes()
    for i, cut in enumerate((len(full) - 50, len(full) // 2, 200, 6)):
        path = tmp_path / f"cut{i}.tif"
        path.write_bytes(full[:cut])
        expect(UnreadableFileError, path)


def test_truncated_compressed_device_file(cube_tif: Path) -> None:
    data = cube_tif.read_bytes()
    cube_tif.write_bytes(data[: len(data) * 2 // 3])
    expect(UnreadableFileError, cube_tif, wavelengths=WL)


def test_corrupt_compressed_pixels(cube_tif: Path) -> None:
    with tifffile.TiffFile(cube_tif) as tif:
        offset = tif.pages.first.dataoffsets[1]
    data = bytearray(cube_tif.read_bytes())
    data[offset : offset + 64] = b"\xff" * 64
    cube_tif.write_bytes(bytes(data))
    error = expect(UnreadableFileError, cube_tif, wavelengths=WL)
    assert "corrupt" in str(error)


def test_corrupt_directory(cube_tif: Path) -> None:
    data = bytearray(cube_tif.read_bytes())
    data[4:8] = struct.pack("<I", len(data) + 1000)  # first IFD offset beyond the end
    cube_tif.write_bytes(bytes(data))
    expect(UnreadableFileError, cube_tif, wavelengths=WL)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    expect(UnreadableFileError, tmp_path / "absent.tif")
    empty = tmp_path / "empty.tif"
    empty.touch()
    expect(UnreadableFileError, empty)


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_truncated_photo(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"photo.{kind}"
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, format=kind.upper())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect(UnreadableFileError, path)


def test_unknown_format(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, not an image")
    expect(UnsupportedFormatError, text)
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (4, 4)).save(gif)
    expect(UnsupportedFormatError, gif)


def test_unsupported_layout(tmp_path: Path) -> None:
    path = tmp_path / "timelapse.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 3, 8, 8), np.float32), metadata={"axes": "TCYX"})
    expect(UnsupportedFormatError, path, wavelengths=WL)


def test_wrong_band_count(cube_tif: Path) -> None:
    error = expect(BandMismatchError, cube_tif, wavelengths=(460.0, 550.0, 600.0, 640.0))
    assert "4 bands" in str(error)


def test_non_increasing_wavelengths(cube_tif: Path) -> None:
    expect(BandMismatchError, cube_tif, wavelengths=(640.0, 550.0, 460.0))


def test_nan_values(tmp_path: Path) -> None:
    path = tmp_path / "nan.tif"
    cube = np.ones((3, 8, 8), np.float32)
    cube[1, 2, 3] = np.nan
    cube[2, 0, 0] = np.inf
    tifffile.imwrite(path, cube, photometric="minisblack")
    error = expect(NonFiniteValuesError, path, wavelengths=WL)
    assert "2 non-finite" in str(error)


def test_header_claims_huge_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), compression="zlib")
    with tifffile.TiffFile(path, mode="r+") as tif:
        tif.pages.first.tags["ImageWidth"].overwrite(300_000)
        tif.pages.first.tags["ImageLength"].overwrite(300_000)
    error = expect(DimensionLimitError, path, wavelengths=(550.0,))
    assert "300000" in str(error)


def test_png_header_claims_huge_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", 100_000, 100_000) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(bytes(data))
    expect(DimensionLimitError, path)


def test_configured_limits(cube_tif: Path, tmp_path: Path) -> None:
    expect(DimensionLimitError, cube_tif, wavelengths=WL, limits=ReadLimits(max_pixels=1000))
    expect(DimensionLimitError, cube_tif, wavelengths=WL, limits=ReadLimits(max_bands=2))
    expect(DimensionLimitError, cube_tif, wavelengths=WL, limits=ReadLimits(max_file_bytes=100))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 40)).save(photo)
    expect(DimensionLimitError, photo, limits=ReadLimits(max_pixels=1599))


def test_missing_subject(cube_tif: Path) -> None:
    error = expect(MetadataError, cube_tif, wavelengths=WL, metadata={})
    assert "subject" in str(error)


def test_naive_timestamp(cube_tif: Path) -> None:
    meta = {"subject": "s-1", "captured_at": "2026-01-31T10:00:00"}
    error = expect(MetadataError, cube_tif, wavelengths=WL, metadata=meta)
    assert "captured_at" in str(error) and "time zone" in str(error)


def test_invalid_and_unknown_fields(cube_tif: Path) -> None:
    error = expect(
        MetadataError, cube_tif, wavelengths=WL, metadata={"subject": "a", "fitzpatrick": 9}
    )
    assert "fitzpatrick" in str(error)
    error = expect(MetadataError, cube_tif, wavelengths=WL, metadata={"subject": "a", "mrn": "1"})
    assert "mrn" in str(error)


def test_missing_wavelengths(cube_tif: Path) -> None:
    error = expect(MetadataError, cube_tif)
    assert "wavelengths" in str(error)


def test_raw_subject_not_in_error(cube_tif: Path) -> None:
    meta = {"subject": "Jane Doe 1970-01-01", "fitzpatrick": 9}
    error = expect(MetadataError, cube_tif, wavelengths=WL, metadata=meta)
    assert "Jane" not in str(error)
