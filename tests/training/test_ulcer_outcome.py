"""Ulcer healing from the first visit: the task entry, the pooled read-out, its fit, and the
three-way table on an oracle cohort whose AUCs are known by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from training.config import RunConfig, load_config
from training.ulcer_eval import (
    AREA,
    MODEL,
    OXIMETRY,
    balanced_threshold,
    evaluate_outcomes,
    markdown,
)
from training.ulcer_outcome import fit_outcome
from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.networks import ModelInfo, NetworkSpec
from wound.outcome import (
    PERIWOUND_MM,
    HealingOutcome,
    periwound_features,
    periwound_ring,
    responder,
)
from wound.predict import Predictor
from wound.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
SIZE, SPACING = 64, 0.5
BANDS = (500.0, 600.0, 700.0)
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_task_entry_is_one_row_of_the_table() -> None:
    spec = get_task("ulcer-healing")
    assert (spec.n_classes, spec.out_channels) == (2, 3)
    assert spec.has_healing and spec.head("healing") is not None
    assert spec.input_kind == "multispectral" and spec.wound_classes == (1,)
    assert set(spec.skin_classes) == {c.id for c in spec.classes}  # the map covers every pixel
    assert spec.capture_outcome and spec.annotation_tasks == ("ulcer-healing", "ulcer-viability")
    config = RunConfig(task="ulcer-healing")
    assert config.network.out_channels == 3
    shipped = load_config(ROOT / "configs" / "ulcer-healing.yaml")
    assert shipped.task == "ulcer-healing" and shipped.data.source == "store"
    assert shipped.data.filter.wound_type == "dfu" and shipped.calibration.fraction > 0


def _disk(radius_px: float, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius_px**2


def test_periwound_ring_and_features() -> None:
    bed = _disk(6)
    ring = periwound_ring(bed, SPACING)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    r = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
    assert not (ring & bed).any()
    assert (
        ring[r < 6 + PERIWOUND_MM / SPACING - 1.5].sum()
        == ((~bed) & (r < 6 + PERIWOUND_MM / SPACING - 1.5)).sum()
    )
    assert not ring[r > 6 + PERIWOUND_MM / SPACING + 1.5].any()
    assert periwound_ring(np.zeros((8, 8), bool), SPACING).all()  # no bed: the whole capture
    prob = np.full((SIZE, SIZE), 0.8)
    np.testing.assert_allclose(periwound_features(prob, bed, SPACING), [np.log(4.0)] * 3)
    prob[:, : SIZE // 2] = 0.2  # half the ring and surround below 0.5: mean logit 0
    feats = periwound_features(prob, bed, SPACING)
    assert abs(feats[0]) < 0.1 and abs(feats[2]) < 0.1
    assert feats[1] == pytest.approx(-np.log(4.0))  # the least viable tenth
    prob[r > 6 + PERIWOUND_MM / SPACING + 1.5] = 0.99  # the surround alone changes
    assert periwound_features(prob, bed, SPACING)[2] > 1.0


def test_outcome_probability_and_responder() -> None:
    outcome = HealingOutcome(
        feature_mean=(1.0, 0.0, 0.0),
        feature_scale=(2.0, 1.0, 1.0),
        coef=(1.0, -1.0, 0.5),
        intercept=0.5,
    )
    assert outcome.probability([3.0, 0.5, 0.0]) == pytest.approx(1 / (1 + np.exp(-1.0)))
    with pytest.raises(ValueError, match="3 features"):
        outcome.probability([1.0, 2.0])
    assert responder(50.0) and not responder(49.9) and responder(None) is None


# --- an oracle cohort: the cube IS the logits (identity network, band mean 0, std 1) ---------


def _capture(
    subject: int, visit: int, *, viable_logit: float, bed_px: float, par4: float, fitz: int
) -> Capture:
    """3 "bands" = no-ulcer logit, ulcer logit, viability logit (what the network returns)."""
    bed = _disk(bed_px)
    cube = np.stack(
        [np.where(bed, -4.0, 4.0), np.where(bed, 4.0, -4.0), np.full(bed.shape, viable_logit)]
    ).astype(np.float32)
    day = 7.0 * (visit - 1)
    metadata = CaptureMetadata(
        capture_id=f"oracle-{subject}-{visit}",
        subject=f"s{subject:02d}",
        wound_id="w1",
        wound_type="dfu",
        captured_at=START + timedelta(days=day),
        fitzpatrick=fitz,
        visit=visit,
        days_since_first_visit=day,
    )
    truth = GroundTruth(wound_mask=bed.astype(np.uint8), healing=np.ones(bed.shape, dtype=np.uint8))
    return Capture(
        cube=cube,
        wavelengths=BANDS,
        metadata=metadata,
        spacing_mm=SPACING,
        reference=ReferenceData(percent_area_reduction_4w=par4),
        truth=truth,
    )


def _cohort(
    logits: list[float], week2_radius: list[float], par4: list[float], start: int
) -> list[Capture]:
    caps = []
    for k, (v, r2, p) in enumerate(zip(logits, week2_radius, par4, strict=True)):
        fitz = 1 + k % 6
        caps.append(_capture(start + k, 1, viable_logit=v, bed_px=8, par4=p, fitz=fitz))
        caps.append(_capture(start + k, 2, viable_logit=v, bed_px=7, par4=p, fitz=fitz))
        caps.append(_capture(start + k, 3, viable_logit=v, bed_px=r2, par4=p, fitz=fitz))
    return caps


def _info(outcome: HealingOutcome | None = None) -> ModelInfo:
    return ModelInfo(
        task="ulcer-healing",
        network=NetworkSpec(in_channels=3, out_channels=3, channels=(4, 8), strides=(2,)),
        wavelengths_nm=BANDS,
        band_mean=(0.0, 0.0, 0.0),
        band_std=(1.0, 1.0, 1.0),
        outcome=outcome,
    )


def _hand_auc(y: list[int], score: list[float]) -> float:
    """Mann-Whitney: the share of (responder, non-responder) pairs ranked right (ties half)."""
    pos = [s for s, t in zip(score, y, strict=True) if t]
    neg = [s for s, t in zip(score, y, strict=True) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


TRAIN_LOGITS = [-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, -0.2, 0.2]
TRAIN_PAR4 = [10.0, 20.0, 30.0, 60.0, 40.0, 70.0, 80.0, 90.0, 20.0, 75.0]
TRAIN_R2 = [7.9, 7.8, 7.5, 6.0, 7.0, 5.5, 5.0, 4.0, 7.7, 5.2]
VAL_LOGITS = [-1.8, -0.6, 0.3, 1.2, -0.1, 0.9, 1.6, -1.1]
VAL_PAR4 = [15.0, 55.0, 35.0, 85.0, 25.0, 65.0, 95.0, 45.0]
VAL_R2 = [7.9, 6.5, 7.2, 4.5, 7.6, 6.8, 3.5, 5.9]


def test_three_way_table_on_an_oracle_cohort() -> None:
    outcome = HealingOutcome(
        feature_mean=(0.0,) * 3, feature_scale=(1.0,) * 3, coef=(1.0, 0.0, 0.0), intercept=0.0,
        threshold=0.55, rule="fixed for the test",
    )  # fmt: skip
    val = _cohort(VAL_LOGITS, VAL_R2, VAL_PAR4, start=100)
    train = _cohort(TRAIN_LOGITS, TRAIN_R2, TRAIN_PAR4, start=0)
    result = evaluate_outcomes(nn.Identity(), _info(outcome), val, train)
    y = [int(p >= 50) for p in VAL_PAR4]
    assert (result["subjects"], result["responders"]) == (8, sum(y))
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {MODEL, OXIMETRY, AREA}
    assert all(r["subjects"] == 8 for r in rows.values())  # the same held-out subjects
    # the model: probability sigmoid(viability logit); sens/spec at the saved 0.55 by hand
    model = rows[MODEL]
    assert model["auc"] == pytest.approx(_hand_auc(y, VAL_LOGITS))
    called = [1 / (1 + np.exp(-v)) >= 0.55 for v in VAL_LOGITS]
    tp = sum(c and t for c, t in zip(called, y, strict=True))
    tn = sum((not c) and (not t) for c, t in zip(called, y, strict=True))
    assert model["sensitivity"] == pytest.approx(tp / sum(y))
    assert model["specificity"] == pytest.approx(tn / (len(y) - sum(y)))
    assert model["threshold"] == 0.55 and model["ece"] is not None
    # the area trend: percent reduction of the disk from visit 1 (r = 8 px) to visit 3
    trend = [100 * (1 - (np.count_nonzero(_disk(r)) / np.count_nonzero(_disk(8)))) for r in VAL_R2]
    assert rows[AREA]["auc"] == pytest.approx(_hand_auc(y, trend))
    assert rows[AREA]["ece"] is None  # not a probability
    # per skin-tone tertile: Fitzpatrick 1-6 in turn, so every tertile has subjects
    assert sum(g["subjects"] for g in model["by_fitzpatrick"].values()) == 8
    table = markdown(result)
    assert MODEL in table and AREA in table and "–" in table


def test_fit_outcome_learns_the_sign_and_chooses_on_calibration() -> None:
    train = _cohort(TRAIN_LOGITS, TRAIN_R2, TRAIN_PAR4, start=0)
    calib = _cohort(VAL_LOGITS, VAL_R2, VAL_PAR4, start=100)
    outcome = fit_outcome(nn.Identity(), _info(), train, calib)
    assert outcome.coef[0] > 0  # more viable periwound tissue, more likely to shrink
    assert 0 < outcome.threshold < 1 and "calibration split" in outcome.rule
    cal = outcome.fitted_on["calibration"]
    assert cal["captures"] == len(VAL_LOGITS)
    # temperature scaling of the logistic on the calibration split: ranking kept, ECE reported
    assert outcome.temperature == cal["temperature"] > 0 and "ece_before" in cal
    raw = outcome.model_copy(update={"temperature": 1.0})
    feats = [[v, v, v] for v in VAL_LOGITS]
    order = np.argsort([raw.logit(f) for f in feats])
    assert (np.argsort([outcome.logit(f) for f in feats]) == order).all()
    # the saved read-out is what the predictor's score uses
    pred = Predictor(nn.Identity(), _info(outcome), device="cpu").predict(calib[0])
    assert pred.outcome == outcome and pred.healing_prob is not None
    assert (pred.healing_prob > 0).all()  # not zeroed outside the bed: the periwound is read
    with pytest.raises(ValueError, match="responders and non-responders"):
        fit_outcome(nn.Identity(), _info(), [c for c in train if c.metadata.subject == "s00"])


def test_balanced_threshold_on_any_scale() -> None:
    """Percent area reduction is not a probability: its threshold may be negative or > 1."""
    y = np.array([0, 0, 1, 1, 1])
    assert balanced_threshold(y, np.array([-20.0, 10.0, 40.0, 80.0, 95.0])) == 25.0
    assert balanced_threshold(y, np.array([-40.0, -30.0, -10.0, -5.0, 0.0])) == -20.0
