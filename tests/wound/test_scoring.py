"""Wound score arithmetic against a hand-made depth mask with known spacing; the typed score
union (new and old stored shapes); report rendering."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from wound.errors import StoreError
from wound.predict import Prediction
from wound.quality import QualityIssue, QualityVerdict
from wound.score_format import SUMMARY_COLUMNS, one_line, render_json, render_text, summary_cells
from wound.scoring import (
    AreaUnit,
    Refusal,
    WoundScore,
    parse_score,
    refusal_score,
    score_prediction,
)


def hand_made(*, task: str = "burn-depth") -> Prediction:
    """40 x 40: healthy skin rows 2-37; a 10x10 deep-partial square (rows 5-14, cols 5-14) that
    will not heal; a 10x20 superficial-partial block (rows 20-29, cols 5-24) that heals, with a
    5x5 indeterminate patch (rows 20-24, cols 5-9)."""
    labels = np.zeros((40, 40), np.uint8)
    labels[2:38] = 1
    labels[5:15, 5:15] = 4
    labels[20:30, 5:25] = 3
    healing = np.where(labels > 0, 0.9, 0.0).astype(np.float32)
    healing[5:15, 5:15] = 0.2
    uncertainty = np.full((40, 40), 0.1, np.float32)
    uncertainty[20:25, 5:10] = 0.8
    uncertainty[0:2] = 0.9  # uncertain background: not wound, not counted
    probs = np.zeros((6, 40, 40), np.float32)
    for k in range(6):
        probs[k][labels == k] = 1.0
    return Prediction(
        task=task,
        probabilities=probs,
        labels=labels,
        uncertainty=uncertainty,
        healing_prob=healing,
        model_id="m-test",
        model_version="v1",
    )


def test_areas_in_cm2_with_known_spacing() -> None:
    score = score_prediction(hand_made(), capture_id="cap-1", spacing_mm=0.5)
    assert score.unit is AreaUnit.CM2 and score.unit.label == "cm²"
    assert score.pixel_area == pytest.approx(0.0025)
    assert score.wound_pixels == 300
    assert score.wound_area == pytest.approx(0.75)
    by_class = {c.class_id: c for c in score.classes}
    assert set(by_class) == {2, 3, 4, 5}
    assert by_class[4].pixels == 100 and by_class[4].area == pytest.approx(0.25)
    assert by_class[3].pixels == 200 and by_class[3].area == pytest.approx(0.5)
    assert by_class[2].area == 0 and by_class[5].area == 0
    assert by_class[4].share == pytest.approx(1 / 3)
    assert by_class[3].share == pytest.approx(2 / 3)
    assert sum(c.share for c in score.classes) == pytest.approx(1.0)
    assert score.non_healing_pixels == 100
    assert score.non_healing_area == pytest.approx(0.25)
    assert score.non_healing_share == pytest.approx(1 / 3)
    assert score.indeterminate_pixels == 25
    assert score.indeterminate_area == pytest.approx(0.0625)
    assert score.indeterminate_share == pytest.approx(25 / 300)
    assert (score.model_id, score.model_version) == ("m-test", "v1")


def test_contour_surrounds_the_non_healing_square() -> None:
    score = score_prediction(hand_made(), capture_id="cap-1", spacing_mm=0.5)
    assert len(score.non_healing_contours) == 1
    contour = score.non_healing_contours[0]
    pts = np.array(contour.points_px)
    assert pts[0].tolist() == pts[-1].tolist()  # closed
    assert pts[:, 0].min() == pytest.approx(4.5) and pts[:, 0].max() == pytest.approx(14.5)
    assert pts[:, 1].min() == pytest.approx(4.5) and pts[:, 1].max() == pytest.approx(14.5)
    assert contour.points_mm is not None
    mm = np.array(contour.points_mm)
    np.testing.assert_allclose(mm, pts * 0.5)


def test_pixels_when_spacing_unknown() -> None:
    score = score_prediction(hand_made(), capture_id="cap-1", spacing_mm=None)
    assert score.unit is AreaUnit.PX and score.unit.label == "px"
    assert score.wound_area == 300
    assert score.non_healing_area == 100
    assert score.non_healing_contours[0].points_mm is None
    assert "Wound area: 300 px (pixel spacing unknown)" in render_text(score)
    assert one_line(score) == "wound 300.00 px, unlikely to heal 33%, indeterminate 8%"
    assert summary_cells(score)[1] == "300.00 px"


def test_empty_wound_has_zero_shares() -> None:
    pred = hand_made()
    labels = np.where(pred.labels > 1, 1, pred.labels).astype(np.uint8)
    empty = Prediction(
        task="burn-depth",
        probabilities=pred.probabilities,
        labels=labels,
        uncertainty=pred.uncertainty,
        healing_prob=pred.healing_prob,
    )
    score = score_prediction(empty, capture_id="cap-2", spacing_mm=0.5)
    assert score.wound_area == 0
    assert score.non_healing_share == 0 and score.indeterminate_share == 0
    assert score.non_healing_contours == []


def test_quality_flags_and_timings_carried() -> None:
    verdict = QualityVerdict(
        ok=True,
        flags=[QualityIssue(code="slight-misregistration", message="bands shifted up to 2.2 px")],
    )
    score = score_prediction(
        hand_made(),
        capture_id="cap-1",
        spacing_mm=0.5,
        quality=verdict,
        timings_ms={"predict": 12.3456},
    )
    assert score.quality_flags == ["bands shifted up to 2.2 px"]
    assert score.timings_ms == {"predict": 12.35}


def test_text_report_and_json_round_trip() -> None:
    score = score_prediction(hand_made(), capture_id="cap-1", spacing_mm=0.5)
    text = render_text(score)
    assert "an aid to the clinician; the non-healing contour is not an excision margin" in (
        text.lower()
    )
    assert "Wound area: 0.75 cm²" in text
    assert "deep partial thickness" in text and "33.3%" in text
    data = json.loads(render_json(score))
    assert data["kind"] == "score" and data["unit"] == "cm2"
    assert parse_score(data) == score
    assert render_text(data) == text  # the stored dict renders the same report
    assert one_line(score) == "wound 0.75 cm², unlikely to heal 33%, indeterminate 8%"
    cells = summary_cells(data)
    assert len(cells) == len(SUMMARY_COLUMNS)
    assert cells[:2] == ("ok", "0.75 cm²")
    assert dict(zip(SUMMARY_COLUMNS, cells, strict=True))["deep partial"] == "0.25"


def test_refusal_score_and_report() -> None:
    verdict = QualityVerdict(
        ok=False,
        reasons=[QualityIssue(code="too-dark", message="too dark: reflectance 0.01 < 0.05")],
    )
    score = refusal_score("cap-9", verdict, model_id="m-test")
    assert isinstance(score, Refusal)
    assert score.reasons == ["too dark: reflectance 0.01 < 0.05"]
    assert score.codes == ["too-dark"]
    text = render_text(score)
    assert "REFUSED" in text and "too dark" in text
    data = json.loads(render_json(score))  # JSON-ready
    assert data["kind"] == "refusal" and data["refused"] is True
    assert parse_score(data) == score
    assert one_line(data) == "too dark: reflectance 0.01 < 0.05"
    cells = summary_cells(data)
    assert cells[0] == "refused: too dark: reflectance 0.01 < 0.05"
    assert set(cells[1:]) == {""} and len(cells) == len(SUMMARY_COLUMNS)


def test_old_stored_score_and_refusal_still_load(old_score_record: dict[str, Any]) -> None:
    score = parse_score(old_score_record)
    assert isinstance(score, WoundScore) and score.kind == "score"
    assert score.unit is AreaUnit.CM2 and score.wound_area == 0.75
    assert score.non_healing_contours[0].region_pixels == 100
    assert one_line(score) == "wound 0.75 cm², unlikely to heal 33%, indeterminate 8%"
    old_refusal = {
        "refused": True,
        "capture_id": "cap-old",
        "model_id": "m-old",
        "model_version": "",
        "reasons": ["saturated: 12% of pixels at the sensor maximum"],
        "codes": ["saturated"],
        "quality_metrics": {"saturated_fraction": 0.12},
        "timings_ms": {"read": 3.0, "gate": 1.0},
        "provenance": {"device": "cpu"},
        "note": "No score: the capture failed the input-quality gate. Retake the image.",
    }
    refusal = parse_score(old_refusal)
    assert isinstance(refusal, Refusal) and refusal.codes == ["saturated"]
    assert "REFUSED" in render_text(old_refusal) and "saturated" in render_text(old_refusal)
    # what a reader writes back carries the discriminator
    assert json.loads(render_json(old_refusal))["kind"] == "refusal"


def test_unreadable_score_names_the_record_and_field(old_score_record: dict[str, Any]) -> None:
    broken = dict(old_score_record)
    del broken["wound_area"]
    with pytest.raises(StoreError, match=r"prediction of cap-old: .*wound_area"):
        parse_score(broken, where="prediction of cap-old")
    with pytest.raises(StoreError, match="'verdict'"):
        parse_score({"kind": "verdict", "capture_id": "x"})
    with pytest.raises(StoreError, match="reasons"):
        parse_score({"refused": True, "capture_id": "x", "model_id": "m"})


def test_wound_mask_model_score() -> None:
    labels = np.zeros((20, 20), np.uint8)
    labels[0:10, 0:4] = 1  # 40 px wound
    probs = np.stack([1 - labels, labels]).astype(np.float32)
    pred = Prediction(
        task="wound-mask",
        probabilities=probs,
        labels=labels,
        uncertainty=np.zeros((20, 20), np.float32),
    )
    score = score_prediction(pred, capture_id="dfu-1", spacing_mm=1.0)
    assert score.wound_area == pytest.approx(0.4)
    assert score.classes == [] and score.non_healing_area is None
    assert "Unlikely to heal" not in render_text(score)
