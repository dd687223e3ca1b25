"""Score a capture: the device operator's page.

Upload a capture file (multi-band TIFF, PNG/JPEG photograph) or pick a stored capture, press
"Score": the pipeline stores, gates, predicts and scores it (:func:`wound.pipeline.score_file`
for an upload, as ``wound predict FILE`` does; :func:`wound.pipeline.score_stored` for a stored
capture), and the stored result is shown — the false-colour image
with the class overlay, the non-healing contour and hatched indeterminate regions, the areas in
labelled units, the model, and a one-page report to download. A refusal shows its reasons and
no map.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import data, render, report, services
from wound.errors import RecordNotFoundError
from wound.io import ReadLimits
from wound.pipeline import Outcome, score_file, score_stored
from wound.predict import Predictor
from wound.score_format import area_text
from wound.scoring import DISCLAIMER, Refusal, WoundScore
from wound.store.base import CaptureStore

UPLOAD_TYPES = ["tif", "tiff", "png", "jpg", "jpeg"]
SHOWN = "score_shown"  # session state: {"capture_id", "model_id", "note"}


def page() -> None:
    st.title("Score a capture")
    st.caption(DISCLAIMER + " The score supports, never replaces, the clinician's assessment.")
    store = services.store_or_stop()
    with services.guard("The model registry could not be read"):
        models = services.scoring_models(store)
    if not models:
        st.error(
            "No model in the registry: scoring needs a trained model. Train and register one "
            "(`wound train --config configs/burn-depth.yaml`, or `make demo`), then reload."
        )
        st.stop()
    left, right = st.columns([3, 2])
    model_id = left.selectbox(
        "Model",
        [m.model_id for m in models],
        format_func=lambda mid: services.model_label(next(m for m in models if m.model_id == mid)),
        key="score_model",
    )
    source = right.radio(
        "Capture", ["Upload a file", "A stored capture"], horizontal=True, key="score_source"
    )
    chosen = _upload_form() if source == "Upload a file" else _stored_form(store)
    button, force_box = st.columns([1, 4], vertical_alignment="center")
    force = force_box.checkbox(
        "Score again even if this model already scored the capture", key="score_force"
    )
    if button.button("Score", type="primary", disabled=chosen is None, key="score_button"):
        _score(store, model_id, chosen, force=force)
    shown = st.session_state.get(SHOWN)
    if shown:
        _show(shown["capture_id"], shown["model_id"], shown.get("note", ""))


def _upload_form() -> Any:
    upload = st.file_uploader(
        "Capture file: multi-band TIFF / OME-TIFF, or a PNG/JPEG photograph",
        type=UPLOAD_TYPES,
        key="score_upload",
    )
    with st.expander("Details for files that do not carry them"):
        st.text_input(
            "Subject id (pseudonymised before it is stored; never shown)",
            key="score_subject",
            type="password",
        )
        st.selectbox("Wound type", ["(from the file)", "burn", "dfu", "other"], key="score_type")
    return upload


def _stored_form(store: CaptureStore) -> str | None:
    chosen = services.pick_capture(store, key="score_pick", label="Stored capture")
    if chosen is None:
        st.info("The store holds no captures yet: upload one instead.")
    return chosen


def score_upload(
    store: CaptureStore,
    predictor: Predictor,
    name: str,
    content: bytes,
    metadata: dict[str, Any],
    *,
    force: bool,
) -> Outcome:
    """Score an uploaded file the way ``wound predict FILE`` does (:func:`score_file`: read,
    store in a background thread while gate, prediction and score run). Messages name "the
    uploaded file", never the temporary path (nor the upload's own name, which may hold a
    patient's name)."""
    config = services.settings()
    with tempfile.TemporaryDirectory(prefix="wound-upload-") as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(content)
        outcome = score_file(
            store,
            predictor,
            path,
            pseudonym_key=config.pseudonym_key_bytes(),
            read_limits=ReadLimits.from_settings(config),
            metadata=metadata or None,
            force=force,
        )
    if outcome.status == "failed":
        message = outcome.message.replace(str(path), "the uploaded file")
        return replace(outcome, capture_id="", message=message.replace(tmp, "…"))
    return outcome


