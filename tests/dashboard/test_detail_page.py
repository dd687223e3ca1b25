"""Capture detail page: bands, presets, spectrum vs healthy skin, versions side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from dashboard.views.detail import healthy_mask
from wound.store import LocalStore


def _annotated_capture(home: Path) -> str:
    store = LocalStore(home)
    return next(r.capture_id for r in store.iter_captures() if store.list_annotations(r.capture_id))


def test_detail_shows_bands_spectrum_and_versions(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    capture_id = _annotated_capture(dashboard_env)
    at = page_app("detail")
    at.session_state["capture_id"] = capture_id
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="detail_pick").value == capture_id
    band = at.select_slider(key="detail_band")
    assert band.options[0] == "420"  # wavelengths formatted in nm
    captions = [c for image in at.image for c in image.captions]
    assert any(c.startswith("Band 1: 420 nm") for c in captions)
    assert any(c.startswith("R/G/B = ") for c in captions)
    band.set_value(855.0).run()
    assert any("855 nm" in c for image in at.image for c in image.captions)
    at.radio(key="detail_preset").set_value("Colour infrared (855/660/550 nm)").run()
    assert any(c == "R/G/B = 855/660/525 nm" for image in at.image for c in image.captions)
    # both annotation versions and the seeded prediction are listed
    captions = [c for image in at.image for c in image.captions]
    assert sum("burn-depth v" in c for c in captions) == 2
    assert any(c.startswith("burn-depth-tiny-a") for c in captions)
    # the spectrum: the region and the healthy skin of the same capture
    [chart] = at.get("vega_lite_chart")
    data = b"".join(d.data.data for d in chart.proto.datasets)
    assert b"healthy skin of this capture (latest annotation)" in data
    at.number_input(key="detail_row").set_value(5).run()
    at.slider(key="detail_radius").set_value(0).run()
    assert not at.exception


def test_healthy_mask_prefers_the_annotation(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    capture_id = _annotated_capture(dashboard_env)
    mask, source = healthy_mask(store, capture_id, store.get_capture(capture_id))
    _, annotation = store.get_annotation(capture_id, task="burn-depth")
    assert source == "latest annotation"
    assert mask is not None and np.array_equal(mask, annotation == 1)


def test_unscored_phantom_falls_back_to_truth(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    ids = [r.capture_id for r in store.iter_captures()]
    bare = next(c for c in ids if not store.list_predictions(c) and not store.list_annotations(c))
    capture = store.get_capture(bare)
    mask, source = healthy_mask(store, bare, capture)
    assert source == "phantom ground truth" and mask is not None and mask.any()


def test_empty_store(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("detail").run()
    assert not at.exception and not at.error
    assert any("holds no captures" in i.value for i in at.info)


def test_unknown_capture_is_a_clear_message(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    at = page_app("detail")
    at.session_state["capture_id"] = "no-such-capture"
    at.run()
    assert not at.exception
    [error] = at.error
    assert "no-such-capture" in error.value and "no such capture" in error.value
