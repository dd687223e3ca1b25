"""Previews and single-band renderings: size, band choice, determinism, valid PNG."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from wound.capture import Capture
from wound.io import render_band_png, render_preview
from wound.io.preview import encode_png, false_colour_bands

MakeCapture = Callable[..., Capture]


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def test_false_colour_band_choice() -> None:
    assert false_colour_bands((460.0, 520.0, 550.0, 600.0, 640.0, 700.0)) == (4, 2, 0)
    assert false_colour_bands((450.0, 550.0, 610.0)) == (2, 1, 0)  # RGB photo: R, G, B


def test_preview_size_and_colour(make_capture: MakeCapture) -> None:
    capture = make_capture(height=300, width=1100, truth=False)
    cube = np.zeros_like(capture.cube)
    cube[4] = 0.9  # 640 nm -> red
    cube[0, :, :10] = 0.5  # some blue at the left edge, for a non-flat stretch
    capture = dataclasses.replace(capture, cube=cube)
    rgb = decode(render_preview(capture, max_size=256))
    assert rgb.shape == (300 // 5, 1100 // 5, 3)  # block factor ceil(1100/256) = 5
    assert rgb[..., 0].mean() > 200 and rgb[..., 1].max() == 0


def test_preview_full_size_and_deterministic(make_capture: MakeCapture) -> None:
    capture = make_capture(height=40, width=50, truth=False)
    a = render_preview(capture, max_size=None)
    assert a == render_preview(capture, max_size=None)
    assert decode(a).shape == (40, 50, 3)


def test_band_png(make_capture: MakeCapture) -> None:
    capture = make_capture(height=600, width=400, truth=False)
    full = decode(render_band_png(capture, 3, max_size=None))
    assert full.shape == (600, 400) and full.dtype == np.uint8
    small = decode(render_band_png(capture, -1, max_size=100))
    assert small.shape == (100, 66)
    # the rendering follows the band: brighter pixels stay brighter
    band = capture.cube[3]
    assert np.corrcoef(full.ravel(), band.ravel())[0, 1] > 0.95
    with pytest.raises(IndexError):
        render_band_png(capture, 8)


@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 3), (1, 1)])
def test_encode_png_round_trip(shape: tuple[int, ...]) -> None:
    arr = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(decode(encode_png(arr)), arr)
