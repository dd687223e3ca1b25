"""One Label Studio task per capture: renderings, clinical reference panel, pre-annotations.

The reference panel (HTML, escaped) shows the subject pseudonym, wound, anatomical site, days
since injury, biopsy depth, the bedside assessment and notes; thumbnails of the subject's
earlier captures of the same wound are renderings beside it. Only pseudonymous fields of the
capture record are used: no raw patient identifier can reach a task. Pre-annotations come from
:class:`wound.predict.Predictor` as brush regions with the model id, version and a score (mean
confidence ``1 - uncertainty`` over the predicted wound); they are an aid to correct, not a
diagnosis.
"""

from __future__ import annotations

import html
import io
from typing import Any

import numpy as np
from PIL import Image

from labeling.brush import mask_to_results
from labeling.config import LabelingError, TaskLabels
from labeling.renderings import RenderingStore, render_capture
from wound.capture import Capture
from wound.predict import Predictor
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord
from wound.taxonomy import DEPTH_NAMES

THUMBS = 4  # most earlier captures shown


def _thumbnail(preview_png: bytes, size: int = 160) -> bytes:
    with Image.open(io.BytesIO(preview_png)) as im:
        im.thumbnail((size, size))
        out = io.BytesIO()
        im.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def earlier_captures(store: CaptureStore, record: CaptureRecord) -> list[CaptureRecord]:
    """The subject's captures of the same wound taken before ``record`` (latest last)."""
    same = store.iter_captures(subject=record.subject, wound_id=record.wound_id)
    before = [r for r in same if r.captured_at < record.captured_at]
    return before[-THUMBS:]


def reference_html(store: CaptureStore, record: CaptureRecord) -> str:
    """The clinical reference panel of a capture (escaped HTML, inline thumbnails)."""
    meta = record.header.get("metadata", {})
    ref = record.header.get("reference", {})
    biopsy = ref.get("biopsy_depth_class")
    healed = ref.get("healed_within_21_days")
    days = meta.get("days_since_injury")
    rows = [
        ("Subject (pseudonym)", record.subject),
        ("Wound", f"{record.wound_id} ({record.wound_type})"),
        ("Anatomical site", meta.get("anatomical_site") or "-"),
        ("Captured (UTC)", record.captured_at.strftime("%Y-%m-%d %H:%M")),
        ("Days since injury", "-" if days is None else f"{days:g}"),
        ("Biopsy depth", "-" if biopsy is None else f"{biopsy}: {DEPTH_NAMES.get(biopsy, '?')}"),
        ("Bedside assessment", ref.get("clinician_assessment") or "-"),
        ("Healed within 21 days", "-" if healed is None else ("yes" if healed else "no")),
        ("Notes", ref.get("notes") or "-"),
    ]
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(k)}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<div class='wound-reference'><table>{cells}</table></div>"


def earlier_thumbnails(
    store: CaptureStore, record: CaptureRecord, renderings: RenderingStore
) -> tuple[list[str], str]:
    """URIs of thumbnails of the wound's earlier captures, and their titles (dates, days)."""
    uris, titles = [], []
    for n, earlier in enumerate(earlier_captures(store, record), 1):
        thumb = _thumbnail(store.get_preview(earlier.capture_id))
        uris.append(renderings.put(earlier.capture_id, "thumb.png", thumb))
        days = earlier.header.get("metadata", {}).get("days_since_injury")
        when = earlier.captured_at.strftime("%Y-%m-%d")
        titles.append(f"{n}: {when}" + ("" if days is None else f" (day {days:g})"))
    return uris, " | ".join(titles) or "none"


def pre_annotation(predictor: Predictor, capture: Capture, labels: TaskLabels) -> dict[str, Any]:
    """The model's map as a Label Studio prediction (brush regions, model version, score)."""
    if predictor.task != labels.task:
        raise LabelingError(f"a {predictor.task} model cannot pre-annotate {labels.task} tasks")
    prediction = predictor.predict(capture)
    mask = prediction.labels.astype(np.uint8)
    wound = prediction.wound_mask
    region = wound if wound.any() else np.ones_like(wound)
    score = float(1.0 - prediction.uncertainty[region].mean())
    return {
        "model_version": f"{predictor.model_id}@{predictor.model_version}",
        "score": round(score, 4),
        "result": mask_to_results(mask, labels),
    }


def build_task(
    store: CaptureStore,
    record: CaptureRecord,
    labels: TaskLabels,
    renderings: RenderingStore,
    *,
    predictor: Predictor | None = None,
) -> dict[str, Any]:
    """The Label Studio task of one capture (renderings written to ``renderings``)."""
    capture = store.get_capture(record.capture_id)
    main, bands = render_capture(capture)
    data: dict[str, Any] = {
        "capture_id": record.capture_id,
        "task": labels.task,
        "image": renderings.put(record.capture_id, main.name, main.png),
        "image_title": main.title,
        "bands": [renderings.put(record.capture_id, b.name, b.png) for b in bands],
        "band_titles": " | ".join(b.title for b in bands),
        "reference": reference_html(store, record),
    }
    data["earlier"], data["earlier_titles"] = earlier_thumbnails(store, record, renderings)
    task: dict[str, Any] = {"data": data}
    if predictor is not None:
        task["predictions"] = [pre_annotation(predictor, capture, labels)]
    return task
