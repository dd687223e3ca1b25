"""Cached reads and renderings (``st.cache_data``) shared by the pages.

Keys always hold the :class:`~dashboard.services.StoreKey` (two stores never share entries) and,
for predictions, the record's creation time (a re-score is a new entry, never a stale one).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from dashboard import render
from dashboard.services import StoreKey, get_store, settings, store_key
from wound.capture import Capture
from wound.scoring import Refusal, WoundScore, parse_score
from wound.store.records import PredictionRecord
from wound.tasks import TaskSpec, get_task


def current_key() -> StoreKey:
    return store_key(settings())


@st.cache_resource(show_spinner=False, max_entries=8)
def _capture(key: StoreKey, capture_id: str) -> Capture:
    """A stored capture (a resource: the cube is shared, never copied per run)."""
    return get_store().get_capture(capture_id)


def capture(capture_id: str) -> Capture:
    return _capture(current_key(), capture_id)


@st.cache_data(show_spinner=False, max_entries=64)
def false_colour(key: StoreKey, capture_id: str, preset: str) -> np.ndarray:
    cap = _capture(key, capture_id)
    return render.false_colour(
        cap.cube, render.nearest_bands(cap.wavelengths, render.PRESETS[preset])
    )


@st.cache_data(show_spinner=False, max_entries=256)
def thumbnail(key: StoreKey, capture_id: str, size: int = 160) -> bytes:
    """The stored preview, shrunk to ``size`` pixels on the long side (PNG)."""
    with Image.open(io.BytesIO(get_store().get_preview(capture_id))) as image:
        image.thumbnail((size, size))
        return render.to_png(image.convert("RGB"))


@dataclass(frozen=True)
class Result:
    """A stored prediction, typed: its record, score, maps and task."""

    record: PredictionRecord
    score: WoundScore | Refusal
    arrays: dict[str, np.ndarray]

    @property
    def spec(self) -> TaskSpec | None:
        """The task of a score (None for a refusal, which has no maps)."""
        return get_task(self.score.task) if isinstance(self.score, WoundScore) else None


@st.cache_data(show_spinner=False, max_entries=32)
def _arrays(key: StoreKey, capture_id: str, model_id: str, created: str) -> dict[str, np.ndarray]:
    _, arrays = get_store().get_prediction(capture_id, model_id)
    return arrays


def result(capture_id: str, model_id: str | None = None) -> Result:
    """The prediction of ``model_id`` (latest when None) for a capture, with its maps."""
    record, _ = get_store().get_prediction(capture_id, model_id, with_arrays=False)
    score = parse_score(record.score, where=f"prediction {capture_id}/{record.model_id}")
    arrays = (
        _arrays(current_key(), capture_id, record.model_id, record.created_at.isoformat())
        if record.arrays is not None
        else {}
    )
    return Result(record, score, arrays)


def picture(res: Result, *, opacity: float, preset: str = render.DEFAULT_PRESET) -> Image.Image:
    """The capture in false colour with the result's overlay (none for a refusal)."""
    rgb = false_colour(current_key(), res.record.capture_id, preset)
    score = res.score
    if isinstance(score, Refusal):
        return render.score_picture(rgb, None, {}, opacity=0.0)
    return _picture(
        current_key(),
        res.record.capture_id,
        res.record.model_id,
        res.record.created_at.isoformat(),
        round(opacity, 2),
        preset,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _picture(
    key: StoreKey, capture_id: str, model_id: str, created: str, opacity: float, preset: str
) -> Image.Image:
    res = result(capture_id, model_id)
    score = res.score
    assert isinstance(score, WoundScore)
    spec = res.spec
    assert spec is not None
    rgb = false_colour(key, capture_id, preset)
    class_map = res.arrays.get(spec.class_map)
    indeterminate = None
    if "uncertainty" in res.arrays and class_map is not None:
        wound = np.isin(class_map, spec.wound_classes)
        indeterminate = wound & (res.arrays["uncertainty"] > score.uncertainty_threshold)
    colours = {c: spec.class_colours[c] for c in spec.wound_classes}
    contours = [c.points_px for c in score.non_healing_contours]
    return render.score_picture(
        rgb, class_map, colours, opacity=opacity, indeterminate=indeterminate, contours=contours
    )
