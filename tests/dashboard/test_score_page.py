"""Score page (AppTest on a seeded embedded store): upload and stored captures, refusals, errors."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from reliability.servers import free_port
from wound.capture import Capture
from wound.io import write_capture
from wound.phantom import PhantomConfig, synth_capture
from wound.scoring import DISCLAIMER
from wound.store import LocalStore


def _tiff_bytes(capture: Capture, tmp_path: Path) -> bytes:
    return write_capture(capture, tmp_path / "c.tif").read_bytes()


def _phantom(seed: int = 99) -> Capture:
    return synth_capture(
        seed=seed, subject_index=0, capture_index=0, config=PhantomConfig(height=64, width=64)
    )


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    )
    return "\n".join(str(p) for p in parts)


def _upload_and_score(at: AppTest, name: str, content: bytes, mime: str) -> AppTest:
    at.run()
    at.file_uploader(key="score_upload").set_value((name, content, mime))
    at.run()
    at.button(key="score_button").click()
    return at.run()


def test_upload_tiff_is_scored_and_shown(
    dashboard_env: Path, page_app: Callable[[str], AppTest], tmp_path: Path
) -> None:
    at = _upload_and_score(
        page_app("score"), "scan.tif", _tiff_bytes(_phantom(), tmp_path), "image/tiff"
    )
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Wound area"].endswith("cm²")
    assert "Unlikely to heal within 21 days" in labels
    assert "Indeterminate (hatched)" in labels
    assert len(at.image) == 1
    text = _texts(at)
    assert DISCLAIMER in text
    assert "burn-depth-tiny-b" in text  # the newest model is the default, its id is shown
    assert "superficial partial thickness" in text  # the legend names the classes
    assert {b.label for b in at.get("download_button")} == {"Report (PDF)", "Report (PNG)"}
    # the upload went through the store: one more capture, scored by that model
    store = LocalStore(dashboard_env)
    predictions = [p for p in store.list_predictions() if p.model_id == "burn-depth-tiny-b"]
    assert len(predictions) == 1 and predictions[0].status == "scored"
    # the opacity slider re-renders from the stored result (no second prediction)
    at.slider(key="score_opacity").set_value(0.9).run()
    assert not at.exception and len(at.image) == 1
    assert len(store.list_predictions()) == 3


def test_refused_capture_shows_reasons_and_no_map(
    dashboard_env: Path, page_app: Callable[[str], AppTest], tmp_path: Path
) -> None:
    phantom = _phantom(5)
    other_camera = Capture(  # bands 15 nm away from the model's: the gate refuses it
        cube=phantom.cube,
        wavelengths=tuple(w + 15 for w in phantom.wavelengths),
        metadata=phantom.metadata.model_copy(update={"capture_id": "other-camera-1"}),
        spacing_mm=phantom.spacing_mm,
    )
    content = _tiff_bytes(other_camera, tmp_path)
    at = _upload_and_score(page_app("score"), "b.tif", content, "image/tiff")
    assert not at.exception, at.exception
    assert any("Refused by the input-quality gate" in e.value for e in at.error)
    assert not at.metric  # no score
    assert "nm" in _texts(at)  # the reason names the wavelengths
    assert [i.captions for i in at.image] == [
        ["The capture as received (no prediction map: refused)"]
    ]


def test_corrupt_upload_is_a_clear_message(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    at = _upload_and_score(page_app("score"), "john-doe.tif", b"II*\x00garbage" * 10, "image/tiff")
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("The upload cannot be scored: the uploaded file:")
    assert "john-doe" not in error.value  # the file's own name may hold a patient's name


def test_photo_without_subject_asks_for_one(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(buffer, format="PNG")
    at = _upload_and_score(page_app("score"), "foot.png", buffer.getvalue(), "image/png")
    assert not at.exception
    [error] = at.error
    assert "subject" in error.value


def test_stored_capture_is_scored(dashboard_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("score")
    at.run()
    at.radio(key="score_source").set_value("A stored capture").run()
    assert at.selectbox(key="score_pick").options
    at.selectbox(key="score_model").set_value("burn-depth-tiny-a").run()
    at.button(key="score_button").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.metric or any("Refused" in e.value for e in at.error)


def test_already_scored_capture_shows_the_stored_result(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    store = LocalStore(dashboard_env)
    scored = next(p for p in store.list_predictions() if p.model_id == "burn-depth-tiny-a")
    at = page_app("score")
    at.session_state["capture_id"] = scored.capture_id
    at.run()
    at.radio(key="score_source").set_value("A stored capture").run()
    at.selectbox(key="score_model").set_value("burn-depth-tiny-a").run()
    assert at.selectbox(key="score_pick").value == scored.capture_id
    at.button(key="score_button").click().run()
    assert not at.exception
    assert any("already scored" in i.value for i in at.info)
    assert len(store.list_predictions()) == 2  # nothing recomputed


def test_missing_model_is_a_clear_message(
    empty_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    at = page_app("score").run()
    assert not at.exception
    [error] = at.error
    assert "No model in the registry" in error.value
    assert not at.button


def test_unreachable_store_is_a_clear_message(
    empty_env: Path, page_app: Callable[[str], AppTest], monkeypatch
) -> None:
    empty_env.parent.joinpath("not-a-folder").write_text("x")
    monkeypatch.setenv("WOUND_HOME", str(empty_env.parent / "not-a-folder"))
    at = page_app("score").run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("The capture store cannot be reached")


def test_wrong_band_photo_is_refused_with_the_reason(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(60, 200, (8, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    Image.fromarray(smooth).save(buffer, format="PNG")
    at = page_app("score").run()
    at.file_uploader(key="score_upload").set_value(("foot.png", buffer.getvalue(), "image/png"))
    at.text_input(key="score_subject").input("P-0042")
    at.run()
    at.button(key="score_button").click().run()
    assert not at.exception
    assert any("Refused by the input-quality gate" in e.value for e in at.error)
    assert "band" in _texts(at)  # 3 photo bands where the model reads 8
    assert "P-0042" not in _texts(at)  # the subject id is never shown


def test_unreachable_aws_store_is_a_clear_message(
    empty_env: Path, page_app: Callable[[str], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # a port nobody listens on
    monkeypatch.setenv("WOUND_BACKEND", "aws")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    at = page_app("score").run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("The capture store cannot be reached")
