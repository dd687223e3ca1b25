"""Capture detail: metadata, band viewer, false-colour presets, the reflectance spectrum at a
pixel or region beside the healthy skin of the same capture, every annotation version and
prediction side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from dashboard import data, render, services
from wound.capture import Capture
from wound.errors import WoundError
from wound.score_format import one_line
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord
from wound.tasks import TASKS
from wound.taxonomy import DepthClass, hex_to_rgb

HEALTHY = int(DepthClass.HEALTHY)
IMAGE_WIDTH = 420
#: Colours of a "healing" annotation (0 does not heal within 21 days, 1 heals).
HEALING_COLOURS = {0: "#6c757d", 1: "#2a9d8f"}


def page() -> None:
    st.title("Capture detail")
    store = services.store_or_stop()
    capture_id = services.pick_capture(store, key="detail_pick")
    if capture_id is None:
        st.info("The store holds no captures yet: `wound ingest FOLDER` adds some.")
        return
    with services.guard(f"Capture {capture_id} could not be read"):
        record = store.get_record(capture_id)
        capture = data.capture(capture_id)
    _summary(record)
    bands, spectrum, versions = st.tabs(
        ["Bands and false colour", "Spectrum", "Annotations and predictions"]
    )
    with bands:
        _bands(capture_id, capture)
    with spectrum:
        _spectrum(store, capture_id, capture)
    with versions:
        _versions(store, capture_id)


def _summary(record: CaptureRecord) -> None:
    meta: dict[str, Any] = record.header.get("metadata", {})
    reference: dict[str, Any] = record.header.get("reference", {})
    rows = {
        "Capture": record.capture_id,
        "Subject (pseudonym)": record.subject,
        "Wound": f"{record.wound_id} ({record.wound_type})",
        "Captured (UTC)": f"{record.captured_at:%Y-%m-%d %H:%M}",
        "Visit": meta.get("visit"),
        "Days since injury": meta.get("days_since_injury"),
        "Days since first visit": meta.get("days_since_first_visit"),
        "Fitzpatrick skin type": meta.get("fitzpatrick"),
        "Size": f"{record.shape[0]} bands × {record.shape[1]} × {record.shape[2]} px",
        "Pixel spacing": "unknown" if record.spacing_mm is None else f"{record.spacing_mm:g} mm",
        "Label status": record.label_status,
        "Clinician's assessment": reference.get("clinician_assessment"),
    }
    shown = [(k, v) for k, v in rows.items() if v is not None]
    columns = st.columns(3)
    per_column = -(-len(shown) // 3)
    for i, column in enumerate(columns):
        column.markdown(
            "  \n".join(f"**{k}:** {v}" for k, v in shown[i * per_column : (i + 1) * per_column])
        )
    quality = record.quality
    if quality is None:
        st.caption("Quality: not checked yet (scoring checks it).")
    elif quality.get("ok"):
        flags = [f["message"] for f in quality.get("flags", [])]
        st.success("Quality: ok" + (" — flags: " + "; ".join(flags) if flags else ""))
    else:
        reasons = [r["message"] for r in quality.get("reasons", [])]
        st.error("Quality: refused — " + "; ".join(reasons))


def _bands(capture_id: str, capture: Capture) -> None:
    key = data.current_key()
    left, right = st.columns(2)
    with left:
        wavelength = st.select_slider(
            "Wavelength (nm)",
            options=list(capture.wavelengths),
            format_func=lambda w: f"{w:g}",
            key="detail_band",
        )
        index = list(capture.wavelengths).index(wavelength)
        st.image(
            _band(key, capture_id, index),
            caption=f"Band {index + 1}: {wavelength:g} nm (1st-99th percentile stretch)",
            width=IMAGE_WIDTH,
        )
    with right:
        preset = st.radio("False colour", list(render.PRESETS), key="detail_preset")
        bands = render.nearest_bands(capture.wavelengths, render.PRESETS[preset])
        shown = "/".join(f"{capture.wavelengths[b]:g}" for b in bands)
        st.image(
            render.enlarge(data.false_colour(key, capture_id, preset), _factor(capture)),
            caption=f"R/G/B = {shown} nm",
            width=IMAGE_WIDTH,
        )


@st.cache_data(show_spinner=False, max_entries=64)
def _band(key: services.StoreKey, capture_id: str, index: int) -> np.ndarray:
    cap = data.capture(capture_id)
    return render.enlarge(render.band_image(cap.cube, index), _factor(cap))


def _factor(capture: Capture) -> int:
    return render.display_scale(capture.shape[1:], 480)


def _spectrum(store: CaptureStore, capture_id: str, capture: Capture) -> None:
    _, h, w = capture.shape
    a, b, c = st.columns(3)
    row = int(a.number_input("Row", 0, h - 1, h // 2, key="detail_row"))
    col = int(b.number_input("Column", 0, w - 1, w // 2, key="detail_col"))
    radius = int(c.slider("Region radius (px)", 0, 20, 2, key="detail_radius"))
    region = capture.cube[
        :, max(0, row - radius) : row + radius + 1, max(0, col - radius) : col + radius + 1
    ]
    curves = {
        f"region at ({row}, {col}), {region.shape[1]}×{region.shape[2]} px": region.mean(
            axis=(1, 2)
        )
    }
    healthy, source = healthy_mask(store, capture_id, capture)
    if healthy is not None and healthy.any():
        curves[f"healthy skin of this capture ({source})"] = capture.cube[:, healthy].mean(axis=1)
    else:
        st.info("No healthy-skin map for this capture yet (score it, or annotate it).")
    table: dict[str, list[float]] = {"wavelength (nm)": list(capture.wavelengths)}
    table.update({name: [float(v) for v in values] for name, values in curves.items()})
    left, right = st.columns([3, 2])
    left.line_chart(
        table,
        x="wavelength (nm)",
        y=list(curves),
        x_label="wavelength (nm)",
        y_label="reflectance",
    )
    rgb = data.false_colour(data.current_key(), capture_id, render.DEFAULT_PRESET)
    right.image(
        _marked(rgb, row, col, radius, healthy), caption="Region (box); healthy skin (tint)"
    )


def healthy_mask(
    store: CaptureStore, capture_id: str, capture: Capture
) -> tuple[np.ndarray | None, str]:
    """Healthy-skin pixels: the latest annotation, else the latest prediction, else the truth
    (the first that has any), with the name of the source."""
    try:
        _, mask = store.get_annotation(capture_id, task="burn-depth")
        if (mask == HEALTHY).any():
            return mask == HEALTHY, "latest annotation"
    except WoundError:
        pass
    try:
        record, arrays = store.get_prediction(capture_id)
        if "depth" in arrays and (arrays["depth"] == HEALTHY).any():
            return arrays["depth"] == HEALTHY, f"prediction of {record.model_id}"
    except WoundError:
        pass
    truth = capture.truth.depth if capture.truth is not None else None
    if truth is not None and (truth == HEALTHY).any():
        return truth == HEALTHY, "phantom ground truth"
    return None, ""


def _marked(
    rgb: np.ndarray, row: int, col: int, radius: int, healthy: np.ndarray | None
) -> Image.Image:
    factor = render.display_scale(rgb.shape[:2], 360)
    base = rgb
    if healthy is not None:
        base = render.blend_classes(rgb, healthy.astype(np.uint8), {1: "#2a9d8f"}, 0.35)
    image = Image.fromarray(render.enlarge(base, factor))
    draw = ImageDraw.Draw(image)
    box = [
        (col - radius) * factor,
        (row - radius) * factor,
        (col + radius + 1) * factor - 1,
        (row + radius + 1) * factor - 1,
    ]
    draw.rectangle(box, outline=render.CONTOUR_COLOUR, width=2)
    return image


def _versions(store: CaptureStore, capture_id: str) -> None:
    key = data.current_key()
    with services.guard("Could not read the annotations and predictions"):
        annotations = store.list_annotations(capture_id)
        predictions = store.list_predictions(capture_id)
    left, right = st.columns(2)
    with left:
        st.subheader(f"Annotations ({len(annotations)} versions)")
        for a in annotations:
            st.image(
                _mask_image(key, capture_id, a.task, a.version),
                caption=f"{a.task} v{a.version} · annotator {a.annotator} · {a.source} · "
                f"{a.created_at:%Y-%m-%d %H:%M}",
                width=280,
            )
        if not annotations:
            st.caption("No annotation yet.")
    with right:
        st.subheader(f"Predictions ({len(predictions)})")
        for p in predictions:
            try:
                res = data.result(capture_id, p.model_id)
                text = one_line(res.score)
            except WoundError as exc:
                st.warning(f"{p.model_id}: {exc}")
                continue
            if p.status == "refused":
                st.error(f"{p.model_id}: refused — {text}")
                continue
            st.image(
                data.picture(res, opacity=0.6),
                caption=f"{p.model_id} · {p.created_at:%Y-%m-%d %H:%M} · {text}",
                width=280,
            )
        if not predictions:
            st.caption("No prediction yet (Score a capture).")


@st.cache_data(show_spinner=False, max_entries=64)
def _mask_image(key: services.StoreKey, capture_id: str, task: str, version: int) -> np.ndarray:
    _, mask = services.get_store().get_annotation(capture_id, version, task=task)
    spec = TASKS.get(task)
    if spec is not None:
        colours = spec.class_colours
    elif task == "healing":
        colours = HEALING_COLOURS
    else:
        colours = {1: "#e63946"}
    lut = np.zeros((256, 3), dtype=np.uint8)
    for cid, colour in colours.items():
        lut[cid] = hex_to_rgb(colour)
    image = lut[mask]
    return render.enlarge(image, render.display_scale(mask.shape, 280))