def _score(store: CaptureStore, model_id: str, chosen: Any, *, force: bool) -> None:
    st.session_state.pop(SHOWN, None)
    with services.guard("The model could not be loaded"):
        predictor = services.get_predictor(model_id)
    with st.spinner("Checking quality, predicting and scoring…"):
        if isinstance(chosen, str):
            with services.guard(f"Capture {chosen} could not be scored"):
                outcome = next(iter(score_stored(store, predictor, [chosen], force=force)))
        else:
            metadata: dict[str, Any] = {}
            if st.session_state.get("score_subject"):
                metadata["subject"] = st.session_state["score_subject"]
            if st.session_state.get("score_type", "(from the file)") != "(from the file)":
                metadata["wound_type"] = st.session_state["score_type"]
            with services.guard("The upload cannot be scored"):
                outcome = score_upload(
                    store, predictor, chosen.name, chosen.getvalue(), metadata, force=force
                )
    if outcome.status == "failed":
        what = f"Capture {outcome.capture_id}" if outcome.capture_id else "The upload"
        st.error(f"{what} cannot be scored: {outcome.message}")
        return
    capture_id = outcome.capture_id
    note = ""
    if outcome.status == "skipped":
        note = "This model had already scored this capture: showing the stored result."
    st.session_state[SHOWN] = {"capture_id": capture_id, "model_id": model_id, "note": note}
    st.session_state[services.CAPTURE_KEY] = capture_id


def _show(capture_id: str, model_id: str, note: str) -> None:
    try:
        res = data.result(capture_id, model_id)
        record = services.get_store().get_record(capture_id)
    except RecordNotFoundError:
        st.warning(f"No stored result of model {model_id} for capture {capture_id}.")
        return
    st.divider()
    if note:
        st.info(note)
    score = res.score
    if isinstance(score, Refusal):
        show_refusal(score)
        image = data.picture(res, opacity=0.0)
        st.image(image, caption="The capture as received (no prediction map: refused)", width=320)
    else:
        left, right = st.columns([3, 2])
        with right:
            opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="score_opacity")
        image = data.picture(res, opacity=opacity)
        with left:
            st.image(image, caption=f"Capture {capture_id}: predicted classes over false colour")
            spec = res.spec
            assert spec is not None
            colours = {c: spec.class_colours[c] for c in spec.wound_classes}
            st.markdown(
                render.legend_html(colours, spec.class_names, contour=spec.has_healing),
                unsafe_allow_html=True,
            )
        with right:
            show_score(score)
    st.caption(
        f"Model {score.model_id}"
        + (f", version {score.model_version}" if score.model_version else "")
        + f" · capture {capture_id} · captured {record.captured_at:%Y-%m-%d %H:%M} UTC"
        + f" · scored {res.record.created_at:%Y-%m-%d %H:%M:%S}."
        + f"{res.record.created_at.microsecond // 1000:03d} UTC"
    )
    _downloads(res, image, record.captured_at, record.wound_type)


def show_refusal(score: Refusal) -> None:
    st.error("Refused by the input-quality gate: no score and no map for this capture.")
    st.markdown("\n".join(f"- {reason}" for reason in score.reasons))
    st.warning(score.note)


def show_score(score: WoundScore) -> None:
    """The score's numbers with their units (and why pixels when the spacing is unknown)."""
    st.metric("Wound area", area_text(score.wound_area, score))
    if score.non_healing_area is not None and score.non_healing_share is not None:
        st.metric(
            "Unlikely to heal within 21 days",
            area_text(score.non_healing_area, score),
            f"{score.non_healing_share:.0%} of the wound",
            delta_color="off",
            delta_arrow="off",
        )
    st.metric(
        "Indeterminate (hatched)",
        area_text(score.indeterminate_area, score),
        f"{score.indeterminate_share:.0%} of the wound",
        delta_color="off",
        delta_arrow="off",
    )
    if score.classes:
        st.dataframe(
            {
                "Depth class": [c.name for c in score.classes],
                f"Area ({score.unit.label})": [round(c.area, 2) for c in score.classes],
                "Share of wound": [f"{c.share:.1%}" for c in score.classes],
            },
            hide_index=True,
        )
    if score.unit.value == "px":
        st.caption("Pixel spacing unknown: areas are in pixels, not cm².")
    for flag in score.quality_flags:
        st.warning(f"Quality flag: {flag}")


def _downloads(res: data.Result, image: Any, captured_at: Any, wound_type: str) -> None:
    def build(fmt: str) -> bytes:
        fig = report.report_figure(
            res.score,
            None if isinstance(res.score, Refusal) else image,
            captured_at=captured_at,
            wound_type=wound_type,
        )
        return report.report_bytes(fig, "pdf" if fmt == "pdf" else "png")

    stem = f"wound-score-{res.record.capture_id}"
    a, b, _ = st.columns([1, 1, 4])
    a.download_button(
        "Report (PDF)", lambda: build("pdf"), f"{stem}.pdf", "application/pdf", key="rep_pdf"
    )
    b.download_button(
        "Report (PNG)", lambda: build("png"), f"{stem}.png", "image/png", key="rep_png"
    )
