"""Renderings and the reference panel, without a server."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from labeling.renderings import is_photo, render_capture
from labeling.task_data import reference_html
from tests.labeling.conftest import fill_phantom
from wound.capture import Capture, CaptureMetadata, ReferenceData, utcnow
from wound.io.photo import PHOTO_WAVELENGTHS
from wound.pseudonym import pseudonymise
from wound.store import LocalStore


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im)


def test_rgb_photo_is_shown_as_itself() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 9, 3), dtype=np.uint8)
    cube = (rgb[..., ::-1].transpose(2, 0, 1) / 255.0).astype(np.float32)  # [blue, green, red]
    photo = Capture(
        cube=cube,
        wavelengths=PHOTO_WAVELENGTHS,
        metadata=CaptureMetadata(subject="sub-x", captured_at=utcnow(), wound_type="dfu"),
    )
    assert is_photo(photo)
    main, bands = render_capture(photo)
    np.testing.assert_array_equal(_pixels(main.png), rgb)
    assert main.title == "RGB photograph" and len(bands) == 3


def test_multispectral_renderings_are_full_size_and_titled(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        (cid, *_) = fill_phantom(store, subjects=1, captures=1)
        capture = store.get_capture(cid)
    main, bands = render_capture(capture)
    assert _pixels(main.png).shape == (48, 48, 3) and main.title.startswith("False colour: R ")
    assert [b.title for b in bands][:2] == ["Band 1 of 8: 420 nm", "Band 2 of 8: 525 nm"]
    assert all(_pixels(b.png).shape == (48, 48) for b in bands)


def test_reference_panel_escapes_free_text(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        (cid, *_) = fill_phantom(store, subjects=1, captures=1)
        capture = store.get_capture(cid)
        notes = ReferenceData(notes="<script>alert(1)</script> & more", biopsy_depth_class=4)
        other = replace(
            capture,
            metadata=capture.metadata.model_copy(
                update={"subject": pseudonymise("patient-9", b"k"), "capture_id": "ref-1"}
            ),
            reference=notes,
        )
        other_id = store.put_capture(other).capture_id
        panel = reference_html(store, store.get_record(other_id))
    assert "<script>" not in panel and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in panel
    assert "4: deep partial thickness" in panel and "patient-9" not in panel
