"""read_capture on TIFFs: canonical, OME-TIFF and what devices and other tools write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from wound.capture import Capture
from wound.io import ReadLimits, read_capture, write_capture
from wound.pseudonym import is_pseudonym, pseudonymise, pseudonymise_wound
from wound.settings import Settings

MakeCapture = Callable[..., Capture]
KEY = b"test-key"
WL = (460.0, 550.0, 600.0, 640.0, 700.0)
RAW_SUBJECT = "MRN-12345678 Jane Doe"


@pytest.fixture
def cube() -> np.ndarray:
    return np.random.default_rng(7).random((5, 20, 30), dtype=np.float32)


def read(path: Path, **kwargs: Any) -> Capture:
    kwargs.setdefault("metadata", {"subject": RAW_SUBJECT})
    return read_capture(path, pseudonym_key=KEY, **kwargs)


def test_canonical_round_trip(make_capture: MakeCapture, tmp_path: Path) -> None:
    capture = make_capture()
    path = write_capture(capture, tmp_path / "c.tif", compression="zlib")
    back = read_capture(path, pseudonym_key=KEY)
    np.testing.assert_array_equal(back.cube, capture.cube)
    assert back.header_json() == capture.header_json()
    assert back.truth is not None and capture.truth is not None
    np.testing.assert_array_equal(back.truth.depth, capture.truth.depth)  # type: ignore[arg-type]


def test_canonical_metadata_override(make_capture: MakeCapture, tmp_path: Path) -> None:
    path = write_capture(make_capture(), tmp_path / "c.tif")
    back = read_capture(
        path,
        pseudonym_key=KEY,
        metadata={"wound_id": "w2", "spacing_mm": 0.5, "reference": {"notes": "re-read"}},
    )
    assert back.metadata.wound_id == pseudonymise_wound("w2", back.metadata.subject, KEY)
    assert back.metadata.anatomical_site == "forearm"  # kept from the file
    assert back.spacing_mm == 0.5
    assert back.reference.notes == "re-read" and back.reference.biopsy_depth_class == 3


def test_ome_tiff_wavelengths_and_spacing(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "dev.ome.tif"
    tifffile.imwrite(
        path,
        cube,
        metadata={
            "axes": "CYX",
            "Channel": {"Name": [f"{w:g}nm" for w in WL], "EmissionWavelength": list(WL)},
            "PhysicalSizeX": 150.0,
            "PhysicalSizeXUnit": "µm",
        },
    )
    capture = read(path)
    assert capture.wavelengths == WL
    assert capture.spacing_mm == pytest.approx(0.15)
    np.testing.assert_array_equal(capture.cube, cube)


def test_ome_channel_names_only(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "names.ome.tif"
    names = [f"band {w:g} nm" for w in WL]
    tifffile.imwrite(path, cube, metadata={"axes": "CYX", "Channel": {"Name": names}})
    assert read(path).wavelengths == WL


def test_wavelength_argument_conflict(cube: np.ndarray, tmp_path: Path) -> None:
    from wound.errors import BandMismatchError

    path = tmp_path / "conflict.ome.tif"
    tifffile.imwrite(
        path, cube, metadata={"axes": "CYX", "Channel": {"Name": ["1", "2"] * 2 + ["3"]}}
    )
    assert read(path, wavelengths=WL).wavelengths == WL  # names without nm: argument used
    path2 = tmp_path / "conflict2.ome.tif"
    tifffile.imwrite(
        path2, cube, metadata={"axes": "CYX", "Channel": {"EmissionWavelength": list(WL)}}
    )
    with pytest.raises(BandMismatchError, match=r"conflict2\.ome\.tif"):
        read(path2, wavelengths=[w + 10 for w in WL])


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("layout", ["band-first", "band-last"])
def test_dtypes_and_layouts(cube: np.ndarray, tmp_path: Path, dtype: str, layout: str) -> None:
    if dtype == "float32":
        stored, tol = cube, 0.0
    else:
        top = np.iinfo(dtype).max
        stored, tol = np.round(cube * top).astype(dtype), 0.5 / top + 1e-7
    path = tmp_path / f"{dtype}-{layout}.tif"
    if layout == "band-first":
        tifffile.imwrite(path, stored, photometric="minisblack", metadata=None)
    else:
        data = np.ascontiguousarray(np.moveaxis(stored, 0, -1))
        tifffile.imwrite(path, data, photometric="minisblack", planarconfig="contig", metadata=None)
    capture = read(path, wavelengths=WL)
    assert capture.cube.dtype == np.float32 and capture.shape == (5, 20, 30)
    assert capture.cube.flags.c_contiguous
    np.testing.assert_allclose(capture.cube, cube, atol=tol, rtol=0)


def test_reflectance_scale(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "12bit.tif"
    tifffile.imwrite(path, np.round(cube * 4095).astype(np.uint16), photometric="minisblack")
    capture = read(path, wavelengths=WL, metadata={"subject": "s1", "reflectance_scale": 4095})
    np.testing.assert_allclose(capture.cube, cube, atol=0.5 / 4095 + 1e-7)


@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
@pytest.mark.parametrize("tiled", [False, True])
def test_compression_and_tiling(
    cube: np.ndarray, tmp_path: Path, compression: str | None, tiled: bool
) -> None:
    path = tmp_path / "t.tif"
    opts: dict[str, Any] = {"tile": (16, 16)} if tiled else {"rowsperstrip": 4}
    tifffile.imwrite(path, cube, photometric="minisblack", compression=compression, **opts)
    with tifffile.TiffFile(path) as tif:
        assert tif.pages.first.is_tiled == tiled
    np.testing.assert_array_equal(read(path, wavelengths=WL).cube, cube)


def test_bigtiff(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, cube, bigtiff=True, photometric="minisblack")
    assert path.read_bytes()[:4] == b"II+\x00"
    np.testing.assert_array_equal(read(path, wavelengths=WL).cube, cube)


@pytest.mark.parametrize("shaped", [False, True])
def test_one_page_per_band(cube: np.ndarray, tmp_path: Path, shaped: bool) -> None:
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tw:
        for band in cube:
            tw.write(band, metadata={} if shaped else None)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 5
    np.testing.assert_array_equal(read(path, wavelengths=WL).cube, cube)


def test_rgb_tiff_becomes_bgr_cube(tmp_path: Path) -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    capture = read(path)
    assert capture.wavelengths == (450.0, 550.0, 610.0)
    np.testing.assert_allclose(capture.cube[0], rgb[..., 2] / 255, atol=1e-6)  # blue first


def test_resolution_and_datetime_tags(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "res.tif"
    tifffile.imwrite(
        path,
        cube,
        photometric="minisblack",
        resolution=(254.0, 254.0),
        resolutionunit="INCH",
        datetime="2025:06:01 12:30:00",
    )
    capture = read(path, wavelengths=WL)
    assert capture.spacing_mm == pytest.approx(0.1)
    assert capture.metadata.captured_at == datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def test_subject_pseudonymised(make_capture: MakeCapture, tmp_path: Path) -> None:
    # a device file whose header carries a raw subject id
    capture = make_capture()
    header = capture.header()
    header["metadata"]["subject"] = RAW_SUBJECT
    path = tmp_path / "raw-subject.tif"
    tifffile.imwrite(
        path,
        capture.cube,
        photometric="minisblack",
        metadata={"wound_capture": 1, "header": header, "truth": []},
    )
    back = read_capture(path, pseudonym_key=KEY)
    assert back.metadata.subject == pseudonymise(RAW_SUBJECT, KEY)
    assert is_pseudonym(back.metadata.subject)
    assert RAW_SUBJECT not in back.header_json() and "12345678" not in back.header_json()
    assert RAW_SUBJECT not in repr(back.metadata)
    # a pseudonym passes through unchanged, and the argument overrides the file
    again = read_capture(path, pseudonym_key=KEY, metadata={"subject": back.metadata.subject})
    assert again.metadata.subject == back.metadata.subject
    other = read_capture(path, pseudonym_key=b"other-key")
    assert other.metadata.subject != back.metadata.subject


def test_limits_from_settings() -> None:
    limits = ReadLimits.from_settings(Settings(max_pixels=10, max_bands=2, max_file_bytes=99))
    assert limits == ReadLimits(max_pixels=10, max_bands=2, max_file_bytes=99)


def test_imagej_hyperstack_labels_and_unit(cube: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "fiji.tif"
    tifffile.imwrite(
        path,
        cube,
        imagej=True,
        resolution=(5.0, 5.0),
        metadata={"axes": "CYX", "Labels": [f"{w:g} nm" for w in WL], "unit": "mm"},
    )
    capture = read(path)
    assert capture.wavelengths == WL
    assert capture.spacing_mm == pytest.approx(0.2)
    np.testing.assert_array_equal(capture.cube, cube)
