"""The canonical capture TIFF: round trips, layout, and bad bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from wound.capture import Capture
from wound.errors import CaptureError, MetadataError, UnreadableFileError, UnsupportedFormatError
from wound.io import decode_capture_tiff, encode_capture_tiff, write_capture

MakeCapture = Callable[..., Capture]


def assert_same(a: Capture, b: Capture) -> None:
    assert b.cube.dtype == np.float32
    np.testing.assert_array_equal(a.cube, b.cube)
    assert b.header_json() == a.header_json()
    assert b.identity() == a.identity()
    a_truth = a.truth.arrays() if a.truth else {}
    b_truth = b.truth.arrays() if b.truth else {}
    assert a_truth.keys() == b_truth.keys()
    for name, arr in a_truth.items():
        np.testing.assert_array_equal(arr, b_truth[name])


@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
def test_round_trip(make_capture: MakeCapture, compression: str | None) -> None:
    capture = make_capture()
    data = encode_capture_tiff(capture, compression=compression)
    assert_same(capture, decode_capture_tiff(data, "x.tif"))


def test_round_trip_without_truth(make_capture: MakeCapture) -> None:
    capture = make_capture(truth=False, capture_id=None)
    back = decode_capture_tiff(encode_capture_tiff(capture), "x.tif")
    assert back.truth is None
    assert_same(capture, back)


def test_encoding_is_deterministic(make_capture: MakeCapture) -> None:
    assert encode_capture_tiff(make_capture()) == encode_capture_tiff(make_capture())


def test_layout_is_readable_by_plain_tifffile(make_capture: MakeCapture, tmp_path: Path) -> None:
    capture = make_capture()
    path = write_capture(capture, tmp_path / "sub" / "cube.tif")
    assert path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series) == 2
        cube = tif.series[0].asarray()
        masks = tif.series[1].asarray()
        description = json.loads(tif.pages[0].description)
        page = tif.pages[0]
        assert page.compression == 1  # uncompressed by default
        x_res = page.tags["XResolution"].value
        assert page.tags["ResolutionUnit"].value == 3  # centimetre
    assert cube.shape == (8, 24, 32)
    assert masks.shape == (2, 24, 32)
    assert description["header"]["wavelengths_nm"] == list(capture.wavelengths)
    assert description["truth"] == ["depth", "wound_mask"]
    assert x_res[0] / x_res[1] == pytest.approx(10 / 0.2)


def test_uncompressed_size_is_about_the_pixels(make_capture: MakeCapture) -> None:
    capture = make_capture(truth=False)
    data = encode_capture_tiff(capture)
    assert capture.cube.nbytes < len(data) < capture.cube.nbytes + 8192


def test_truncated_bytes(make_capture: MakeCapture) -> None:
    data = encode_capture_tiff(make_capture())
    for cut in (len(data) // 2, len(data) - 100, 20, 3):
        with pytest.raises(UnreadableFileError, match=r"cut\.tif"):
            decode_capture_tiff(data[:cut], "cut.tif")


def test_corrupt_and_foreign_bytes(make_capture: MakeCapture, tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"junk\.tif"):
        decode_capture_tiff(b"not a tiff at all" * 10, "junk.tif")
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((4, 5), np.float32))
    with pytest.raises(UnsupportedFormatError, match=r"plain\.tif"):
        decode_capture_tiff(plain.read_bytes(), "plain.tif")


def test_invalid_header_is_metadata_error(make_capture: MakeCapture, tmp_path: Path) -> None:
    capture = make_capture(truth=False)
    header = capture.header()
    del header["metadata"]["subject"]
    path = tmp_path / "bad.tif"
    tifffile.imwrite(
        path,
        capture.cube,
        photometric="minisblack",
        metadata={"wound_capture": 1, "header": header},
    )
    with pytest.raises(MetadataError, match=r"bad\.tif.*subject") as info:
        decode_capture_tiff(path.read_bytes(), "bad.tif")
    assert isinstance(info.value, CaptureError)


def test_unknown_compression_rejected(make_capture: MakeCapture) -> None:
    with pytest.raises(ValueError, match="compression"):
        encode_capture_tiff(make_capture(), compression="jpeg2000")
