"""Pictures and the one-page report (pure functions)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from dashboard import render, report
from wound.scoring import Refusal, parse_score
from wound.store import LocalStore
from wound.taxonomy import hex_to_rgb


def test_overlay_hatching_and_contour() -> None:
    rgb = np.full((40, 50, 3), 100, np.uint8)
    classes = np.zeros((40, 50), np.uint8)
    classes[10:30, 10:30] = 4
    unsure = np.zeros((40, 50), bool)
    unsure[10:20, 10:30] = True
    square = [(10.0, 10.0), (10.0, 29.0), (29.0, 29.0), (29.0, 10.0), (10.0, 10.0)]
    picture = render.score_picture(
        rgb, classes, {4: "#e63946"}, opacity=1.0, indeterminate=unsure, contours=[square]
    )
    factor = render.display_scale((40, 50))
    assert picture.size == (50 * factor, 40 * factor)
    pixels = np.asarray(picture)
    inside = pixels[25 * factor, 20 * factor]
    assert tuple(inside) == hex_to_rgb("#e63946")  # class colour at full opacity
    band = pixels[12 * factor : 18 * factor, 12 * factor : 28 * factor].reshape(-1, 3)
    assert (band >= 180).all(axis=1).any()  # light stripes where indeterminate
    assert (band == hex_to_rgb("#e63946")).all(axis=1).any()  # the class shows between them
    below = pixels[22 * factor : 28 * factor, 12 * factor : 28 * factor].reshape(-1, 3)
    assert not (below >= 180).all(axis=1).any()  # no stripes where the model is sure
    cyan = np.array(hex_to_rgb(render.CONTOUR_COLOUR))
    assert (pixels.reshape(-1, 3) == cyan).all(axis=1).any()  # the contour is drawn
    assert tuple(pixels[2, 2]) == (100, 100, 100)  # background untouched


def test_large_captures_are_subsampled_for_display() -> None:
    rgb = np.zeros((1024, 1280, 3), np.uint8)
    picture = render.score_picture(rgb, None, {}, opacity=0.5, size=640)
    assert picture.size == (640, 512)


def test_false_colour_uses_the_nearest_bands() -> None:
    assert render.nearest_bands((420, 525, 581, 620, 660), (640, 550, 460)) == (3, 1, 0)
    cube = np.stack([np.full((4, 4), v, np.float32) for v in (0.1, 0.5, 0.9)])
    cube[:, 0, 0] = 0.0
    out = render.false_colour(cube, (2, 1, 0))
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert out[1, 1, 0] > out[1, 1, 1] > out[1, 1, 2]


def test_report_pdf_and_png(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    prediction = next(p for p in store.list_predictions() if p.status == "scored")
    score = parse_score(prediction.score)
    picture = Image.new("RGB", (64, 64), (120, 60, 40))
    figure = report.report_figure(score, picture, wound_type="burn")
    pdf = report.report_bytes(figure, "pdf")
    png = report.report_bytes(figure, "png")
    assert pdf.startswith(b"%PDF")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size[1] > image.size[0]  # A4 portrait
    texts = [t.get_text() for t in figure.texts]
    assert any("not an excision margin" in t for t in texts)
    assert any(score.capture_id in t for t in texts)


def test_refusal_report_has_reasons_and_no_map() -> None:
    refusal = Refusal(capture_id="c1", model_id="m1", reasons=["band 3 saturated"])
    figure = report.report_figure(refusal, None)
    assert not figure.axes  # no picture
    texts = " ".join(t.get_text() for t in figure.texts)
    assert "REFUSED" in texts and "band 3 saturated" in texts
